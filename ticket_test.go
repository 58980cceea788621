package sysuser_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
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

// A thousand cold tenants against a login server that never answers: no
// more than MaxConcurrentExchanges exchanges are in flight, and the Client
// adds no goroutines beyond them.
func TestExchangesAreBoundedAcrossTenants(t *testing.T) {
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)

	env := newTestEnv(t, nil, func(c *sysuser.Config) {
		c.MaxConcurrentExchanges = 4
		c.MaxAttempts = 1
		c.ExchangeTimeout = 3 * time.Second
	})
	client := mustClient(t, withLogin(env.cfg, hang.URL+"/login"))
	defer client.Close()

	baseline := runtime.NumGoroutine()
	const callers = 1000
	var wg sync.WaitGroup
	var ctxErrors atomic.Int32
	start := make(chan struct{})
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := client.Tenant(fmt.Sprintf("Cust%d", 10000+i), "tok").Ticket(ctx)
			if errors.Is(err, context.DeadlineExceeded) {
				ctxErrors.Add(1)
			}
		}(i)
	}
	close(start)
	eventually(t, "four exchanges hang", func() bool { return inFlight.Load() == 4 })
	time.Sleep(100 * time.Millisecond) // let any extra exchange arrive
	// Callers, plus per exchange: its flight, the client connection's two
	// loops and the server's connection handler; and a little slack.
	if got, limit := runtime.NumGoroutine()-baseline, callers+4*4+10; got > limit {
		t.Errorf("%d goroutines above baseline with %d callers, want at most %d", got, callers, limit)
	}
	wg.Wait()
	if p := peak.Load(); p != 4 {
		t.Errorf("peak exchanges in flight = %d, want 4", p)
	}
	if n := ctxErrors.Load(); n != callers {
		t.Errorf("%d of %d callers ended with their ctx's deadline", n, callers)
	}
}

func TestTicketWithDoneContextStartsNothing(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := env.client.Tenant(testTenant, testUserToken).Ticket(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := env.fake.ExchangeCount(testTenant); n != 0 {
		t.Fatalf("a caller whose ctx was done started %d exchanges", n)
	}
}

// Refused tenants are remembered for their backoff, then swept by time
// alone, with no traffic.
func TestNegativeCacheIsSweptWithoutTraffic(t *testing.T) {
	clock := newFakeClock()
	signerEnv := newTestEnv(t, clock.Now, nil)
	client, err := sysuser.NewClient(signerEnv.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sysuser.SetSweepInterval(client, 20*time.Millisecond)
	const n = 200
	for i := 0; i < n; i++ {
		// Not added to the fake: SuperOffice refuses the token.
		if _, err := client.Tenant(fmt.Sprintf("Cust%d", 500+i), "tok").Ticket(context.Background()); err == nil {
			t.Fatal("an unknown tenant got a ticket")
		}
	}
	if got := sysuser.Negatives(client); got != n {
		t.Fatalf("%d failures remembered, want %d", got, n)
	}
	if got := sysuser.TenantCount(client); got != n {
		t.Fatalf("%d tenants kept, want %d", got, n)
	}
	// After the refusal the state was consulted: the fake's state API
	// calls a tenant it does not know "Unknown", not running, valid for
	// 5 minutes, so each is paused until then.
	clock.Advance(sysusertest.StateValidity + time.Second)
	eventually(t, "the sweep forgets the refused tenants", func() bool {
		return sysuser.TenantCount(client) == 0 && sysuser.Negatives(client) == 0
	})
}

// SuperOffice's sliding-expiry guidance: a ticket in use is kept past the
// hourly renewal, and renewed only once idle for TicketLifetime.
func TestSlidingExpiryRenewsOnlyIdleTickets(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, func(c *sysuser.Config) { c.SlidingExpiry = true })
	t1 := mustTicket(t, env.client, testTenant)
	for i := 0; i < 10; i++ { // in use every hour for ten hours
		clock.Advance(time.Hour)
		if got := mustTicket(t, env.client, testTenant); got != t1 {
			t.Fatalf("hour %d: a ticket in use was renewed", i+1)
		}
	}
	if n := env.fake.ExchangeCount(testTenant); n != 1 {
		t.Fatalf("%d exchanges in ten hours of use, want 1", n)
	}
	clock.Advance(6 * time.Hour) // idle past its lifetime
	if got := mustTicket(t, env.client, testTenant); got == t1 {
		t.Fatal("an idle ticket past its lifetime was handed out")
	}
	if n := env.fake.ExchangeCount(testTenant); n != 2 {
		t.Fatalf("%d exchanges, want 2", n)
	}

	// The default, for comparison: renewed after an hour.
	hourly := newTestEnv(t, clock.Now, nil)
	h1 := mustTicket(t, hourly.client, testTenant)
	clock.Advance(61 * time.Minute)
	mustTicket(t, hourly.client, testTenant)
	eventually(t, "the hourly renewal", func() bool { return mustTicket(t, hourly.client, testTenant) != h1 })
}

// With the real clock, timers take a ticket off the cached path when it
// is due for renewal or idle too long. Short windows show them at work.
func TestRealClockTimersRenewAndSlide(t *testing.T) {
	env := newTestEnv(t, nil, func(c *sysuser.Config) {
		c.RefreshAge = 150 * time.Millisecond
		c.TicketLifetime = 10 * time.Second
	})
	t1 := mustTicket(t, env.client, testTenant)
	if mustTicket(t, env.client, testTenant) != t1 || env.fake.ExchangeCount(testTenant) != 1 {
		t.Fatal("a fresh ticket was not served from the cache")
	}
	eventually(t, "the renewal after RefreshAge", func() bool { return mustTicket(t, env.client, testTenant) != t1 })

	sliding := newTestEnv(t, nil, func(c *sysuser.Config) {
		c.SlidingExpiry = true
		c.TicketLifetime = 800 * time.Millisecond
	})
	s1 := mustTicket(t, sliding.client, testTenant)
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if mustTicket(t, sliding.client, testTenant) != s1 {
			t.Fatal("a ticket in use was renewed")
		}
	}
	time.Sleep(1200 * time.Millisecond) // idle past its lifetime
	if mustTicket(t, sliding.client, testTenant) == s1 {
		t.Fatal("an idle ticket past its lifetime was handed out")
	}
}
