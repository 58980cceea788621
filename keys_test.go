package sysuser_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"strings"
	"testing"

	"github.com/go-superoffice/sysuser"
)

// dotnetXML writes key as RSACryptoServiceProvider.ToXmlString(true) does,
// with optional replacements of single elements.
func dotnetXML(key *rsa.PrivateKey, replace map[string]string) []byte {
	key.Precompute()
	b64 := func(v *big.Int) string { return base64.StdEncoding.EncodeToString(v.Bytes()) }
	parts := []struct{ name, val string }{
		{"Modulus", b64(key.N)}, {"Exponent", b64(big.NewInt(int64(key.E)))},
		{"P", b64(key.Primes[0])}, {"Q", b64(key.Primes[1])},
		{"DP", b64(key.Precomputed.Dp)}, {"DQ", b64(key.Precomputed.Dq)},
		{"InverseQ", b64(key.Precomputed.Qinv)}, {"D", b64(key.D)},
	}
	var sb strings.Builder
	sb.WriteString("<RSAKeyValue>")
	for _, p := range parts {
		v, ok := replace[p.name]
		if !ok {
			v = p.val
		}
		if v == "-" {
			continue
		}
		sb.WriteString("<" + p.name + ">" + v + "</" + p.name + ">")
	}
	sb.WriteString("</RSAKeyValue>")
	return []byte(sb.String())
}

func TestParsePrivateKeyFormats(t *testing.T) {
	want := appKey(t)
	cases := map[string][]byte{
		"PKCS#1 PEM":                     readTestdata(t, "key-pkcs1.pem"),
		"PKCS#8 PEM":                     readTestdata(t, "key-pkcs8.pem"),
		".NET XML with BOM, decl, CRLF":  readTestdata(t, "key.xml"),
		".NET XML compact":               readTestdata(t, "key-compact.xml"),
		".NET XML in xmldsig namespace":  []byte(strings.Replace(string(readTestdata(t, "key-compact.xml")), "<RSAKeyValue>", `<RSAKeyValue xmlns="http://www.w3.org/2000/09/xmldsig#">`, 1)),
		"PEM with BOM and leading space": append([]byte("\xef\xbb\xbf \n"), readTestdata(t, "key-pkcs1.pem")...),
	}
	if !strings.HasPrefix(string(cases[".NET XML with BOM, decl, CRLF"]), "\xef\xbb\xbf<?xml") ||
		!strings.Contains(string(cases[".NET XML with BOM, decl, CRLF"]), "\r\n\t\t") {
		t.Fatal("testdata/key.xml lost its BOM, declaration or split base64")
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			key, err := sysuser.ParsePrivateKey(data)
			if err != nil {
				t.Fatal(err)
			}
			if !key.Equal(want) {
				t.Errorf("parsed a different key")
			}
			if key.Precomputed.Dp == nil {
				t.Errorf("key not precomputed")
			}
		})
	}
}

