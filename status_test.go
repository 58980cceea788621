package sysuser_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
)

func TestTenantStatusReadsTheDocumentedExample(t *testing.T) {
	var s sysuser.TenantStatus
	if err := json.Unmarshal(readTestdata(t, "state/check-status.json"), &s); err != nil {
		t.Fatal(err)
	}
	want := sysuser.TenantStatus{
		ContextIdentifier: "Cust12345",
		State:             "Running",
		IsRunning:         true,
		Endpoint:          "https://online.superoffice.com/Cust12345",
		API:               "https://online.superoffice.com/Cust12345/api",
		ValidUntil:        time.Date(2020, 10, 5, 9, 52, 1, 934296500, time.UTC),
	}
	if s != want {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
	if s.State.Number() != 2 {
		t.Fatalf("Running is number %d, want 2", s.State.Number())
	}
}

func TestStateNamesAndNumbers(t *testing.T) {
	// PROTOCOL.md §10, from SuperOffice's docs.
	documented := map[string]int{"Unknown": 0, "Provisioning": 1, "Running": 2, "Deleted": 3, "Suspended": 4,
		"OnlineMaintenance": 5, "OfflineMaintenance": 6, "ProvisioningFailed": 8, "Deleting": 10, "DeleteFailed": 11, "MigrationPending": 12}
	for name, num := range documented {
		t.Run(name, func(t *testing.T) {
			if got := sysuser.State(name).Number(); got != num {
				t.Fatalf("Number() = %d, want %d", got, num)
			}
			var byNumber sysuser.TenantStatus
			if err := json.Unmarshal(fmt.Appendf(nil, `{"State":%d}`, num), &byNumber); err != nil || string(byNumber.State) != name {
				t.Fatalf("State %d read as %q, %v", num, byNumber.State, err)
			}
		})
	}
	t.Run("unknown values are kept", func(t *testing.T) {
		var s sysuser.TenantStatus
		if err := json.Unmarshal([]byte(`{"State":"Hibernating","Extra":1}`), &s); err != nil || s.State != "Hibernating" || s.State.Number() != -1 {
			t.Fatalf("got %q (%d), %v", s.State, s.State.Number(), err)
		}
		if err := json.Unmarshal([]byte(`{"State":7}`), &s); err != nil || s.State != "7" {
			t.Fatalf("got %q, %v", s.State, err)
		}
		if err := json.Unmarshal([]byte(`{"State":{}}`), &s); err == nil {
			t.Fatal("an object as State was accepted")
		}
	})
}

// world is a SuperOffice whose tenant moves and pauses: sysusertest for the
// login service, behind a front that also serves the state API, and two
// numbered WebApi hosts of its own. The state API's answers are the docs'
// example with the values replaced.
type world struct {
	t      *testing.T
	env    *testEnv
	front  *httptest.Server
	hosts  [2]*httptest.Server
	client *sysuser.Client

	mu         sync.Mutex
	current    int
	state      string
	running    bool
	validUntil time.Time
	lookupWait time.Duration // a slow state API
	stateCode  int           // non-zero: the state API answers this status

	lookups atomic.Int32
	calls   [2]atomic.Int32
	served  atomic.Int32 // requests a host answered 200
}

// newWorld starts the world; clock, when not nil, is the time of the fake
// and the Client both.
func newWorld(t *testing.T, clock func() time.Time) *world {
	w := &world{t: t, state: "Running", running: true}
	w.env = newTestEnv(t, clock, nil)
	for i := range w.hosts {
		w.hosts[i] = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { w.serveHost(i, rw, r) }))
		t.Cleanup(w.hosts[i].Close)
	}
	w.front = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/state/") {
			w.serveState(rw, r)
			return
		}
		forward(t, rw, r, w.env.fake.Root)
	}))
	t.Cleanup(w.front.Close)
	w.env.fake.SetTokenFunc(func(claims map[string]any) (string, error) {
		claims["http://schemes.superoffice.net/identity/webapi_url"] = w.base(w.where())
		return w.env.fake.Sign(claims)
	})
	cfg := w.env.cfg
	cfg.LoginURL = w.front.URL + "/login"
	w.client = mustClient(t, cfg) // closed by mustClient's cleanup
	return w
}

