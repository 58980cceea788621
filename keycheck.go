package sysuser

import (
	"crypto/rsa"
	"fmt"
	"strings"
)

// RSA key policy. SuperOffice signs its tokens with RSA 2048 keys (the sod
// and stage SuperOfficeFederatedLogin certificates), exponent 65537.
const (
	// minRSAKeyBits is the smallest RSA modulus accepted, for verifying and
	// for signing.
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
)

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

// checkApplicationKey checks the application's own private key, which signs
// the system user token: at least 2048 bits and public exponent 65537. There
// is no upper bound here beyond ParsePrivateKey's: the key is the
// application's own, and a large one only slows its own signing. The error
// names what is wrong (size, exponent) and matches ErrInvalidKey.
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
