package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"

	"github.com/go-superoffice/sysuser/sysusertest"
)

// defaultChromium is where Debian's chromium package puts the browser.
const defaultChromium = "/usr/bin/chromium"

// browserTimeout bounds a test's whole use of the browser, generously: a
// loaded CI machine can take tens of seconds per page.
const browserTimeout = 5 * time.Minute

// chromium returns the browser to run: $CHROMIUM, else /usr/bin/chromium.
// Without it the test skips, or fails under CI=true.
func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = defaultChromium
	}
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Chromium at %s (CI=true): apt-get install -y chromium", path)
		}
		t.Skipf("no Chromium at %s: apt-get install -y chromium", path)
	}
	return path
}

// startBrowser starts headless Chromium for t and returns the context of a
// tab in a browser context of its own (a fresh cookie jar). extra adds
// allocator options (flags) after the defaults. The browser closes at t's
// cleanup, or after browserTimeout. Under -short the test skips.
func startBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the headless Chromium test")
	}
	path := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
	)
	opts = append(opts, extra...)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browser, cancelBrowser := chromedp.NewContext(ctx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
	})
	if err := chromedp.Do(browser); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", path, err)
	}
	if v, err := chromedp.CallBrowser(browser, cdpbrowser.GetVersion, cdp.Empty{}); err == nil {
		t.Logf("%s: %s", path, v.Product)
	}
	return newTab(t, browser)
}

// newTab opens another tab in the browser of ctx (from startBrowser), in a
// new browser context: it shares no cookies or storage with other tabs.
// The tab closes at t's cleanup.
func newTab(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	return tab
}

// cookieLog records, from a tab's network events, the cookies the browser
// refused to store and those it sent or withheld on each request, with
// Chromium's reasons.
type cookieLog struct {
	mu      sync.Mutex
	urls    map[network.RequestID][]string // a request id spans a redirect chain
	extra   []*network.EventRequestWillBeSentExtraInfo
	refused []string // "cookie line: reasons"
}

