// Command onboarding is a small web application that onboards a tenant the
// way SuperOffice recommends, by the authorization code flow, against
// sysusertest, a fake SuperOffice started in-process, so it needs no
// account:
//
//	go run ./examples/onboarding
//	open http://localhost:NNNN/
//
// Open the printed URL and click "Connect SuperOffice": the application
// (sysuser.Onboarding) sends the browser to the fake's SuperID approval
// page; Approve brings it back to the application's redirect URL with a
// one-time code, which the application redeems for the tenant's system user
// token; it stores the token and calls the tenant's WebApi with it. Decline
// shows the application's error page, and so does a callback this browser
// did not start.
//
// The fake listens on 127.0.0.1 and the application on localhost: two sites
// to the browser, so the callback is cross-site, as it is from SuperOffice.
// Flags:
//
//	-addr localhost:0         where the application listens
//	-fake-addr 127.0.0.1:0    where the fake SuperOffice listens
//	-form-post                SuperID posts the callback (response_mode=form_post)
//
// It prints the fake's URL ("fake ..."), the URL to open ("open ..."), and
// a line per callback ("connected TENANT", "declined: ...", "refused: ...",
// "failed: ..."), and serves until interrupted.
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

// What the application holds from SuperOffice's developer portal, and the
// tenant the fake offers for approval.
const (
	clientID     = "onboarding-example"
	clientSecret = "onboarding-example-secret"
	appToken     = "onboarding-application-token"
	tenantID     = "Cust12345"
	tenantToken  = "Onboarding App-Zk3q8k8Q7DmBgo" // the system user token SuperID hands over
)

// callbackPath is the application's redirect URL's path.
const callbackPath = "/superoffice/callback"

