package sysuser

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
)

// maxKeyBits bounds the RSA modulus accepted anywhere, so that a hostile
// key cannot make validation or verification arbitrarily slow.
const maxKeyBits = 16384

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
// The key is validated (P·Q = Modulus, D and the CRT values consistent) and
// its CRT values precomputed. Every failure matches ErrInvalidKey; a
// password-protected PEM also matches ErrEncryptedKey. Error messages never
// contain key material.
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
		return nil, encryptedKeyError{}
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
	if bits := key.N.BitLen(); bits < 1024 || bits > maxKeyBits {
		return nil, keyError(fmt.Sprintf("key is %d bits; 1024 to %d are supported", bits, maxKeyBits))
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