// watchCookies starts a cookieLog on tab.
func watchCookies(t *testing.T, tab context.Context) *cookieLog {
	t.Helper()
	l := &cookieLog{urls: map[network.RequestID][]string{}}
	err := chromedp.Listen(tab, func(ev any) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			l.urls[ev.RequestID] = append(l.urls[ev.RequestID], ev.Request.URL)
		case *network.EventRequestWillBeSentExtraInfo:
			l.extra = append(l.extra, ev)
		case *network.EventResponseReceivedExtraInfo:
			for _, b := range ev.BlockedCookies {
				l.refused = append(l.refused, fmt.Sprintf("%q: %v", b.CookieLine, b.BlockedReasons))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// refusedSetCookies returns the Set-Cookie lines the browser did not store,
// with its reasons.
func (l *cookieLog) refusedSetCookies() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.refused)
}

// requestCookies returns, for the requests whose URL contains urlPart,
// the names of the cookies sent and, for the ones withheld, name: reasons.
func (l *cookieLog) requestCookies(urlPart, host string) (sent, withheld []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ev := range l.extra {
		if !slices.ContainsFunc(l.urls[ev.RequestID], func(u string) bool { return strings.Contains(u, urlPart) }) {
			continue
		}
		for _, c := range ev.AssociatedCookies {
			if c.Cookie == nil || c.Cookie.Domain != host {
				continue
			}
			if len(c.BlockedReasons) == 0 {
				sent = append(sent, c.Cookie.Name)
			} else {
				withheld = append(withheld, fmt.Sprintf("%s: %v", c.Cookie.Name, c.BlockedReasons))
			}
		}
	}
	slices.Sort(sent)
	slices.Sort(withheld)
	return slices.Compact(sent), slices.Compact(withheld)
}

var keys = sync.OnceValues(func() (app, fake *rsa.PrivateKey) {
	var err error
	if app, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if fake, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	return app, fake
})

// newFake starts sysusertest's fake on 127.0.0.1 with tenants, given as
// context identifier and system user token pairs.
func newFake(t *testing.T, tenants ...string) *sysusertest.Server {
	t.Helper()
	appKey, fakeKey := keys()
	s, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "app-token", PublicKey: &appKey.PublicKey, SigningKey: fakeKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	for i := 0; i+1 < len(tenants); i += 2 {
		s.AddTenant(tenants[i], tenants[i+1])
	}
	return s
}

// startApp serves h as the application, on another site than the fake:
// the fake is at 127.0.0.1, the application at http://localhost:port
// (both loopback; a different host is a different site to the browser).
// It returns the application's base URL.
func startApp(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return "http://localhost:" + port
}

// newVerifier makes a PKCE code_verifier: 43 base64url characters.
func newVerifier() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// s256 is the S256 code_challenge of a code_verifier.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// redeem exchanges a code at the fake's token endpoint and returns the
// id_token's claims, unverified (sysusertest's own tests verify them).
func redeem(t *testing.T, s *sysusertest.Server, clientID, secret, code, redirectURI, verifier string) jwt.MapClaims {
	t.Helper()
	resp, err := http.PostForm(s.Root+sysusertest.TokenPath, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"client_id":     {clientID},
		"client_secret": {secret},
		"code_verifier": {verifier},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
		Error   string `json:"error"`
		Desc    string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token endpoint: %d %s %s %v", resp.StatusCode, tok.Error, tok.Desc, err)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok.IDToken, claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// testCookies are set by the application before it sends the browser to
// SuperID, one per SameSite policy, to see which come back on the
// cross-site callback.
var testCookies = []struct{ name, attrs string }{
	{"lax", "SameSite=Lax"},
	{"strict", "SameSite=Strict"},
	{"unset", ""}, // no SameSite attribute: Chromium's default, Lax
	{"none", "SameSite=None"},
	{"none_secure", "SameSite=None; Secure"}, // Secure on http://localhost
}

// callback is what the application's redirect URI received.
type callback struct {
	method  string
	form    url.Values
	cookies []string // names, sorted
	header  http.Header
}

// onboardingApp is a minimal application: /start sets testCookies and
// redirects to the fake's authorize endpoint; /callback reports what the
// browser brought.
type onboardingApp struct {
	url, clientID, secret, verifier, state string
	fake                                   *sysusertest.Server
	got                                    chan callback
}

func (a *onboardingApp) redirectURI() string { return a.url + "/callback" }

func (a *onboardingApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/start":
		for _, c := range testCookies {
			v := c.name + "=1; Path=/; HttpOnly"
			if c.attrs != "" {
				v += "; " + c.attrs
			}
			w.Header().Add("Set-Cookie", v)
		}
		q := url.Values{
			"response_type":         {"code"},
			"client_id":             {a.clientID},
			"scope":                 {"openid"},
			"redirect_uri":          {a.redirectURI()},
			"state":                 {a.state},
			"nonce":                 {"n-" + a.state},
			"code_challenge":        {s256(a.verifier)},
			"code_challenge_method": {"S256"},
		}
		if m := r.URL.Query().Get("response_mode"); m != "" {
			q.Set("response_mode", m)
		}
		http.Redirect(w, r, a.fake.Root+sysusertest.AuthorizePath+"?"+q.Encode(), http.StatusFound)
	case "/callback":
		r.ParseForm()
		cb := callback{method: r.Method, form: r.Form, header: r.Header.Clone()}
		for _, c := range r.Cookies() {
			cb.cookies = append(cb.cookies, c.Name)
		}
		slices.Sort(cb.cookies)
		select {
		case a.got <- cb:
		default:
		}
		fmt.Fprint(w, `<!DOCTYPE html><html><body><p id="done">done</p></body></html>`)
	default:
		http.NotFound(w, r)
	}
}

// approval is one run of the flow in the browser, as the application saw
// it and as Chromium's network events tell it.
type approval struct {
	app      *onboardingApp
	callback callback
	stored   []string // the application's cookies in the browser after /start
	refused  []string // Set-Cookie lines not stored, with Chromium's reasons
	withheld []string // cookies not sent on the callback, name: reasons
}

// approve runs the flow in tab: the application's /start with
// response_mode mode sends the browser to the fake's approval page, where
// it picks tenant (unless empty) and clicks button (#approve or #decline);
// approve returns when the application's callback page has loaded.
func approve(t *testing.T, tab context.Context, fake *sysusertest.Server, mode, button, tenant string) approval {
	t.Helper()
	app := &onboardingApp{clientID: "app-" + mode, secret: "secret", verifier: newVerifier(), state: "st-" + mode, fake: fake, got: make(chan callback, 1)}
	app.url = startApp(t, app)
	if err := fake.RegisterClient(app.clientID, app.secret, app.redirectURI()); err != nil {
		t.Fatal(err)
	}
	log := watchCookies(t, tab)

	if err := chromedp.Do(tab,
		chromedp.Navigate(app.url+"/start?response_mode="+mode),
		chromedp.WaitVisible(chromedp.CSS("#approve")),
	); err != nil {
		t.Fatal(err)
	}
	application, err1 := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#application")))
	tenantName, err2 := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#tenant-name")))
	if err1 != nil || err2 != nil || application != app.clientID || tenantName == "" {
		t.Errorf("approval page names %q for %q (%v, %v), want %s", application, tenantName, err1, err2, app.clientID)
	}
	stored, err := chromedp.Call(tab, network.GetCookies, network.GetCookiesParams{URLs: []string{app.url + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	a := approval{app: app, refused: log.refusedSetCookies()}
	for _, c := range stored.Cookies {
		a.stored = append(a.stored, c.Name)
	}
	slices.Sort(a.stored)

	var steps []chromedp.Action[chromedp.Void]
	if tenant != "" {
		steps = append(steps, chromedp.SetValue(chromedp.CSS("#tenant"), tenant))
	}
	steps = append(steps, chromedp.Click(chromedp.CSS(button)))
	if err := chromedp.Do(tab, steps...); err != nil {
		t.Fatal(err)
	}
	select {
	case a.callback = <-app.got:
	case <-time.After(time.Minute):
		loc, _ := chromedp.Run(tab, chromedp.Location())
		body, _ := chromedp.Run(tab, chromedp.OuterHTML(chromedp.CSS("html")))
		t.Fatalf("the application got no callback; the browser is at %s:\n%s", loc, body)
	}
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS("#done"))); err != nil {
		t.Errorf("the application's page did not load: %v", err)
	}
	_, a.withheld = log.requestCookies("/callback", "localhost")
	return a
}

// report logs what Chromium did with the application's cookies.
func (a approval) report(t *testing.T) {
	t.Helper()
	cb := a.callback
	t.Logf("Chromium, %s callback, cross-site from the fake:\n"+
		"  stored after /start: %v; Set-Cookie refused: %v\n"+
		"  sent on the callback: %v; withheld: %v\n"+
		"  Origin %q, Sec-Fetch-Site %q, Sec-Fetch-Mode %q, Referer %q",
		cb.method, a.stored, a.refused, cb.cookies, a.withheld,
		cb.header.Get("Origin"), cb.header.Get("Sec-Fetch-Site"), cb.header.Get("Sec-Fetch-Mode"), cb.header.Get("Referer"))
}

// TestBrowserFakeApprovalPage clicks through the fake's approval page in
// Chromium, with the callback by GET (response_mode=query) and by a
// cross-site form POST (form_post), and records which of the application's
// cookies the browser brings back on each.
//
// Chromium 156 stores and sends them so (the reasons are Chromium's):
//
//	cookie set by the app          GET callback (302)   POST callback (form_post)
//	SameSite=Lax                   sent                 withheld: SchemefulSameSiteLax
//	SameSite=Strict                withheld             withheld: SchemefulSameSiteStrict
//	no SameSite (default Lax)      sent                 sent, only while under 2 minutes old (Lax+POST)
//	SameSite=None, no Secure       never stored: SameSiteNoneInsecure
//	SameSite=None; Secure (http://localhost)  stored, sent on both
func TestBrowserFakeApprovalPage(t *testing.T) {
	start := time.Now()
	browser := startBrowser(t)
	fake := newFake(t, "Cust1", "token one", "Cust2", "token two")

	for _, tc := range []struct {
		mode, button, tenant string
		wantMethod           string
	}{
		{mode: "query", button: "#approve", tenant: "Cust1", wantMethod: "GET"},
		{mode: "form_post", button: "#approve", tenant: "Cust2", wantMethod: "POST"},
		{mode: "query", button: "#decline", wantMethod: "GET"},
		{mode: "form_post", button: "#decline", wantMethod: "POST"},
	} {
		t.Run(tc.mode+tc.button, func(t *testing.T) {
			a := approve(t, newTab(t, browser), fake, tc.mode, tc.button, tc.tenant)
			cb, app := a.callback, a.app
			a.report(t)
			if cb.method != tc.wantMethod || cb.form.Get("state") != app.state {
				t.Fatalf("callback %s %v, want %s with state %s", cb.method, cb.form, tc.wantMethod, app.state)
			}
			if tc.button == "#decline" {
				if cb.form.Get("error") != "access_denied" || cb.form.Has("code") {
					t.Errorf("decline: %v", cb.form)
				}
			} else {
				if cb.form.Get("code") == "" {
					t.Fatalf("no code: %v", cb.form)
				}
				claims := redeem(t, fake, app.clientID, app.secret, cb.form.Get("code"), app.redirectURI(), app.verifier)
				if ctx := claims["http://schemes.superoffice.net/identity/ctx"]; ctx != tc.tenant || claims["nonce"] != "n-"+app.state {
					t.Errorf("id_token for %v nonce %v, want %s and n-%s", ctx, claims["nonce"], tc.tenant, app.state)
				}
			}

			// What the library's cookie design rests on (RFC 6265bis):
			// SameSite=Lax comes back on a cross-site top-level GET, not on
			// a cross-site POST; Strict on neither; None without Secure is
			// not even stored.
			if has := slices.Contains(cb.cookies, "lax"); has != (cb.method == "GET") {
				t.Errorf("SameSite=Lax cookie on the cross-site %s callback: %v", cb.method, has)
			}
			if slices.Contains(cb.cookies, "strict") {
				t.Errorf("SameSite=Strict cookie came back on a cross-site %s", cb.method)
			}
			if slices.Contains(a.stored, "none") {
				t.Error("Chromium stored a SameSite=None cookie without Secure")
			}
		})
	}
	t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond))
}

// TestBrowserDefaultLaxOnPOSTIsAGracePeriod shows that the cookie without
// a SameSite attribute arrives on the form_post callback only by Chromium's
// Lax+POST allowance for cookies under 2 minutes old: with the method
// checked rigorously, as it is for older cookies, Chromium withholds it
// (SchemefulSameSiteUnspecifiedTreatedAsLax). An application cannot count
// on it.
func TestBrowserDefaultLaxOnPOSTIsAGracePeriod(t *testing.T) {
	tab := startBrowser(t, chromedp.Flag("enable-features", "NetworkService,NetworkServiceInProcess,SameSiteDefaultChecksMethodRigorously"))
	fake := newFake(t, "Cust1", "token one")
	a := approve(t, tab, fake, "form_post", "#approve", "")
	a.report(t)
	if slices.Contains(a.callback.cookies, "unset") || !slices.ContainsFunc(a.withheld, func(s string) bool { return strings.HasPrefix(s, "unset: ") }) {
		t.Errorf("with the method checked rigorously, the default-Lax cookie was sent on the cross-site POST: sent %v, withheld %v", a.callback.cookies, a.withheld)
	}
	if !slices.Contains(a.callback.cookies, "none_secure") {
		t.Errorf("SameSite=None; Secure on http://localhost not sent: %v", a.callback.cookies)
	}
}

// The fake refuses an unregistered redirect URI with a page of its own:
// the browser stays there.
func TestBrowserFakeRefusesUnregisteredRedirect(t *testing.T) {
	tab := startBrowser(t)
	fake := newFake(t, "Cust1", "token one")
	if err := fake.RegisterClient("app", "secret", "http://localhost:1/callback"); err != nil {
		t.Fatal(err)
	}
	u := fake.Root + sysusertest.AuthorizePath + "?" + url.Values{
		"response_type": {"code"}, "client_id": {"app"}, "scope": {"openid"},
		"redirect_uri": {"http://localhost:1/elsewhere"}, "state": {"s"},
	}.Encode()
	if err := chromedp.Do(tab, chromedp.Navigate(u)); err != nil {
		t.Fatal(err)
	}
	msg, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#error")))
	if err != nil {
		t.Fatal(err)
	}
	loc, err := chromedp.Run(tab, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, fake.Root) || !strings.Contains(msg, "redirect_uri") {
		t.Errorf("browser at %s, page says %q", loc, msg)
	}
}
