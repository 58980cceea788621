package sysuser_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

var testStateKey = []byte("0123456789abcdef0123456789abcdef")

// newVerifier returns a verifier for testClientID against the login
// service login, closed when the test ends.
func newVerifier(t testing.TB, login string, clock func() time.Time) *sysuser.ApprovalVerifier {
	t.Helper()
	v, err := sysuser.NewApprovalVerifier(sysuser.ApprovalConfig{LoginURL: login, ClientID: testClientID, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func TestOnboardingLegacyIDTokenPost(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	var mu sync.Mutex
	stored := map[string]string{}
	fail := false
	cfg := sysuser.OnboardingConfig{
		Verifier: newVerifier(t, env.fake.URL, clock.Now), ClientSecret: "client-secret", StateKey: testStateKey,
		RedirectURL: "http://127.0.0.1/callback",
		LegacyNonce: func(r *http.Request) string { c, _ := r.Cookie("nonce"); return c.Value },
		OnApproval: func(w http.ResponseWriter, r *http.Request, a *sysuser.Approval) error {
			if fail {
				return errors.New("database down")
			}
			mu.Lock()
			stored[a.ContextIdentifier] = a.SystemUserToken
			mu.Unlock()
			http.Redirect(w, r, "/thanks", http.StatusSeeOther)
			return nil
		},
	}
	ob, err := sysuser.NewOnboarding(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ob)
	defer srv.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(form url.Values, nonce string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "nonce", Value: nonce})
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	good, _ := env.fake.IDToken(testTenant, testClientID, "n-9")
	if code, _ := post(url.Values{"id_token": {good}, "state": {"x"}}, "n-9"); code != http.StatusSeeOther {
		t.Fatalf("valid approval: %d", code)
	}
	if stored[testTenant] != testUserToken {
		t.Fatalf("stored %v", stored)
	}
	// The same id_token again: a replay.
	if code, _ := post(url.Values{"id_token": {good}}, "n-9"); code != http.StatusBadRequest {
		t.Fatalf("replayed id_token: %d, want 400", code)
	}
	forged := approvalClaims(t, env, "n-9")
	forged["aud"] = "x"
	for name, c := range map[string]struct {
		form  url.Values
		nonce string
	}{
		"no token":       {url.Values{}, "n-9"},
		"forged token":   {url.Values{"id_token": {signClaims(t, env.fake, forged)}}, "n-9"},
		"wrong nonce":    {url.Values{"id_token": {good}}, "other"},
		"no nonce":       {url.Values{"id_token": {good}}, ""},
		"oversized body": {url.Values{"id_token": {strings.Repeat("a", 100<<10)}}, "n-9"},
	} {
		code, body := post(c.form, c.nonce)
		if code != http.StatusBadRequest || strings.Contains(body, "token") {
			t.Errorf("%s: %d %q", name, code, body)
		}
	}
	req, _ := http.NewRequest(http.MethodPut, srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
	fail = true
	fresh, _ := env.fake.IDToken(testTenant, testClientID, "n-10")
	if code, body := post(url.Values{"id_token": {fresh}}, "n-10"); code != 500 || strings.Contains(body, "database") {
		t.Fatalf("store failure: %d %q", code, body)
	}

	// Without LegacyNonce (or the explicit opt-out) a posted id_token is refused.
	cfg.LegacyNonce = nil
	strict, err := sysuser.NewOnboarding(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	other, _ := env.fake.IDToken(testTenant, testClientID, "")
	r := httptest.NewRequest(http.MethodPost, "/callback", strings.NewReader(url.Values{"id_token": {other}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	strict.ServeHTTP(rec, r)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("legacy post without a nonce check: %d", rec.Code)
	}
}

func TestNewOnboardingRefusesIncompleteConfig(t *testing.T) {
	skipping, err := sysuser.NewApprovalVerifier(sysuser.ApprovalConfig{Environment: sysuser.SOD, ClientID: "c", SkipSystemUserCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	defer skipping.Close()
	ok := sysuser.OnboardingConfig{Verifier: newVerifier(t, "https://sod.superoffice.com/login", nil), ClientSecret: "s", StateKey: testStateKey,
		RedirectURL: "https://app.example/callback", OnApproval: func(http.ResponseWriter, *http.Request, *sysuser.Approval) error { return nil }}
	if _, err := sysuser.NewOnboarding(ok); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*sysuser.OnboardingConfig){
		"no verifier": func(c *sysuser.OnboardingConfig) { c.Verifier = nil },
		"a verifier that skips the system user check": func(c *sysuser.OnboardingConfig) { c.Verifier = skipping },
		"no secret":       func(c *sysuser.OnboardingConfig) { c.ClientSecret = "" },
		"short state key": func(c *sysuser.OnboardingConfig) { c.StateKey = []byte("short") },
		"no OnApproval":   func(c *sysuser.OnboardingConfig) { c.OnApproval = nil },
		"http redirect":   func(c *sysuser.OnboardingConfig) { c.RedirectURL = "http://app.example/callback" },
		"both legacy opts": func(c *sysuser.OnboardingConfig) {
			c.LegacySkipNonceCheck = true
			c.LegacyNonce = func(*http.Request) string { return "" }
		},
	} {
		c := ok
		mutate(&c)
		if _, err := sysuser.NewOnboarding(c); !errors.Is(err, sysuser.ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// codeFlow is an Onboarding against the fake's SuperID, mounted on a test
// server, with the approvals it stored and the errors it handed out.
type codeFlow struct {
	env      *testEnv
	verifier *sysuser.ApprovalVerifier
	ob       *sysuser.Onboarding
	app      *httptest.Server
	logs     *lockedBuffer
	mu       sync.Mutex
	approved []*sysuser.Approval
	failures []error
}

func newCodeFlow(t *testing.T, formPost bool) *codeFlow {
	return newCodeFlowWith(t, formPost, nil)
}

// newCodeFlowWith is newCodeFlow with a verifier configured by mutate, from
// the fake's login URL and testClientID. The verifier is closed when the
// test ends.
func newCodeFlowWith(t *testing.T, formPost bool, mutate func(*sysuser.ApprovalConfig)) *codeFlow {
	f := &codeFlow{env: newTestEnv(t, nil, nil), logs: &lockedBuffer{}}
	t.Cleanup(func() { f.env.client.Close() })
	mux := http.NewServeMux()
	f.app = httptest.NewServer(mux)
	t.Cleanup(f.app.Close)
	redirect := f.app.URL + "/superoffice/callback"
	if err := f.env.fake.RegisterClient(testClientID, "the-client-secret", redirect); err != nil {
		t.Fatal(err)
	}
	vcfg := sysuser.ApprovalConfig{LoginURL: f.env.fake.URL, ClientID: testClientID}
	if mutate != nil {
		mutate(&vcfg)
	}
	verifier, err := sysuser.NewApprovalVerifier(vcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { verifier.Close() })
	f.verifier = verifier
	ob, err := sysuser.NewOnboarding(sysuser.OnboardingConfig{
		Verifier: verifier, ClientSecret: "the-client-secret",
		RedirectURL: redirect, StateKey: testStateKey, FormPost: formPost,
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnApproval: func(w http.ResponseWriter, r *http.Request, a *sysuser.Approval) error {
			f.mu.Lock()
			f.approved = append(f.approved, a)
			f.mu.Unlock()
			io.WriteString(w, "connected "+a.ContextIdentifier)
			return nil
		},
		OnError: func(w http.ResponseWriter, r *http.Request, err error) {
			f.mu.Lock()
			f.failures = append(f.failures, err)
			f.mu.Unlock()
			http.Error(w, "not connected", http.StatusBadRequest)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.ob = ob
	mux.HandleFunc("/connect", ob.Start)
	mux.Handle("/superoffice/callback", ob)
	return f
}

// start runs Start and returns the authorize URL and the state cookie.
func (f *codeFlow) start(t *testing.T) (string, []*http.Cookie) {
	rec := httptest.NewRecorder()
	f.ob.Start(rec, httptest.NewRequest(http.MethodGet, "/connect", nil))
	if rec.Code != http.StatusFound {
		t.Fatalf("Start answered %d", rec.Code)
	}
	return rec.Header().Get("Location"), rec.Result().Cookies()
}

// callback sends the browser's callback with cookies and returns the status.
func (f *codeFlow) callback(t *testing.T, cb *sysusertest.Callback, cookies []*http.Cookie) int {
	req, err := cb.Request()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (f *codeFlow) lastFailure() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.failures) == 0 {
		return nil
	}
	return f.failures[len(f.failures)-1]
}

func TestOnboardingCodeFlow(t *testing.T) {
	for _, formPost := range []bool{false, true} {
		t.Run(map[bool]string{false: "query", true: "form_post"}[formPost], func(t *testing.T) {
			f := newCodeFlow(t, formPost)
			authorize, cookies := f.start(t)
			u, _ := url.Parse(authorize)
			q := u.Query()
			// SuperOffice's parameters, as its docs give them.
			for k, want := range map[string]string{"response_type": "code", "scope": "openid", "code_challenge_method": "S256", "client_id": testClientID} {
				if q.Get(k) != want {
					t.Errorf("%s = %q, want %q", k, q.Get(k), want)
				}
			}
			if !strings.HasSuffix(u.Path, "/login/common/oauth/authorize") || q.Get("state") == "" || q.Get("nonce") == "" || q.Get("code_challenge") == "" {
				t.Fatalf("authorize URL %s", authorize)
			}
			if formPost != (q.Get("response_mode") == "form_post") {
				t.Fatalf("response_mode = %q", q.Get("response_mode"))
			}
			if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].MaxAge <= 0 || cookies[0].MaxAge > 600 {
				t.Fatalf("state cookie %+v", cookies)
			}
			if want := map[bool]http.SameSite{false: http.SameSiteLaxMode, true: http.SameSiteNoneMode}[formPost]; cookies[0].SameSite != want || cookies[0].Secure != formPost {
				t.Fatalf("state cookie SameSite=%v Secure=%v", cookies[0].SameSite, cookies[0].Secure)
			}
			if strings.Contains(cookies[0].Value, q.Get("state")) || strings.Contains(cookies[0].Value, q.Get("nonce")) {
				t.Fatal("the state cookie carries the state or nonce in the clear")
			}

			cb, err := f.env.fake.Authorize(testTenant, authorize)
			if err != nil {
				t.Fatal(err)
			}
			if code := f.callback(t, cb, cookies); code != http.StatusOK {
				t.Fatalf("callback answered %d: %v", code, f.lastFailure())
			}
			if len(f.approved) != 1 || f.approved[0].ContextIdentifier != testTenant || f.approved[0].SystemUserToken != testUserToken {
				t.Fatalf("approvals %v", f.approved)
			}
			// The system user token works.
			if _, err := f.env.client.Tenant(f.approved[0].ContextIdentifier, f.approved[0].SystemUserToken).Ticket(context.Background()); err != nil {
				t.Fatal(err)
			}

			// The same callback again, cookie and all: refused.
			if code := f.callback(t, cb, cookies); code != http.StatusBadRequest || !errors.Is(f.lastFailure(), sysuser.ErrInvalidState) {
				t.Fatalf("replayed callback: %d %v", code, f.lastFailure())
			}
			if len(f.approved) != 1 {
				t.Fatal("a replayed callback connected again")
			}
			// Nothing secret was logged.
			logs := f.logs.String()
			for _, secret := range []string{"the-client-secret", cb.Params.Get("code"), testUserToken} {
				if strings.Contains(logs, secret) {
					t.Fatalf("the log holds a secret: %s", logs)
				}
			}
		})
	}
}

// Login CSRF: a callback with an attacker's own code and state, or any
// state this browser did not start, is refused before the code is redeemed.
func TestOnboardingRefusesForeignCallbacks(t *testing.T) {
	f := newCodeFlow(t, false)
	// The attacker's login, approved for the attacker's tenant.
	attackerAuthorize, _ := f.start(t)
	attackerCB, err := f.env.fake.Authorize(testTenant, attackerAuthorize)
	if err != nil {
		t.Fatal(err)
	}
	// The victim's browser holds a login of its own, or none.
	_, victimCookies := f.start(t)
	for name, cookies := range map[string][]*http.Cookie{"no cookie": nil, "the victim's cookie": victimCookies} {
		if code := f.callback(t, attackerCB, cookies); code != http.StatusBadRequest || !errors.Is(f.lastFailure(), sysuser.ErrInvalidState) {
			t.Errorf("%s: %d %v", name, code, f.lastFailure())
		}
	}
	// A cookie made with another key.
	other, _ := sysuser.NewOnboarding(sysuser.OnboardingConfig{Verifier: newVerifier(t, f.env.fake.URL, nil), ClientSecret: "s",
		RedirectURL: f.app.URL + "/superoffice/callback", StateKey: []byte("another key, another key, 32 byt"),
		OnApproval: func(http.ResponseWriter, *http.Request, *sysuser.Approval) error { return nil }})
	rec := httptest.NewRecorder()
	other.Start(rec, httptest.NewRequest(http.MethodGet, "/connect", nil))
	forgedAuthorize := rec.Header().Get("Location")
	forgedCB, _ := f.env.fake.Authorize(testTenant, forgedAuthorize)
	if code := f.callback(t, forgedCB, rec.Result().Cookies()); code != http.StatusBadRequest || !errors.Is(f.lastFailure(), sysuser.ErrInvalidState) {
		t.Errorf("foreign-key cookie: %d %v", code, f.lastFailure())
	}
	if len(f.approved) != 0 {
		t.Fatalf("a foreign callback connected: %v", f.approved)
	}
}

func TestOnboardingDeclineIsAnAuthorizationError(t *testing.T) {
	f := newCodeFlow(t, true)
	authorize, cookies := f.start(t)
	cb, err := f.env.fake.Decline(authorize)
	if err != nil {
		t.Fatal(err)
	}
	if code := f.callback(t, cb, cookies); code != http.StatusBadRequest {
		t.Fatalf("declined callback: %d", code)
	}
	var ae *sysuser.AuthorizationError
	if !errors.As(f.lastFailure(), &ae) || ae.Code != "access_denied" {
		t.Fatalf("err = %v, want an access_denied AuthorizationError", f.lastFailure())
	}
}

// The token endpoint's refusal is a typed error with a bounded text.
func TestOnboardingTokenEndpointRefusal(t *testing.T) {
	f := newCodeFlow(t, false)
	if err := f.env.fake.RegisterClient(testClientID, "a-rotated-secret", f.app.URL+"/superoffice/callback"); err != nil {
		t.Fatal(err)
	}
	authorize, cookies := f.start(t)
	cb, err := f.env.fake.Authorize(testTenant, authorize)
	if err != nil {
		t.Fatal(err)
	}
	if code := f.callback(t, cb, cookies); code != http.StatusBadRequest {
		t.Fatalf("callback with a wrong client secret: %d", code)
	}
	var ae *sysuser.AuthorizationError
	if !errors.As(f.lastFailure(), &ae) || ae.Code != "invalid_client" || ae.StatusCode != http.StatusUnauthorized {
		t.Fatalf("err = %#v", f.lastFailure())
	}
	if strings.Contains(f.lastFailure().Error(), "the-client-secret") {
		t.Fatal("the error names the client secret")
	}
}

// A flood of callbacks with junk codes (anyone can start logins and
// collect state cookies) used to fill the record of used states, which then
// refused every login for 10 minutes. Genuine logins keep working, and the
// record stays bounded.
func TestOnboardingSurvivesACallbackFlood(t *testing.T) {
	f := newCodeFlow(t, false)
	// A few junk callbacks the real way: each is refused by the token
	// endpoint, and its state is used up.
	for range 3 {
		authorize, cookies := f.start(t)
		cb, err := f.env.fake.Authorize(testTenant, authorize)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(cb.URL)
		q := u.Query()
		q.Set("code", "junk")
		u.RawQuery = q.Encode()
		cb.URL = u.String()
		if code := f.callback(t, cb, cookies); code != http.StatusBadRequest {
			t.Fatalf("junk code: %d", code)
		}
	}
	// The rest of the flood, straight into the record.
	now := time.Now()
	for i := range sysuser.MaxOnce + 10 {
		sysuser.RecordUsedState(f.ob, fmt.Sprintf("junk-%d", i), now.Add(10*time.Minute), now)
	}
	if n := sysuser.UsedCount(f.ob); n > sysuser.MaxOnce {
		t.Fatalf("the record holds %d entries, more than %d", n, sysuser.MaxOnce)
	}
	authorize, cookies := f.start(t)
	cb, err := f.env.fake.Authorize(testTenant, authorize)
	if err != nil {
		t.Fatal(err)
	}
	if code := f.callback(t, cb, cookies); code != http.StatusOK {
		t.Fatalf("a genuine login after the flood: %d %v", code, f.lastFailure())
	}
	// And it is still accepted once only.
	if code := f.callback(t, cb, cookies); code != http.StatusBadRequest || !errors.Is(f.lastFailure(), sysuser.ErrInvalidState) {
		t.Fatalf("replay after the flood: %d %v", code, f.lastFailure())
	}
}

// Start runs only for top-level navigations: a cross-site page's images,
// scripts, frames or forms start nothing and set no cookie.
func TestOnboardingStartOnlyOnNavigation(t *testing.T) {
	f := newCodeFlow(t, false)
	cases := []struct {
		name   string
		method string
		header map[string]string
		want   int
	}{
		{name: "GET without fetch metadata", method: http.MethodGet, want: http.StatusFound},
		{name: "HEAD", method: http.MethodHead, want: http.StatusFound},
		{name: "navigation", method: http.MethodGet, header: map[string]string{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "cross-site"}, want: http.StatusFound},
		{name: "img tag", method: http.MethodGet, header: map[string]string{"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, want: http.StatusForbidden},
		{name: "iframe", method: http.MethodGet, header: map[string]string{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}, want: http.StatusForbidden},
		{name: "fetch", method: http.MethodGet, header: map[string]string{"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}, want: http.StatusForbidden},
		{name: "POST", method: http.MethodPost, want: http.StatusMethodNotAllowed},
		{name: "PUT", method: http.MethodPut, want: http.StatusMethodNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, "/connect", nil)
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			f.ob.Start(rec, req)
			if rec.Code != c.want {
				t.Fatalf("answered %d, want %d", rec.Code, c.want)
			}
			if set := len(rec.Result().Cookies()) > 0; set != (c.want == http.StatusFound) {
				t.Fatalf("cookies %v", rec.Result().Cookies())
			}
		})
	}
}

// Repeated starts in one browser keep at most four state cookies: the
// oldest are deleted, and the newest login still completes.
func TestOnboardingBoundsCookiesPerBrowser(t *testing.T) {
	f := newCodeFlow(t, false)
	jar := map[string]*http.Cookie{}
	var authorize string
	for range 60 {
		req := httptest.NewRequest(http.MethodGet, "/connect", nil)
		for _, c := range jar {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		f.ob.Start(rec, req)
		authorize = rec.Header().Get("Location")
		for _, c := range rec.Result().Cookies() {
			if c.MaxAge < 0 {
				delete(jar, c.Name)
			} else {
				jar[c.Name] = c
			}
		}
		if len(jar) > 4 {
			t.Fatalf("the browser holds %d state cookies", len(jar))
		}
	}
	var cookies []*http.Cookie
	for _, c := range jar {
		cookies = append(cookies, c)
	}
	cb, err := f.env.fake.Authorize(testTenant, authorize)
	if err != nil {
		t.Fatal(err)
	}
	if code := f.callback(t, cb, cookies); code != http.StatusOK {
		t.Fatalf("the newest login: %d %v", code, f.lastFailure())
	}
	// A cookie of ours that does not open is deleted too.
	req := httptest.NewRequest(http.MethodGet, "/connect", nil)
	req.AddCookie(&http.Cookie{Name: "sysuser_onboarding_0011223344556677", Value: "garbage"})
	rec := httptest.NewRecorder()
	f.ob.Start(rec, req)
	deleted := false
	for _, c := range rec.Result().Cookies() {
		deleted = deleted || (c.Name == "sysuser_onboarding_0011223344556677" && c.MaxAge < 0)
	}
	if !deleted {
		t.Fatal("an unreadable state cookie was kept")
	}
}

// Close ends the Onboarding: Start answers 503, callbacks fail with
// net.ErrClosed.
func TestOnboardingClose(t *testing.T) {
	f := newCodeFlow(t, false)
	authorize, cookies := f.start(t)
	cb, err := f.env.fake.Authorize(testTenant, authorize)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ob.Close(); err != nil {
		t.Fatal(err)
	}
	f.ob.Close()
	rec := httptest.NewRecorder()
	f.ob.Start(rec, httptest.NewRequest(http.MethodGet, "/connect", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("Start after Close: %d", rec.Code)
	}
	if code := f.callback(t, cb, cookies); code != http.StatusBadRequest || !errors.Is(f.lastFailure(), net.ErrClosed) {
		t.Fatalf("callback after Close: %d %v", code, f.lastFailure())
	}
}

// countingTransport counts the requests it sends, by path.
type countingTransport struct {
	mu    sync.Mutex
	paths map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.paths == nil {
		c.paths = map[string]int{}
	}
	c.paths[r.URL.Path]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) count(suffix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for p, k := range c.paths {
		if strings.HasSuffix(p, suffix) {
			n += k
		}
	}
	return n
}

// The Onboarding talks where its verifier says, through the verifier's
// HTTP client, by the verifier's clock.
func TestOnboardingUsesItsVerifier(t *testing.T) {
	counter := &countingTransport{}
	var offset atomic.Int64 // how far the verifier's clock is ahead
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	f := newCodeFlowWith(t, false, func(c *sysuser.ApprovalConfig) {
		c.HTTPClient = &http.Client{Transport: counter}
		c.Clock = clock
	})

	t.Run("login service, client id and HTTP client", func(t *testing.T) {
		authorize, cookies := f.start(t)
		u, err := url.Parse(authorize)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := u.Scheme+"://"+u.Host+u.Path, f.env.fake.URL+"/common/oauth/authorize"; got != want {
			t.Fatalf("authorize endpoint %s, want the verifier's login service: %s", got, want)
		}
		if got := u.Query().Get("client_id"); got != testClientID {
			t.Fatalf("client_id = %q, want the verifier's %q", got, testClientID)
		}
		cb, err := f.env.fake.Authorize(testTenant, authorize)
		if err != nil {
			t.Fatal(err)
		}
		if code := f.callback(t, cb, cookies); code != http.StatusOK {
			t.Fatalf("callback answered %d: %v", code, f.lastFailure())
		}
		if n := counter.count("/common/oauth/tokens"); n != 1 {
			t.Fatalf("%d token endpoint requests through the verifier's HTTP client, want 1", n)
		}
		if n := counter.count("/.well-known/jwks"); n != 1 {
			t.Fatalf("%d key set requests through the verifier's HTTP client, want 1", n)
		}
	})

	t.Run("clock", func(t *testing.T) {
		authorize, cookies := f.start(t)
		cb, err := f.env.fake.Authorize(testTenant, authorize)
		if err != nil {
			t.Fatal(err)
		}
		offset.Store(int64(11 * time.Minute)) // past the 10 minutes a login may take, by the verifier's clock only
		defer offset.Store(0)
		if code := f.callback(t, cb, cookies); code != http.StatusBadRequest || !errors.Is(f.lastFailure(), sysuser.ErrInvalidState) ||
			!strings.Contains(f.lastFailure().Error(), "started more than") {
			t.Fatalf("a login 11 minutes old by the verifier's clock: %d %v", code, f.lastFailure())
		}
	})
}

// The verifier stays the caller's: closing the Onboarding leaves it open,
// and closing it ends the Onboarding's callbacks.
func TestOnboardingLeavesItsVerifierToTheCaller(t *testing.T) {
	f := newCodeFlow(t, false)
	authorize, cookies := f.start(t)
	cb, err := f.env.fake.Authorize(testTenant, authorize)
	if err != nil {
		t.Fatal(err)
	}

	if err := f.verifier.Close(); err != nil {
		t.Fatal(err)
	}
	if code := f.callback(t, cb, cookies); code != http.StatusBadRequest || !errors.Is(f.lastFailure(), net.ErrClosed) {
		t.Fatalf("callback after the verifier's Close: %d %v", code, f.lastFailure())
	}

	g := newCodeFlow(t, false)
	if err := g.ob.Close(); err != nil {
		t.Fatal(err)
	}
	idToken, err := g.env.fake.IDToken(testTenant, testClientID, "n-1")
	if err != nil {
		t.Fatal(err)
	}
	if a, err := g.verifier.Verify(context.Background(), idToken, "n-1"); err != nil || a.ContextIdentifier != testTenant {
		t.Fatalf("the verifier after the Onboarding's Close: %v, %v", a, err)
	}
}

// LegacySkipNonceCheck is the Onboarding's own: it lets legacy posts
// through without a nonce while the verifier, used directly, still
// requires one.
func TestOnboardingLegacySkipNonceCheckKeepsTheVerifierStrict(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	t.Cleanup(func() { env.client.Close() })
	v := newVerifier(t, env.fake.URL, nil)
	var approved []string
	ob, err := sysuser.NewOnboarding(sysuser.OnboardingConfig{
		Verifier: v, ClientSecret: "s", StateKey: testStateKey, RedirectURL: "http://127.0.0.1/callback",
		LegacySkipNonceCheck: true,
		OnApproval: func(w http.ResponseWriter, r *http.Request, a *sysuser.Approval) error {
			approved = append(approved, a.ContextIdentifier)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	idToken, err := env.fake.IDToken(testTenant, testClientID, "")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/callback", strings.NewReader(url.Values{"id_token": {idToken}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	ob.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK || len(approved) != 1 || approved[0] != testTenant {
		t.Fatalf("legacy post without a nonce: %d, approved %v", rec.Code, approved)
	}
	if _, err := v.Verify(context.Background(), idToken, ""); !errors.Is(err, sysuser.ErrInvalidArgument) {
		t.Fatalf("the verifier itself accepted an empty nonce: %v", err)
	}
}
