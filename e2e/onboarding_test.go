package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"html"
	"html/template"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The example's tenant and where it mounts its redirect URL.
const (
	exampleTenant   = "Cust12345"
	exampleCallback = "superoffice/callback"
)

// stepTimeout bounds one wait for a page.
const stepTimeout = time.Minute

// buildExample builds examples/onboarding into a temporary directory and
// returns the binary's path.
func buildExample(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "onboarding")
	cmd := exec.Command("go", "build", "-o", bin, "./examples/onboarding")
	cmd.Dir = ".." // the library's module, whose example it is
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/onboarding: %v\n%s", err, out)
	}
	return bin
}

// example is a running examples/onboarding process.
type example struct {
	url     string // the application, "http://localhost:PORT/"
	fakeURL string // the fake SuperOffice's login URL, "http://127.0.0.1:PORT/login"
	lines   chan string
	stderr  *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startExample runs the example's binary with args and reads the URLs it
// prints. At t's cleanup it interrupts the process and expects a clean
// exit.
func startExample(t *testing.T, bin string, args ...string) *example {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-addr", "localhost:0", "-fake-addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	e := &example{lines: make(chan string, 100), stderr: &lockedBuffer{}}
	cmd.Stderr = e.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			e.lines <- sc.Text()
		}
		close(e.lines)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the example did not exit cleanly on interrupt: %v", err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("the example did not stop within 10 s of an interrupt")
		}
		if t.Failed() {
			t.Logf("the example's stderr:\n%s", e.stderr.String())
		}
	})
	for e.url == "" {
		line := e.next(t)
		switch {
		case strings.HasPrefix(line, "fake "):
			e.fakeURL = strings.Fields(line)[1]
		case strings.HasPrefix(line, "open "):
			e.url = strings.TrimPrefix(line, "open ")
		}
	}
	if !strings.HasPrefix(e.url, "http://localhost:") || !strings.HasSuffix(e.url, "/") || !strings.HasPrefix(e.fakeURL, "http://127.0.0.1:") {
		t.Fatalf("the example serves at %q with the fake at %q: want http://localhost:PORT/ and http://127.0.0.1:PORT", e.url, e.fakeURL)
	}
	t.Logf("example %q at %s, fake at %s", args, e.url, e.fakeURL)
	return e
}

// next returns the next line the example prints.
func (e *example) next(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-e.lines:
		if !ok {
			t.Fatalf("the example exited; stderr:\n%s", e.stderr.String())
		}
		return line
	case <-time.After(stepTimeout):
		t.Fatalf("the example printed nothing for %s", stepTimeout)
	}
	return ""
}

// expect reads the example's next line, which must start with prefix: one
// line per callback, in order, so a callback that stored an approval
// cannot hide behind the line of the next.
func (e *example) expect(t *testing.T, prefix string) string {
	t.Helper()
	line := e.next(t)
	if !strings.HasPrefix(line, prefix) {
		t.Errorf("the example printed %q, want %q...", line, prefix)
	}
	return line
}

func (e *example) callbackURL() string { return e.url + exampleCallback }

// callbackRequest is a document request the browser made to the
// application's callback.
type callbackRequest struct {
	id     network.RequestID
	method string
	url    string
	form   url.Values // a POST's body
	status int64      // the application's answer
}

// callbackLog records the browser's requests to the callback, from the
// tab's network events.
type callbackLog struct {
	mu   sync.Mutex
	reqs []*callbackRequest
}