func main() {
	addr := flag.String("addr", "localhost:0", "the application's listen address")
	fakeAddr := flag.String("fake-addr", "127.0.0.1:0", "the fake SuperOffice's listen address")
	formPost := flag.Bool("form-post", false, "ask SuperID to post the callback (response_mode=form_post)")
	flag.Parse()
	log.SetFlags(0)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := run(ctx, options{
		Addr: *addr, FakeAddr: *fakeAddr, FormPost: *formPost,
		Stdout: os.Stdout, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		log.Fatal(err)
	}
	<-ctx.Done()
	a.close()
}

// options configure run.
type options struct {
	Addr     string       // the application's listen address; a host name or address, and a port
	FakeAddr string       // the fake's listen address
	FormPost bool         // response_mode=form_post
	Stdout   io.Writer    // the URLs and a line per callback; nil means none
	Logger   *slog.Logger // why callbacks failed; nil means none
}

// app is the running application and its fake SuperOffice.
type app struct {
	URL  string              // the application's base URL, ending in "/"
	fake *sysusertest.Server // the fake SuperOffice

	client   *sysuser.Client
	verifier *sysuser.ApprovalVerifier
	ob       *sysuser.Onboarding
	srv      *http.Server
	out      *lineWriter

	mu      sync.Mutex
	tenants map[string]*sysuser.Tenant // connected tenants, by context identifier
}

// run starts the fake SuperOffice and the application, prints the URL to
// open, and returns the running application; close stops both. ctx is the
// base context of the application's requests.
func run(ctx context.Context, opts options) (_ *app, err error) {
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	a := &app{out: &lineWriter{w: opts.Stdout}, tenants: map[string]*sysuser.Tenant{}}
	defer func() {
		if err != nil {
			a.close()
		}
	}()

	// The application's key pair and the fake SuperOffice that knows it.
	// A real application loads the key SuperOffice handed it.
	appKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	signer, err := sysuser.NewSigner(appKey)
	if err != nil {
		return nil, err
	}
	a.fake, err = sysusertest.NewServer(sysusertest.Options{Addr: opts.FakeAddr, ApplicationToken: appToken, PublicKey: signer.Public()})
	if err != nil {
		return nil, err
	}
	a.fake.AddTenant(tenantID, tenantToken)

	// The application's address is known once it listens; the redirect URL
	// is registered with SuperOffice (here, the fake) before anyone clicks.
	l, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, err
	}
	a.URL = baseURL(opts.Addr, l.Addr())
	redirectURL := a.URL + callbackPath[1:]
	if err := a.fake.RegisterClient(clientID, clientSecret, redirectURL); err != nil {
		l.Close()
		return nil, err
	}

	a.client, err = sysuser.NewClient(sysuser.Config{LoginURL: a.fake.URL, ApplicationToken: appToken, Signer: signer})
	if err != nil {
		l.Close()
		return nil, err
	}
	// The state key protects the cookie that binds a login to the browser.
	// A new one per run ends logins in flight at a restart; replicas of a
	// real application share one, kept secret.
	stateKey := make([]byte, 32)
	rand.Read(stateKey)
	// The verifier says where to talk and whose keys to trust; the Client
	// above and it share one cache of SuperOffice's keys.
	a.verifier, err = sysuser.NewApprovalVerifier(sysuser.ApprovalConfig{
		LoginURL: a.fake.URL, // real use: Environment: sysuser.SOD, sysuser.Stage or sysuser.Online
		ClientID: clientID,
	})
	if err != nil {
		l.Close()
		return nil, err
	}
	a.ob, err = sysuser.NewOnboarding(sysuser.OnboardingConfig{
		Verifier:     a.verifier,
		ClientSecret: clientSecret,
		RedirectURL:  redirectURL,
		StateKey:     stateKey,
		FormPost:     opts.FormPost,
		OnApproval:   a.onApproval,
		OnError:      a.onError,
		Logger:       opts.Logger,
	})
	if err != nil {
		l.Close()
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /connect", a.ob.Start) // the "Connect SuperOffice" button
	mux.Handle(callbackPath, a.ob)             // the redirect URL: GET (query) or POST (form_post)
	mux.HandleFunc("GET /connected", a.connected)
	a.srv = &http.Server{
		Handler:           securityHeaders(mux),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	go a.srv.Serve(l)

	mode := "query"
	if opts.FormPost {
		mode = "form_post"
	}
	a.out.printf("fake %s (tenant %s)", a.fake.URL, tenantID)
	a.out.printf("callback %s (%s)", redirectURL, mode)
	a.out.printf("open %s", a.URL)
	return a, nil
}

// close stops the application and the fake.
func (a *app) close() {
	if a.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		a.srv.Shutdown(ctx)
		cancel()
	}
	if a.ob != nil {
		a.ob.Close()
	}
	if a.verifier != nil {
		a.verifier.Close()
	}
	if a.client != nil {
		a.client.Close()
	}
	if a.fake != nil {
		a.fake.Close()
	}
}

// baseURL names the application as the browser reaches it: the host of the
// listen address as given (localhost by default, another site than the
// fake's 127.0.0.1), or localhost for an unspecified one, and the port
// listened on.
func baseURL(addr string, bound net.Addr) string {
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	_, port, _ := net.SplitHostPort(bound.String())
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// onApproval stores the tenant's system user token (here in memory, as a
// tenant handle; a real application keeps it in its database, encrypted)
// and sends the browser to the connected page.
func (a *app) onApproval(w http.ResponseWriter, r *http.Request, ap *sysuser.Approval) error {
	a.mu.Lock()
	a.tenants[ap.ContextIdentifier] = a.client.Tenant(ap.ContextIdentifier, ap.SystemUserToken)
	a.mu.Unlock()
	a.out.printf("connected %s", ap.ContextIdentifier)
	http.Redirect(w, r, "/connected?tenant="+url.QueryEscape(ap.ContextIdentifier), http.StatusSeeOther)
	return nil
}

// onError shows why SuperOffice was not connected. Details go to the
// Onboarding's Logger, not to the browser.
func (a *app) onError(w http.ResponseWriter, r *http.Request, err error) {
	var authz *sysuser.AuthorizationError
	var msg string
	switch {
	case errors.As(err, &authz) && authz.Code == "access_denied":
		msg = "The administrator declined: SuperOffice was not connected."
		a.out.printf("declined: %s", authz.Code)
	case errors.Is(err, sysuser.ErrInvalidState):
		msg = "This callback was refused: it does not belong to a login started in this browser, or it was already used. SuperOffice was not connected."
		a.out.printf("refused: %v", err)
	case authz != nil:
		msg = "SuperOffice refused the approval (" + authz.Code + "). SuperOffice was not connected."
		a.out.printf("refused: %v", err)
	default:
		msg = "The approval could not be completed. SuperOffice was not connected."
		a.out.printf("failed: %v", err)
	}
	page(w, http.StatusBadRequest, errorPage, msg)
}

// home offers the "Connect SuperOffice" button and lists the connected
// tenants.
func (a *app) home(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	var tenants []string
	for id := range a.tenants {
		tenants = append(tenants, id)
	}
	a.mu.Unlock()
	page(w, http.StatusOK, homePage, tenants)
}

// connected calls the tenant's WebApi as its system user. A real
// application shows this only to its signed-in users.
func (a *app) connected(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("tenant")
	a.mu.Lock()
	tenant := a.tenants[id]
	a.mu.Unlock()
	if tenant == nil {
		page(w, http.StatusNotFound, errorPage, "This tenant is not connected.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	result := "error: "
	base, err := tenant.WebAPIURL(ctx) // exchanges the system user token for a ticket
	if err == nil {
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"v1/Contact/2", nil)
		if err == nil {
			var resp *http.Response
			if resp, err = tenant.HTTPClient().Do(req); err == nil {
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				result = resp.Status + " " + string(body)
			}
		}
	}
	if err != nil {
		result += err.Error()
	}
	page(w, http.StatusOK, connectedPage, map[string]string{"Tenant": id, "WebAPI": result})
}

// securityHeaders keeps the pages out of frames and caches, callback URLs
// (with their codes) out of Referer headers, and lets the pages load
// nothing (they have no scripts, styles or images) nor be read as another
// content type.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func page(w http.ResponseWriter, status int, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	t.Execute(w, data)
}

var homePage = template.Must(template.New("home").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Example application</title></head>
<body>
<h1>Example application</h1>
<p><a id="connect" href="/connect">Connect SuperOffice</a></p>
<ul id="connected">{{range .}}<li><a href="/connected?tenant={{.}}">{{.}}</a></li>{{end}}</ul>
</body></html>
`))

var connectedPage = template.Must(template.New("connected").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>SuperOffice connected</title></head>
<body>
<h1>SuperOffice is connected</h1>
<p>Tenant: <strong id="tenant">{{.Tenant}}</strong></p>
<p>GET v1/Contact/2 as the system user: <code id="webapi">{{.WebAPI}}</code></p>
<p><a href="/">Back</a></p>
</body></html>
`))

var errorPage = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>SuperOffice not connected</title></head>
<body>
<h1>SuperOffice not connected</h1>
<p id="error">{{.}}</p>
<p><a href="/">Back</a></p>
</body></html>
`))

// lineWriter prints whole lines, one at a time.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}
