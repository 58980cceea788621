package sysusertest_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestIDTokenIsShapedLikeARealIDToken(t *testing.T) {
	now := time.Now()
	s := newFake(t, fixedClock(now))
	idToken, err := s.IDToken("Cust1", "8cd4fc8710c121d8245c9d8ef59e1086", "smTo3BqVY0GyDAxm2Xe5iA")
	if err != nil {
		t.Fatal(err)
	}
	// Verified with the fake's published key, issued by its root to the client.
	block, _ := pem.Decode(s.SigningCertificate())
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(idToken, claims, func(*jwt.Token) (any, error) { return cert.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(s.Root), jwt.WithAudience("8cd4fc8710c121d8245c9d8ef59e1086"),
		jwt.WithTimeFunc(fixedClock(now))); err != nil {
		t.Fatal(err)
	}
	// Every claim of real-sod-id-token.jwt, plus system_token.
	for _, k := range []string{
		"sub", "iat", "nbf", "exp", "iss", "aud", "nonce",
		"http://schemes.superoffice.net/identity/associateid",
		"http://schemes.superoffice.net/identity/identityprovider",
		"http://schemes.superoffice.net/identity/email",
		"http://schemes.superoffice.net/identity/upn",
		"http://schemes.superoffice.net/identity/is_administrator",
		"http://schemes.superoffice.net/identity/ctx",
		"http://schemes.superoffice.net/identity/company_name",
		"http://schemes.superoffice.net/identity/serial",
		"http://schemes.superoffice.net/identity/netserver_url",
		"http://schemes.superoffice.net/identity/initials",
		"http://schemes.superoffice.net/identity/so_primary_email_address",
		"http://schemes.superoffice.net/identity/webapi_url",
		"http://schemes.superoffice.net/identity/system_token",
	} {
		v, ok := claims[k]
		if !ok {
			t.Errorf("no claim %s", k)
			continue
		}
		if strings.HasPrefix(k, "http://") {
			if _, isString := v.(string); !isString {
				t.Errorf("%s = %#v, want a string as in SuperOffice's token", k, v)
			}
		}
	}
	for k, want := range map[string]string{
		"http://schemes.superoffice.net/identity/identityprovider": "central-superid",
		"http://schemes.superoffice.net/identity/is_administrator": "True",
		"http://schemes.superoffice.net/identity/ctx":              "Cust1",
		"http://schemes.superoffice.net/identity/system_token":     "tok. with dots",
		"nonce": "smTo3BqVY0GyDAxm2Xe5iA",
	} {
		if claims[k] != want {
			t.Errorf("%s = %v, want %q", k, claims[k], want)
		}
	}
	if _, ok := claims["c_hash"]; ok {
		t.Errorf("c_hash %v is not a hash of any code", claims["c_hash"])
	}
	if want := s.WebAPIURL("Cust1"); claims["http://schemes.superoffice.net/identity/webapi_url"] != want {
		t.Errorf("webapi_url = %v, want %s", claims["http://schemes.superoffice.net/identity/webapi_url"], want)
	}

	noNonce, _ := s.IDToken("Cust1", "client", "")
	if _, c := unverifiedClaims(t, noNonce); c["nonce"] != nil {
		t.Errorf("nonce %v without one asked", c["nonce"])
	}
	if _, err := s.IDToken("Cust404", "client", ""); err == nil {
		t.Error("approved an unknown tenant")
	}
}

func TestOpenIDConfigurationNamesOnlyWhatTheFakeServes(t *testing.T) {
	s := newFake(t, nil)
	resp, body := get(t, s.Root+"/login/.well-known/openid-configuration")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var meta map[string]any
	if err := json.Unmarshal([]byte(body), &meta); err != nil {
		t.Fatal(err)
	}
	// The code flow's endpoints, as SuperOffice's (https://{env}.superoffice.com/login/common/oauth/...).
	for k, path := range map[string]string{"authorization_endpoint": "/login/common/oauth/authorize", "token_endpoint": "/login/common/oauth/tokens"} {
		if meta[k] != s.Root+path {
			t.Errorf("%s %v, want %s", k, meta[k], s.Root+path)
		}
	}
	if meta["issuer"] != s.Root {
		t.Errorf("issuer %v, want %s", meta["issuer"], s.Root)
	}
	// As SuperOffice's: https://{host}/login/.well-known/jwks.
	if meta["jwks_uri"] != s.Root+"/login/.well-known/jwks" {
		t.Errorf("jwks_uri %v", meta["jwks_uri"])
	}
	if set := fetchJWKS(t, meta["jwks_uri"].(string)); len(set.Keys) == 0 {
		t.Error("jwks_uri serves no key")
	}
	modes := fmt.Sprint(meta["response_modes_supported"])
	for _, m := range []string{"form_post", "fragment", "query"} {
		if !strings.Contains(modes, m) {
			t.Errorf("response_modes_supported %s lacks %s", modes, m)
		}
	}
	// Any other URL it names must answer: the code flow's endpoints refuse a
	// bare GET (superid_test.go drives them), but they are there.
	for k, v := range meta {
		if u, ok := v.(string); ok && strings.HasPrefix(u, "http") && k != "issuer" {
			if r, _ := get(t, u); r.StatusCode != 200 && !(strings.HasSuffix(k, "_endpoint") && r.StatusCode != 404) {
				t.Errorf("%s %s answers %d", k, u, r.StatusCode)
			}
		}
	}
}

func TestOpenIDConfigurationNamesTheCodeFlow(t *testing.T) {
	s := newFake(t, nil)
	resp, body := get(t, s.Root+"/login/.well-known/openid-configuration")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var meta map[string]any
	if err := json.Unmarshal([]byte(body), &meta); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"authorization_endpoint":                s.Root + "/login/common/oauth/authorize",
		"token_endpoint":                        s.Root + "/login/common/oauth/tokens",
		"token_endpoint_auth_methods_supported": "[client_secret_post client_secret_basic]",
		"code_challenge_methods_supported":      "[S256]",
		"response_modes_supported":              "[form_post fragment query]",
	} {
		if got := fmt.Sprint(meta[k]); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	if !strings.Contains(fmt.Sprint(meta["response_types_supported"]), "code") {
		t.Errorf("response_types_supported %v", meta["response_types_supported"])
	}
}