func (w *world) where() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.current
}

// base is the tenant's WebApi base on host i, as the webapi_url claim has it.
func (w *world) base(i int) string { return w.hosts[i].URL + "/Cust12345/api/" }

func (w *world) move(to int) {
	w.mu.Lock()
	w.current = to
	w.mu.Unlock()
}

func (w *world) setState(state string, running bool, validUntil time.Time) {
	w.mu.Lock()
	w.state, w.running, w.validUntil = state, running, validUntil
	w.mu.Unlock()
}

func (w *world) serveState(rw http.ResponseWriter, r *http.Request) {
	w.lookups.Add(1)
	w.mu.Lock()
	cur, state, running, until, wait, code := w.current, w.state, w.running, w.validUntil, w.lookupWait, w.stateCode
	w.mu.Unlock()
	time.Sleep(wait)
	if code != 0 {
		http.Error(rw, "state API down", code)
		return
	}
	var doc map[string]any
	if err := json.Unmarshal(readTestdata(w.t, "state/check-status.json"), &doc); err != nil {
		panic(err)
	}
	if until.IsZero() {
		until = time.Now().Add(time.Hour)
	}
	ctx := strings.TrimPrefix(r.URL.Path, "/api/state/")
	doc["ContextIdentifier"], doc["State"], doc["IsRunning"] = ctx, state, running
	doc["Endpoint"] = w.hosts[cur].URL + "/" + ctx
	doc["Api"] = w.hosts[cur].URL + "/" + ctx + "/api" // no trailing slash, as documented
	doc["ValidUntil"] = until.UTC().Format(time.RFC3339Nano)
	rw.Header().Set("Content-Type", "application/json")
	json.NewEncoder(rw).Encode(doc)
}

