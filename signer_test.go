package sysuser_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
)

// signVector is one line of testdata/sign-vectors.txt, computed by
// gen-vectors.sh with OpenSSL and with Node's crypto (which agree).
type signVector struct{ token, stamp, want string }

func signVectors(t *testing.T) []signVector {
	var out []signVector
	for _, line := range strings.Split(strings.TrimSpace(string(readTestdata(t, "sign-vectors.txt"))), "\n") {
		parts := strings.SplitN(line, "|", 3)
		if len(parts) != 3 {
			t.Fatalf("bad vector line %q", line)
		}
		out = append(out, signVector{token: parts[0], stamp: parts[1], want: parts[2]})
	}
	if len(out) < 3 {
		t.Fatalf("only %d vectors", len(out))
	}
	return out
}

func TestSignMatchesOpenSSLAndNode(t *testing.T) {
	for _, file := range []string{"key-pkcs1.pem", "key-pkcs8.pem", "key.xml", "key-compact.xml"} {
		t.Run(file, func(t *testing.T) {
			key, err := sysuser.ParsePrivateKey(readTestdata(t, file))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			s, err := sysuser.NewSigner(key)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			for _, v := range signVectors(t) {
				at, err := time.Parse("200601021504", v.stamp)
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.SignAt(v.token, at)
				if err != nil {
					t.Fatal(err)
				}
				if got != v.want {
					t.Errorf("%s, token %q:\n got %s\nwant %s", file, v.token, got, v.want)
				}
			}
		})
	}
}

func TestSignAtUsesUTCMinute(t *testing.T) {
	s, err := sysuser.NewSigner(appKey(t))
	if err != nil {
		t.Fatal(err)
	}
	oslo := time.FixedZone("CET", 3600)
	// 00:30 on 1 Jan in Oslo is 23:30 on 31 Dec UTC: the date changes too.
	at := time.Date(2027, 1, 1, 0, 30, 59, 999, oslo)
	got, err := s.SignAt("tok", at)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "tok.202612312330.") {
		t.Fatalf("got %q, want the UTC minute 202612312330", got)
	}
	utc, _ := s.SignAt("tok", at.UTC().Truncate(time.Minute))
	if got != utc {
		t.Fatal("signature depends on more than the UTC minute")
	}
}

func TestSignVerifiesWithPublicKeyAndSplitsFromTheRight(t *testing.T) {
	key := appKey(t)
	s, _ := sysuser.NewSigner(key)
	token := "My App. with dots. and spaces-x1"
	signed, err := s.Sign(token)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndexByte(signed, '.')
	data, sig64 := signed[:i], signed[i+1:]
	j := strings.LastIndexByte(data, '.')
	if data[:j] != token || len(data[j+1:]) != 12 {
		t.Fatalf("signed token %q does not split into token and timestamp", signed)
	}
	sig, err := base64.StdEncoding.DecodeString(sig64)
	if err != nil {
		t.Fatalf("signature is not standard base64: %v", err)
	}
	sum := sha256.Sum256([]byte(data))
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	stamp, _ := time.Parse("200601021504", data[j+1:])
	if d := time.Since(stamp); d < 0 || d > 2*time.Minute {
		t.Fatalf("timestamp %s is not the current UTC minute", data[j+1:])
	}
}

func TestSignRefusesEmptyTokenAndZeroSigner(t *testing.T) {
	s, _ := sysuser.NewSigner(appKey(t))
	if _, err := s.Sign(""); !errors.Is(err, sysuser.ErrInvalidArgument) {
		t.Fatalf("empty token: %v, want ErrInvalidArgument", err)
	}
	var zero sysuser.Signer
	if _, err := zero.Sign("x"); !errors.Is(err, sysuser.ErrInvalidKey) {
		t.Fatalf("zero Signer: %v, want ErrInvalidKey", err)
	}
	var nilSigner *sysuser.Signer
	if _, err := nilSigner.Sign("x"); !errors.Is(err, sysuser.ErrInvalidKey) {
		t.Fatalf("nil Signer: %v, want ErrInvalidKey", err)
	}
}

func TestNewSignerDoesNotModifyKey(t *testing.T) {
	key := appKey(t)
	key.Precomputed = rsa.PrecomputedValues{}
	if _, err := sysuser.NewSigner(key); err != nil {
		t.Fatal(err)
	}
	if key.Precomputed.Dp != nil {
		t.Fatal("NewSigner precomputed the caller's key in place")
	}
	if _, err := sysuser.NewSigner(nil); !errors.Is(err, sysuser.ErrInvalidKey) {
		t.Fatalf("nil key: %v", err)
	}
}

func TestSignerPrintsNoKeyMaterial(t *testing.T) {
	key := appKey(t)
	s, _ := sysuser.NewSigner(key)
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "signer", s)
	outputs := []string{logged.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, *s))
	}
	for _, out := range outputs {
		assertNoKeyMaterial(t, out, key)
	}
}
