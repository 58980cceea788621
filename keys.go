package sysuser

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
)

// The RSA key policy, in one place:
//
//   - Keys that verify SuperOffice's tokens (its key set, or a pinned
//     certificate; ParsePublicKey): 2048 to 4096 bits, exponent 65537.
//     SuperOffice signs with RSA 2048 keys (the sod and stage
//     SuperOfficeFederatedLogin certificates), exponent 65537.
//   - The application's own private key (ParsePrivateKey, NewSigner):
//     1024 to 16384 bits, two primes, consistent. NewClient then refuses
//     an exponent other than 65537 and logs a warning for a key under 2048
//     bits, which it still uses (see Client.checkApplicationKey).
const (
	// minRSAKeyBits is the smallest RSA modulus accepted for verifying,
	// and the smallest application key NewClient takes without a warning.
	minRSAKeyBits = 2048
	// maxVerifyKeyBits is the largest RSA modulus accepted for verifying:
	// verification costs grow with the square of the size, and a key set
	// served by someone else must not make every check slow.
	maxVerifyKeyBits = 4096
	// rsaExponentF4 is the only public exponent accepted (65537, as every
	// mainstream key generator uses). Small exponents such as 3 invite
	// signature forgery when padding checks are lax; huge ones make every
	// verification slow.
	rsaExponentF4 = 65537
	// minKeyBits and maxKeyBits bound the private keys ParsePrivateKey
	// and NewSigner accept; the upper bound keeps a hostile key from making
	// validation arbitrarily slow.
	minKeyBits = 1024
	maxKeyBits = 16384
)

// maxKeyBytes bounds the input ParsePrivateKey reads. A 16384-bit key in
// .NET XML with generous white space is well under 64 KiB.
const maxKeyBytes = 64 << 10

// ParsePrivateKey parses an RSA private key in any of the forms SuperOffice
// partners hold it, detected from the content:
//
//   - .NET XML, as written by RSACryptoServiceProvider.ToXmlString(true):
//     <RSAKeyValue><Modulus/><Exponent/><P/><Q/><DP/><DQ/><InverseQ/><D/></RSAKeyValue>.
//     A UTF-8 byte order mark, an <?xml?> declaration, any white space and
//     base64 split over lines are accepted.
//   - PEM "RSA PRIVATE KEY" (PKCS#1).
//   - PEM "PRIVATE KEY" (PKCS#8) holding an RSA key.
//
// The key must be two-prime RSA of 1024 to 16384 bits; it is validated
// (P·Q = Modulus, D and the CRT values consistent) and its CRT values
// precomputed. (NewClient also refuses a public exponent other than 65537,
// and logs a warning for a key under 2048 bits.) Every failure matches
// ErrInvalidKey; for a password-protected PEM the message says so and how
// to decrypt it. Error messages never contain key material.
func ParsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	if len(data) > maxKeyBytes {
		return nil, keyError(fmt.Sprintf("input is %d bytes, more than any RSA key needs", len(data)))
	}
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(data, utf8BOM))
	switch {
	case len(trimmed) == 0:
		return nil, keyError("input is empty")
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN")):
		return parsePEMKey(trimmed)
	case trimmed[0] == '<':
		return parseXMLKey(trimmed)
	default:
		return nil, keyError("input is neither PEM nor .NET XML (RSAKeyValue)")
	}
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func parsePEMKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, keyError("PEM block is truncated or malformed")
	}
	if block.Headers["Proc-Type"] == "4,ENCRYPTED" || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, keyError("it is password-protected; decrypt it first (openssl pkey -in encrypted.pem -out plain.pem)")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, keyError("PEM block is not a valid PKCS#1 RSA private key")
		}
		return finishKey(key)
	case "PRIVATE KEY":
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, keyError("PEM block is not a valid PKCS#8 private key")
		}
		rsaKey, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, keyError(fmt.Sprintf("PKCS#8 key is %s, not RSA", keyKind(key)))
		}
		return finishKey(rsaKey)
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, keyError("PEM block is a " + block.Type + ", not a private key; the signing key is the private one")
	case "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "DSA PRIVATE KEY":
		return nil, keyError("PEM block is an " + block.Type + ", not an RSA private key")
	default:
		return nil, keyError(fmt.Sprintf("PEM block type %q is not an RSA private key", block.Type))
	}
}

func keyKind(key any) string {
	switch key.(type) {
	case nil:
		return "empty"
	default:
		return fmt.Sprintf("%T", key)
	}
}

// finishKey validates key and precomputes its CRT values, so that signing
// never repeats that work.
func finishKey(key *rsa.PrivateKey) (*rsa.PrivateKey, error) {
	if key == nil || key.N == nil || key.D == nil {
		return nil, keyError("key is empty")
	}
	if len(key.Primes) != 2 {
		return nil, keyError(fmt.Sprintf("key has %d primes; only two-prime RSA keys are supported", len(key.Primes)))
	}
	if bits := key.N.BitLen(); bits < minKeyBits || bits > maxKeyBits {
		return nil, keyError(fmt.Sprintf("key is %d bits; %d to %d are supported", bits, minKeyBits, maxKeyBits))
	}
	if err := key.Validate(); err != nil {
		return nil, keyError("key is inconsistent (its values do not belong together)")
	}
	key.Precompute()
	return key, nil
}

// checkCRT reports whether the CRT values a key file carries agree with the
// ones derived from P, Q and D. finishKey has already precomputed them.
func checkCRT(key *rsa.PrivateKey, dp, dq, qinv *big.Int) bool {
	pc := key.Precomputed
	return pc.Dp != nil && pc.Dp.Cmp(dp) == 0 && pc.Dq.Cmp(dq) == 0 && pc.Qinv.Cmp(qinv) == 0
}