func (w *world) serveHost(i int, rw http.ResponseWriter, r *http.Request) {
	w.calls[i].Add(1)
	w.mu.Lock()
	cur, running := w.current, w.running
	w.mu.Unlock()
	switch {
	case i != cur:
		// SuperOffice's documented text; the body's format is not documented.
		http.Error(rw, `{"Error":"Wrong subdomain used to access tenant"}`, http.StatusMisdirectedRequest)
		return
	case !running:
		http.Error(rw, "unavailable", http.StatusServiceUnavailable)
		return
	case r.Header.Get("SO-AppToken") != testAppToken || !strings.HasPrefix(r.Header.Get("Authorization"), "SOTicket 7T:"):
		http.Error(rw, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, _ := io.ReadAll(r.Body)
	w.served.Add(1)
	fmt.Fprintf(rw, "%d %s %s %s", i, r.Method, r.URL.RequestURI(), body)
}

func TestStatusIsCachedAndShared(t *testing.T) {
	w := newWorld(t, nil)
	w.setState("Running", true, time.Now().Add(time.Minute))
	a := w.client.Tenant(testTenant, testUserToken)
	b := w.client.Tenant(testTenant, testUserToken)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Status(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s, err := b.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := w.lookups.Load(); n != 1 {
		t.Fatalf("%d lookups for 51 calls on two handles, want 1", n)
	}
	if s.API != w.hosts[0].URL+"/Cust12345/api" || s.State != "Running" || !s.IsRunning {
		t.Fatalf("status %+v", s)
	}
	// The answer handed out is a copy.
	s.State = "Changed"
	if s2, _ := a.Status(ctx); s2.State != "Running" {
		t.Fatal("a caller's change reached the cache")
	}
}

func TestStatusValidUntilIsClamped(t *testing.T) {
	clock := newFakeClock()
	w := newWorld(t, clock.Now)
	tenant := w.client.Tenant(testTenant, testUserToken)
	ctx := context.Background()
	// ValidUntil in the past: the answer is still used for 10 s.
	w.setState("Running", true, clock.Now().Add(-time.Hour))
	tenant.Status(ctx)
	clock.Advance(9 * time.Second)
	tenant.Status(ctx)
	if n := w.lookups.Load(); n != 1 {
		t.Fatalf("%d lookups within the 10 s floor, want 1", n)
	}
	clock.Advance(2 * time.Second)
	tenant.Status(ctx)
	if n := w.lookups.Load(); n != 2 {
		t.Fatalf("%d lookups past the 10 s floor, want 2", n)
	}
	// ValidUntil a day away: asked again after 15 minutes.
	w.setState("Running", true, clock.Now().Add(24*time.Hour))
	clock.Advance(11 * time.Second)
	tenant.Status(ctx)
	clock.Advance(14 * time.Minute)
	tenant.Status(ctx)
	if n := w.lookups.Load(); n != 3 {
		t.Fatalf("%d lookups, want 3", n)
	}
	clock.Advance(time.Minute + time.Second)
	tenant.Status(ctx)
	if n := w.lookups.Load(); n != 4 {
		t.Fatalf("%d lookups past the 15 min ceiling, want 4", n)
	}
}

func TestStatusErrors(t *testing.T) {
	w := newWorld(t, nil)
	tenant := w.client.Tenant(testTenant, testUserToken)
	w.mu.Lock()
	w.stateCode = http.StatusBadGateway
	w.mu.Unlock()
	_, err := tenant.Status(context.Background())
	var he *sysuser.HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusBadGateway {
		t.Fatalf("err = %v, want *HTTPError 502", err)
	}
	// A failed lookup is reported as it is for a few seconds, not asked again at once.
	tenant.Status(context.Background())
	if n := w.lookups.Load(); n != 1 {
		t.Fatalf("%d lookups right after a failure, want 1", n)
	}

	// A huge or foreign answer is malformed.
	for name, body := range map[string]string{
		"huge":    `{"State":"Running","Pad":"` + strings.Repeat("x", 70<<10) + `"}`,
		"foreign": `{"ContextIdentifier":"Cust99999","State":"Running","IsRunning":true}`,
		"html":    `<html>maintenance</html>`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/api/state/") {
					io.WriteString(rw, body)
					return
				}
				forward(t, rw, r, w.env.fake.Root)
			}))
			defer srv.Close()
			c := mustClient(t, withLogin(w.env.cfg, srv.URL+"/login"))
			defer c.Close()
			_, err := c.Tenant(testTenant, testUserToken).Status(context.Background())
			if !errors.Is(err, sysuser.ErrMalformedResponse) {
				t.Fatalf("err = %v, want ErrMalformedResponse", err)
			}
		})
	}

	// A bad handle reports its argument error; a closed Client says so.
	if _, err := w.client.Tenant("", testUserToken).Status(context.Background()); !errors.Is(err, sysuser.ErrInvalidArgument) {
		t.Fatalf("bad handle: %v", err)
	}
}

