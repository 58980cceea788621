package sysusertest_test

// SuperID's authorization code flow, driven with plain net/http as a
// browser would drive it. Paths, parameter names and error codes are
// literals from SuperOffice's documentation and the OAuth RFCs it follows,
// never the fake's constants. The helpers here serve callback_test.go,
// pages_test.go and token_test.go too.

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/go-superoffice/sysuser/sysusertest"
)

const (
	authorizePath = "/login/common/oauth/authorize"
	tokensPath    = "/login/common/oauth/tokens"
	clientID      = "8cd4fc8710c121d8245c9d8ef59e1086"
	clientSecret  = "s3cret"
)

// pkce makes a code_verifier and its S256 code_challenge by hand
// (RFC 7636 4.1, 4.2).
func pkce(t *testing.T) (verifier, challenge string) {
	b := make([]byte, 32)
	rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// app is the application's redirect URI: it records what the browser
// brings back.
type app struct {
	*httptest.Server
	mu  sync.Mutex
	got []*http.Request // with their form parsed
}

func newApp(t *testing.T) *app {
	a := &app{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		a.mu.Lock()
		a.got = append(a.got, r)
		a.mu.Unlock()
		io.WriteString(w, "thanks")
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *app) last(t *testing.T) *http.Request {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.got) == 0 {
		t.Fatal("the application's redirect URI got no request")
	}
	return a.got[len(a.got)-1]
}

// codeFlowFake is a fake with tenant Cust1 and a client whose redirect URI
// is the app's /callback.
func codeFlowFake(t *testing.T, clock func() time.Time) (*sysusertest.Server, *app) {
	s := newFake(t, clock)
	a := newApp(t)
	if err := s.RegisterClient(clientID, clientSecret, a.URL+"/callback"); err != nil {
		t.Fatal(err)
	}
	return s, a
}

// authorizeURL builds an authorize request as SuperOffice documents it;
// extra sets or (with "") drops parameters.
func authorizeURL(s *sysusertest.Server, redirectURI, challenge string, extra ...string) string {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"scope":                 {"openid"},
		"redirect_uri":          {redirectURI},
		"state":                 {"st-123"},
		"nonce":                 {"smTo3BqVY0GyDAxm2Xe5iA"},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
		} else {
			q.Set(extra[i], extra[i+1])
		}
	}
	return s.Root + authorizePath + "?" + q.Encode()
}

// noFollow is a client that stops at redirects, as a test watching them
// must.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func getNoFollow(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	return do(t, req)
}

