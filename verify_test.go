package sysuser_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

// The real id_token SuperOffice's sod environment issued on 2022-04-07
// (testdata/real-sod-id-token.jwt), signed by the key of
// testdata/SuperOfficeFederatedLogin-sod.crt. Every expected value below is
// read off that token by hand, never from the package's constants.
const (
	realIssuedAt = 1649314756
	realNonce    = "smTo3BqVY0GyDAxm2Xe5iA"
	realClientID = "8cd4fc8710c121d8245c9d8ef59e1086"
)

// realVerifier verifies as of at. The real token is a plain sign-in's (no
// system_token), so it skips that check, and the nonce check when no nonce
// is given.
func realVerifier(t *testing.T, at time.Time) *sysuser.ApprovalVerifier {
	t.Helper()
	v, err := sysuser.NewApprovalVerifier(sysuser.ApprovalConfig{
		Environment:         "sod",
		ClientID:            realClientID,
		Certificate:         readTestdata(t, "SuperOfficeFederatedLogin-sod.crt"),
		Clock:               func() time.Time { return at },
		SkipSystemUserCheck: true,
		SkipNonceCheck:      true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func realToken(t *testing.T) string {
	return strings.TrimSpace(string(readTestdata(t, "real-sod-id-token.jwt")))
}

// TestRealSODIDToken verifies SuperOffice's own token through the public
// verification path and reads its claims by their real names.
func TestRealSODIDToken(t *testing.T) {
	at := time.Unix(realIssuedAt+30, 0)
	v := realVerifier(t, at)
	a, err := v.Verify(context.Background(), realToken(t), realNonce)
	if err != nil {
		t.Fatalf("SuperOffice's own id_token did not verify: %v", err)
	}
	for _, c := range []struct{ name, got, want string }{
		{name: "ctx", got: a.ContextIdentifier, want: "Cust26759"},
		{name: "serial", got: a.Serial, want: "1801550193"},
		{name: "email", got: a.Email, want: "tony@superoffice.com"},
		{name: "upn", got: a.UPN, want: "tony@superoffice.com"},
		{name: "netserver_url", got: a.NetServerURL, want: "https://sod.superoffice.com/Cust26759/Remote/Services88/"},
		{name: "associateid", got: a.AssociateID, want: "5"},
		{name: "identityprovider", got: a.IdentityProvider, want: "central-superid"},
		{name: "company_name", got: a.CompanyName, want: "Tonys Developer Network"},
		{name: "sub", got: a.Subject, want: "tony@superoffice.com"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("%s claim read as %q, want %q", c.name, c.got, c.want)
			}
		})
	}
	if !a.IsAdministrator {
		t.Error(`is_administrator "True" was not read as true`)
	}
	if a.IssuedAt.Unix() != realIssuedAt || a.ExpiresAt.Unix() != 1649315056 {
		t.Errorf("iat/exp read as %v/%v", a.IssuedAt.Unix(), a.ExpiresAt.Unix())
	}
	// The raw claims keep SuperOffice's literal names.
	if a.Claims["http://schemes.superoffice.net/identity/ctx"] != "Cust26759" {
		t.Errorf("raw claims lack the literal schemes.superoffice.net ctx claim: %v", a.Claims)
	}

	// It carries no system_token: a verifier that does not skip that check
	// says exactly that.
	strict, err := sysuser.NewApprovalVerifier(sysuser.ApprovalConfig{Environment: "sod", ClientID: realClientID,
		Certificate: readTestdata(t, "SuperOfficeFederatedLogin-sod.crt"), Clock: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = strict.Verify(context.Background(), realToken(t), realNonce)
	if !errors.Is(err, sysuser.ErrInvalidToken) || err.Error() != "sysuser: invalid token: system_token claim is missing (was the application approved for system user access?)" {
		t.Errorf("Verify of a token without system_token: %v", err)
	}
}

// TestRealSODIDTokenChecks shows the same real token refused where it must
// be: outside its lifetime (with SuperOffice's 5 minutes of skew), with
// another nonce or audience, and with the stage certificate.
func TestRealSODIDTokenChecks(t *testing.T) {
	ctx := context.Background()
	// nbf is iat-60; 5 minutes of skew reach back to iat-360.
	if _, err := realVerifier(t, time.Unix(realIssuedAt-60-4*60, 0)).Verify(ctx, realToken(t), ""); err != nil {
		t.Errorf("4 minutes before nbf is inside the 5 minute skew: %v", err)
	}
	if _, err := realVerifier(t, time.Unix(realIssuedAt-60-6*60, 0)).Verify(ctx, realToken(t), ""); !errors.Is(err, jwt.ErrTokenNotValidYet) {
		t.Errorf("6 minutes before nbf: %v, want not valid yet", err)
	}
	if _, err := realVerifier(t, time.Unix(1649315056+4*60, 0)).Verify(ctx, realToken(t), ""); err != nil {
		t.Errorf("4 minutes after exp is inside the 5 minute skew: %v", err)
	}
	if _, err := realVerifier(t, time.Unix(1649315056+6*60, 0)).Verify(ctx, realToken(t), ""); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("6 minutes after exp: %v, want expired", err)
	}
	if _, err := realVerifier(t, time.Unix(realIssuedAt, 0)).Verify(ctx, realToken(t), "another-nonce"); !errors.Is(err, sysuser.ErrInvalidToken) {
		t.Errorf("wrong nonce: %v", err)
	}
	stage, err := sysuser.NewApprovalVerifier(sysuser.ApprovalConfig{
		Environment: "sod", ClientID: realClientID,
		Certificate: readTestdata(t, "SuperOfficeFederatedLogin-stage.crt"),
		Clock:       func() time.Time { return time.Unix(realIssuedAt, 0) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stage.Verify(ctx, realToken(t), realNonce); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Errorf("stage certificate: %v, want a signature failure", err)
	}
	other, err := sysuser.NewApprovalVerifier(sysuser.ApprovalConfig{
		Environment: "sod", ClientID: "someone-else",
		Certificate: readTestdata(t, "SuperOfficeFederatedLogin-sod.crt"),
		Clock:       func() time.Time { return time.Unix(realIssuedAt, 0) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Verify(ctx, realToken(t), realNonce); !errors.Is(err, jwt.ErrTokenInvalidAudience) {
		t.Errorf("other client id: %v, want an audience failure", err)
	}
}

func TestTokenVerification(t *testing.T) {
	clock := newFakeClock()
	forger, _ := rsa.GenerateKey(rand.Reader, 2048)
	signWith := func(key *rsa.PrivateKey, alg jwt.SigningMethod, kid string, claims map[string]any) string {
		tok := jwt.NewWithClaims(alg, jwt.MapClaims(claims))
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var env *testEnv
	cases := []struct {
		name  string
		token func(c map[string]any) string
		cause error
		says  string
	}{
		{name: "valid", token: func(c map[string]any) string { return signClaims(t, env.fake, c) }},
		{name: "exp within leeway", token: func(c map[string]any) string {
			c["exp"] = clock.Now().Add(-30 * time.Second).Unix()
			return signClaims(t, env.fake, c)
		}},
		{name: "forged with another key, same kid", token: func(c map[string]any) string { return signWith(forger, jwt.SigningMethodRS256, env.fake.KeyID(), c) }, cause: jwt.ErrTokenSignatureInvalid},
		{name: "alg none", token: func(c map[string]any) string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(c)).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}, cause: jwt.ErrTokenSignatureInvalid, says: "none"},
		{name: "HS256 keyed with the public key", token: func(c map[string]any) string {
			pub := x509.MarshalPKCS1PublicKey(&fakeSigningKey(t).PublicKey)
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(c))
			tok.Header["kid"] = env.fake.KeyID()
			s, _ := tok.SignedString(pub)
			return s
		}, cause: jwt.ErrTokenSignatureInvalid, says: "HS256"},
		{name: "RS512", token: func(c map[string]any) string {
			return signWith(fakeSigningKey(t), jwt.SigningMethodRS512, env.fake.KeyID(), c)
		}, cause: jwt.ErrTokenSignatureInvalid, says: "RS512"},
		{name: "PS256", token: func(c map[string]any) string {
			return signWith(fakeSigningKey(t), jwt.SigningMethodPS256, env.fake.KeyID(), c)
		}, cause: jwt.ErrTokenSignatureInvalid, says: "PS256"},
		{name: "wrong issuer", token: func(c map[string]any) string { c["iss"] = "Evil AS"; return signClaims(t, env.fake, c) }, cause: jwt.ErrTokenInvalidIssuer},
		{name: "wrong audience", token: func(c map[string]any) string { c["aud"] = "spn:other"; return signClaims(t, env.fake, c) }, cause: jwt.ErrTokenInvalidAudience},
		{name: "audience without serial", token: func(c map[string]any) string {
			delete(c, "http://schemes.superoffice.net/identity/serial")
			return signClaims(t, env.fake, c)
		}, says: "serial"},
		{name: "expired", token: func(c map[string]any) string {
			c["exp"] = clock.Now().Add(-6 * time.Minute).Unix()
			return signClaims(t, env.fake, c)
		}, cause: jwt.ErrTokenExpired},
		{name: "no exp", token: func(c map[string]any) string { delete(c, "exp"); return signClaims(t, env.fake, c) }, cause: jwt.ErrTokenRequiredClaimMissing},
		{name: "not valid yet", token: func(c map[string]any) string {
			c["nbf"] = clock.Now().Add(10 * time.Minute).Unix()
			return signClaims(t, env.fake, c)
		}, cause: jwt.ErrTokenNotValidYet},
		{name: "no ticket", token: func(c map[string]any) string {
			delete(c, "http://schemes.superoffice.net/identity/ticket")
			return signClaims(t, env.fake, c)
		}, says: "ticket claim"},
		{name: "other tenant", token: func(c map[string]any) string {
			c["http://schemes.superoffice.net/identity/ctx"] = "Cust666"
			return signClaims(t, env.fake, c)
		}, says: "Cust666"},
		{name: "unknown kid", token: func(c map[string]any) string { return signWith(fakeSigningKey(t), jwt.SigningMethodRS256, "FFFF", c) }, cause: jwt.ErrTokenUnverifiable, says: "FFFF"},
		{name: "not a JWT", token: func(c map[string]any) string { return "not-a-jwt" }, cause: jwt.ErrTokenMalformed},
		{name: "tampered payload", token: func(c map[string]any) string {
			good := signClaims(t, env.fake, c)
			parts := strings.Split(good, ".")
			c["http://schemes.superoffice.net/identity/ticket"] = "7T:stolen"
			payload, _ := json.Marshal(c)
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
		}, cause: jwt.ErrTokenSignatureInvalid},
	}
	for _, p := range protocols {
		t.Run(p.String(), func(t *testing.T) {
			env = newTestEnv(t, clock.Now, func(c *sysuser.Config) { c.Protocol = p })
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					var lastTicket string
					env.fake.SetTokenFunc(func(claims map[string]any) (string, error) {
						lastTicket, _ = claims["http://schemes.superoffice.net/identity/ticket"].(string)
						return c.token(claims), nil
					})
					res, err := env.client.Exchange(context.Background(), testTenant, testUserToken)
					if c.name == "valid" || c.name == "exp within leeway" {
						if err != nil || res.Ticket != lastTicket {
							t.Errorf("%v", err)
						}
						return
					}
					if res != nil || !errors.Is(err, sysuser.ErrInvalidToken) {
						t.Errorf("got %v, %v; want ErrInvalidToken", res, err)
						return
					}
					if c.cause != nil && !errors.Is(err, c.cause) {
						t.Errorf("%v does not match %v", err, c.cause)
					}
					if !strings.Contains(err.Error(), c.says) {
						t.Errorf("%q does not say %q", err, c.says)
					}
					if lastTicket != "" && strings.Contains(err.Error(), lastTicket[3:]) {
						t.Errorf("error leaks the ticket")
					}
				})
			}
		})
	}
}

func TestHMACConfusionNeedsNoSecret(t *testing.T) {
	// Sanity check for the HS256 case above: the forged token is a valid
	// HMAC under the public key bytes, so only the alg check stops it.
	pub := x509.MarshalPKCS1PublicKey(&fakeSigningKey(t).PublicKey)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"a": 1})
	s, _ := tok.SignedString(pub)
	parts := strings.Split(s, ".")
	m := hmac.New(sha256.New, pub)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if base64.RawURLEncoding.EncodeToString(m.Sum(nil)) != parts[2] {
		t.Fatal("forged token is not a valid HMAC")
	}
}