func TestSuspendedTenantCostsOneExchangeAndOneLookup(t *testing.T) {
	w := newWorld(t, nil)
	w.setState("Suspended", false, time.Now().Add(time.Hour))
	// What PartnerSystemUserService answers for a suspended tenant is not
	// documented; here it refuses.
	w.env.fake.Refuse(testTenant, "tenant suspended")
	tenant := w.client.Tenant(testTenant, testUserToken)
	other := w.client.Tenant(testTenant, testUserToken)
	hc := tenant.HTTPClient()
	var wg sync.WaitGroup
	var notRunning atomic.Int32
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch i % 3 {
			case 0:
				_, err = tenant.Ticket(context.Background())
			case 1:
				_, err = other.Ticket(context.Background())
			default:
				var resp *http.Response
				resp, err = hc.Get(w.base(0) + "v1/Contact/2")
				if err == nil {
					resp.Body.Close()
				}
			}
			var nr *sysuser.TenantNotRunningError
			if errors.Is(err, sysuser.ErrTenantNotRunning) && errors.As(err, &nr) && nr.Status.State == "Suspended" && !nr.Status.ValidUntil.IsZero() {
				notRunning.Add(1)
			} else {
				t.Errorf("call %d: %v, want a TenantNotRunningError", i, err)
			}
		}()
	}
	wg.Wait()
	if notRunning.Load() != 1000 {
		t.Fatalf("%d of 1000 calls said not running", notRunning.Load())
	}
	if n, l := w.env.fake.ExchangeCount(testTenant), w.lookups.Load(); n != 1 || l != 1 {
		t.Fatalf("%d exchanges and %d lookups for 1000 calls, want 1 and 1", n, l)
	}
	if n := w.calls[0].Load() + w.calls[1].Load(); n != 0 {
		t.Fatalf("%d WebApi requests for a suspended tenant", n)
	}
}

func TestPausedTenantRunsAgain(t *testing.T) {
	clock := newFakeClock()
	w := newWorld(t, clock.Now)
	w.setState("OfflineMaintenance", false, clock.Now().Add(2*time.Minute))
	w.env.fake.Refuse(testTenant, "upgrading")
	tenant := w.client.Tenant(testTenant, testUserToken)
	ctx := context.Background()
	if _, err := tenant.Ticket(ctx); !errors.Is(err, sysuser.ErrTenantNotRunning) {
		t.Fatalf("err = %v, want ErrTenantNotRunning", err)
	}
	// Before ValidUntil: nothing asked.
	clock.Advance(time.Minute)
	if _, err := tenant.Ticket(ctx); !errors.Is(err, sysuser.ErrTenantNotRunning) {
		t.Fatalf("err = %v", err)
	}
	if n, l := w.env.fake.ExchangeCount(testTenant), w.lookups.Load(); n != 1 || l != 1 {
		t.Fatalf("%d exchanges and %d lookups before ValidUntil, want 1 and 1", n, l)
	}
	// Past ValidUntil, still upgrading: a lookup, no exchange.
	w.setState("OfflineMaintenance", false, clock.Now().Add(5*time.Minute))
	clock.Advance(2 * time.Minute)
	if _, err := tenant.Ticket(ctx); !errors.Is(err, sysuser.ErrTenantNotRunning) {
		t.Fatalf("err = %v", err)
	}
	if n, l := w.env.fake.ExchangeCount(testTenant), w.lookups.Load(); n != 1 || l != 2 {
		t.Fatalf("%d exchanges and %d lookups after the first ValidUntil, want 1 and 2", n, l)
	}
	// It runs again: the next call after ValidUntil proceeds.
	w.setState("Running", true, clock.Now().Add(time.Hour))
	w.env.fake.Refuse(testTenant, "")
	clock.Advance(5 * time.Minute)
	res, err := tenant.Ticket(ctx)
	if err != nil || !strings.HasPrefix(res.Ticket, "7T:") {
		t.Fatalf("after the upgrade: %v", err)
	}
	if n, l := w.env.fake.ExchangeCount(testTenant), w.lookups.Load(); n != 2 || l != 3 {
		t.Fatalf("%d exchanges and %d lookups, want 2 and 3", n, l)
	}
}

func TestRefusalOfARunningTenantIsNotAPause(t *testing.T) {
	w := newWorld(t, nil)
	w.env.fake.Refuse(testTenant, "Calculated signature is invalid")
	_, err := w.client.Tenant(testTenant, testUserToken).Ticket(context.Background())
	var ae *sysuser.AuthenticationError
	if !errors.As(err, &ae) || errors.Is(err, sysuser.ErrTenantNotRunning) {
		t.Fatalf("err = %v, want the refusal", err)
	}
	if w.lookups.Load() != 1 {
		t.Fatalf("%d lookups, want 1 (the state is consulted after a failure)", w.lookups.Load())
	}
}
