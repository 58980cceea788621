package sysuser_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/golang-jwt/jwt/v5"
)

// markKey marks contexts, standing in for the spans an Observer would put
// in them.
type markKey struct{}

func mark(ctx context.Context, m string) context.Context {
	return context.WithValue(ctx, markKey{}, m)
}

func markOf(ctx context.Context) string { s, _ := ctx.Value(markKey{}).(string); return s }

// seen is one call of an Observer hook.
type seen struct {
	hook string
	e    sysuser.Event
	mark string // markOf the hook's ctx
}

// recorder records every hook call of the Observer it makes. Its start
// hooks return a context marked below the caller's mark, as a tracer
// starting a child span would.
type recorder struct {
	mu  sync.Mutex
	got []seen
}

func (r *recorder) add(hook string, ctx context.Context, e sysuser.Event) {
	r.mu.Lock()
	r.got = append(r.got, seen{hook, e, markOf(ctx)})
	r.mu.Unlock()
}

func (r *recorder) observer() *sysuser.Observer {
	rec := func(hook string) func(context.Context, sysuser.Event) {
		return func(ctx context.Context, e sysuser.Event) { r.add(hook, ctx, e) }
	}
	return &sysuser.Observer{
		ExchangeStart: func(ctx context.Context, e sysuser.Event) context.Context {
			r.add("ExchangeStart", ctx, e)
			return mark(ctx, markOf(ctx)+"/exchange")
		},
		ExchangeRetry: rec("ExchangeRetry"),
		ExchangeDone:  rec("ExchangeDone"),
		NewTicket:     rec("NewTicket"),
		StatusStart: func(ctx context.Context, e sysuser.Event) context.Context {
			r.add("StatusStart", ctx, e)
			return mark(ctx, markOf(ctx)+"/status")
		},
		StatusDone:     rec("StatusDone"),
		TransportRetry: rec("TransportRetry"),
		StoreError:     rec("StoreError"),
		TenantCache:    rec("TenantCache"),
		Notification:   rec("Notification"),
	}
}

// take returns the calls recorded so far and forgets them.
func (r *recorder) take() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// of returns the recorded calls of hook, without forgetting them.
func (r *recorder) of(hook string) []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []seen
	for _, s := range r.got {
		if s.hook == hook {
			out = append(out, s)
		}
	}
	return out
}

func hooks(got []seen) []string {
	var out []string
	for _, s := range got {
		out = append(out, s.hook)
	}
	return out
}

func sameHooks(t *testing.T, got []seen, want ...string) {
	t.Helper()
	if fmt.Sprint(hooks(got)) != fmt.Sprint(want) {
		t.Fatalf("hooks called: %v, want %v", hooks(got), want)
	}
}

// ctxMarks is a RoundTripper that records the marks of its requests'
// contexts.
type ctxMarks struct {
	mu    sync.Mutex
	marks []string
}