func postForm(t *testing.T, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

var (
	formRE   = regexp.MustCompile(`(?s)<form[^>]*\smethod="post"[^>]*\saction="([^"]*)"`)
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	optionRE = regexp.MustCompile(`<option value="([^"]*)"( selected)?>`)
)

// page is an HTML page's first post form: its action and hidden fields.
func page(t *testing.T, body string) (action string, hidden url.Values) {
	t.Helper()
	m := formRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no post form in\n%s", body)
	}
	hidden = url.Values{}
	for _, h := range hiddenRE.FindAllStringSubmatch(body, -1) {
		hidden.Add(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	return html.UnescapeString(m[1]), hidden
}

// approvalPage GETs the authorize URL and checks it is the approval page
// with #approve, #decline and #tenant.
func approvalPage(t *testing.T, s *sysusertest.Server, u string) (action string, hidden url.Values, body string) {
	t.Helper()
	resp, body := getNoFollow(t, u)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: %d %s\n%s", u, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, id := range []string{`id="approve"`, `id="decline"`, `<select id="tenant" name="tenant">`, clientID} {
		if !strings.Contains(body, id) {
			t.Errorf("approval page lacks %s:\n%s", id, body)
		}
	}
	action, hidden = page(t, body)
	for _, m := range optionRE.FindAllStringSubmatch(body, -1) {
		if m[2] != "" { // the selected tenant, which the browser submits
			hidden.Set("tenant", html.UnescapeString(m[1]))
		}
	}
	if strings.HasPrefix(action, "/") {
		action = s.Root + action
	}
	return action, hidden, body
}

// decide clicks Approve or Decline on the page for tenant.
func decide(t *testing.T, s *sysusertest.Server, authorize, decision, tenant string) (*http.Response, string) {
	t.Helper()
	action, hidden, _ := approvalPage(t, s, authorize)
	hidden.Set("decision", decision)
	if tenant != "" {
		hidden.Set("tenant", tenant)
	}
	return postForm(t, action, hidden)
}

type tokenAnswer struct {
	status                                        int
	header                                        http.Header
	AccessToken, TokenType, IDToken, RefreshToken string
	ExpiresIn                                     int
	Error, ErrorDescription                       string
}

// redeem POSTs to the token endpoint. basic sends the client's
// credentials by HTTP Basic, else as client_id and client_secret.
func redeem(t *testing.T, s *sysusertest.Server, form url.Values, basicUser, basicPassword string) tokenAnswer {
	t.Helper()
	req, _ := http.NewRequest("POST", s.Root+tokensPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPassword))
	}
	resp, body := do(t, req)
	var raw map[string]any
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatalf("token endpoint: %d, not JSON: %s", resp.StatusCode, body)
	}
	str := func(k string) string { s, _ := raw[k].(string); return s }
	n, _ := raw["expires_in"].(float64)
	return tokenAnswer{
		status: resp.StatusCode, header: resp.Header,
		AccessToken: str("access_token"), TokenType: str("token_type"), IDToken: str("id_token"),
		RefreshToken: str("refresh_token"), ExpiresIn: int(n),
		Error: str("error"), ErrorDescription: str("error_description"),
	}
}

func redeemForm(code, redirectURI, verifier string) url.Values {
	f := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"client_id":     {clientID},
		"client_secret": {clientSecret},
		"code_verifier": {verifier},
	}
	if verifier == "" {
		f.Del("code_verifier")
	}
	return f
}

// verifyIDToken checks the id_token's signature with the key the fake
// publishes at /login/.well-known/jwks, and its claims against a real
// SuperOffice id_token's shape.
func verifyIDToken(t *testing.T, s *sysusertest.Server, idToken, tenant, systemToken, nonce string) jwt.MapClaims {
	t.Helper()
	set := fetchJWKS(t, s.Root+"/login/.well-known/jwks")
	der, _ := base64.StdEncoding.DecodeString(set.Keys[0].X5c[0])
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(idToken, claims, func(*jwt.Token) (any, error) { return cert.PublicKey.(*rsa.PublicKey), nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation()); err != nil {
		t.Fatalf("id_token does not verify: %v", err)
	}
	want := map[string]any{
		"iss":                                s.Root, // bare host, as https://sod.superoffice.com
		"aud":                                clientID,
		"nonce":                              nonce,
		schemes + "system_token":             systemToken,
		schemes + "ctx":                      tenant,
		schemes + "is_administrator":         "True",
		schemes + "identityprovider":         "central-superid",
		schemes + "webapi_url":               s.WebAPIURL(tenant),
		schemes + "netserver_url":            strings.TrimSuffix(s.WebAPIURL(tenant), "api/") + "Remote/Services88/",
		schemes + "associateid":              "1",
		schemes + "so_primary_email_address": claims[schemes+"email"],
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("%s = %v, want %v", k, claims[k], v)
		}
	}
	iat, _ := claims["iat"].(float64)
	if claims["nbf"] != iat-60 || claims["exp"] != iat+300 {
		t.Errorf("iat %v nbf %v exp %v: want nbf = iat-60, exp = iat+300", iat, claims["nbf"], claims["exp"])
	}
	return claims
}

