package otelsysuser_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/otelsysuser"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func TestExchangesSuccessRefusalAndRetries(t *testing.T) {
	w := newWorld(t)
	tel := newTelemetry(t, otelsysuser.WithTenantIDs(1))
	client := w.client(w.config(tel.obs))
	w.fake.AddTenant("Cust2", "token-2")
	w.fake.Refuse("Cust2", "The system user token is not valid for this customer")

	ctx, caller := tel.tp.Tracer("test").Start(context.Background(), "request")
	res, err := client.Tenant(tenantID, userToken).Ticket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ae *sysuser.AuthenticationError
	if _, err := client.Tenant("Cust2", "token-2").Ticket(ctx); !errors.As(err, &ae) {
		t.Fatalf("refusal: %v", err)
	}
	w.fake.SetUnavailable(http.StatusServiceUnavailable)
	var he *sysuser.HTTPError
	if _, err := client.Exchange(ctx, tenantID, userToken); !errors.As(err, &he) {
		t.Fatalf("503: %v", err)
	}
	w.fake.SetUnavailable(0)
	caller.End()

	ms := tel.metrics(t)
	// The first tenant seen keeps its id; the second is past the limit.
	wantPoints(t, ms, "sysuser.exchanges", map[string]int64{
		"sysuser.outcome=ok,sysuser.protocol=soap,sysuser.renewal=false,sysuser.tenant.id=Cust12345":        1,
		"sysuser.outcome=refused,sysuser.protocol=soap,sysuser.renewal=false,sysuser.tenant.id=_other":      1,
		"sysuser.outcome=transport,sysuser.protocol=soap,sysuser.renewal=false,sysuser.tenant.id=Cust12345": 1,
	})
	wantPoints(t, ms, "sysuser.exchange.duration", map[string]int64{
		"sysuser.outcome=ok,sysuser.protocol=soap,sysuser.tenant.id=Cust12345":        1,
		"sysuser.outcome=refused,sysuser.protocol=soap,sysuser.tenant.id=_other":      1,
		"sysuser.outcome=transport,sysuser.protocol=soap,sysuser.tenant.id=Cust12345": 1,
	})
	wantPoints(t, ms, "sysuser.exchange.retries", map[string]int64{
		"http.response.status_code=503,sysuser.protocol=soap,sysuser.tenant.id=Cust12345": 2,
	})
	wantPoints(t, ms, "sysuser.tenants.cached", map[string]int64{"": 2})
	if m := ms["sysuser.exchange.duration"]; m.Unit != "s" {
		t.Errorf("duration unit %q", m.Unit)
	}
	if h := ms["sysuser.exchange.duration"].Data.(metricdata.Histogram[float64]); h.DataPoints[0].Sum <= 0 {
		t.Errorf("durations sum to %v", h.DataPoints[0].Sum)
	}

	// One span per exchange, each a child of the caller's span (the
	// Ticket ones ran in the Client's own goroutine).
	spans := tel.spansNamed("sysuser.exchange")
	if len(spans) != 3 {
		t.Fatalf("%d exchange spans", len(spans))
	}
	byOutcome := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		if s.Parent().SpanID() != caller.SpanContext().SpanID() || s.SpanContext().TraceID() != caller.SpanContext().TraceID() {
			t.Errorf("exchange span %s is not the caller's child", spanAttr(s, "sysuser.outcome"))
		}
		if spanAttr(s, "sysuser.protocol") != "soap" || spanAttr(s, "sysuser.renewal") != "false" {
			t.Errorf("span attributes %v", s.Attributes())
		}
		byOutcome[spanAttr(s, "sysuser.outcome")] = s
	}
	if s := byOutcome["ok"]; s == nil || s.Status().Code != codes.Unset || spanAttr(s, "sysuser.exchange.attempts") != "1" || spanAttr(s, "sysuser.tenant.id") != tenantID {
		t.Errorf("ok span %+v", s)
	}
	if s := byOutcome["refused"]; s == nil || s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, "refused") || spanAttr(s, "sysuser.tenant.id") != "Cust2" {
		t.Errorf("refused span %+v", s)
	}
	s := byOutcome["transport"]
	if s == nil || s.Status().Code != codes.Error || spanAttr(s, "sysuser.exchange.attempts") != "3" {
		t.Fatalf("503 span %+v", s)
	}
	var retries []string
	for _, ev := range s.Events() {
		if ev.Name == "retry" {
			retries = append(retries, attrs(attribute.NewSet(ev.Attributes...)))
		}
	}
	if len(retries) != 2 || !strings.Contains(retries[0], "sysuser.exchange.attempt=1") || !strings.Contains(retries[1], "sysuser.exchange.attempt=2") ||
		!strings.Contains(retries[0], "http.response.status_code=503") || !strings.Contains(retries[0], "sysuser.retry.wait=") {
		t.Errorf("retry events %q", retries)
	}
	noSecrets(t, tel, res)
}

