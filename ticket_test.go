package sysuser_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

// gate sits between a Client and the fake. While held, it holds the
// exchanges of one tenant until opened, so tests can act while an exchange
// is in flight. It starts open.
type gate struct {
	srv     *httptest.Server
	arrived chan struct{}

	mu      sync.Mutex
	holding bool
	release chan struct{}
}

func newGate(t *testing.T, fake *sysusertest.Server, tenant string) *gate {
	g := &gate{arrived: make(chan struct{}, 10000)}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		g.mu.Lock()
		holding, release := g.holding, g.release
		g.mu.Unlock()
		if holding && (bytes.Contains(body, []byte(">"+tenant+"<")) || bytes.Contains(body, []byte(`"`+tenant+`"`))) {
			g.arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		forward(t, w, r, fake.Root)
	}))
	t.Cleanup(g.srv.Close)
	t.Cleanup(g.open) // runs before the server closes
	return g
}

func (g *gate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.holding {
		g.holding, g.release = true, make(chan struct{})
	}
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holding {
		close(g.release)
		g.holding = false
	}
}

func (g *gate) waitArrival(t *testing.T) {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no exchange reached the gate")
	}
}

// gatedEnv is a test env whose client talks to the fake through a gate.
func gatedEnv(t *testing.T, clock *fakeClock, mutate func(*sysuser.Config)) (*testEnv, *gate) {
	env := newTestEnv(t, clock.Now, mutate)
	g := newGate(t, env.fake, testTenant)
	env.cfg.LoginURL = g.srv.URL + "/login"
	env.client = mustClient(t, env.cfg)
	return env, g
}

// eventually polls cond until it holds, for background work to land. It
// waits for an event; it asserts nothing about how long that takes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustTicket(t *testing.T, c *sysuser.Client, tenant string) string {
	t.Helper()
	res, err := c.Tenant(tenant, testUserToken).Ticket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res.Ticket
}

func TestTicketColdTenantOneExchangeForAThousandCallers(t *testing.T) {
	clock := newFakeClock()
	env, g := gatedEnv(t, clock, nil)
	g.hold()
	const n = 1000
	var wg sync.WaitGroup
	tickets := make([]string, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, err := env.client.Tenant(testTenant, testUserToken).Ticket(context.Background())
			errs[i] = err
			if err == nil {
				tickets[i] = res.Ticket
			}
		}(i)
	}
	g.waitArrival(t)
	time.Sleep(20 * time.Millisecond) // let the callers pile up behind the one exchange
	g.open()
	wg.Wait()
	for i := range tickets {
		if errs[i] != nil || tickets[i] != tickets[0] || tickets[0] == "" {
			t.Fatalf("caller %d: %v, same ticket: %v", i, errs[i], tickets[i] == tickets[0])
		}
	}
	if got := env.fake.ExchangeCount(testTenant); got != 1 {
		t.Fatalf("%d callers caused %d exchanges, want 1", n, got)
	}
	for i := 0; i < 100; i++ {
		mustTicket(t, env.client, testTenant)
	}
	if got := env.fake.ExchangeCount(testTenant); got != 1 {
		t.Fatalf("cached calls caused exchanges: %d", got)
	}
}

func TestTicketRefreshesInBackgroundAfterRefreshAge(t *testing.T) {
	clock := newFakeClock()
	env, g := gatedEnv(t, clock, nil)
	t1 := mustTicket(t, env.client, testTenant)

	clock.Advance(59 * time.Minute)
	if mustTicket(t, env.client, testTenant) != t1 || env.fake.ExchangeCount(testTenant) != 1 {
		t.Fatal("refreshed before the refresh age")
	}
	clock.Advance(2 * time.Minute) // 61 minutes old: one caller starts a refresh
	g.hold()
	if got := mustTicket(t, env.client, testTenant); got != t1 {
		t.Fatal("the caller that started the refresh did not get the still-valid ticket")
	}
	g.waitArrival(t)
	// While the refresh is held, everyone keeps getting the old ticket and
	// no second exchange starts.
	for i := 0; i < 50; i++ {
		if mustTicket(t, env.client, testTenant) != t1 {
			t.Fatal("old ticket not served during the refresh")
		}
	}
	g.open()
	eventually(t, "the refreshed ticket is served", func() bool { return mustTicket(t, env.client, testTenant) != t1 })
	if got := env.fake.ExchangeCount(testTenant); got != 2 {
		t.Fatalf("%d exchanges, want 2", got)
	}
}

