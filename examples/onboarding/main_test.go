package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/go-superoffice/sysuser/sysusertest"
)

// syncBuffer collects the application's output lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

// count returns how many output lines start with prefix.
func (s *syncBuffer) count(prefix string) int {
	n := 0
	for _, l := range s.lines() {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// browser is an administrator's browser without the browser: a cookie jar,
// and redirects left to the test, which hands the fake's approval page to
// sysusertest's Authorize.
type browser struct {
	t   *testing.T
	jar *cookiejar.Jar
	c   *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, jar: jar, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends req and returns the response with its body read.
func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// secureContext is u as the cookie jar should see it: Chromium treats
// http://localhost and loopback addresses as secure contexts and sends
// Secure cookies there; net/http/cookiejar sends them only over https.
func secureContext(u *url.URL) *url.URL {
	v := *u
	if v.Scheme == "http" && (v.Hostname() == "localhost" || strings.HasPrefix(v.Hostname(), "127.")) {
		v.Scheme = "https"
	}
	return &v
}

// connect clicks "Connect SuperOffice": it returns the authorize URL the
// application redirects to and the state cookie it set.
func (b *browser) connect(a *app) (authorizeURL string, state *http.Cookie) {
	b.t.Helper()
	resp, _ := b.get(a.URL + "connect")
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, a.fake.Root+sysusertest.AuthorizePath+"?") {
		b.t.Fatalf("/connect: %s to %q", resp.Status, loc)
	}
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, "sysuser_onboarding_") {
			state = c
		}
	}
	if state == nil {
		b.t.Fatalf("/connect set no state cookie: %q", resp.Header["Set-Cookie"])
	}
	return loc, state
}

// deliver sends the callback as the browser would, with the cookies the
// jar holds for the application (the state cookie: SameSite=Lax for a
// top-level GET, SameSite=None for form_post's cross-site POST, both of
// which Chromium sends) and extra ones.
func (b *browser) deliver(cb *sysusertest.Callback, extra ...*http.Cookie) (*http.Response, string) {
	b.t.Helper()
	req, err := cb.Request()
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range b.jar.Cookies(secureContext(req.URL)) {
		req.AddCookie(c)
	}
	for _, c := range extra {
		req.AddCookie(c)
	}
	b.c.Jar = nil // the cookies are on req; the jar still takes the answer's
	defer func() { b.c.Jar = b.jar }()
	resp, body := b.do(req)
	b.jar.SetCookies(secureContext(req.URL), resp.Cookies())
	return resp, body
}

var (
	tenantRe = regexp.MustCompile(`id="tenant">([^<]*)<`)
	webapiRe = regexp.MustCompile(`id="webapi">([^<]*)<`)
	errorRe  = regexp.MustCompile(`id="error">([^<]*)<`)
)

