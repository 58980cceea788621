package sysuser

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Keys generated once for the key check tests.
var (
	keyCheckOnce               sync.Once
	keyCheck1024, keyCheck2048 *rsa.PrivateKey
	keyCheckE3                 *rsa.PrivateKey
	keyCheckErr                error
)

func keyCheckKeys(t *testing.T) (k1024, k2048, e3 *rsa.PrivateKey) {
	t.Helper()
	keyCheckOnce.Do(func() {
		if keyCheck1024, keyCheckErr = rsa.GenerateKey(rand.Reader, 1024); keyCheckErr != nil {
			return
		}
		if keyCheck2048, keyCheckErr = rsa.GenerateKey(rand.Reader, 2048); keyCheckErr != nil {
			return
		}
		keyCheckE3, keyCheckErr = generateKeyWithExponent(2048, 3)
	})
	if keyCheckErr != nil {
		t.Fatal(keyCheckErr)
	}
	return keyCheck1024, keyCheck2048, keyCheckE3
}

// generateKeyWithExponent builds a valid RSA key with public exponent e,
// which rsa.GenerateKey cannot: primes p, q with gcd(e, p-1) = gcd(e, q-1)
// = 1 and d = e⁻¹ mod lcm(p-1, q-1).
func generateKeyWithExponent(bits, e int) (*rsa.PrivateKey, error) {
	one, E := big.NewInt(1), big.NewInt(int64(e))
	for {
		p, err := rand.Prime(rand.Reader, bits/2)
		if err != nil {
			return nil, err
		}
		q, err := rand.Prime(rand.Reader, bits-bits/2)
		if err != nil {
			return nil, err
		}
		n := new(big.Int).Mul(p, q)
		if p.Cmp(q) == 0 || n.BitLen() != bits {
			continue
		}
		p1, q1 := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
		gcd := new(big.Int).GCD(nil, nil, p1, q1)
		lcm := new(big.Int).Div(new(big.Int).Mul(p1, q1), gcd)
		d := new(big.Int).ModInverse(E, lcm)
		if d == nil {
			continue // e divides p-1 or q-1
		}
		key := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: e}, D: d, Primes: []*big.Int{p, q}}
		if err := key.Validate(); err != nil {
			return nil, err
		}
		key.Precompute()
		return key, nil
	}
}

// modulus returns an odd number of exactly bits bits; checkVerifyKey only
// looks at the size, so it need not be a real modulus.
func modulus(bits int) *big.Int {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	return n.SetBit(n, 0, 1)
}

// certKey reads the public key of a certificate in testdata.
func certKey(t *testing.T, name string) *rsa.PublicKey {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s is not PEM", name)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert.PublicKey.(*rsa.PublicKey)
}

func TestCheckVerifyKey(t *testing.T) {
	k1024, k2048, e3 := keyCheckKeys(t)
	cases := []struct {
		name string
		key  *rsa.PublicKey
		want []string // words the error must contain; none for a good key
	}{
		{name: "SuperOffice sod certificate", key: certKey(t, "SuperOfficeFederatedLogin-sod.crt")},
		{name: "SuperOffice stage certificate", key: certKey(t, "SuperOfficeFederatedLogin-stage.crt")},
		{name: "generated 2048", key: &k2048.PublicKey},
		{name: "4096 bits", key: &rsa.PublicKey{N: modulus(4096), E: 65537}},
		{name: "generated 1024", key: &k1024.PublicKey, want: []string{"1024 bits", "2048 to 4096"}},
		{name: "2047 bits", key: &rsa.PublicKey{N: modulus(2047), E: 65537}, want: []string{"2047 bits"}},
		{name: "4097 bits", key: &rsa.PublicKey{N: modulus(4097), E: 65537}, want: []string{"4097 bits"}},
		{name: "16384 bits, exponent 2^31-1", key: &rsa.PublicKey{N: modulus(16384), E: 1<<31 - 1}, want: []string{"16384 bits", "exponent 2147483647", "only 65537"}},
		{name: "exponent 3 (generated)", key: &e3.PublicKey, want: []string{"exponent 3", "only 65537"}},
		{name: "exponent 3", key: &rsa.PublicKey{N: k2048.N, E: 3}, want: []string{"exponent 3"}},
		{name: "exponent 65539", key: &rsa.PublicKey{N: k2048.N, E: 65539}, want: []string{"exponent 65539"}},
		{name: "exponent 0", key: &rsa.PublicKey{N: k2048.N, E: 0}, want: []string{"exponent 0"}},
		{name: "no modulus", key: &rsa.PublicKey{E: 65537}, want: []string{"missing"}},
		{name: "nil", key: nil, want: []string{"missing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkVerifyKey(c.key)
			checkKeyError(t, err, c.want, c.key)
			if err != nil && errors.Is(err, ErrInvalidKey) {
				t.Errorf("a verification key error matches ErrInvalidKey: %v", err)
			}
		})
	}
}

func TestCheckApplicationKey(t *testing.T) {
	k1024, k2048, e3 := keyCheckKeys(t)
	xmlKey, err := os.ReadFile(filepath.Join("testdata", "key.xml"))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParsePrivateKey(xmlKey)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		key  *rsa.PrivateKey
		want []string
	}{
		{name: "generated 2048", key: k2048},
		{name: "testdata/key.xml (.NET XML, 2048)", key: parsed},
		{name: "generated 1024", key: k1024, want: []string{"1024 bits", "at least 2048"}},
		{name: "exponent 3", key: e3, want: []string{"exponent 3", "only 65537"}},
		{name: "1024 bits and exponent 3", key: &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: k1024.N, E: 3}}, want: []string{"1024 bits", "exponent 3"}},
		{name: "nil", key: nil, want: []string{"missing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkApplicationKey(c.key)
			var pub *rsa.PublicKey
			if c.key != nil {
				pub = &c.key.PublicKey
				if strings.Contains(errString(err), c.key.D.String()) {
					t.Fatal("private exponent in the error")
				}
			}
			checkKeyError(t, err, c.want, pub)
			if err != nil && !errors.Is(err, ErrInvalidKey) {
				t.Errorf("does not match ErrInvalidKey: %v", err)
			}
		})
	}
}

// checkKeyError checks err against the words wanted, and that it carries
// no key material.
func checkKeyError(t *testing.T, err error, want []string, key *rsa.PublicKey) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("accepted, want an error about %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not say %q", err, w)
		}
	}
	if key != nil && key.N != nil && (strings.Contains(err.Error(), key.N.String()) || strings.Contains(err.Error(), key.N.Text(16))) {
		t.Errorf("modulus in the error: %v", err)
	}
	var kce *keyCheckError
	if !errors.As(err, &kce) {
		t.Errorf("%T is not a *keyCheckError", err)
	}
	t.Log(err)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
