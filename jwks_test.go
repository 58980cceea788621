package sysuser_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/go-superoffice/sysuser"
)

func TestKeyRotationIsPickedUp(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	if _, err := env.client.Exchange(context.Background(), testTenant, testUserToken); err != nil {
		t.Fatal(err)
	}
	oldKid := env.fake.KeyID()
	if err := env.fake.RotateKey(nil); err != nil {
		t.Fatal(err)
	}
	if env.fake.KeyID() == oldKid {
		t.Fatal("rotation kept the kid")
	}
	clock.Advance(11 * time.Second) // past the refetch interval
	if _, err := env.client.Exchange(context.Background(), testTenant, testUserToken); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if n := env.fake.JWKSRequestCount(); n != 2 {
		t.Fatalf("%d key set fetches, want 2", n)
	}
}

// jwksProxy forwards to the fake but serves the key set from serve.
func jwksProxy(t *testing.T, env *testEnv, serve func(w http.ResponseWriter) bool) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/.well-known/jwks") && serve(w) {
			return
		}
		forward(t, w, r, env.fake.Root)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/login"
}

func TestFailedRefetchKeepsLastGoodKeys(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	var fetches atomic.Int32
	login := jwksProxy(t, env, func(w http.ResponseWriter) bool {
		if fetches.Add(1) == 1 {
			return false // the first fetch gets the real key set
		}
		w.WriteHeader(http.StatusInternalServerError)
		return true
	})
	c := mustClient(t, withLogin(env.cfg, login))
	if _, err := c.Exchange(context.Background(), testTenant, testUserToken); err != nil {
		t.Fatal(err)
	}
	clock.Advance(11 * time.Second)
	env.fake.SetTokenFunc(func(claims map[string]any) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
		tok.Header["kid"] = "UNKNOWN"
		s, _ := tok.SignedString(fakeSigningKey(t))
		return s
	})
	// The token is not known to be bad: the refetch that would have found
	// its key failed, so the key set is unavailable (retried soon), not the
	// token invalid (refused for 30 s).
	for i := 0; i < 2; i++ { // the second within the refetch interval
		_, err := c.Exchange(context.Background(), testTenant, testUserToken)
		if !errors.Is(err, sysuser.ErrKeySetUnavailable) || errors.Is(err, sysuser.ErrInvalidToken) {
			t.Fatalf("unknown kid with a failing key set, exchange %d: %v, want ErrKeySetUnavailable only", i+1, err)
		}
	}
	if fetches.Load() != 2 {
		t.Fatalf("%d fetches, want 2", fetches.Load())
	}
	env.fake.SetTokenFunc(nil)
	if _, err := c.Exchange(context.Background(), testTenant, testUserToken); err != nil {
		t.Fatalf("the last good keys were lost: %v", err)
	}
}

func TestKeySetRefusesBadKeysOneByOne(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	b64 := base64.RawURLEncoding.EncodeToString
	set := map[string]any{"keys": []any{
		map[string]any{"kty": "EC", "kid": "EC1", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
		map[string]any{"kty": "RSA", "kid": "SMALL", "n": b64(small.N.Bytes()), "e": "AQAB"},
		map[string]any{"kty": "RSA", "kid": "BROKEN", "n": "!!!", "e": "AQAB"},
		map[string]any{"kty": "RSA", "kid": "ENC", "use": "enc", "n": b64(fakeSigningKey(t).N.Bytes()), "e": "AQAB"},
		env.fake.JWK(),
	}}
	body, _ := json.Marshal(set)
	login := jwksProxy(t, env, func(w http.ResponseWriter) bool { w.Write(body); return true })
	c := mustClient(t, withLogin(env.cfg, login))
	if _, err := c.Exchange(context.Background(), testTenant, testUserToken); err != nil {
		t.Fatalf("the good key in a mixed set: %v", err)
	}
	for kid, key := range map[string]*rsa.PrivateKey{"SMALL": small, "EC1": small, "BROKEN": small, "ENC": fakeSigningKey(t)} {
		env.fake.SetTokenFunc(func(claims map[string]any) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
			tok.Header["kid"] = kid
			s, _ := tok.SignedString(key)
			return s
		})
		_, err := c.Exchange(context.Background(), testTenant, testUserToken)
		want := map[string]string{"SMALL": "1024 bits", "EC1": "not RSA", "BROKEN": "base64url", "ENC": "not sig"}[kid]
		if !errors.Is(err, sysuser.ErrInvalidToken) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ErrInvalidToken saying %q", kid, err, want)
		}
	}

	// A set with no usable key at all is an error of its own.
	env2 := newTestEnv(t, nil, nil)
	empty := jwksProxy(t, env2, func(w http.ResponseWriter) bool { w.Write([]byte(`{"keys":[{"kty":"EC"}]}`)); return true })
	_, err := mustClient(t, withLogin(env2.cfg, empty)).Exchange(context.Background(), testTenant, testUserToken)
	if !errors.Is(err, sysuser.ErrMalformedResponse) || !errors.Is(err, sysuser.ErrKeySetUnavailable) || errors.Is(err, sysuser.ErrInvalidToken) {
		t.Fatalf("unusable key set: %v", err)
	}
}

// With the key set down, every token is ErrKeySetUnavailable, not
// ErrInvalidToken, also within the refetch interval.
func TestKeySetOutageIsNotAnInvalidToken(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	login := jwksProxy(t, env, func(w http.ResponseWriter) bool {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	})
	c := mustClient(t, withLogin(env.cfg, login))
	for i := 0; i < 2; i++ { // the second within the 10 s refetch interval
		_, err := c.Exchange(context.Background(), testTenant, testUserToken)
		if !errors.Is(err, sysuser.ErrKeySetUnavailable) || errors.Is(err, sysuser.ErrInvalidToken) {
			t.Fatalf("exchange %d: %v, want ErrKeySetUnavailable only", i+1, err)
		}
		clock.Advance(2 * time.Second)
	}
}

// A token without ctx is refused: it could otherwise be taken for any
// tenant.
func TestTokenWithoutContextIsInvalid(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	env.fake.SetTokenFunc(func(claims map[string]any) string {
		delete(claims, "http://schemes.superoffice.net/identity/ctx")
		return signClaims(t, env.fake, claims)
	})
	_, err := env.client.Exchange(context.Background(), testTenant, testUserToken)
	if !errors.Is(err, sysuser.ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrInvalidToken", err)
	}
}