func TestParsePrivateKeyRefusals(t *testing.T) {
	key := appKey(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecPKCS8, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	pkcs1 := readTestdata(t, "key-pkcs1.pem")
	b64 := func(v *big.Int) string { return base64.StdEncoding.EncodeToString(v.Bytes()) }

	cases := []struct {
		name      string
		data      []byte
		encrypted bool
		says      string
	}{
		{name: "empty", says: "empty"},
		{name: "white space", data: []byte(" \r\n\t"), says: "empty"},
		{name: "not a key", data: []byte("hello, world"), says: "neither PEM nor .NET XML"},
		{name: "P·Q ≠ Modulus", data: dotnetXML(key, map[string]string{"Modulus": b64(other.N)}), says: "inconsistent"},
		{name: "D from another key", data: dotnetXML(key, map[string]string{"D": b64(other.D)}), says: "inconsistent"},
		{name: "DP does not match", data: dotnetXML(key, map[string]string{"DP": b64(big.NewInt(12345))}), says: "DP, DQ or InverseQ"},
		{name: "public-only XML", data: dotnetXML(key, map[string]string{"P": "-", "Q": "-", "DP": "-", "DQ": "-", "InverseQ": "-", "D": "-"}), says: "public key only"},
		{name: "XML missing Q", data: dotnetXML(key, map[string]string{"Q": "-"}), says: "Q is missing"},
		{name: "XML bad base64", data: dotnetXML(key, map[string]string{"P": "not*base64"}), says: "not valid base64"},
		{name: "XML wrong root", data: []byte("<KeyValue><Modulus>AQAB</Modulus></KeyValue>"), says: "not an RSAKeyValue"},
		{name: "XML truncated", data: dotnetXML(key, nil)[:300], says: "malformed or truncated"},
		{name: "PEM truncated", data: pkcs1[:len(pkcs1)/2], says: "truncated or malformed"},
		{name: "PEM body corrupted", data: []byte(strings.Replace(string(pkcs1), "\n", "\nAAAA", 5)), says: ""},
		{name: "public key PEM", data: readTestdata(t, "key-public.pem"), says: "not a private key"},
		{name: "certificate", data: readTestdata(t, "SuperOfficeFederatedLogin-sod.crt"), says: "not a private key"},
		{name: "EC key PEM", data: readTestdata(t, "ec.pem"), says: "not an RSA private key"},
		{name: "EC key PKCS#8", data: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecPKCS8}), says: "not RSA"},
		{name: "encrypted PKCS#1", data: readTestdata(t, "key-encrypted-pkcs1.pem"), encrypted: true, says: "password-protected"},
		{name: "encrypted PKCS#8", data: readTestdata(t, "key-encrypted-pkcs8.pem"), encrypted: true, says: "password-protected"},
		{name: "too large", data: make([]byte, 1<<20), says: "more than any RSA key needs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := sysuser.ParsePrivateKey(c.data)
			if got != nil || !errors.Is(err, sysuser.ErrInvalidKey) {
				t.Fatalf("got key %v, error %v; want ErrInvalidKey", got != nil, err)
			}
			if strings.Contains(err.Error(), "decrypt it first (openssl pkey") != c.encrypted {
				t.Fatalf("error says how to decrypt = %v for %v", !c.encrypted, err)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %q does not say %q", err, c.says)
			}
			assertNoKeyMaterial(t, err.Error(), key)
			assertNoKeyMaterial(t, err.Error(), other)
		})
	}
}

// keyWithExponent makes an RSA key with public exponent e.
func keyWithExponent(t *testing.T, bits, e int) *rsa.PrivateKey {
	t.Helper()
	E := big.NewInt(int64(e))
	one := big.NewInt(1)
	prime := func() *big.Int {
		for {
			p, err := rand.Prime(rand.Reader, bits/2)
			if err != nil {
				t.Fatal(err)
			}
			if new(big.Int).GCD(nil, nil, E, new(big.Int).Sub(p, one)).Cmp(one) == 0 {
				return p
			}
		}
	}
	p, q := prime(), prime()
	phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: e}, D: new(big.Int).ModInverse(E, phi), Primes: []*big.Int{p, q}}
	k.Precompute()
	if err := k.Validate(); err != nil {
		t.Fatal(err)
	}
	return k
}

// Application keys: SuperOffice's own sample partner keys are 1024 bits
// with e = 65537, so such a key is accepted with a warning; an exponent
// other than 65537 is refused.
func TestApplicationKeyPolicy(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	for _, c := range []struct {
		name    string
		key     *rsa.PrivateKey
		refused bool
		warned  bool
	}{
		{name: "1024 bits, e=65537", key: keyWithExponent(t, 1024, 65537), refused: false, warned: true},
		{name: "2048 bits, e=3", key: keyWithExponent(t, 2048, 3), refused: true, warned: false},
		{name: "2048 bits, e=65537", key: appKey(t), refused: false, warned: false},
	} {
		t.Run(c.name, func(t *testing.T) {
			signer, err := sysuser.NewSigner(c.key)
			if err != nil {
				t.Fatal(err)
			}
			var logs lockedBuffer
			cfg := env.cfg
			cfg.Signer = signer
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			_, err = sysuser.NewClient(cfg)
			if c.refused != errors.Is(err, sysuser.ErrInvalidKey) {
				t.Errorf("NewClient: %v", err)
			}
			if c.warned != strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("logged %q", logs.String())
			}
		})
	}
}

// Keys that verify SuperOffice's tokens are RSA 2048 to 4096 bits with
// e = 65537; others are refused, pinned or published.
func TestVerificationKeyPolicy(t *testing.T) {
	for _, c := range []struct {
		name string
		key  *rsa.PrivateKey
	}{
		{name: "e=3", key: keyWithExponent(t, 2048, 3)},
		{name: "e=2^31-1", key: keyWithExponent(t, 2048, 1<<31-1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			pemKey := publicPEM(t, &c.key.PublicKey)
			if _, err := sysuser.ParsePublicKey(pemKey); !errors.Is(err, sysuser.ErrInvalidConfig) || !strings.Contains(err.Error(), "exponent") {
				t.Errorf("%v", err)
			}
		})
	}
}

func publicPEM(t *testing.T, pub *rsa.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
