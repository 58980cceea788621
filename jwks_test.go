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
	env.fake.SetTokenFunc(func(claims map[string]any) (string, error) {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
		tok.Header["kid"] = "UNKNOWN"
		return tok.SignedString(fakeSigningKey(t))
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
		t.Run(kid, func(t *testing.T) {
			env.fake.SetTokenFunc(func(claims map[string]any) (string, error) {
				tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
				tok.Header["kid"] = kid
				return tok.SignedString(key)
			})
			_, err := c.Exchange(context.Background(), testTenant, testUserToken)
			want := map[string]string{"SMALL": "1024 bits", "EC1": "not RSA", "BROKEN": "base64url", "ENC": "not sig"}[kid]
			if !errors.Is(err, sysuser.ErrInvalidToken) || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v, want ErrInvalidToken saying %q", kid, err, want)
			}
		})
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

// TestKeySetFetchHonoursContext: the exchange answers, the JWKS hangs.
func TestKeySetFetchHonoursContext(t *testing.T) {
	release := make(chan struct{})
	env := newTestEnv(t, nil, nil)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/jwks") {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		forward(t, w, r, env.fake.Root)
	}))
	defer proxy.Close()
	defer close(release) // before the proxy closes
	c := mustClient(t, sysuser.Config{LoginURL: proxy.URL + "/login", ApplicationToken: testAppToken, Signer: env.signer})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Exchange(ctx, testTenant, testUserToken)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, sysuser.ErrKeySetUnavailable) || errors.Is(err, sysuser.ErrInvalidToken) {
		t.Fatalf("err = %v, want DeadlineExceeded and ErrKeySetUnavailable, not ErrInvalidToken", err)
	}
}