func TestTicketNeverPastHardLifetime(t *testing.T) {
	clock := newFakeClock()
	env, _ := gatedEnv(t, clock, func(c *sysuser.Config) { c.RefreshAge = time.Hour; c.TicketLifetime = 2 * time.Hour })
	t1 := mustTicket(t, env.client, testTenant)
	env.fake.SetUnavailable(http.StatusServiceUnavailable)
	// Walk through the refresh window: always t1, and refresh attempts are
	// bounded by the backoff, not one per call.
	for clock.Advance(61 * time.Minute); ; clock.Advance(10 * time.Second) {
		now := clock.Now()
		res, err := env.client.Tenant(testTenant, testUserToken).Ticket(context.Background())
		if now.Sub(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)) >= 2*time.Hour {
			if err == nil {
				t.Fatalf("a ticket was returned %s after its exchange, past its 2h lifetime", now.Sub(res.ReceivedAt))
			}
			var he *sysuser.HTTPError
			if !errors.As(err, &he) || he.StatusCode != 503 {
				t.Fatalf("err = %v, want the 503", err)
			}
			break
		}
		if err != nil || res.Ticket != t1 {
			t.Fatalf("at %s: %v (old ticket: %v)", now, err, res != nil && res.Ticket == t1)
		}
		time.Sleep(time.Millisecond) // let a background refresh run before the clock moves on
	}
	attempts := env.fake.ExchangeCount(testTenant) - 1
	t.Logf("%d refresh attempts against a failing service", attempts)
	if attempts < 2 || attempts > 40 {
		t.Fatalf("%d refresh attempts in 59 minutes of a failing service at 360 calls; want a few, backed off", attempts)
	}
	// SuperOffice recovers: after the backoff a caller gets a new ticket.
	env.fake.SetUnavailable(0)
	clock.Advance(6 * time.Minute)
	if got := mustTicket(t, env.client, testTenant); got == t1 {
		t.Fatal("expired ticket returned after recovery")
	}
}

// TestTicketNotPastLifetimeWhenStoppedAfterExchange stops time between the
// end of an exchange and the moment its waiting caller runs, as a process
// stopped (SIGSTOP) or a machine suspended there does: the caller must not
// get the ticket, now past its lifetime, but a new one.
func TestTicketNotPastLifetimeWhenStoppedAfterExchange(t *testing.T) {
	clock := newFakeClock()
	const lifetime = 2 * time.Hour
	var once sync.Once
	env := newTestEnv(t, clock.Now, func(c *sysuser.Config) {
		c.RefreshAge, c.TicketLifetime = time.Hour, lifetime
		c.Observer = &sysuser.Observer{NewTicket: func(context.Context, sysuser.Event) {
			// Runs on the exchange's goroutine after the ticket is
			// installed and before the waiting caller is woken.
			once.Do(func() { clock.Advance(lifetime) })
		}}
	})
	res, err := env.client.Tenant(testTenant, testUserToken).Ticket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if age := clock.Now().Sub(res.ReceivedAt); age >= lifetime {
		t.Fatalf("got a ticket %v old, past its lifetime of %v", age, lifetime)
	}
	if n := env.fake.ExchangeCount(testTenant); n != 2 {
		t.Fatalf("%d exchanges, want 2: the stale one and its replacement", n)
	}
}

func TestTicketCancelledCallerDoesNotFailOthers(t *testing.T) {
	clock := newFakeClock()
	env, g := gatedEnv(t, clock, nil)
	g.hold()
	ctxA, cancelA := context.WithCancel(context.Background())
	errA := make(chan error, 1)
	go func() {
		_, err := env.client.Tenant(testTenant, testUserToken).Ticket(ctxA)
		errA <- err
	}()
	g.waitArrival(t) // A's exchange is in flight
	resB := make(chan string, 1)
	go func() {
		res, err := env.client.Tenant(testTenant, testUserToken).Ticket(context.Background())
		if err != nil {
			resB <- "error: " + err.Error()
			return
		}
		resB <- res.Ticket
	}()
	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", err)
	}
	g.open()
	if got := <-resB; !strings.HasPrefix(got, "7T:") {
		t.Fatalf("the other caller got %q", got)
	}
	if n := env.fake.ExchangeCount(testTenant); n != 1 {
		t.Fatalf("%d exchanges, want 1", n)
	}
}

