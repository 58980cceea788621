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
		key, err := sysuser.ParsePrivateKey(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !key.Equal(want) {
			t.Errorf("%s: parsed a different key", name)
		}
		if key.Precomputed.Dp == nil {
			t.Errorf("%s: key not precomputed", name)
		}
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
		{"empty", nil, false, "empty"},
		{"white space", []byte(" \r\n\t"), false, "empty"},
		{"not a key", []byte("hello, world"), false, "neither PEM nor .NET XML"},
		{"P·Q ≠ Modulus", dotnetXML(key, map[string]string{"Modulus": b64(other.N)}), false, "inconsistent"},
		{"D from another key", dotnetXML(key, map[string]string{"D": b64(other.D)}), false, "inconsistent"},
		{"DP does not match", dotnetXML(key, map[string]string{"DP": b64(big.NewInt(12345))}), false, "DP, DQ or InverseQ"},
		{"public-only XML", dotnetXML(key, map[string]string{"P": "-", "Q": "-", "DP": "-", "DQ": "-", "InverseQ": "-", "D": "-"}), false, "public key only"},
		{"XML missing Q", dotnetXML(key, map[string]string{"Q": "-"}), false, "Q is missing"},
		{"XML bad base64", dotnetXML(key, map[string]string{"P": "not*base64"}), false, "not valid base64"},
		{"XML wrong root", []byte("<KeyValue><Modulus>AQAB</Modulus></KeyValue>"), false, "not an RSAKeyValue"},
		{"XML truncated", dotnetXML(key, nil)[:300], false, "malformed or truncated"},
		{"PEM truncated", pkcs1[:len(pkcs1)/2], false, "truncated or malformed"},
		{"PEM body corrupted", []byte(strings.Replace(string(pkcs1), "\n", "\nAAAA", 5)), false, ""},
		{"public key PEM", readTestdata(t, "key-public.pem"), false, "not a private key"},
		{"certificate", readTestdata(t, "SuperOfficeFederatedLogin-sod.crt"), false, "not a private key"},
		{"EC key PEM", readTestdata(t, "ec.pem"), false, "not an RSA private key"},
		{"EC key PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecPKCS8}), false, "not RSA"},
		{"encrypted PKCS#1", readTestdata(t, "key-encrypted-pkcs1.pem"), true, "password-protected"},
		{"encrypted PKCS#8", readTestdata(t, "key-encrypted-pkcs8.pem"), true, "password-protected"},
		{"too large", make([]byte, 1<<20), false, "more than any RSA key needs"},
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