func TestKeySetOutage(t *testing.T) {
	w := newWorld(t)
	w.set(func(w *world) { w.jwksDown = true })
	tel := newTelemetry(t) // no tenant ids
	cfg := w.config(tel.obs)
	cfg.Protocol = sysuser.REST
	client := w.client(cfg)
	if _, err := client.Exchange(context.Background(), tenantID, userToken); !errors.Is(err, sysuser.ErrKeySetUnavailable) {
		t.Fatalf("err = %v", err)
	}
	ms := tel.metrics(t)
	wantPoints(t, ms, "sysuser.exchanges", map[string]int64{
		"sysuser.outcome=key_set_unavailable,sysuser.protocol=rest,sysuser.renewal=false": 1,
	})
	spans := tel.spansNamed("sysuser.exchange")
	if len(spans) != 1 || spans[0].Parent().IsValid() || spans[0].Status().Code != codes.Error || spanAttr(spans[0], "sysuser.tenant.id") != "" {
		t.Fatalf("spans %+v", spans)
	}
	noSecrets(t, tel, nil)
}

func TestStateLookupsAndTransportRetries(t *testing.T) {
	w := newWorld(t)
	tel := newTelemetry(t)
	client := w.client(w.config(tel.obs))
	tenant := client.Tenant(tenantID, userToken)
	hc := tenant.HTTPClient()
	tracer := tel.tp.Tracer("test")

	ctx, asker := tracer.Start(context.Background(), "ask")
	if s, err := tenant.Status(ctx); err != nil || s.State != "Running" {
		t.Fatal(s, err)
	}
	asker.End()
	base, err := tenant.WebAPIURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// SuperOffice moves the tenant: a 421, a lookup, the request retried.
	w.set(func(w *world) { w.current = 1 })
	get := func(name string) trace.Span {
		ctx, span := tracer.Start(context.Background(), name)
		defer span.End()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"v1/Contact/2", nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte("host 1")) {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, body)
		}
		return span
	}
	moved := get("moved")

	// SuperOffice stops accepting the ticket: a 401, a new ticket, the
	// request retried.
	res, err := tenant.Ticket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w.set(func(w *world) { w.revoked[res.Ticket] = true })
	revoked := get("revoked")
	res2, _ := tenant.Ticket(context.Background())

	ms := tel.metrics(t)
	wantPoints(t, ms, "sysuser.transport.retries", map[string]int64{
		"http.response.status_code=401": 1,
		"http.response.status_code=421": 1,
	})
	wantPoints(t, ms, "sysuser.state.lookup.duration", map[string]int64{
		"sysuser.outcome=ok,sysuser.tenant.state=Running": 2,
	})
	wantPoints(t, ms, "sysuser.tenants", map[string]int64{"sysuser.tenant.state=Running": 1})
	wantPoints(t, ms, "sysuser.exchanges", map[string]int64{"sysuser.outcome=ok,sysuser.protocol=soap,sysuser.renewal=false": 2})

	lookups := tel.spansNamed("sysuser.state.lookup")
	if len(lookups) != 2 || lookups[0].Parent().SpanID() != asker.SpanContext().SpanID() || lookups[1].Parent().SpanID() != moved.SpanContext().SpanID() {
		t.Fatalf("lookup spans %+v", lookups)
	}
	if spanAttr(lookups[1], "sysuser.tenant.state") != "Running" || spanAttr(lookups[1], "sysuser.outcome") != "ok" {
		t.Errorf("lookup attributes %v", lookups[1].Attributes())
	}
	// The exchange for the new ticket ran on behalf of the request that
	// saw the 401.
	exchanges := tel.spansNamed("sysuser.exchange")
	if len(exchanges) != 2 || exchanges[1].Parent().SpanID() != revoked.SpanContext().SpanID() {
		t.Fatalf("exchange spans %+v", exchanges)
	}
	noSecrets(t, tel, res, res2)
}