// ParsePublicKey reads the public key that signs SuperOffice's tokens from
// a certificate, PEM "CERTIFICATE" (the SuperOfficeFederatedLogin.crt
// SuperOffice ships) or DER, or from a bare PEM "PUBLIC KEY" (PKIX) or "RSA
// PUBLIC KEY" (PKCS#1). The key must be RSA of 2048 to 4096 bits with public
// exponent 65537. Errors match ErrInvalidConfig: the certificate is
// configuration (Config.Certificate, ApprovalConfig.Certificate).
func ParsePublicKey(data []byte) (*rsa.PublicKey, error) {
	der := data
	blockType := "CERTIFICATE"
	if block, _ := pem.Decode(data); block != nil {
		der, blockType = block.Bytes, block.Type
	} else if len(data) > 0 && data[0] != 0x30 {
		return nil, configError("certificate is neither PEM nor DER")
	}
	var pub any
	var err error
	switch blockType {
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(der); err == nil {
			pub = cert.PublicKey
		}
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(der)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(der)
	default:
		return nil, configError("certificate PEM block is %q; want CERTIFICATE, PUBLIC KEY or RSA PUBLIC KEY", blockType)
	}
	if err != nil {
		return nil, configError("certificate could not be parsed: %v", err)
	}
	key, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, configError("certificate key is %T, not RSA", pub)
	}
	if err := checkVerifyKey(key); err != nil {
		return nil, configError("certificate key: %v", err)
	}
	return key, nil
}

// keyCheckError says why an RSA key was refused: its size, its public
// exponent or both. Both are public facts about a key; the message carries
// no key material.
type keyCheckError struct {
	what    string   // "verification key" or "application key"
	bits    int      // the modulus size, 0 when there is no key
	e       int      // the public exponent
	reasons []string // what is wrong, in words
	base    error    // a sentinel the error also matches, or nil
}

// Error implements error.
func (e *keyCheckError) Error() string {
	return "sysuser: RSA " + e.what + " " + strings.Join(e.reasons, " and ")
}

// Unwrap returns the sentinel the error matches, if any.
func (e *keyCheckError) Unwrap() error { return e.base }

// checkVerifyKey checks a key that verifies SuperOffice's tokens, from the
// JWKS or pinned from a certificate: RSA of 2048 to 4096 bits with public
// exponent 65537. The error names what is wrong (size, exponent) and
// matches no sentinel; the caller adds its own context.
func checkVerifyKey(pub *rsa.PublicKey) error {
	if pub == nil || pub.N == nil {
		return &keyCheckError{what: "verification key", reasons: []string{"is missing"}}
	}
	bits := pub.N.BitLen()
	var reasons []string
	if bits < minRSAKeyBits || bits > maxVerifyKeyBits {
		reasons = append(reasons, fmt.Sprintf("is %d bits (%d to %d are accepted)", bits, minRSAKeyBits, maxVerifyKeyBits))
	}
	if pub.E != rsaExponentF4 {
		reasons = append(reasons, fmt.Sprintf("has public exponent %d (only %d is accepted)", pub.E, rsaExponentF4))
	}
	if reasons != nil {
		return &keyCheckError{what: "verification key", bits: bits, e: pub.E, reasons: reasons}
	}
	return nil
}

// checkApplicationKey reports whether the application's own private key,
// which signs the system user token, has at least 2048 bits and public
// exponent 65537. There is no upper bound here beyond ParsePrivateKey's:
// the key is the application's own, and a large one only slows its own
// signing. The error names what is wrong (size, exponent) and matches
// ErrInvalidKey; Client.checkApplicationKey decides which of the two refuse.
//
// SuperOffice does not document the size of the keys its Developer Portal
// issues, and the partner keys in its public samples are 1024 bits
// (SuperOffice/SuperOffice.DevNet.Online, .../Certificates/*.xml; the
// mirroring sample makes its stand-in with new RSACryptoServiceProvider(),
// 1024 bits by default), so some real applications may hold a 1024-bit key
// that SuperOffice still accepts. A caller can tell this error apart with
// errors.As and a *keyCheckError, to warn instead of refusing.
func checkApplicationKey(key *rsa.PrivateKey) error {
	if key == nil || key.N == nil {
		return &keyCheckError{what: "application key", reasons: []string{"is missing"}, base: ErrInvalidKey}
	}
	bits := key.N.BitLen()
	var reasons []string
	if bits < minRSAKeyBits {
		reasons = append(reasons, fmt.Sprintf("is %d bits (at least %d are required)", bits, minRSAKeyBits))
	}
	if key.E != rsaExponentF4 {
		reasons = append(reasons, fmt.Sprintf("has public exponent %d (only %d is accepted)", key.E, rsaExponentF4))
	}
	if reasons != nil {
		return &keyCheckError{what: "application key", bits: bits, e: key.E, reasons: reasons, base: ErrInvalidKey}
	}
	return nil
}

// checkApplicationKey refuses an application key whose public exponent is
// not 65537, and logs a warning for one under 2048 bits: SuperOffice does
// not document the size it issues, and the partner keys in its own public
// samples are 1024 bits, so such keys are accepted (see checkApplicationKey).
func (c *Client) checkApplicationKey() error {
	err := checkApplicationKey(c.signer.key)
	var kc *keyCheckError
	if err == nil || !errors.As(err, &kc) {
		return err
	}
	if kc.e != rsaExponentF4 {
		return err
	}
	c.log.LogAttrs(context.Background(), slog.LevelWarn, "sysuser: the application key is shorter than 2048 bits; ask SuperOffice for a new key pair",
		slog.Int("bits", kc.bits))
	return nil
}