func TestTenantsDoNotWaitOnEachOther(t *testing.T) {
	clock := newFakeClock()
	env, g := gatedEnv(t, clock, nil)
	env.fake.AddTenant("Cust2", "token-2")
	g.hold() // holds Cust12345 only
	go env.client.Tenant(testTenant, testUserToken).Ticket(context.Background())
	g.waitArrival(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := env.client.Tenant("Cust2", "token-2").Ticket(ctx); err != nil {
		t.Fatalf("Cust2 waited on Cust12345: %v", err)
	}
}

func TestTicketRefusalIsCachedBriefly(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	env.fake.Refuse(testTenant, "Denied")
	for i := 0; i < 50; i++ {
		_, err := env.client.Tenant(testTenant, testUserToken).Ticket(context.Background())
		var ae *sysuser.AuthenticationError
		if !errors.As(err, &ae) || ae.Message != "Denied" {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := env.fake.ExchangeCount(testTenant); n != 1 {
		t.Fatalf("50 calls after a refusal caused %d exchanges, want 1", n)
	}
	clock.Advance(31 * time.Second)
	env.fake.Refuse(testTenant, "")
	if _, err := env.client.Tenant(testTenant, testUserToken).Ticket(context.Background()); err != nil {
		t.Fatalf("after the refusal backoff: %v", err)
	}
	if n := env.fake.ExchangeCount(testTenant); n != 2 {
		t.Fatalf("%d exchanges, want 2", n)
	}
}

func TestInvalidateIsCompareAndSwap(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	t1 := mustTicket(t, env.client, testTenant)
	if env.client.Tenant(testTenant, testUserToken).Invalidate(context.Background(), "7T:some-other-ticket") {
		t.Fatal("invalidated with the wrong ticket")
	}
	if mustTicket(t, env.client, testTenant) != t1 {
		t.Fatal("wrong-ticket Invalidate dropped the ticket")
	}
	if !env.client.Tenant(testTenant, testUserToken).Invalidate(context.Background(), t1) {
		t.Fatal("Invalidate with the current ticket did nothing")
	}
	t2 := mustTicket(t, env.client, testTenant)
	if t2 == t1 || env.fake.ExchangeCount(testTenant) != 2 {
		t.Fatal("no new exchange after Invalidate")
	}
	if env.client.Tenant(testTenant, testUserToken).Invalidate(context.Background(), t1) {
		t.Fatal("a stale ticket invalidated its replacement")
	}
	if mustTicket(t, env.client, testTenant) != t2 {
		t.Fatal("ticket changed")
	}
}

func TestTransportAddsCredentialsAndRetriesOnceAfter401(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	hc := env.client.Tenant(testTenant, testUserToken).HTTPClient()
	url := env.fake.WebAPIURL(testTenant) + "v1/Contact/2"

	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer caller-set")
	resp, err := hc.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	if req.Header.Get("Authorization") != "Bearer caller-set" || req.Header.Get("SO-AppToken") != "" {
		t.Fatal("the caller's request was modified")
	}
	t1 := mustTicket(t, env.client, testTenant)

	// SuperOffice stops accepting the ticket: a burst of requests sees 401,
	// the ticket is invalidated once and each request is retried once.
	env.fake.RevokeTicket(t1)
	calls := env.fake.WebAPICallCount(testTenant)
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"x":1}`)) // GetBody is set
			resp, err := hc.Do(r)
			if err == nil {
				if resp.StatusCode == 200 {
					ok.Add(1)
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 20 {
		t.Fatalf("%d of 20 requests succeeded after the 401", ok.Load())
	}
	if n := env.fake.ExchangeCount(testTenant); n != 2 {
		t.Fatalf("a burst of 401s caused %d exchanges in all, want 2", n)
	}
	if got := env.fake.WebAPICallCount(testTenant) - calls; got > 40 || got < 21 {
		t.Fatalf("%d WebApi calls for 20 requests; each may be retried once at most", got)
	}
	if mustTicket(t, env.client, testTenant) == t1 {
		t.Fatal("revoked ticket still cached")
	}

	// A body that cannot be replayed: the 401 comes back, nothing retried.
	env.fake.RevokeTicket(mustTicket(t, env.client, testTenant))
	body := &trackedBody{Reader: strings.NewReader("data")}
	r, _ := http.NewRequest(http.MethodPost, url, body)
	r.GetBody = nil
	before := env.fake.WebAPICallCount(testTenant)
	resp, err = hc.Do(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unreplayable body: %v %v", resp, err)
	}
	resp.Body.Close()
	if env.fake.WebAPICallCount(testTenant)-before != 1 || !body.closed.Load() {
		t.Fatal("unreplayable request was retried or its body not closed")
	}
}

type trackedBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackedBody) Close() error { b.closed.Store(true); return nil }

func TestTransportClosesBodyWhenNoTicket(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	env.fake.Refuse(testTenant, "Revoked")
	body := &trackedBody{Reader: strings.NewReader("data")}
	req, _ := http.NewRequest(http.MethodPost, env.fake.WebAPIURL(testTenant)+"v1/Contact", body)
	_, err := env.client.Tenant(testTenant, testUserToken).Transport(nil).RoundTrip(req)
	var ae *sysuser.AuthenticationError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v", err)
	}
	if !body.closed.Load() {
		t.Fatal("request body not closed on the error path")
	}
	if env.fake.WebAPICallCount(testTenant) != 0 {
		t.Fatal("request sent without a ticket")
	}
}

func TestUnaskedTenantsAreDropped(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	for i := 0; i < 5; i++ {
		id := "Cust" + string(rune('A'+i))
		env.fake.AddTenant(id, "tok")
		if _, err := env.client.Tenant(id, "tok").Ticket(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := sysuser.TenantCount(env.client); n != 5 {
		t.Fatalf("client holds %d tenants", n)
	}
	clock.Advance((6*time.Hour - 10*time.Minute) + 2*time.Minute)
	mustTicket(t, env.client, testTenant) // an exchange; its completion sweeps
	eventually(t, "the sweep drops the five unasked tenants", func() bool { return sysuser.TenantCount(env.client) == 1 })
}

func TestTicketRefusesBadArgumentsWithoutState(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	for _, c := range [][2]string{{"", testTenant}, {testUserToken, ""}, {testUserToken, "Cust 1"}} {
		if _, err := env.client.Tenant(c[1], c[0]).Ticket(context.Background()); !errors.Is(err, sysuser.ErrInvalidArgument) {
			t.Errorf("%q: %v", c, err)
		}
	}
	if env.fake.ExchangeCount(testTenant) != 0 || sysuser.TenantCount(env.client) != 0 {
		t.Fatal("bad arguments reached the service or the store")
	}
	u, err := env.client.Tenant(testTenant, testUserToken).WebAPIURL(context.Background())
	if err != nil || u != env.fake.WebAPIURL(testTenant) {
		t.Fatalf("WebAPIURL = %q, %v", u, err)
	}
}

func TestReapprovalNewestTokenWins(t *testing.T) {
	ctx := context.Background()
	t.Run("a kept handle renews with the new token", func(t *testing.T) {
		env := newTestEnv(t, nil, nil)
		defer env.client.Close()
		old := env.client.Tenant(testTenant, testUserToken)
		res, err := old.Ticket(ctx)
		if err != nil {
			t.Fatal(err)
		}
		env.fake.AddTenant(testTenant, "re-approved-token") // the administrator approved again
		fresh := env.client.Tenant(testTenant, "re-approved-token")
		old.Invalidate(ctx, res.Ticket)
		if _, err := old.Ticket(ctx); err != nil {
			t.Fatalf("old handle after re-approval: %v", err)
		}
		if _, err := fresh.Ticket(ctx); err != nil {
			t.Fatalf("new handle: %v", err)
		}
		if n := env.fake.ExchangeCount(testTenant); n != 2 {
			t.Fatalf("%d exchanges, want 2", n)
		}
	})
	t.Run("a refusal the old token earned is not served to the new one", func(t *testing.T) {
		env := newTestEnv(t, nil, nil)
		defer env.client.Close()
		env.fake.AddTenant(testTenant, "re-approved-token")
		old := env.client.Tenant(testTenant, testUserToken)
		var ae *sysuser.AuthenticationError
		if _, err := old.Ticket(ctx); !errors.As(err, &ae) {
			t.Fatalf("old token: %v, want a refusal", err)
		}
		fresh := env.client.Tenant(testTenant, "re-approved-token")
		if _, err := fresh.Ticket(ctx); err != nil {
			t.Fatalf("new token after the old one's refusal: %v", err)
		}
		if n := env.fake.ExchangeCount(testTenant); n != 2 {
			t.Fatalf("%d exchanges, want 2", n)
		}
	})
	t.Run("the same token again keeps the refusal", func(t *testing.T) {
		env := newTestEnv(t, nil, nil)
		defer env.client.Close()
		env.fake.Refuse(testTenant, "no")
		env.client.Tenant(testTenant, testUserToken).Ticket(ctx)
		env.client.Tenant(testTenant, testUserToken).Ticket(ctx)
		if n := env.fake.ExchangeCount(testTenant); n != 1 {
			t.Fatalf("%d exchanges, want 1", n)
		}
	})
}