func TestRenewals(t *testing.T) {
	w := newWorld(t)
	tel := newTelemetry(t)
	cfg := w.config(tel.obs)
	cfg.RefreshAge = 50 * time.Millisecond
	client := w.client(cfg)
	tenant := client.Tenant(tenantID, userToken)
	first, err := tenant.Ticket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond) // past RefreshAge: the next call renews
	if _, err := tenant.Ticket(context.Background()); err != nil {
		t.Fatal(err)
	}
	var ms map[string]metricdata.Metrics
	eventually(t, "a renewal recorded", func() bool {
		ms = tel.metrics(t)
		_, ok := ms["sysuser.tickets.renewed"]
		return ok
	})
	wantPoints(t, ms, "sysuser.tickets.renewed", map[string]int64{"sysuser.ticket.source=exchange": 1})
	wantPoints(t, ms, "sysuser.exchanges", map[string]int64{
		"sysuser.outcome=ok,sysuser.protocol=soap,sysuser.renewal=false": 1,
		"sysuser.outcome=ok,sysuser.protocol=soap,sysuser.renewal=true":  1,
	})
	second, _ := tenant.Ticket(context.Background())
	noSecrets(t, tel, first, second)
}

func TestNotificationsAndTenantsByState(t *testing.T) {
	w := newWorld(t)
	tel := newTelemetry(t, otelsysuser.WithTenantIDs(10))
	client := w.client(w.config(tel.obs))
	h := client.StateChangeHandler(nil)
	post := func(method string, body []byte, want int) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/superoffice/state", bytes.NewReader(body)))
		if rec.Code != want {
			t.Fatalf("%s: %d, want %d", body, rec.Code, want)
		}
	}
	now := time.Now()
	post(http.MethodGet, nil, 405)
	post(http.MethodPost, w.notice(2, now, ""), 200)                           // Suspend
	post(http.MethodPost, w.notice(3, now.Add(-time.Minute), ""), 200)         // a Resume issued earlier: stale
	post(http.MethodPost, w.notice(3, now, "https://login.evil.example"), 401) // forged
	ms := tel.metrics(t)
	wantPoints(t, ms, "sysuser.notifications", map[string]int64{
		"sysuser.notification.verdict=refused": 2,
		"sysuser.notification.change=Suspend,sysuser.notification.verdict=applied,sysuser.tenant.id=Cust12345": 1,
		"sysuser.notification.change=Resume,sysuser.notification.verdict=stale,sysuser.tenant.id=Cust12345":    1,
	})
	wantPoints(t, ms, "sysuser.tenants", map[string]int64{"sysuser.tenant.state=Suspended": 1})
	wantPoints(t, ms, "sysuser.tenants.cached", map[string]int64{"": 1})

	post(http.MethodPost, w.notice(3, now.Add(time.Second), ""), 200) // Resume
	wantPoints(t, tel.metrics(t), "sysuser.tenants", map[string]int64{"sysuser.tenant.state=Running": 1})
	noSecrets(t, tel, nil)
}

