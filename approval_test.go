package sysuser_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/go-superoffice/sysuser"
)

const testClientID = "client-id-4e5e6f90f529fede129bd25ad"

// approvalClaims returns the claims of a fresh approval from the fake.
func approvalClaims(t *testing.T, env *testEnv, nonce string) jwt.MapClaims {
	tok, err := env.fake.IDToken(testTenant, testClientID, nonce)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func newApprovalVerifier(t *testing.T, env *testEnv, clock func() time.Time, mutate func(*sysuser.ApprovalConfig)) *sysuser.ApprovalVerifier {
	// Most tests here check one claim at a time with no nonce;
	// TestApprovalExplicitSkips checks the defaults.
	cfg := sysuser.ApprovalConfig{LoginURL: env.fake.URL, ClientID: testClientID, Clock: clock, SkipNonceCheck: true}
	if mutate != nil {
		mutate(&cfg)
	}
	v, err := sysuser.NewApprovalVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestApprovalVerified(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	for _, pinned := range []bool{false, true} {
		v := newApprovalVerifier(t, env, clock.Now, func(c *sysuser.ApprovalConfig) {
			if pinned {
				c.Certificate = env.fake.SigningCertificate()
			}
		})
		tok, _ := env.fake.IDToken(testTenant, testClientID, "n-123")
		a, err := v.Verify(context.Background(), tok, "n-123")
		if err != nil {
			t.Fatalf("pinned=%v: %v", pinned, err)
		}
		if a.SystemUserToken != testUserToken || a.ContextIdentifier != testTenant || a.WebAPIURL != env.fake.WebAPIURL(testTenant) ||
			a.Serial == "" || !a.IsAdministrator || a.Email == "" || a.Subject == "" || !a.ExpiresAt.Equal(clock.Now().Add(5*time.Minute)) {
			t.Fatalf("approval %+v", *a)
		}
		if s := fmt.Sprintf("%v %+v %#v", a, *a, a); strings.Contains(s, testUserToken) {
			t.Fatal("approval prints the system user token")
		}
		// And the token it carries works.
		if _, err := env.client.Tenant(a.ContextIdentifier, a.SystemUserToken).Ticket(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestApprovalForgeriesRefused(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	v := newApprovalVerifier(t, env, clock.Now, nil)
	forger, _ := rsa.GenerateKey(rand.Reader, 2048)
	resign := func(key *rsa.PrivateKey, method jwt.SigningMethod, kid string, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(method, c)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cases := []struct {
		name   string
		token  func(c jwt.MapClaims) string
		nonce  string
		cause  error
		saying string
	}{
		{"wrong key", func(c jwt.MapClaims) string { return resign(forger, jwt.SigningMethodRS256, env.fake.KeyID(), c) }, "", jwt.ErrTokenSignatureInvalid, ""},
		{"wrong audience", func(c jwt.MapClaims) string { c["aud"] = "another-app"; return signClaims(t, env.fake, c) }, "", jwt.ErrTokenInvalidAudience, ""},
		{"wrong issuer", func(c jwt.MapClaims) string { c["iss"] = "https://evil.example"; return signClaims(t, env.fake, c) }, "", jwt.ErrTokenInvalidIssuer, ""},
		{"the system user issuer", func(c jwt.MapClaims) string { c["iss"] = "SuperOffice AS"; return signClaims(t, env.fake, c) }, "", jwt.ErrTokenInvalidIssuer, ""},
		{"expired", func(c jwt.MapClaims) string {
			c["exp"] = clock.Now().Add(-6 * time.Minute).Unix()
			return signClaims(t, env.fake, c)
		}, "", jwt.ErrTokenExpired, ""},
		{"no exp", func(c jwt.MapClaims) string { delete(c, "exp"); return signClaims(t, env.fake, c) }, "", jwt.ErrTokenRequiredClaimMissing, ""},
		{"alg none", func(c jwt.MapClaims) string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}, "", jwt.ErrTokenSignatureInvalid, ""},
		{"HS256", func(c jwt.MapClaims) string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte("public key bytes"))
			return s
		}, "", jwt.ErrTokenSignatureInvalid, ""},
		{"no system_token", func(c jwt.MapClaims) string {
			delete(c, "http://schemes.superoffice.net/identity/system_token")
			return signClaims(t, env.fake, c)
		}, "", nil, "system_token"},
		{"no ctx", func(c jwt.MapClaims) string {
			delete(c, "http://schemes.superoffice.net/identity/ctx")
			return signClaims(t, env.fake, c)
		}, "", nil, "ctx"},
		{"nonce differs", func(c jwt.MapClaims) string { return signClaims(t, env.fake, c) }, "another-nonce", nil, "nonce"},
		{"nonce missing", func(c jwt.MapClaims) string { delete(c, "nonce"); return signClaims(t, env.fake, c) }, "n-1", nil, "nonce"},
		{"several audiences, no azp", func(c jwt.MapClaims) string {
			c["aud"] = []any{testClientID, "another-app"}
			return signClaims(t, env.fake, c)
		}, "", jwt.ErrTokenInvalidAudience, "azp"},
		{"azp of another client", func(c jwt.MapClaims) string {
			c["aud"], c["azp"] = []any{testClientID, "another-app"}, "another-app"
			return signClaims(t, env.fake, c)
		}, "", jwt.ErrTokenInvalidAudience, "azp"},
		{"ctx not a tenant id", func(c jwt.MapClaims) string {
			c["http://schemes.superoffice.net/identity/ctx"] = "Cust1/../x\r\n<b>"
			return signClaims(t, env.fake, c)
		}, "", nil, "ctx"},
	}
	for _, c := range cases {
		claims := approvalClaims(t, env, "n-1")
		a, err := v.Verify(context.Background(), c.token(claims), c.nonce)
		if a != nil || !errors.Is(err, sysuser.ErrInvalidToken) {
			t.Errorf("%s: %v, %v; want ErrInvalidToken", c.name, a, err)
			continue
		}
		if c.cause != nil && !errors.Is(err, c.cause) {
			t.Errorf("%s: %v is not %v", c.name, err, c.cause)
		}
		if !strings.Contains(err.Error(), c.saying) || strings.Contains(err.Error(), testUserToken) {
			t.Errorf("%s: message %q", c.name, err)
		}
	}
}

func TestApprovalIssuerFollowsEnvironment(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	v := newApprovalVerifier(t, env, clock.Now, func(c *sysuser.ApprovalConfig) {
		c.LoginURL, c.Environment, c.Certificate = "", "sod", env.fake.SigningCertificate()
	})
	claims := approvalClaims(t, env, "")
	claims["iss"] = "https://sod.superoffice.com"
	if _, err := v.Verify(context.Background(), signClaims(t, env.fake, claims), ""); err != nil {
		t.Fatalf("sod issuer: %v", err)
	}
	claims["iss"] = "https://online.superoffice.com"
	if _, err := v.Verify(context.Background(), signClaims(t, env.fake, claims), ""); !errors.Is(err, jwt.ErrTokenInvalidIssuer) {
		t.Fatalf("production issuer accepted by a sod verifier: %v", err)
	}
	if _, err := sysuser.NewApprovalVerifier(sysuser.ApprovalConfig{Environment: "sod"}); !errors.Is(err, sysuser.ErrInvalidConfig) {
		t.Fatalf("no ClientID: %v", err)
	}
}

// An approval for this client among several audiences verifies when azp
// names the client.
func TestApprovalSeveralAudiencesWithAzp(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	v := newApprovalVerifier(t, env, clock.Now, nil)
	claims := approvalClaims(t, env, "")
	claims["aud"], claims["azp"] = []any{testClientID, "another-app"}, testClientID
	if _, err := v.Verify(context.Background(), signClaims(t, env.fake, claims), ""); err != nil {
		t.Fatal(err)
	}
}

// ApprovalConfig.Logger hears why a token was refused, without the token.
func TestApprovalRefusalsAreLogged(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	var logs lockedBuffer
	v := newApprovalVerifier(t, env, clock.Now, func(c *sysuser.ApprovalConfig) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	claims := approvalClaims(t, env, "")
	delete(claims, "http://schemes.superoffice.net/identity/ctx")
	tok := signClaims(t, env.fake, claims)
	if _, err := v.Verify(context.Background(), tok, ""); err == nil {
		t.Fatal("verified without ctx")
	}
	out := logs.String()
	if !strings.Contains(out, "id_token refused") || !strings.Contains(out, "ctx claim is missing") {
		t.Fatalf("log %q", out)
	}
	if strings.Contains(out, testUserToken) || strings.Contains(out, tok[strings.LastIndexByte(tok, '.')+1:]) {
		t.Fatal("the log carries the token")
	}
}

// Close ends the verifier: later calls fail with net.ErrClosed.
func TestApprovalVerifierClose(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	v := newApprovalVerifier(t, env, clock.Now, nil)
	tok, _ := env.fake.IDToken(testTenant, testClientID, "")
	if _, err := v.Verify(context.Background(), tok, ""); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	v.Close()
	if _, err := v.Verify(context.Background(), tok, ""); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestApprovalExplicitSkips(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	v, err := sysuser.NewApprovalVerifier(sysuser.ApprovalConfig{LoginURL: env.fake.URL, ClientID: testClientID, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	tok, _ := env.fake.IDToken(testTenant, testClientID, "n-1")
	// An empty nonce is no longer a silent skip.
	if _, err := v.Verify(context.Background(), tok, ""); !errors.Is(err, sysuser.ErrInvalidArgument) || !strings.Contains(err.Error(), "SkipNonceCheck") {
		t.Fatalf("empty nonce: %v, want ErrInvalidArgument naming SkipNonceCheck", err)
	}
	if _, err := v.Verify(context.Background(), tok, "n-1"); err != nil {
		t.Fatal(err)
	}
	// A plain sign-in's id_token (no system_token) needs SkipSystemUserCheck.
	claims := approvalClaims(t, env, "n-1")
	delete(claims, "http://schemes.superoffice.net/identity/system_token")
	signIn := signClaims(t, env.fake, claims)
	if _, err := v.Verify(context.Background(), signIn, "n-1"); !errors.Is(err, sysuser.ErrInvalidToken) {
		t.Fatalf("sign-in token without the skip: %v", err)
	}
	lenient := newApprovalVerifier(t, env, clock.Now, func(c *sysuser.ApprovalConfig) { c.SkipSystemUserCheck, c.SkipNonceCheck = true, false })
	defer lenient.Close()
	if a, err := lenient.Verify(context.Background(), signIn, "n-1"); err != nil || a.SystemUserToken != "" {
		t.Fatalf("sign-in token with SkipSystemUserCheck: %v", err)
	}
}