func watchCallbacks(t *testing.T, tab context.Context, callbackURL string) *callbackLog {
	t.Helper()
	l := &callbackLog{}
	is := func(u string) bool { return strings.HasPrefix(u, callbackURL) }
	setStatus := func(id network.RequestID, u string, status int64) {
		for _, r := range slices.Backward(l.reqs) {
			if r.id == id && r.url == u && r.status == 0 {
				r.status = status
				return
			}
		}
	}
	err := chromedp.Listen(tab, func(ev any) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if rr := ev.RedirectResponse; rr != nil && is(rr.URL) {
				setStatus(ev.RequestID, rr.URL, rr.Status)
			}
			if is(ev.Request.URL) {
				r := &callbackRequest{id: ev.RequestID, method: ev.Request.Method, url: ev.Request.URL}
				var body []byte
				for _, p := range ev.Request.PostDataEntries {
					body = append(body, p.Bytes...)
				}
				r.form, _ = url.ParseQuery(string(body))
				l.reqs = append(l.reqs, r)
			}
		case *network.EventResponseReceived:
			if is(ev.Response.URL) {
				setStatus(ev.RequestID, ev.Response.URL, ev.Response.Status)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// last returns the last callback request, waiting for its status.
func (l *callbackLog) last(t *testing.T) callbackRequest {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		l.mu.Lock()
		var r callbackRequest
		if n := len(l.reqs); n > 0 {
			r = *l.reqs[n-1]
		}
		l.mu.Unlock()
		if r.status != 0 {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answered callback request: %+v", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *callbackLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

// waitFor waits for sel on the tab's page, and reports the page if it
// does not come.
func waitFor(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		loc, _ := chromedp.Run(tab, chromedp.Location())
		body, _ := chromedp.Run(tab, chromedp.OuterHTML(chromedp.CSS("html")))
		t.Fatalf("waiting for %s: %v; the browser is at %s:\n%s", sel, err, loc, body)
	}
}

// text returns the text of sel, which must be on the page.
func text(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	return s
}

func location(t *testing.T, tab context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(tab, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func do(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tab, steps...); err != nil {
		t.Fatal(err)
	}
}

// connect opens the application and clicks "Connect SuperOffice": the
// browser lands on the fake's approval page, whose URL it returns.
func connect(t *testing.T, tab context.Context, e *example) string {
	t.Helper()
	do(t, tab, chromedp.Navigate(e.url))
	waitFor(t, tab, "#connect")
	do(t, tab, chromedp.Click(chromedp.CSS("#connect")))
	waitFor(t, tab, "#approve")
	loc := location(t, tab)
	if !strings.HasPrefix(loc, strings.TrimSuffix(e.fakeURL, "/login")+"/login/common/oauth/authorize?") {
		t.Fatalf("after #connect the browser is at %s, not the fake's authorize endpoint", loc)
	}
	return loc
}

// stateCookies returns the application's onboarding state cookies as
// Chromium stores them.
func stateCookies(t *testing.T, tab context.Context, e *example) []*network.Cookie {
	t.Helper()
	res, err := chromedp.Call(tab, network.GetCookies, network.GetCookiesParams{URLs: []string{e.url}})
	if err != nil {
		t.Fatal(err)
	}
	var cs []*network.Cookie
	for _, c := range res.Cookies {
		if strings.HasPrefix(c.Name, "sysuser_onboarding_") {
			cs = append(cs, c)
		}
	}
	return cs
}

// describeCookie gives a cookie's attributes as Chromium stored them.
func describeCookie(c *network.Cookie) string {
	expires := "session"
	if !c.Session {
		expires = fmt.Sprintf("expires in %s", time.Until(time.Unix(int64(c.Expires), 0)).Round(time.Second))
	}
	return fmt.Sprintf("%s (value %d bytes): Domain=%s Path=%s HttpOnly=%t Secure=%t SameSite=%s %s; SourceScheme=%s SourcePort=%d Priority=%s Partitioned=%t",
		c.Name, len(c.Value), c.Domain, c.Path, c.HTTPOnly, c.Secure, sameSite(c.SameSite), expires, c.SourceScheme, c.SourcePort, c.Priority, c.PartitionKey != nil)
}

func sameSite(s network.CookieSameSite) string {
	if s == "" {
		return "(unset)"
	}
	return string(s)
}

// errorPage checks that the browser shows the application's error page
// saying word, answered with 400.
func errorPage(t *testing.T, tab context.Context, e *example, cbs *callbackLog, word string) {
	t.Helper()
	waitFor(t, tab, "#error")
	if loc := location(t, tab); !strings.HasPrefix(loc, e.callbackURL()) {
		t.Errorf("the error page is at %s, not the application's callback", loc)
	}
	if msg := text(t, tab, "#error"); !strings.Contains(msg, word) {
		t.Errorf("#error says %q, want %q", msg, word)
	}
	if r := cbs.last(t); r.status != http.StatusBadRequest {
		t.Errorf("the callback answered %d, want 400", r.status)
	}
}

// attackerSite serves pages that post forms to the application from
// another site, as a login-CSRF attacker's page does (and as SuperID's
// form_post page does).
type attackerSite struct {
	srv   *httptest.Server
	mu    sync.Mutex
	pages map[string][]byte
}

func newAttackerSite(t *testing.T) *attackerSite {
	a := &attackerSite{pages: map[string][]byte{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		p, ok := a.pages[r.URL.Path]
		a.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(p)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

var autoPost = template.Must(template.New("post").Parse(`<!DOCTYPE html>
<html><body><form method="post" action="{{.Action}}">{{range $k, $v := .Fields}}{{range $v}}
<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}
</form><script>document.forms[0].submit()</script></body></html>
`))

// autoPost returns the URL of a page that posts fields to action at once.
func (a *attackerSite) autoPost(t *testing.T, action string, fields url.Values) string {
	t.Helper()
	var b bytes.Buffer
	if err := autoPost.Execute(&b, map[string]any{"Action": template.URL(action), "Fields": fields}); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	path := fmt.Sprintf("/post%d", len(a.pages))
	a.pages[path] = b.Bytes()
	return a.srv.URL + path
}

var (
	decisionFormRe = regexp.MustCompile(`<form id="decision" method="post" action="([^"]+)">`)
	requestIDRe    = regexp.MustCompile(`<input type="hidden" name="request" value="([^"]+)">`)
	formPostRe     = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	hiddenRe       = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// attackerCallback makes a genuine callback in another browser, without
// delivering it: the attacker connects with their own cookie jar, approves
// on the fake's page, and keeps the callback. It returns the callback's
// method, URL and form (for a POST).
func attackerCallback(t *testing.T, e *example) (method, u string, form url.Values) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: stepTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	resp, _ := get(e.url + "connect")
	authorize := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(authorize, "http://127.0.0.1:") {
		t.Fatalf("attacker's /connect: %s to %q", resp.Status, authorize)
	}
	resp, page := get(authorize)
	action, id := decisionFormRe.FindStringSubmatch(page), requestIDRe.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || action == nil || id == nil {
		t.Fatalf("the fake's approval page: %s\n%s", resp.Status, page)
	}
	au, _ := url.Parse(authorize)
	decide, _ := au.Parse(html.UnescapeString(action[1]))
	resp, err := c.PostForm(decide.String(), url.Values{"request": {html.UnescapeString(id[1])}, "decision": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode == http.StatusFound && strings.HasPrefix(loc, e.callbackURL()+"?") {
		return http.MethodGet, loc, nil
	}
	target := formPostRe.FindStringSubmatch(string(b))
	if resp.StatusCode != http.StatusOK || target == nil || html.UnescapeString(target[1]) != e.callbackURL() {
		t.Fatalf("the fake's answer to Approve: %s %q\n%s", resp.Status, resp.Header.Get("Location"), b)
	}
	form = url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(string(b), -1) {
		form.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return http.MethodPost, e.callbackURL(), form
}

// TestBrowserOnboardingExample runs examples/onboarding as a process and
// drives it in Chromium, with the callback by GET (response_mode=query)
// and by cross-site POST (form_post): approve connects the tenant and the
// WebApi answers 200; the same callback replayed is refused and connects
// nothing; decline shows the application's "declined" page; another
// browser's genuine callback (login CSRF), delivered while this browser
// has a login of its own in flight, is refused and leaves that login
// working. It logs the state cookie as Chromium stored it.
func TestBrowserOnboardingExample(t *testing.T) {
	start := time.Now()
	browser := startBrowser(t)
	bin := buildExample(t)
	t.Logf("go build ./examples/onboarding took %v", time.Since(start).Round(time.Millisecond))
	attacker := newAttackerSite(t)

	for _, mode := range []struct {
		name     string
		args     []string
		method   string
		sameSite network.CookieSameSite
		secure   bool
	}{
		{name: "query", method: http.MethodGet, sameSite: network.CookieSameSiteLax, secure: false},
		{name: "form_post", args: []string{"-form-post"}, method: http.MethodPost, sameSite: network.CookieSameSiteNone, secure: true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			modeStart := time.Now()
			e := startExample(t, bin, mode.args...)
			// approve and replay share a tab: the replay is the same
			// browser's.
			tab := newTab(t, browser)
			cookies := watchCookies(t, tab)
			cbs := watchCallbacks(t, tab, e.callbackURL())
			var (
				captured    callbackRequest
				stateCookie *network.Cookie // as stored before the callback
			)

			ok := t.Run("approve", func(t *testing.T) {
				connect(t, tab, e)

				// The state cookie, as Chromium stored it.
				state := stateCookies(t, tab, e)
				if len(state) != 1 {
					t.Fatalf("Chromium holds %d state cookies for %s, want 1; Set-Cookie refused: %v", len(state), e.url, cookies.refusedSetCookies())
				}
				c := state[0]
				stateCookie = c
				t.Logf("%s: state cookie as Chromium stored it: %s", mode.name, describeCookie(c))
				if life := time.Until(time.Unix(int64(c.Expires), 0)); c.Domain != "localhost" || c.Path != "/" || !c.HTTPOnly ||
					c.Secure != mode.secure || c.SameSite != mode.sameSite || c.Session || life < 9*time.Minute || life > 10*time.Minute {
					t.Errorf("state cookie %s, want HttpOnly, Secure=%t, SameSite=%s, host-only on localhost, 10 minutes", describeCookie(c), mode.secure, mode.sameSite)
				}
				if r := cookies.refusedSetCookies(); len(r) > 0 {
					t.Errorf("Chromium refused Set-Cookie: %v", r)
				}

				do(t, tab, chromedp.Click(chromedp.CSS("#approve")))
				waitFor(t, tab, "#webapi")
				if loc, want := location(t, tab), e.url+"connected?tenant="+exampleTenant; loc != want {
					t.Errorf("after approving the browser is at %s, want %s", loc, want)
				}
				if got := text(t, tab, "#tenant"); got != exampleTenant {
					t.Errorf("#tenant says %q, want %s", got, exampleTenant)
				}
				webapi := text(t, tab, "#webapi")
				if !strings.HasPrefix(webapi, "200 OK ") || !strings.Contains(webapi, "v1/Contact/2") {
					t.Errorf("#webapi says %q, want 200 OK and the fake's echo of v1/Contact/2", webapi)
				}
				t.Logf("#webapi: %s", webapi)
				e.expect(t, "connected "+exampleTenant)

				captured = cbs.last(t)
				if captured.method != mode.method || captured.status != http.StatusSeeOther || cbs.count() != 1 {
					t.Errorf("callback %s answered %d (%d callback requests), want one %s answered 303", captured.method, captured.status, cbs.count(), mode.method)
				}
				sent, withheld := cookies.requestCookies("/"+exampleCallback, "localhost")
				if !slices.Contains(sent, c.Name) {
					t.Errorf("the state cookie was not sent on the callback: sent %v, withheld %v", sent, withheld)
				}
				t.Logf("%s callback: %s, cookies sent %v, withheld %v", mode.name, captured.method, sent, withheld)
				if left := stateCookies(t, tab, e); len(left) != 0 {
					t.Errorf("the state cookie outlived the callback: %s", describeCookie(left[0]))
				}
			})
			if !ok {
				return
			}

			ok = t.Run("replay", func(t *testing.T) {
				// The same browser sends the captured callback again: by
				// the address bar for a GET, by a cross-site page posting
				// the same form for form_post.
				if captured.method == http.MethodGet {
					do(t, tab, chromedp.Navigate(captured.url))
				} else {
					if captured.form.Get("code") == "" {
						t.Fatalf("Chromium's event had no post data for the form_post callback: %+v", captured)
					}
					do(t, tab, chromedp.Navigate(attacker.autoPost(t, captured.url, captured.form)))
				}
				errorPage(t, tab, e, cbs, "refused")
				if r := cbs.last(t); r.method != mode.method || r.url != captured.url || cbs.count() != 2 {
					t.Errorf("replayed %s %s (%d callback requests), want %s %s", r.method, r.url, cbs.count(), captured.method, captured.url)
				}
				without := e.expect(t, "refused: ") // and not "connected"
				t.Logf("replayed: %s", without)

				// Again with the state cookie put back, as if its deletion
				// had been lost or the cookie stolen with the callback: the
				// application accepts a login once.
				if _, err := chromedp.Call(tab, network.SetCookie, network.SetCookieParams{
					Name: stateCookie.Name, Value: stateCookie.Value, URL: e.url, Path: "/",
					HTTPOnly: &stateCookie.HTTPOnly, Secure: &stateCookie.Secure, SameSite: stateCookie.SameSite,
				}); err != nil {
					t.Fatal(err)
				}
				if len(stateCookies(t, tab, e)) != 1 {
					t.Fatal("Chromium did not take the state cookie back")
				}
				if captured.method == http.MethodGet {
					do(t, tab, chromedp.Navigate(captured.url))
				} else {
					do(t, tab, chromedp.Navigate(attacker.autoPost(t, captured.url, captured.form)))
				}
				errorPage(t, tab, e, cbs, "refused")
				with := e.expect(t, "refused: ")
				t.Logf("replayed with the state cookie: %s", with)
				if with == without {
					t.Errorf("the replay with the state cookie was refused for the same reason as without it: %q", with)
				}
				if left := stateCookies(t, tab, e); len(left) != 0 {
					t.Errorf("the refused callback left the state cookie: %s", describeCookie(left[0]))
				}
			})
			if !ok {
				return
			}

			ok = t.Run("decline", func(t *testing.T) {
				tab := newTab(t, browser)
				cbs := watchCallbacks(t, tab, e.callbackURL())
				connect(t, tab, e)
				do(t, tab, chromedp.Click(chromedp.CSS("#decline")))
				errorPage(t, tab, e, cbs, "declined")
				if r := cbs.last(t); r.method != mode.method {
					t.Errorf("decline callback by %s, want %s", r.method, mode.method)
				}
				e.expect(t, "declined: access_denied")
				if left := stateCookies(t, tab, e); len(left) != 0 {
					t.Errorf("the state cookie outlived the declined callback: %s", describeCookie(left[0]))
				}
			})
			if !ok {
				return
			}

			t.Run("forged_state", func(t *testing.T) {
				// The victim has a login of their own in flight.
				tab := newTab(t, browser)
				cbs := watchCallbacks(t, tab, e.callbackURL())
				own := connect(t, tab, e)
				before := stateCookies(t, tab, e)

				// The attacker's genuine callback, with a real code and a
				// state this browser did not start.
				method, u, form := attackerCallback(t, e)
				if method != mode.method {
					t.Fatalf("the attacker's callback is a %s, want %s", method, mode.method)
				}
				if method == http.MethodGet {
					do(t, tab, chromedp.Navigate(u))
				} else {
					do(t, tab, chromedp.Navigate(attacker.autoPost(t, u, form)))
				}
				errorPage(t, tab, e, cbs, "refused")
				t.Logf("forged: %s", e.expect(t, "refused: "))
				if after := stateCookies(t, tab, e); len(after) != 1 || len(before) != 1 || after[0].Name != before[0].Name {
					t.Errorf("the forged callback touched this browser's own login cookie: before %d, after %d", len(before), len(after))
				}

				// The victim's own login still completes.
				do(t, tab, chromedp.Navigate(own))
				waitFor(t, tab, "#approve")
				do(t, tab, chromedp.Click(chromedp.CSS("#approve")))
				waitFor(t, tab, "#webapi")
				if got := text(t, tab, "#tenant"); got != exampleTenant {
					t.Errorf("#tenant says %q after the victim's own approval", got)
				}
				e.expect(t, "connected "+exampleTenant)
			})

			select {
			case line := <-e.lines:
				t.Errorf("the example printed more than expected: %q", line)
			default:
			}
			t.Logf("%s: %v", mode.name, time.Since(modeStart).Round(time.Millisecond))
		})
	}
	t.Logf("onboarding example in the browser took %v", time.Since(start).Round(time.Millisecond))
}
