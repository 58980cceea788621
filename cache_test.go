package sysuser_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

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

func TestCloseReleasesConnectionsAndTimers(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	settle := func() int {
		var n int
		for i := 0; i < 50; i++ {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
			n = runtime.NumGoroutine()
		}
		return n
	}
	before := settle()
	for i := 0; i < 5; i++ {
		c := mustClient(t, env.cfg) // the default HTTP client, made by the Client
		if _, err := c.Tenant(testTenant, testUserToken).Ticket(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Tenant(testTenant, testUserToken).Ticket(context.Background()); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Ticket after Close: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Fatal("second Close:", err)
		}
	}
	// The fake's own connection handlers end with the client's connections.
	if after := settle(); after > before+2 {
		t.Fatalf("%d goroutines before five Clients, %d after they were closed", before, after)
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