// The documented flow with the default response_mode=query: the browser
// comes back by GET redirect_uri?code=..&state=.., the application redeems
// the code with client_secret_post and PKCE.
func TestCodeFlowQuery(t *testing.T) {
	s, a := codeFlowFake(t, nil)
	verifier, challenge := pkce(t)
	redirectURI := a.URL + "/callback"

	resp, body := decide(t, s, authorizeURL(s, redirectURI, challenge), "approve", "")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("approve: %d, want 302\n%s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
		t.Fatalf("redirected to %s, want %s", loc, redirectURI)
	}
	q := loc.Query()
	if q.Get("state") != "st-123" || q.Get("code") == "" || q.Has("error") {
		t.Fatalf("callback query %v, want code and state st-123", q)
	}
	if r, _ := getNoFollow(t, loc.String()); r.StatusCode != 200 || a.last(t).Method != "GET" || a.last(t).Form.Get("code") != q.Get("code") {
		t.Fatalf("the app did not get the code by GET")
	}

	tok := redeem(t, s, redeemForm(q.Get("code"), redirectURI, verifier), "", "")
	if tok.status != 200 || tok.Error != "" {
		t.Fatalf("redeem: %d %s %s", tok.status, tok.Error, tok.ErrorDescription)
	}
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Errorf("token answer %+v", tok)
	}
	if cc := tok.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store (RFC 6749 5.1)", cc)
	}
	verifyIDToken(t, s, tok.IDToken, "Cust1", "tok. with dots", "smTo3BqVY0GyDAxm2Xe5iA")
}

// An unknown client_id or a redirect_uri not registered for it gets an
// error page at the fake, never a redirect: the fake is no open redirector.
func TestAuthorizeNeverRedirectsToAnUnregisteredURI(t *testing.T) {
	s, a := codeFlowFake(t, nil)
	_, challenge := pkce(t)
	redirectURI := a.URL + "/callback"
	for name, u := range map[string]string{
		"unknown client_id":      authorizeURL(s, redirectURI, challenge, "client_id", "nobody"),
		"no client_id":           authorizeURL(s, redirectURI, challenge, "client_id", ""),
		"evil redirect_uri":      authorizeURL(s, "https://evil.example/callback", challenge),
		"redirect_uri prefix":    authorizeURL(s, redirectURI+"/more", challenge),
		"redirect_uri with more": authorizeURL(s, redirectURI+"?next=https://evil.example", challenge),
		"no redirect_uri":        authorizeURL(s, redirectURI, challenge, "redirect_uri", ""),
		"unknown tenant":         authorizeURL(s, redirectURI, challenge, "tenant", "Cust404"),
		"bad request too":        authorizeURL(s, "https://evil.example/callback", challenge, "response_type", "token"),
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := getNoFollow(t, u)
			if resp.StatusCode != 400 || resp.Header.Get("Location") != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || strings.Contains(body, "evil.example/callback\"") {
				t.Errorf("%s: %d Location %q", name, resp.StatusCode, resp.Header.Get("Location"))
			}
			if _, err := s.Authorize("", u); err == nil {
				t.Errorf("%s: Authorize gave a callback", name)
			}
		})
	}
}

