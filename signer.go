package sysuser

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"
)

// timestampLayout is SuperOffice's yyyyMMddHHmm in Go's layout notation.
const timestampLayout = "200601021504"

// A Signer signs system user tokens with the application's RSA private key,
// producing SuperOffice's SignedSystemToken:
//
//	TOKEN + "." + yyyyMMddHHmm (UTC) + "." + base64(RSASSA-PKCS1-v1_5(SHA-256, TOKEN + "." + yyyyMMddHHmm))
//
// The key is parsed, validated and precomputed once, when the Signer is made.
// A Signer is safe for concurrent use. Its key sits behind an unexported
// pointer: printing a Signer shows an address, never the key.
type Signer struct {
	key *rsa.PrivateKey
}

// NewSigner returns a Signer for key, after validating it as
// ParsePrivateKey does. The Signer keeps its own copy of the key's
// precomputed values, so key itself is not modified. Errors match
// ErrInvalidKey. For a key file's bytes, call ParsePrivateKey first, or set
// Config.PrivateKey.
func NewSigner(key *rsa.PrivateKey) (*Signer, error) {
	if key == nil || key.N == nil {
		return nil, keyError("key is nil")
	}
	cp := &rsa.PrivateKey{PublicKey: key.PublicKey, D: key.D, Primes: key.Primes}
	cp, err := finishKey(cp)
	if err != nil {
		return nil, err
	}
	return &Signer{key: cp}, nil
}

// Sign signs systemUserToken for the current UTC minute.
func (s *Signer) Sign(systemUserToken string) (string, error) {
	return s.SignAt(systemUserToken, time.Now())
}

// SignAt signs systemUserToken for the minute of t, taken in UTC whatever
// t's location. The token may contain dots and spaces; it must not be empty.
// Errors match ErrInvalidArgument (empty token) or ErrInvalidKey (a Signer
// not made by NewSigner).
func (s *Signer) SignAt(systemUserToken string, t time.Time) (string, error) {
	if s == nil || s.key == nil {
		return "", keyError("Signer has no key; make it with NewSigner")
	}
	if systemUserToken == "" {
		return "", argError("system user token is empty")
	}
	sigLen := s.key.Size()
	b64Len := base64.StdEncoding.EncodedLen(sigLen)
	buf := make([]byte, 0, len(systemUserToken)+1+len(timestampLayout)+1+b64Len)
	buf = append(buf, systemUserToken...)
	buf = append(buf, '.')
	buf = t.UTC().AppendFormat(buf, timestampLayout)
	digest := sha256.Sum256(buf)
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("sysuser: signing failed: %w", ErrInvalidKey)
	}
	buf = append(buf, '.')
	buf = base64.StdEncoding.AppendEncode(buf, sig)
	return string(buf), nil
}

// Public returns the public half of the signing key: the key SuperOffice
// holds for the application, and the one sysusertest needs.
func (s *Signer) Public() *rsa.PublicKey {
	if s == nil || s.key == nil {
		return nil
	}
	pub := s.key.PublicKey
	return &pub
}
