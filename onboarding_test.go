package sysuser_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-superoffice/sysuser"
)

var testStateKey = []byte("0123456789abcdef0123456789abcdef")

func TestOnboardingLegacyIDTokenPost(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	var mu sync.Mutex
	stored := map[string]string{}
	fail := false
	cfg := sysuser.OnboardingConfig{
		LoginURL: env.fake.URL, ClientID: testClientID, ClientSecret: "client-secret", StateKey: testStateKey,
		RedirectURL: "http://127.0.0.1/callback", Clock: clock.Now,
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
	good, _ := env.fake.Approve(testTenant, testClientID, "n-9")
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
		"forged token":   {url.Values{"id_token": {env.fake.Sign(forged)}}, "n-9"},
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
	fresh, _ := env.fake.Approve(testTenant, testClientID, "n-10")
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
	other, _ := env.fake.Approve(testTenant, testClientID, "")
	r := httptest.NewRequest(http.MethodPost, "/callback", strings.NewReader(url.Values{"id_token": {other}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	strict.ServeHTTP(rec, r)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("legacy post without a nonce check: %d", rec.Code)
	}
}

func TestNewOnboardingRefusesIncompleteConfig(t *testing.T) {
	ok := sysuser.OnboardingConfig{LoginURL: "https://sod.superoffice.com/login", ClientID: "c", ClientSecret: "s", StateKey: testStateKey,
		RedirectURL: "https://app.example/callback", OnApproval: func(http.ResponseWriter, *http.Request, *sysuser.Approval) error { return nil }}
	if _, err := sysuser.NewOnboarding(ok); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*sysuser.OnboardingConfig){
		"no client id":    func(c *sysuser.OnboardingConfig) { c.ClientID = "" },
		"no secret":       func(c *sysuser.OnboardingConfig) { c.ClientSecret = "" },
		"short state key": func(c *sysuser.OnboardingConfig) { c.StateKey = []byte("short") },
		"no OnApproval":   func(c *sysuser.OnboardingConfig) { c.OnApproval = nil },
		"http redirect":   func(c *sysuser.OnboardingConfig) { c.RedirectURL = "http://app.example/callback" },
		"no login":        func(c *sysuser.OnboardingConfig) { c.LoginURL = "" },
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