func (m *ctxMarks) RoundTrip(r *http.Request) (*http.Response, error) {
	m.mu.Lock()
	m.marks = append(m.marks, markOf(r.Context()))
	m.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func TestObserverSeesExchangesAndTheirRetries(t *testing.T) {
	var rec recorder
	marks := &ctxMarks{}
	env := newTestEnv(t, nil, func(c *sysuser.Config) {
		c.Observer = rec.observer()
		c.Protocol = sysuser.REST
		c.RetryDelay = time.Millisecond
		c.HTTPClient = &http.Client{Transport: marks}
	})
	ctx := mark(context.Background(), "caller")

	// A success: one attempt, the exchange's requests made under the
	// context ExchangeStart returned.
	if _, err := env.client.Exchange(ctx, testTenant, testUserToken); err != nil {
		t.Fatal(err)
	}
	got := rec.take()
	sameHooks(t, got, "ExchangeStart", "ExchangeDone")
	start, done := got[0], got[1]
	if start.mark != "caller" || start.e.Tenant != testTenant || start.e.Protocol != sysuser.REST || start.e.Renewal {
		t.Fatalf("ExchangeStart %+v", start)
	}
	if done.mark != "caller/exchange" || done.e.Tenant != testTenant || done.e.Attempt != 1 || done.e.Err != nil || done.e.Duration <= 0 {
		t.Fatalf("ExchangeDone %+v", done)
	}
	marks.mu.Lock()
	for _, m := range marks.marks { // the Authenticate call and the key set
		if m != "caller/exchange" {
			t.Errorf("a request of the exchange ran under %q", m)
		}
	}
	if len(marks.marks) == 0 {
		t.Error("no request went through the HTTP client")
	}
	marks.mu.Unlock()

	// 503 three times: two retries, then the failure.
	env.fake.SetUnavailable(http.StatusServiceUnavailable)
	_, err := env.client.Exchange(ctx, testTenant, testUserToken)
	var he *sysuser.HTTPError
	if !errors.As(err, &he) {
		t.Fatalf("err = %v", err)
	}
	got = rec.take()
	sameHooks(t, got, "ExchangeStart", "ExchangeRetry", "ExchangeRetry", "ExchangeDone")
	for i, r := range got[1:3] {
		if r.e.Attempt != i+1 || r.e.StatusCode != 503 || r.e.Wait <= 0 || !errors.As(r.e.Err, &he) || r.mark != "caller/exchange" || r.e.Tenant != testTenant {
			t.Fatalf("retry %d: %+v", i+1, r)
		}
	}
	if d := got[3].e; d.Attempt != 3 || !errors.As(d.Err, &he) {
		t.Fatalf("ExchangeDone %+v", d)
	}

	// A refusal: never retried.
	env.fake.SetUnavailable(0)
	env.fake.Refuse(testTenant, "revoked")
	_, err = env.client.Exchange(ctx, testTenant, testUserToken)
	got = rec.take()
	sameHooks(t, got, "ExchangeStart", "ExchangeDone")
	var ae *sysuser.AuthenticationError
	if !errors.As(err, &ae) || !errors.As(got[1].e.Err, &ae) || got[1].e.Attempt != 1 {
		t.Fatalf("refusal: %v, %+v", err, got[1])
	}
}

func TestObserverSeesTicketsRenewalsAndTheCache(t *testing.T) {
	var rec recorder
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, func(c *sysuser.Config) { c.Observer = rec.observer() })
	env.fake.AddTenant("CustIdle", "idle-token")

	tenant := env.client.Tenant(testTenant, testUserToken)
	env.client.Tenant(testTenant, testUserToken) // the same tenant: already cached
	env.client.Tenant("CustIdle", "idle-token")
	got := rec.take()
	sameHooks(t, got, "TenantCache", "TenantCache")
	if got[0].e.Tenant != testTenant || !got[0].e.Cached || got[1].e.Tenant != "CustIdle" || !got[1].e.Cached {
		t.Fatalf("TenantCache %+v", got)
	}

	// The first ticket: the exchange runs in the flight's goroutine, under
	// the first caller's context.
	if _, err := tenant.Ticket(mark(context.Background(), "request")); err != nil {
		t.Fatal(err)
	}
	got = rec.take()
	sameHooks(t, got, "ExchangeStart", "ExchangeDone", "NewTicket")
	if got[0].mark != "request" || got[0].e.Renewal || got[1].mark != "request/exchange" {
		t.Fatalf("exchange under %q and %q, renewal %v", got[0].mark, got[1].mark, got[0].e.Renewal)
	}
	if nt := got[2].e; nt.Tenant != testTenant || nt.Renewal || nt.Adopted || nt.Duration <= 0 || got[2].mark != "request" {
		t.Fatalf("NewTicket %+v", got[2])
	}

	// Cached calls tell the Observer nothing.
	for range 100 {
		if _, err := tenant.Ticket(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("cached calls called %v", hooks(got))
	}

	// Past RefreshAge: a renewal in the background. The flight's end
	// sweeps too (over a minute passed): the tenant nobody asked for leaves
	// the cache.
	clock.Advance(time.Hour + time.Minute)
	if _, err := tenant.Ticket(mark(context.Background(), "later")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the renewal's NewTicket", func() bool { return len(rec.of("TenantCache")) == 1 })
	got = rec.take()
	sameHooks(t, got, "ExchangeStart", "ExchangeDone", "NewTicket", "TenantCache")
	for _, s := range got[:3] {
		if !s.e.Renewal || s.e.Tenant != testTenant || s.mark == "" {
			t.Fatalf("%s of a renewal: %+v under %q", s.hook, s.e, s.mark)
		}
	}
	if d := got[3].e; d.Tenant != "CustIdle" || d.Cached {
		t.Fatalf("TenantCache %+v", d)
	}
	if sysuser.TenantCount(env.client) != 1 {
		t.Fatal("the sweep kept CustIdle")
	}
}

func TestObserverSeesTransport401Retries(t *testing.T) {
	var rec recorder
	env := newTestEnv(t, nil, func(c *sysuser.Config) { c.Observer = rec.observer() })
	tenant := env.client.Tenant(testTenant, testUserToken)
	res, err := tenant.Ticket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rec.take()
	env.fake.RevokeTicket(res.Ticket)
	req, _ := http.NewRequestWithContext(mark(context.Background(), "call"), http.MethodGet, env.fake.WebAPIURL(testTenant)+"v1/Contact/2", nil)
	resp, err := tenant.HTTPClient().Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	got := rec.of("TransportRetry")
	if len(got) != 1 || got[0].e.StatusCode != 401 || got[0].e.Tenant != testTenant || got[0].mark != "call" {
		t.Fatalf("TransportRetry %+v", got)
	}
	// The new ticket's exchange ran under the request's context.
	if ex := rec.of("ExchangeStart"); len(ex) != 1 || ex[0].mark != "call" {
		t.Fatalf("ExchangeStart %+v", ex)
	}
}

func TestObserverSeesStateLookupsAnd421Retries(t *testing.T) {
	var rec recorder
	w := newWorld(t, nil)
	cfg := w.env.cfg
	cfg.LoginURL = w.front.URL + "/login"
	cfg.Observer = rec.observer()
	client := mustClient(t, cfg)
	defer client.Close()
	tenant := client.Tenant(testTenant, testUserToken)
	base, err := tenant.WebAPIURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rec.take()

	if _, err := tenant.Status(mark(context.Background(), "status")); err != nil {
		t.Fatal(err)
	}
	got := rec.take()
	sameHooks(t, got, "StatusStart", "StatusDone")
	if got[0].mark != "status" || got[0].e.Tenant != testTenant || got[1].mark != "status/status" ||
		got[1].e.State != "Running" || got[1].e.Err != nil || got[1].e.Duration <= 0 {
		t.Fatalf("lookup %+v", got)
	}

	// SuperOffice moves the tenant: a 421, one lookup, one retry on the
	// new host.
	w.move(1)
	req, _ := http.NewRequestWithContext(mark(context.Background(), "call"), http.MethodGet, base+"v1/Contact/2", nil)
	resp, err := tenant.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body[0] != '1' {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	got = rec.take()
	sameHooks(t, got, "StatusStart", "StatusDone", "TransportRetry")
	if got[0].mark != "call" || got[2].e.StatusCode != 421 || got[2].e.Tenant != testTenant {
		t.Fatalf("move %+v", got)
	}

	// A failed lookup (for another tenant: this one's answer is cached).
	w.mu.Lock()
	w.stateCode = http.StatusInternalServerError
	w.mu.Unlock()
	if _, err := client.Tenant("Cust777", "token").Status(context.Background()); err == nil {
		t.Fatal("a failed lookup succeeded")
	}
	got = rec.take()
	sameHooks(t, got, "TenantCache", "StatusStart", "StatusDone")
	var he *sysuser.HTTPError
	if d := got[2].e; !errors.As(d.Err, &he) || d.State != "" || d.Tenant != "Cust777" {
		t.Fatalf("StatusDone %+v", d)
	}
}

func TestObserverSeesNotifications(t *testing.T) {
	var rec recorder
	w := newWorld(t, nil)
	cfg := w.env.cfg
	cfg.LoginURL = w.front.URL + "/login"
	cfg.Observer = rec.observer()
	client := mustClient(t, cfg)
	defer client.Close()
	h := client.StateChangeHandler(nil)
	now := time.Now()

	if code := post(t, h, http.MethodGet, nil); code != 405 {
		t.Fatalf("GET: %d", code)
	}
	if code := post(t, h, http.MethodPost, w.notice(2, now, nil)); code != 200 {
		t.Fatalf("Suspend: %d", code)
	}
	if code := post(t, h, http.MethodPost, w.notice(3, now.Add(-time.Minute), nil)); code != 200 {
		t.Fatalf("stale Resume: %d", code)
	}
	forged := w.notice(3, now, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })
	if code := post(t, h, http.MethodPost, forged); code != 401 {
		t.Fatalf("forgery: %d", code)
	}
	got := rec.of("Notification")
	want := []sysuser.Event{
		{StatusCode: 405},
		{Tenant: testTenant, Change: "Suspend", StatusCode: 200, Applied: true},
		{Tenant: testTenant, Change: "Resume", StatusCode: 200},
		{StatusCode: 401},
	}
	if len(got) != len(want) {
		t.Fatalf("Notification %+v", got)
	}
	for i := range want {
		if got[i].e != want[i] {
			t.Errorf("notification %d: %+v, want %+v", i, got[i].e, want[i])
		}
	}
}

// failingStore fails every call.
type failingStore struct{}

var errStoreDown = errors.New("store down")

func (failingStore) Get(context.Context, string) (*sysuser.SystemUserResult, time.Time, error) {
	return nil, time.Time{}, errStoreDown
}
func (failingStore) Lock(context.Context, string, time.Duration) (string, error) {
	return "", errStoreDown
}
func (failingStore) Put(context.Context, string, string, *sysuser.SystemUserResult, time.Time) error {
	return errStoreDown
}
func (failingStore) Unlock(context.Context, string, string) error { return errStoreDown }
func (failingStore) CompareAndDelete(context.Context, string, string) (bool, error) {
	return false, errStoreDown
}

func TestObserverSeesStoreFailures(t *testing.T) {
	var rec recorder
	env := newTestEnv(t, nil, func(c *sysuser.Config) {
		c.Observer = rec.observer()
		c.Store = failingStore{}
	})
	tenant := env.client.Tenant(testTenant, testUserToken)
	res, err := tenant.Ticket(mark(context.Background(), "request"))
	if err != nil {
		t.Fatal(err)
	}
	tenant.Invalidate(context.Background(), res.Ticket)
	got := rec.of("StoreError")
	want := []sysuser.Event{
		{Tenant: testTenant, Op: "get", Fallback: true, Err: errStoreDown},
		{Tenant: testTenant, Op: "put", Err: errStoreDown},
		{Tenant: testTenant, Op: "delete", Err: errStoreDown},
	}
	if len(got) != len(want) {
		t.Fatalf("StoreError %+v", got)
	}
	for i := range want {
		if got[i].e != want[i] {
			t.Errorf("store error %d: %+v, want %+v", i, got[i].e, want[i])
		}
	}
	if got[0].mark != "request" {
		t.Errorf("the store error was reported under %q", got[0].mark)
	}
}

func TestObserverHooksAreOptional(t *testing.T) {
	// An Observer with no hooks, and one whose start hook returns nil,
	// change nothing.
	for name, o := range map[string]*sysuser.Observer{
		"empty": {},
		"nil context": {
			ExchangeStart: func(context.Context, sysuser.Event) context.Context { return nil },
			StatusStart:   func(context.Context, sysuser.Event) context.Context { return nil },
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, nil)
			cfg := w.env.cfg
			cfg.LoginURL = w.front.URL + "/login"
			cfg.Observer = o
			cfg.SlidingExpiry = true
			client := mustClient(t, cfg)
			defer client.Close()
			tenant := client.Tenant(testTenant, testUserToken)
			if _, err := tenant.Ticket(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := client.Exchange(context.Background(), testTenant, testUserToken); err != nil {
				t.Fatal(err)
			}
			if s, err := tenant.Status(context.Background()); err != nil || s.State != "Running" {
				t.Fatal(s, err)
			}
			if code := post(t, client.StateChangeHandler(nil), http.MethodPost, w.notice(2, time.Now(), nil)); code != 200 {
				t.Fatalf("Suspend: %d", code)
			}
		})
	}
}