func TestIdleTenantsLeaveTheCounts(t *testing.T) {
	w := newWorld(t)
	tel := newTelemetry(t)
	clock := &fakeClock{now: time.Now()}
	cfg := w.config(tel.obs)
	cfg.Clock = clock.Now
	client := w.client(cfg)
	w.fake.AddTenant("Cust2", "token-2")

	// A tenant whose state was looked up, and nothing else: a sweep drops it.
	if _, err := client.Tenant(tenantID, userToken).Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	ms := tel.metrics(t)
	wantPoints(t, ms, "sysuser.tenants", map[string]int64{"sysuser.tenant.state=Running": 1})
	wantPoints(t, ms, "sysuser.tenants.cached", map[string]int64{"": 1})
	clock.advance(2 * time.Minute) // past the sweep interval; within the fake's clock skew
	if _, err := client.Tenant("Cust2", "token-2").Ticket(context.Background()); err != nil {
		t.Fatal(err) // its flight's end sweeps
	}
	ms = tel.metrics(t)
	wantPoints(t, ms, "sysuser.tenants", map[string]int64{})
	wantPoints(t, ms, "sysuser.tenants.cached", map[string]int64{"": 1})
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// failingStore is a TicketStore whose every call fails.
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

func TestStoreFailures(t *testing.T) {
	w := newWorld(t)
	tel := newTelemetry(t)
	cfg := w.config(tel.obs)
	cfg.Store = failingStore{}
	client := w.client(cfg)
	tenant := client.Tenant(tenantID, userToken)
	res, err := tenant.Ticket(context.Background())
	if err != nil {
		t.Fatal(err) // a failing store never fails a caller
	}
	tenant.Invalidate(context.Background(), res.Ticket)
	ms := tel.metrics(t)
	wantPoints(t, ms, "sysuser.store.errors", map[string]int64{
		"sysuser.store.operation=get":    1,
		"sysuser.store.operation=put":    1,
		"sysuser.store.operation=delete": 1,
	})
	wantPoints(t, ms, "sysuser.store.fallbacks", map[string]int64{"sysuser.store.operation=get": 1})
	noSecrets(t, tel, res)
}

// noSecrets fails if any attribute value, span name, event or status of
// what was recorded contains a secret: the application token, the system
// user token, or a ticket or JWT of results.
func noSecrets(t *testing.T, tel *telemetry, results ...*sysuser.SystemUserResult) {
	t.Helper()
	secrets := []string{appToken, userToken, "token-2", "7T:"}
	for _, r := range results {
		if r != nil {
			secrets = append(secrets, r.Ticket, r.Token)
		}
	}
	var seen []string
	addSet := func(s attribute.Set) {
		for _, kv := range s.ToSlice() {
			seen = append(seen, string(kv.Key)+"="+kv.Value.String())
		}
	}
	addKVs := func(kvs []attribute.KeyValue) { addSet(attribute.NewSet(kvs...)) }
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					addSet(p.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					addSet(p.Attributes)
				}
			default:
				t.Errorf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	for _, s := range tel.spans.Ended() {
		seen = append(seen, s.Name(), s.Status().Description)
		addKVs(s.Attributes())
		for _, ev := range s.Events() {
			seen = append(seen, ev.Name)
			addKVs(ev.Attributes)
		}
	}
	if len(seen) < 5 {
		t.Fatalf("only %d values recorded", len(seen))
	}
	for _, v := range seen {
		for _, s := range secrets {
			if s != "" && strings.Contains(v, s) {
				t.Errorf("a secret in %q", v)
			}
		}
	}
}

// BenchmarkTicketCachedObserved is the cached Ticket path of a Client
// with the Observer: the same as without one (the sysuser package's
// BenchmarkTicketCached), since it records nothing.
func BenchmarkTicketCachedObserved(b *testing.B) {
	w := newWorld(b)
	tel := newTelemetry(b, otelsysuser.WithTenantIDs(10))
	tenant := w.client(w.config(tel.obs)).Tenant(tenantID, userToken)
	ctx := context.Background()
	if _, err := tenant.Ticket(ctx); err != nil {
		b.Fatal(err)
	}
	spans := len(tel.spans.Ended())
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res, err := tenant.Ticket(ctx); err != nil || res == nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	if n := len(tel.spans.Ended()); n != spans {
		b.Fatalf("%d spans after cached calls, %d before", n, spans)
	}
}