// A login server whose clock is 3 minutes ahead issues tokens whose nbf is
// in the client's future; SuperOffice's own clients allow 5 minutes of skew,
// and so does the Client by default.
func TestLoginServerClockAheadWithinFiveMinutes(t *testing.T) {
	clientClock := newFakeClock()
	for _, ahead := range []time.Duration{3 * time.Minute, 7 * time.Minute} {
		serverClock := func() time.Time { return clientClock.Now().Add(ahead) }
		signer, _ := sysuser.NewSigner(appKey(t))
		fake, err := sysusertest.NewServer(sysusertest.Options{
			ApplicationToken: testAppToken, PublicKey: signer.Public(), SigningKey: fakeSigningKey(t),
			Clock: serverClock, MaxClockSkew: 10 * time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer fake.Close()
		fake.AddTenant(testTenant, testUserToken)
		client := mustClient(t, sysuser.Config{LoginURL: fake.URL, ApplicationToken: testAppToken, Signer: signer, Clock: clientClock.Now})
		_, err = client.Exchange(context.Background(), testTenant, testUserToken)
		switch {
		case ahead < 5*time.Minute && err != nil:
			t.Errorf("server %s ahead: %v", ahead, err)
		case ahead > 5*time.Minute && !errors.Is(err, jwt.ErrTokenNotValidYet):
			t.Errorf("server %s ahead: err = %v, want not valid yet", ahead, err)
		}
	}
}

// A token without ctx is refused: it could otherwise be taken for any
// tenant.
func TestTokenWithoutContextIsInvalid(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	env.fake.SetTokenFunc(func(claims map[string]any) (string, error) {
		delete(claims, "http://schemes.superoffice.net/identity/ctx")
		return env.fake.Sign(claims)
	})
	_, err := env.client.Exchange(context.Background(), testTenant, testUserToken)
	if !errors.Is(err, sysuser.ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrInvalidToken", err)
	}
}