func start(t *testing.T, formPost bool) (*app, *syncBuffer) {
	t.Helper()
	out := &syncBuffer{}
	var logs bytes.Buffer
	var mu sync.Mutex
	a, err := run(t.Context(), options{
		Addr: "localhost:0", FakeAddr: "127.0.0.1:0", FormPost: formPost, Stdout: out,
		Logger: slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return logs.Write(p)
		}), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.close()
		if t.Failed() {
			t.Logf("output:\n%s\nlog:\n%s", strings.Join(out.lines(), "\n"), logs.String())
		}
	})
	if !strings.HasPrefix(a.URL, "http://localhost:") || !strings.HasPrefix(a.fake.Root, "http://127.0.0.1:") {
		t.Fatalf("application at %s, fake at %s: want localhost and 127.0.0.1", a.URL, a.fake.Root)
	}
	if got := out.count("open " + a.URL); got != 1 {
		t.Errorf("printed %q, want the line open %s", out.lines(), a.URL)
	}
	return a, out
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestOnboarding walks the application's pages without a browser, in both
// response modes: approve, a replay of that callback, decline, and another
// browser's callback (login CSRF).
func TestOnboarding(t *testing.T) {
	for _, tc := range []struct {
		name       string
		formPost   bool
		method     string
		sameSite   http.SameSite
		wantSecure bool
	}{
		{name: "query", method: http.MethodGet, sameSite: http.SameSiteLaxMode, wantSecure: false},
		{name: "form_post", formPost: true, method: http.MethodPost, sameSite: http.SameSiteNoneMode, wantSecure: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, out := start(t, tc.formPost)
			admin := newBrowser(t)

			if resp, body := admin.get(a.URL); resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="connect" href="/connect"`) {
				t.Fatalf("/: %s\n%s", resp.Status, body)
			}

			// Approve.
			authorize, state := admin.connect(a)
			if !state.HttpOnly || state.Secure != tc.wantSecure || state.SameSite != tc.sameSite || state.Path != "/" || state.MaxAge != 600 {
				t.Errorf("state cookie %s", state)
			}
			cb, err := a.fake.Authorize("", authorize)
			if err != nil {
				t.Fatal(err)
			}
			if cb.Method != tc.method || cb.Params.Get("code") == "" {
				t.Fatalf("callback %s %v", cb.Method, cb.Params)
			}
			resp, body := admin.deliver(cb)
			if want := "/connected?tenant=" + tenantID; resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
				t.Fatalf("callback: %s to %q, want 303 to %s\n%s", resp.Status, resp.Header.Get("Location"), want, body)
			}
			if len(admin.jar.Cookies(secureContext(resp.Request.URL))) != 0 {
				t.Error("the state cookie outlived the callback")
			}
			resp, body = admin.get(a.URL + "connected?tenant=" + tenantID)
			tenant, webapi := tenantRe.FindStringSubmatch(body), webapiRe.FindStringSubmatch(body)
			if resp.StatusCode != http.StatusOK || tenant == nil || tenant[1] != tenantID || webapi == nil || !strings.HasPrefix(webapi[1], "200 OK ") {
				t.Fatalf("/connected: %s\n%s", resp.Status, body)
			}
			if !strings.Contains(webapi[1], "v1/Contact/2") || a.fake.WebAPICallCount(tenantID) != 1 {
				t.Errorf("WebApi: %s, %d calls", webapi[1], a.fake.WebAPICallCount(tenantID))
			}
			if _, body := admin.get(a.URL); !strings.Contains(body, ">"+tenantID+"</a>") {
				t.Errorf("/ does not list %s:\n%s", tenantID, body)
			}

			// Replay the same callback, even with the state cookie it came
			// with: the login was completed once.
			resp, body = admin.deliver(cb, state)
			assertError(t, "replay", resp, body, "refused")

			// Decline.
			authorize, _ = admin.connect(a)
			cb, err = a.fake.Decline(authorize)
			if err != nil {
				t.Fatal(err)
			}
			resp, body = admin.deliver(cb)
			assertError(t, "decline", resp, body, "declined")

			// Login CSRF: another browser's genuine callback, delivered to
			// this one while it has a login of its own in flight.
			attacker := newBrowser(t)
			authorize, _ = attacker.connect(a)
			forged, err := a.fake.Authorize("", authorize)
			if err != nil {
				t.Fatal(err)
			}
			own, _ := admin.connect(a)
			resp, body = admin.deliver(forged)
			assertError(t, "forged state", resp, body, "refused")
			// This browser's own login still completes.
			cb, err = a.fake.Authorize("", own)
			if err != nil {
				t.Fatal(err)
			}
			if resp, body := admin.deliver(cb); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("own login after the forged callback: %s\n%s", resp.Status, body)
			}

			if got := out.count("connected "); got != 2 {
				t.Errorf("%d approvals stored, want 2 (the first and the last):\n%s", got, strings.Join(out.lines(), "\n"))
			}
			if got, want := out.count("refused: "), 2; got != want {
				t.Errorf("%d refusals printed, want %d", got, want)
			}
			if resp, _ := admin.get(a.URL + "connected?tenant=Cust99"); resp.StatusCode != http.StatusNotFound {
				t.Errorf("/connected for a tenant never connected: %s", resp.Status)
			}
		})
	}
}

func assertError(t *testing.T, what string, resp *http.Response, body, word string) {
	t.Helper()
	m := errorRe.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusBadRequest || m == nil || !strings.Contains(m[1], word) {
		t.Errorf("%s: %s, want 400 with #error saying %q\n%s", what, resp.Status, word, body)
	}
}

// TestBaseURL names the application by the host it was given, so that the
// browser sees it as another site than the fake's 127.0.0.1.
func TestBaseURL(t *testing.T) {
	for addr, want := range map[string]string{
		"localhost:0":    "http://localhost:8080/",
		":0":             "http://localhost:8080/",
		"0.0.0.0:0":      "http://localhost:8080/",
		"127.0.0.2:8080": "http://127.0.0.2:8080/",
	} {
		if got := baseURL(addr, fakeAddr("127.0.0.1:8080")); got != want {
			t.Errorf("baseURL(%q) = %s, want %s", addr, got, want)
		}
	}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

// TestRunFails reports a listen address in use.
func TestRunFails(t *testing.T) {
	a, _ := start(t, false)
	u, _ := url.Parse(a.fake.Root)
	if b, err := run(context.Background(), options{Addr: u.Host, FakeAddr: "127.0.0.1:0"}); err == nil {
		b.close()
		t.Errorf("run listened on %s, which is in use", u.Host)
	}
}

// Every page forbids loading anything and content sniffing.
func TestPagesCarrySecurityHeaders(t *testing.T) {
	a, _ := start(t, false)
	b := newBrowser(t)
	for _, path := range []string{"", "connect", "connected?tenant=Cust0", "superoffice/callback?state=x&code=y"} {
		resp, _ := b.get(a.URL + path)
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("/%s: Content-Security-Policy %q", path, csp)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("/%s: X-Content-Type-Options %q", path, got)
		}
	}
}
