package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
)

// BenchmarkTicketLocalHit is Tenant.Ticket with the Redis store configured
// and the ticket cached: the in-process copy, no Redis round trip.
func BenchmarkTicketLocalHit(b *testing.B) {
	r := startRedis(b)
	fake := newFake(b, nil)
	client := newClient(b, fake.URL, newStore(b, newRedisClient(b, r.Addr()), nil), nil, nil)
	tenant := client.Tenant(testTenant, testToken)
	ctx := context.Background()
	if _, err := tenant.Ticket(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) { // as the core package's BenchmarkTicketCached
		for pb.Next() {
			if res, err := tenant.Ticket(ctx); err != nil || res == nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStoreGet is a Redis hit on loopback: one HMGET, AES-GCM and
// JSON decoding of a real exchange's result.
func BenchmarkStoreGet(b *testing.B) {
	r := startRedis(b)
	fake := newFake(b, nil)
	store := newStore(b, newRedisClient(b, r.Addr()), nil)
	client := newClient(b, fake.URL, store, nil, nil)
	ctx := context.Background()
	if _, err := client.Tenant(testTenant, testToken).Ticket(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, _, err := store.Get(ctx, testTenant)
		if err != nil || res == nil {
			b.Fatal(res, err)
		}
	}
}

// hideSubscribe is the store without its Subscribe method, so that a
// benchmark can make Clients by the thousand without subscribing each.
type hideSubscribe struct{ sysuser.TicketStore }

// BenchmarkRedisHitNewClient is a new replica's first Ticket for a tenant
// another replica exchanged: NewClient, then Ticket adopts the stored
// ticket (Get, decrypt) without an exchange.
func BenchmarkRedisHitNewClient(b *testing.B) {
	r := startRedis(b)
	fake := newFake(b, nil)
	store := newStore(b, newRedisClient(b, r.Addr()), nil)
	app, _, _ := testKeys(b)
	signer, err := sysuser.NewSigner(app)
	if err != nil {
		b.Fatal(err)
	}
	cfg := sysuser.Config{LoginURL: fake.URL, ApplicationToken: testAppToken, Signer: signer, Store: hideSubscribe{store}}
	ctx := context.Background()
	first, err := sysuser.NewClient(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer first.Close()
	if _, err := first.Tenant(testTenant, testToken).Ticket(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c, err := sysuser.NewClient(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Tenant(testTenant, testToken).Ticket(ctx); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	b.StopTimer()
	if n := fake.ExchangeCount(testTenant); n != 1 {
		b.Fatalf("%d exchanges, want 1", n)
	}
}

// benchClock is a clock the benchmark moves by hand.
type benchClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *benchClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *benchClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// BenchmarkExchangesPerRefreshThreeReplicas makes three replicas, each
// with its own Redis connection and store, renew one tenant's ticket: each
// iteration moves their clock past RefreshAge, asks all three, and waits
// until all three hold the new ticket. exchanges/refresh is what the fake
// login service saw per renewal (1 is the goal; 3 would be no sharing).
func BenchmarkExchangesPerRefreshThreeReplicas(b *testing.B) {
	r := startRedis(b)
	clock := &benchClock{now: time.Now()}
	fake := newFake(b, clock.Now)
	const refreshAge = time.Hour
	var tenants []*sysuser.Tenant
	for range 3 {
		store := newStore(b, newRedisClient(b, r.Addr()), nil)
		c := newClient(b, fake.URL, store, nil, func(cfg *sysuser.Config) {
			cfg.Clock = clock.Now
			cfg.RefreshAge = refreshAge
			cfg.TicketLifetime = 6 * refreshAge
		})
		tenants = append(tenants, c.Tenant(testTenant, testToken))
	}
	ctx := context.Background()
	ticket := func(t *sysuser.Tenant) string {
		res, err := t.Ticket(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return res.Ticket
	}
	held := make([]string, len(tenants))
	for i, t := range tenants {
		held[i] = ticket(t)
	}
	start := fake.ExchangeCount(testTenant)
	b.ResetTimer()
	for b.Loop() {
		clock.Advance(refreshAge + time.Second)
		var wg sync.WaitGroup
		for i, t := range tenants {
			wg.Add(1)
			go func() {
				defer wg.Done()
				deadline := time.Now().Add(30 * time.Second)
				for {
					if tk := ticket(t); tk != held[i] {
						held[i] = tk
						return
					}
					if time.Now().After(deadline) {
						b.Error("a replica never got the renewed ticket")
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(fake.ExchangeCount(testTenant)-start)/float64(b.N), "exchanges/refresh")
}
