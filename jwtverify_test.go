package sysuser_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/go-superoffice/sysuser"
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
		{"ctx", a.ContextIdentifier, "Cust26759"},
		{"serial", a.Serial, "1801550193"},
		{"email", a.Email, "tony@superoffice.com"},
		{"upn", a.UPN, "tony@superoffice.com"},
		{"netserver_url", a.NetServerURL, "https://sod.superoffice.com/Cust26759/Remote/Services88/"},
		{"associateid", a.AssociateID, "5"},
		{"identityprovider", a.IdentityProvider, "central-superid"},
		{"company_name", a.CompanyName, "Tonys Developer Network"},
		{"sub", a.Subject, "tony@superoffice.com"},
	} {
		if c.got != c.want {
			t.Errorf("%s claim read as %q, want %q", c.name, c.got, c.want)
		}
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