// Refusals of a request from a known client to its registered redirect URI
// go back to the application, with state, as OAuth error parameters.
func TestAuthorizeRefusalsGoBackToTheApplication(t *testing.T) {
	s, a := codeFlowFake(t, nil)
	_, challenge := pkce(t)
	redirectURI := a.URL + "/callback"
	for _, tc := range []struct {
		name  string
		extra []string
		err   string
	}{
		{name: "response_type token", extra: []string{"response_type", "token"}, err: "unsupported_response_type"},
		{name: "response_type code id_token", extra: []string{"response_type", "code id_token"}, err: "unsupported_response_type"},
		{name: "no response_type", extra: []string{"response_type", ""}, err: "invalid_request"},
		{name: "scope without openid", extra: []string{"scope", "profile"}, err: "invalid_scope"},
		{name: "no scope", extra: []string{"scope", ""}, err: "invalid_scope"},
		{name: "code_challenge_method plain", extra: []string{"code_challenge_method", "plain"}, err: "invalid_request"},
		{name: "no code_challenge_method", extra: []string{"code_challenge_method", ""}, err: "invalid_request"}, // absent means plain
		{name: "no code_challenge", extra: []string{"code_challenge", ""}, err: "invalid_request"},               // a method without a challenge
		{name: "short code_challenge", extra: []string{"code_challenge", "short"}, err: "invalid_request"},
		{name: "response_mode web_message", extra: []string{"response_mode", "web_message"}, err: "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := authorizeURL(s, redirectURI, challenge, tc.extra...)
			resp, _ := getNoFollow(t, u)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), redirectURI+"?") {
				t.Errorf("%v: %d to %q", tc.extra, resp.StatusCode, loc)
				return
			}
			if q := loc.Query(); q.Get("error") != tc.err || q.Get("state") != "st-123" || q.Has("code") {
				t.Errorf("%v: %v, want error %s", tc.extra, q, tc.err)
			}
			cb, err := s.Authorize("", u)
			if err != nil || cb.Params.Get("error") != tc.err {
				t.Errorf("%v: Authorize %v %v", tc.extra, cb, err)
			}
		})
	}
	// Scope may hold more than openid; PKCE is optional.
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{name: "scope openid profile email", extra: []string{"scope", "openid profile email"}},
		{name: "no PKCE", extra: []string{"code_challenge", "", "code_challenge_method", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if resp, body := getNoFollow(t, authorizeURL(s, redirectURI, challenge, tc.extra...)); resp.StatusCode != 200 {
				t.Errorf("%v: %d %s", tc.extra, resp.StatusCode, body)
			}
		})
	}
}

// With several tenants the page offers a choice, preselecting the fake's
// tenant parameter; the id_token is for the tenant approved.
func TestAuthorizeTenantChooser(t *testing.T) {
	s, a := codeFlowFake(t, nil)
	s.AddTenant("Cust2", "second token")
	redirectURI := a.URL + "/callback"
	verifier, challenge := pkce(t)

	_, _, body := approvalPage(t, s, authorizeURL(s, redirectURI, challenge, "tenant", "cust2"))
	var options, selected []string
	for _, m := range optionRE.FindAllStringSubmatch(body, -1) {
		options = append(options, m[1])
		if m[2] != "" {
			selected = append(selected, m[1])
		}
	}
	if !slices.Equal(options, []string{"Cust1", "Cust2"}) || !slices.Equal(selected, []string{"Cust2"}) {
		t.Errorf("options %v selected %v, want [Cust1 Cust2] with Cust2 selected", options, selected)
	}

	resp, _ := decide(t, s, authorizeURL(s, redirectURI, challenge), "approve", "Cust2")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	tok := redeem(t, s, redeemForm(loc.Query().Get("code"), redirectURI, verifier), "", "")
	if tok.status != 200 {
		t.Fatalf("redeem: %d %s", tok.status, tok.ErrorDescription)
	}
	verifyIDToken(t, s, tok.IDToken, "Cust2", "second token", "smTo3BqVY0GyDAxm2Xe5iA")

	if resp, _ := decide(t, s, authorizeURL(s, redirectURI, challenge), "approve", "Cust404"); resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
		t.Errorf("approving an unknown tenant: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Authorize: the tenant asked, else the one the page preselects.
	for _, tc := range []struct {
		name, tenant, want string
	}{
		{name: "the tenant asked", tenant: "Cust2", want: "Cust2"},
		{name: "the preselected tenant", tenant: "", want: "Cust1"},
	} {
		t.Run("Authorize "+tc.name, func(t *testing.T) {
			cb, err := s.Authorize(tc.tenant, authorizeURL(s, redirectURI, challenge))
			if err != nil {
				t.Fatal(err)
			}
			tok := redeem(t, s, redeemForm(cb.Params.Get("code"), redirectURI, verifier), "", "")
			if _, claims := unverifiedClaims(t, tok.IDToken); claims[schemes+"ctx"] != tc.want {
				t.Errorf("Authorize(%q): ctx %v, want %s", tc.tenant, claims[schemes+"ctx"], tc.want)
			}
		})
	}
}

// The routes ignore case, as IIS does.
func TestCodeFlowPathsIgnoreCase(t *testing.T) {
	s, a := codeFlowFake(t, nil)
	_, challenge := pkce(t)
	u := strings.Replace(authorizeURL(s, a.URL+"/callback", challenge), authorizePath, "/Login/Common/OAuth/Authorize", 1)
	if resp, body := getNoFollow(t, u); resp.StatusCode != 200 {
		t.Errorf("%s: %d %s", u, resp.StatusCode, body)
	}
	cb, err := s.Authorize("", u)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", s.Root+"/LOGIN/common/OAuth/Tokens", strings.NewReader(redeemForm(cb.Params.Get("code"), a.URL+"/callback", "").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, body := do(t, req); resp.StatusCode != 400 || !strings.Contains(body, "invalid_grant") { // no verifier: refused, but there
		t.Errorf("tokens: %d %s", resp.StatusCode, body)
	}
}