func TestPinnedCertificate(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	cfg := env.cfg
	cfg.Certificate = readTestdata(t, "SuperOfficeFederatedLogin-sod.crt")
	_, err := mustClient(t, cfg).Exchange(context.Background(), testTenant, testUserToken)
	if !errors.Is(err, sysuser.ErrInvalidToken) || !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Fatalf("token from the fake verified against SuperOffice's sod certificate: %v", err)
	}
	if env.fake.JWKSRequestCount() != 0 {
		t.Fatal("a pinned certificate still fetched the key set")
	}
	for _, name := range []string{"SuperOfficeFederatedLogin-sod.crt", "SuperOfficeFederatedLogin-stage.crt"} {
		t.Run(name, func(t *testing.T) {
			pub, err := sysuser.ParsePublicKey(readTestdata(t, name))
			if err != nil || pub.N.BitLen() != 2048 {
				t.Fatalf("%s: %v", name, err)
			}
		})
	}
	pubPEM := readTestdata(t, "key-public.pem")
	if _, err := sysuser.ParsePublicKey(pubPEM); err != nil {
		t.Fatalf("PEM public key: %v", err)
	}
	for name, bad := range map[string][]byte{"private key": readTestdata(t, "key-pkcs1.pem"), "garbage": []byte("hello"), "EC": readTestdata(t, "ec.pem")} {
		t.Run(name, func(t *testing.T) {
			if _, err := sysuser.ParsePublicKey(bad); !errors.Is(err, sysuser.ErrInvalidConfig) {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
}

func TestJWKSIsCachedAndRefetchedForUnknownKid(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	for i := 0; i < 5; i++ {
		if _, err := env.client.Exchange(context.Background(), testTenant, testUserToken); err != nil {
			t.Fatal(err)
		}
	}
	if n := env.fake.JWKSRequestCount(); n != 1 {
		t.Fatalf("5 exchanges fetched the key set %d times, want 1", n)
	}
	env.fake.SetTokenFunc(func(c map[string]any) (string, error) {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(c))
		tok.Header["kid"] = "NEW-KID"
		return tok.SignedString(fakeSigningKey(t))
	})
	// Within the minimum interval after the first fetch, no refetch at all.
	env.client.Exchange(context.Background(), testTenant, testUserToken)
	if n := env.fake.JWKSRequestCount(); n != 1 {
		t.Fatalf("an unknown kid right after the first fetch fetched again (%d)", n)
	}
	clock.Advance(31 * time.Second)
	for i := 0; i < 10; i++ {
		if _, err := env.client.Exchange(context.Background(), testTenant, testUserToken); !errors.Is(err, sysuser.ErrInvalidToken) {
			t.Fatal(err)
		}
	}
	if n := env.fake.JWKSRequestCount(); n != 2 {
		t.Fatalf("10 tokens with an unknown kid fetched the key set %d times in all, want 2 (one refetch, then rate-limited)", n)
	}
	clock.Advance(time.Minute)
	env.client.Exchange(context.Background(), testTenant, testUserToken)
	if n := env.fake.JWKSRequestCount(); n != 3 {
		t.Fatalf("after the interval: %d fetches, want 3", n)
	}
	env.fake.SetTokenFunc(nil)
	if _, err := env.client.Exchange(context.Background(), testTenant, testUserToken); err != nil {
		t.Fatalf("known kid after refetches: %v", err)
	}
}

// A service that exchanges and onboards against one SuperOffice fetches its
// key set once: the Client, the ApprovalVerifier and the Onboarding built on
// it share one cache.
func TestKeySetSharedByClientVerifierAndOnboarding(t *testing.T) {
	f := newCodeFlow(t, false) // its Client and verifier: the real clock, the default HTTP client
	if _, err := f.env.client.Exchange(context.Background(), testTenant, testUserToken); err != nil {
		t.Fatal(err)
	}
	authorize, cookies := f.start(t)
	cb, err := f.env.fake.Authorize(testTenant, authorize)
	if err != nil {
		t.Fatal(err)
	}
	if code := f.callback(t, cb, cookies); code != http.StatusOK {
		t.Fatalf("callback answered %d: %v", code, f.lastFailure())
	}
	idToken, err := f.env.fake.IDToken(testTenant, testClientID, "n-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier.Verify(context.Background(), idToken, "n-1"); err != nil {
		t.Fatal(err)
	}
	if n := f.env.fake.JWKSRequestCount(); n != 1 {
		t.Fatalf("an exchange, an onboarding and a verification fetched the key set %d times, want 1", n)
	}
}

// Only users of the same HTTP client share a key set: another client may
// reach SuperOffice another way (a proxy, other TLS roots).
func TestKeySetSharedPerHTTPClient(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	t.Cleanup(func() { env.client.Close() })
	mine, theirs := &http.Client{}, &http.Client{}
	// Every Client stays open until the test ends (mustClient closes it
	// then, not when the subtest that made it ends).
	parent := t
	exchange := func(t *testing.T, hc *http.Client) {
		t.Helper()
		cfg := env.cfg
		cfg.HTTPClient = hc
		c := mustClient(parent, cfg)
		if _, err := c.Exchange(context.Background(), testTenant, testUserToken); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		client *http.Client
		want   int
	}{
		{name: "first user of a client", client: mine, want: 1},
		{name: "same client", client: mine, want: 1},
		{name: "another client", client: theirs, want: 2},
		{name: "the default client", client: nil, want: 3},
		{name: "the default client again", client: nil, want: 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			exchange(t, c.client)
			if n := env.fake.JWKSRequestCount(); n != c.want {
				t.Fatalf("%d key set fetches, want %d", n, c.want)
			}
		})
	}
}

// A key set lives while one of its users is open: one user's Close leaves
// it to the others, and the last Close drops it, so a later user fetches
// anew.
func TestKeySetReleasedByClose(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	env.client.Close() // not a user here
	verify := func(v *sysuser.ApprovalVerifier) {
		t.Helper()
		idToken, err := env.fake.IDToken(testTenant, testClientID, "n")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), idToken, "n"); err != nil {
			t.Fatal(err)
		}
	}
	exchange := func(c *sysuser.Client) {
		t.Helper()
		if _, err := c.Exchange(context.Background(), testTenant, testUserToken); err != nil {
			t.Fatal(err)
		}
	}
	newClient := func() *sysuser.Client {
		c, err := sysuser.NewClient(env.cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	wantFetches := func(want int) {
		t.Helper()
		if n := env.fake.JWKSRequestCount(); n != want {
			t.Fatalf("%d key set fetches, want %d", n, want)
		}
	}

	sets := sysuser.KeySetCount() // those of other tests' open Clients
	a := newClient()
	v, err := sysuser.NewApprovalVerifier(sysuser.ApprovalConfig{LoginURL: env.fake.URL, ClientID: testClientID})
	if err != nil {
		t.Fatal(err)
	}
	exchange(a)
	wantFetches(1)
	a.Close()
	verify(v) // the verifier still holds the set a fetched
	wantFetches(1)
	b := newClient()
	exchange(b)
	wantFetches(1)
	if n := sysuser.KeySetCount(); n != sets+1 {
		t.Fatalf("%d key sets with a Client and a verifier of one SuperOffice open, want %d", n, sets+1)
	}
	v.Close()
	b.Close()
	v.Close() // a second Close releases nothing more
	if n := sysuser.KeySetCount(); n != sets {
		t.Fatalf("%d key sets after every user closed, want %d", n, sets)
	}

	c := newClient() // every user closed: the set was dropped
	defer c.Close()
	exchange(c)
	wantFetches(2)
}

// With a Clock, a Client keeps a key set of its own: its refetch interval
// runs on that clock, which others do not share.
func TestKeySetNotSharedWithAClock(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	t.Cleanup(func() { env.client.Close() })
	exchanges := 0
	for range 2 {
		c := mustClient(t, env.cfg)
		t.Cleanup(func() { c.Close() })
		if _, err := c.Exchange(context.Background(), testTenant, testUserToken); err != nil {
			t.Fatal(err)
		}
		exchanges++
	}
	if n := env.fake.JWKSRequestCount(); n != exchanges {
		t.Fatalf("%d key set fetches for %d Clients with a Clock, want one each", n, exchanges)
	}
}
