package sysusertest_test

import (
	"encoding/json"
	"testing"
	"time"
)

type jwks struct {
	Keys []struct {
		Kty, Use, Alg, Kid string
		X5c                []string
	}
}

func fetchJWKS(t *testing.T, url string) jwks {
	t.Helper()
	resp, body := get(t, url)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	var set jwks
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatal(err)
	}
	return set
}

// SuperOffice's Python sample verifies with keys[0] of
// https://{host}/login/.well-known/jwks.
func TestJWKSListsTheCurrentKeyFirst(t *testing.T) {
	s := newFake(t, nil)
	first := s.KeyID()
	if err := s.RotateKey(nil); err != nil {
		t.Fatal(err)
	}
	second := s.KeyID()
	if err := s.RotateKey(nil); err != nil {
		t.Fatal(err)
	}
	set := fetchJWKS(t, s.Root+"/login/.well-known/jwks")
	if len(set.Keys) != 3 {
		t.Fatalf("%d keys, want 3", len(set.Keys))
	}
	if got := []string{set.Keys[0].Kid, set.Keys[1].Kid, set.Keys[2].Kid}; got[0] != s.KeyID() || got[1] != second || got[2] != first {
		t.Errorf("kids %v, want [%s %s %s] (current first)", got, s.KeyID(), second, first)
	}
	k := set.Keys[0]
	if k.Kty != "RSA" || k.Use != "sig" || k.Alg != "RS256" || len(k.X5c) != 1 {
		t.Errorf("key %+v", k)
	}
	// Tokens name the key listed first.
	_, tok, _ := rest(t, s, "app", "Cust1", sign(t, "tok. with dots", time.Now()))
	if h, _ := unverifiedClaims(t, tok); h["kid"] != set.Keys[0].Kid {
		t.Errorf("token kid %v, keys[0] %s", h["kid"], set.Keys[0].Kid)
	}
}