// RegisterClient refuses what cannot be a client with an error, not a
// panic, and registers nothing then.
func TestRegisterClientRefusesBadInput(t *testing.T) {
	s := newFake(t, nil)
	const good = "https://app.example.com/callback"
	for _, c := range []struct {
		name, id, secret string
		redirectURIs     []string
	}{
		{name: "no client id", id: "", secret: "secret", redirectURIs: []string{good}},
		{name: "no secret", id: "bad-app", secret: "", redirectURIs: []string{good}},
		{name: "no redirect URI", id: "bad-app", secret: "secret"},
		{name: "a relative redirect URI", id: "bad-app", secret: "secret", redirectURIs: []string{"/callback"}},
		{name: "a redirect URI without a host", id: "bad-app", secret: "secret", redirectURIs: []string{"https:///callback"}},
		{name: "a redirect URI with a fragment", id: "bad-app", secret: "secret", redirectURIs: []string{good + "#x"}},
		{name: "one bad redirect URI among good ones", id: "bad-app", secret: "secret", redirectURIs: []string{good, "callback"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := s.RegisterClient(c.id, c.secret, c.redirectURIs...); err == nil {
				t.Fatal("no error")
			}
			u := s.Root + authorizePath + "?" + url.Values{
				"response_type": {"code"}, "client_id": {"bad-app"}, "scope": {"openid"}, "redirect_uri": {good},
			}.Encode()
			if _, err := s.Authorize("", u); err == nil {
				t.Error("the refused client was registered")
			}
		})
	}
}

// Decline refuses what Authorize refuses: a request that gets an error page
// is an error, one refused back to the application is its callback.
func TestDeclineRefusesAsAuthorize(t *testing.T) {
	s, a := codeFlowFake(t, nil)
	_, challenge := pkce(t)
	redirectURI := a.URL + "/callback"
	if _, err := s.Decline(authorizeURL(s, "https://evil.example/callback", challenge)); err == nil {
		t.Error("Decline of an unregistered redirect URI gave a callback")
	}
	if _, err := s.Decline("https://sod.superoffice.com" + authorizePath + "?client_id=" + clientID); err == nil {
		t.Error("Decline took SuperOffice's own URL")
	}
	cb, err := s.Decline(authorizeURL(s, redirectURI, challenge, "scope", "profile"))
	if err != nil || cb.Params.Get("error") != "invalid_scope" || cb.Params.Get("state") != "st-123" {
		t.Errorf("Decline of a request without openid: %+v %v, want invalid_scope", cb, err)
	}
}
