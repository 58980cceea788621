package sysusertest_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// A code is redeemed once; the second time is invalid_grant (RFC 6749 4.1.2).
func TestCodeFlowCodeIsSingleUse(t *testing.T) {
	s, a := codeFlowFake(t, nil)
	verifier, challenge := pkce(t)
	redirectURI := a.URL + "/callback"
	cb, err := s.Authorize("", authorizeURL(s, redirectURI, challenge))
	if err != nil {
		t.Fatal(err)
	}
	form := redeemForm(cb.Params.Get("code"), redirectURI, verifier)
	if tok := redeem(t, s, form, "", ""); tok.status != 200 {
		t.Fatalf("first redemption: %d %s", tok.status, tok.ErrorDescription)
	}
	if tok := redeem(t, s, form, "", ""); tok.status != 400 || tok.Error != "invalid_grant" || tok.IDToken != "" {
		t.Fatalf("second redemption: %d %q %q, want 400 invalid_grant", tok.status, tok.Error, tok.ErrorDescription)
	}
	// The decision on an approval page is taken once too.
	action, hidden, _ := approvalPage(t, s, authorizeURL(s, redirectURI, challenge))
	hidden.Set("decision", "approve")
	if r, _ := postForm(t, action, hidden); r.StatusCode != http.StatusFound {
		t.Fatalf("first decision: %d", r.StatusCode)
	}
	if r, _ := postForm(t, action, hidden); r.StatusCode != 400 || r.Header.Get("Location") != "" {
		t.Fatalf("second decision: %d to %q, want a 400 page", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestCodeFlowRefusals(t *testing.T) {
	s, a := codeFlowFake(t, nil)
	redirectURI := a.URL + "/callback"
	if err := s.RegisterClient("other-app", "other-secret", a.URL+"/other"); err != nil {
		t.Fatal(err)
	}
	verifier, challenge := pkce(t)
	otherVerifier, _ := pkce(t)

	for _, tc := range []struct {
		name         string
		noChallenge  bool // the authorize request had no code_challenge
		edit         func(url.Values)
		basic        [2]string
		status       int
		err          string
		wwwAuthBasic bool
	}{
		{name: "wrong code_verifier", edit: func(f url.Values) { f.Set("code_verifier", otherVerifier) }, status: 400, err: "invalid_grant"},
		{name: "no code_verifier", edit: func(f url.Values) { f.Del("code_verifier") }, status: 400, err: "invalid_grant"},
		{name: "code_verifier too short", edit: func(f url.Values) { f.Set("code_verifier", "abc") }, status: 400, err: "invalid_grant"},
		{name: "code_verifier without code_challenge", noChallenge: true, status: 400, err: "invalid_grant"},
		{name: "wrong client_secret", edit: func(f url.Values) { f.Set("client_secret", "guess") }, status: 401, err: "invalid_client"},
		{name: "no client_secret", edit: func(f url.Values) { f.Del("client_secret") }, status: 401, err: "invalid_client"},
		{name: "unknown client_id", edit: func(f url.Values) { f.Set("client_id", "nobody") }, status: 401, err: "invalid_client"},
		{name: "wrong Basic secret", edit: func(f url.Values) { f.Del("client_id"); f.Del("client_secret") }, basic: [2]string{clientID, "guess"}, status: 401, err: "invalid_client", wwwAuthBasic: true},
		{name: "Basic and client_secret both", basic: [2]string{clientID, clientSecret}, status: 400, err: "invalid_request"},
		{name: "another client's code", edit: func(f url.Values) { f.Set("client_id", "other-app"); f.Set("client_secret", "other-secret") }, status: 400, err: "invalid_grant"},
		{name: "wrong redirect_uri", edit: func(f url.Values) { f.Set("redirect_uri", a.URL+"/other") }, status: 400, err: "invalid_grant"},
		{name: "no redirect_uri", edit: func(f url.Values) { f.Del("redirect_uri") }, status: 400, err: "invalid_grant"},
		{name: "unknown code", edit: func(f url.Values) { f.Set("code", "forged") }, status: 400, err: "invalid_grant"},
		{name: "no code", edit: func(f url.Values) { f.Del("code") }, status: 400, err: "invalid_request"},
		{name: "grant_type refresh_token", edit: func(f url.Values) { f.Set("grant_type", "refresh_token") }, status: 400, err: "unsupported_grant_type"},
		{name: "no grant_type", edit: func(f url.Values) { f.Del("grant_type") }, status: 400, err: "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			drop := []string{}
			if tc.noChallenge {
				drop = []string{"code_challenge", "", "code_challenge_method", ""}
			}
			cb, err := s.Authorize("", authorizeURL(s, redirectURI, challenge, drop...))
			if err != nil {
				t.Fatal(err)
			}
			form := redeemForm(cb.Params.Get("code"), redirectURI, verifier)
			if tc.edit != nil {
				tc.edit(form)
			}
			tok := redeem(t, s, form, tc.basic[0], tc.basic[1])
			if tok.status != tc.status || tok.Error != tc.err || tok.ErrorDescription == "" || tok.IDToken != "" {
				t.Fatalf("%d %q %q, want %d %s", tok.status, tok.Error, tok.ErrorDescription, tc.status, tc.err)
			}
			if got := tok.header.Get("WWW-Authenticate"); tc.wwwAuthBasic != strings.HasPrefix(got, "Basic") {
				t.Errorf("WWW-Authenticate %q", got)
			}
			// A refused attempt does not spend the code: the application's
			// own request still works.
			if !tc.noChallenge {
				if tok := redeem(t, s, redeemForm(cb.Params.Get("code"), redirectURI, verifier), "", ""); tok.status != 200 {
					t.Errorf("the right redemption after the refusal: %d %s", tok.status, tok.ErrorDescription)
				}
			}
		})
	}
	if r, body := getNoFollow(t, s.Root+tokensPath); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET tokens: %d %s", r.StatusCode, body)
	}
}

// Codes live 60 s by Options.Clock.
func TestCodeFlowExpiredCode(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s, a := codeFlowFake(t, clock)
	redirectURI := a.URL + "/callback"
	verifier, challenge := pkce(t)

	cb, _ := s.Authorize("", authorizeURL(s, redirectURI, challenge))
	advance(60 * time.Second)
	if tok := redeem(t, s, redeemForm(cb.Params.Get("code"), redirectURI, verifier), "", ""); tok.status != 400 || tok.Error != "invalid_grant" {
		t.Fatalf("code 60 s old: %d %q, want 400 invalid_grant", tok.status, tok.Error)
	}

	cb, _ = s.Authorize("", authorizeURL(s, redirectURI, challenge))
	advance(59 * time.Second)
	tok := redeem(t, s, redeemForm(cb.Params.Get("code"), redirectURI, verifier), "", "")
	if tok.status != 200 {
		t.Fatalf("code 59 s old: %d %s", tok.status, tok.ErrorDescription)
	}
	if _, claims := unverifiedClaims(t, tok.IDToken); claims["iat"] != float64(now.Unix()) {
		t.Errorf("iat %v, want the fake's clock %d", claims["iat"], now.Unix())
	}
}
