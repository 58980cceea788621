package sysuser

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// addSeeds adds every file matching pattern below testdata as a seed.
func addSeeds(f *testing.F, pattern string) {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds for %s: %v", pattern, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParsePrivateKey(f *testing.F) {
	addSeeds(f, "*.pem")
	addSeeds(f, "*.xml")
	addSeeds(f, "*.crt")
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := ParsePrivateKey(data)
		if err != nil {
			if key != nil || !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("key %v with error %v", key != nil, err)
			}
			return
		}
		// Whatever parsed must sign and verify.
		sum := sha256.Sum256([]byte("x"))
		sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
		if err != nil || rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
			t.Fatalf("parsed key does not work: %v", err)
		}
	})
}

func FuzzParseSOAPResponse(f *testing.F) {
	addSeeds(f, "soap/*.xml")
	f.Fuzz(func(t *testing.T, data []byte) {
		ar, fault, err := parseSOAPResponse(data)
		switch {
		case err != nil:
			if ar != nil || fault != nil || !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("%v %v %v", ar, fault, err)
			}
		case fault != nil:
			if ar != nil {
				t.Fatal("both a fault and a response")
			}
		case ar == nil:
			t.Fatal("nothing returned")
		}
	})
}

func FuzzParseRESTResponse(f *testing.F) {
	addSeeds(f, "rest/*.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		ar, err := parseRESTResponse(data)
		if (ar == nil) == (err == nil) || (err != nil && !errors.Is(err, ErrMalformedResponse)) {
			t.Fatalf("%v %v", ar, err)
		}
		if ar != nil {
			if _, err := ar.token("Cust1"); err == nil && ar.Token == "" {
				t.Fatal("success without a token")
			}
		}
	})
}

func FuzzParseJWKS(f *testing.F) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	n := base64.RawURLEncoding.EncodeToString(key.N.Bytes())
	f.Add([]byte(`{"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"A1","n":"` + n + `","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","kid":"x"},{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"small"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","x5c":["MIIB"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, rejected, err := parseJWKS(data)
		if err != nil {
			if keys != nil || !errors.Is(err, ErrMalformedResponse) {
				t.Fatal(err)
			}
			return
		}
		for kid, k := range keys {
			if err := checkVerifyKey(k); err != nil {
				t.Fatalf("accepted key %q: %v", kid, err)
			}
		}
		_ = rejected
	})
}

// FuzzVerifyJWT checks that no string verifies unless the fuzz key really
// signed it with RS256, and that nothing panics.
func FuzzVerifyJWT(f *testing.F) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	claims := jwt.MapClaims{"iss": "SuperOffice AS", "aud": "spn:1", "exp": now.Add(time.Minute).Unix(), "http://schemes.superoffice.net/identity/serial": "1", "http://schemes.superoffice.net/identity/ticket": "7T:x", "http://schemes.superoffice.net/identity/ctx": "Cust1"}
	valid, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	f.Add(valid)
	f.Add(strings.Replace(valid, ".", "..", 1))
	for _, name := range []string{"alg-none.txt", "hs256.txt", "segments.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", "jwt", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	parser := newParser(issuerSystemUser, "", time.Minute, func() time.Time { return now })
	keys := pinnedKey{key: &key.PublicKey}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := verifyJWT(context.Background(), raw, keys, parser)
		if err != nil {
			if got != nil || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("%v %v", got, err)
			}
			return
		}
		if err := checkExchangeClaims(got); err != nil && !errors.Is(err, ErrInvalidToken) {
			t.Fatal(err)
		}
		// It verified: it must carry a real RS256 signature by key.
		parts := strings.Split(raw, ".")
		sig, derr := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if derr != nil || rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
			t.Fatalf("accepted a token the key did not sign: %q", raw)
		}
	})
}
