package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/redisstore"
	"github.com/redis/go-redis/v9"
)

func TestNewRefusesBadOptions(t *testing.T) {
	rdb := newRedisClient(t, "127.0.0.1:1") // never dialled: New talks to no one
	secret := make([]byte, 32)
	one := []redisstore.Key{{ID: "a", Secret: secret}}
	cases := []struct {
		name    string
		rdb     redis.UniversalClient
		opts    redisstore.Options
		wantErr string
	}{
		{name: "nil client", opts: redisstore.Options{Keys: one}, wantErr: "the Redis client is nil"},
		{name: "no keys", rdb: rdb, wantErr: "Options.Keys is empty"},
		{name: "short secret", rdb: rdb, opts: redisstore.Options{Keys: []redisstore.Key{{ID: "a", Secret: secret[:16]}}},
			wantErr: "the secret is 16 bytes, want 32"},
		{name: "empty id", rdb: rdb, opts: redisstore.Options{Keys: []redisstore.Key{{Secret: secret}}}, wantErr: "the id must be"},
		{name: "id with a space", rdb: rdb, opts: redisstore.Options{Keys: []redisstore.Key{{ID: "a b", Secret: secret}}},
			wantErr: "the id must be"},
		{name: "id twice", rdb: rdb, opts: redisstore.Options{Keys: append(one, one...)}, wantErr: "id a appears twice"},
		{name: "prefix with {", rdb: rdb, opts: redisstore.Options{Keys: one, Prefix: "x{"}, wantErr: "must not contain '{' or '}'"},
		{name: "negative timeout", rdb: rdb, opts: redisstore.Options{Keys: one, Timeout: -1}, wantErr: "must not be negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := redisstore.New(c.rdb, c.opts)
			if err == nil {
				s.Close()
				t.Fatal("New accepted it")
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("err = %v, want it to say %q", err, c.wantErr)
			}
		})
	}
}

func TestStoreRoundTrip(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r.Addr())
	s := newStore(t, rdb, nil)
	ctx := context.Background()
	if res, _, err := s.Get(ctx, testTenant); res != nil || err != nil {
		t.Fatalf("Get on an empty store = %v, %v", res, err)
	}
	now := time.Now()
	want := result(testTenant, "7T:round-trip", now)
	expires := now.Add(time.Hour)
	if err := s.Put(ctx, testTenant, "", want, expires); err != nil {
		t.Fatal(err)
	}
	got, gotExpires, err := s.Get(ctx, testTenant)
	if err != nil || got == nil {
		t.Fatalf("Get = %v, %v", got, err)
	}
	if !gotExpires.Equal(expires.Truncate(time.Millisecond)) {
		t.Errorf("expires = %v, want %v", gotExpires, expires)
	}
	if !got.ReceivedAt.Equal(want.ReceivedAt) || !got.IssuedAt.Equal(want.IssuedAt) {
		t.Errorf("times did not round-trip: %v %v", got.ReceivedAt, got.IssuedAt)
	}
	got.ReceivedAt, got.IssuedAt, got.ExpiresAt = want.ReceivedAt, want.IssuedAt, want.ExpiresAt
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get = %#v\nwant %#v", *got, *want)
	}
	ttl := rdb.PTTL(ctx, "sysuser:{"+testTenant+"}:ticket").Val()
	if ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("the entry's TTL is %v, want about an hour", ttl)
	}
}

func TestLockIsALease(t *testing.T) {
	r := startRedis(t)
	a := newStore(t, newRedisClient(t, r.Addr()), nil)
	b := newStore(t, newRedisClient(t, r.Addr()), nil)
	ctx := context.Background()
	la, err := a.Lock(ctx, testTenant, 300*time.Millisecond)
	if err != nil || la == "" {
		t.Fatalf("Lock = %q, %v", la, err)
	}
	if lb, err := b.Lock(ctx, testTenant, time.Minute); lb != "" || err != nil {
		t.Fatalf("a second Lock = %q, %v; want \"\" while the first holds", lb, err)
	}
	if lo, err := b.Lock(ctx, "Cust99999", time.Minute); lo == "" || err != nil {
		t.Fatalf("Lock of another tenant = %q, %v", lo, err)
	}
	// Unlock with a value that is not the lease leaves the lease alone.
	if err := b.Unlock(ctx, testTenant, "not-the-lease"); err != nil {
		t.Fatal(err)
	}
	if lb, _ := b.Lock(ctx, testTenant, time.Minute); lb != "" {
		t.Fatal("Unlock with another value released the lease")
	}
	if err := a.Unlock(ctx, testTenant, la); err != nil {
		t.Fatal(err)
	}
	lb, err := b.Lock(ctx, testTenant, 300*time.Millisecond)
	if err != nil || lb == "" || lb == la {
		t.Fatalf("Lock after Unlock = %q, %v", lb, err)
	}
	// A lease whose holder died expires.
	time.Sleep(400 * time.Millisecond)
	if la2, _ := a.Lock(ctx, testTenant, time.Minute); la2 == "" {
		t.Fatal("the lease did not expire")
	}
	if _, err := a.Lock(ctx, testTenant, 0); err == nil {
		t.Error("Lock accepted a zero ttl")
	}
}

// A holder whose lease expired cannot overwrite the ticket of the replica
// that took over; an unleased Put never replaces a newer ticket.
func TestFencingExpiredHolderCannotOverwrite(t *testing.T) {
	r := startRedis(t)
	stalled := newStore(t, newRedisClient(t, r.Addr()), nil)
	other := newStore(t, newRedisClient(t, r.Addr()), nil)
	ctx := context.Background()
	old, err := stalled.Lock(ctx, testTenant, 200*time.Millisecond)
	if err != nil || old == "" {
		t.Fatal(old, err)
	}
	time.Sleep(300 * time.Millisecond) // the holder stalls past its lease
	lease, err := other.Lock(ctx, testTenant, time.Minute)
	if err != nil || lease == "" {
		t.Fatal("the expired lease could not be taken over", err)
	}
	now := time.Now()
	if err := other.Put(ctx, testTenant, lease, result(testTenant, "7T:newer", now), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	err = stalled.Put(ctx, testTenant, old, result(testTenant, "7T:stalled", now.Add(time.Second)), now.Add(time.Hour))
	if !errors.Is(err, redisstore.ErrLeaseLost) {
		t.Fatalf("Put under an expired lease = %v, want ErrLeaseLost", err)
	}
	if strings.Contains(err.Error(), "7T:") || strings.Contains(err.Error(), old) {
		t.Errorf("the error carries a secret: %v", err)
	}
	if err := stalled.Unlock(ctx, testTenant, old); err != nil {
		t.Fatal(err)
	}
	if l, _ := stalled.Lock(ctx, testTenant, time.Minute); l != "" {
		t.Fatal("the stalled holder's Unlock released the new holder's lease")
	}
	if got, _, _ := stalled.Get(ctx, testTenant); got == nil || got.Ticket != "7T:newer" {
		t.Fatalf("after the stalled Put, Get = %v", got)
	}
	// Put without a lease: not over a newer entry, but over an older one.
	if err := stalled.Put(ctx, testTenant, "", result(testTenant, "7T:older", now.Add(-time.Minute)), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := stalled.Get(ctx, testTenant); got.Ticket != "7T:newer" {
		t.Fatal("an unleased Put replaced a newer ticket")
	}
	if err := stalled.Put(ctx, testTenant, "", result(testTenant, "7T:later", now.Add(time.Minute)), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := stalled.Get(ctx, testTenant); got.Ticket != "7T:later" {
		t.Fatal("an unleased Put of a later ticket was not stored")
	}
}

// A lease with no expiry, or with more time left than a lease is given, is
// broken: Lock takes it over, with the ttl it asked. A lease another
// replica holds within its ttl is respected.
func TestBrokenLeaseIsTakenOver(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r.Addr())
	var logs logRecorder
	s := newStore(t, rdb, logs.logger())
	ctx := context.Background()
	key := "sysuser:{" + testTenant + "}:lease"
	cases := []struct {
		name  string
		plant func()
	}{
		{name: "no expiry", plant: func() { rdb.Set(ctx, key, "stuck", 0) }},
		{name: "absurd expiry", plant: func() { rdb.Set(ctx, key, "stuck", 24*time.Hour) }},
		{name: "not a string", plant: func() { rdb.SAdd(ctx, key, "stuck") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rdb.Del(ctx, key)
			c.plant()
			warned := logs.count("WARN", "took over", "tenant="+testTenant)
			lease, err := s.Lock(ctx, testTenant, time.Minute)
			if err != nil || lease == "" {
				t.Fatalf("Lock = %q, %v; want the lease taken over", lease, err)
			}
			if ttl := rdb.PTTL(ctx, key).Val(); ttl <= 0 || ttl > time.Minute {
				t.Errorf("the lease taken over has ttl %s", ttl)
			}
			if got := rdb.Get(ctx, key).Val(); got != lease {
				t.Errorf("the lease key holds %q, not the lease Lock returned", got)
			}
			if n := logs.count("WARN", "took over", "tenant="+testTenant) - warned; n != 1 {
				t.Errorf("%d warnings, want 1:\n%s", n, logs.all())
			}
		})
	}
	rdb.Del(ctx, key)
	held, _ := s.Lock(ctx, testTenant, time.Minute)
	if again, err := s.Lock(ctx, testTenant, time.Minute); again != "" || err != nil || held == "" {
		t.Fatalf("a held lease: Lock = %q, %v", again, err)
	}
}

// A malformed entry (a key of another type, a field that is not a number)
// is a miss for its tenant, and never pauses the store for the others.
func TestMalformedEntriesAreMissesForTheirTenantOnly(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r.Addr())
	var logs logRecorder
	s := newStore(t, rdb, logs.logger())
	ctx := context.Background()
	now := time.Now()
	ticketKey := func(tenant string) string { return "sysuser:{" + tenant + "}:ticket" }
	leaseKey := func(tenant string) string { return "sysuser:{" + tenant + "}:lease" }

	cases := []struct {
		name  string
		plant func(tenant string)
	}{
		{name: "ticket key is a string", plant: func(tenant string) { rdb.Set(ctx, ticketKey(tenant), "x", time.Hour) }},
		{name: "ticket key is a list", plant: func(tenant string) { rdb.RPush(ctx, ticketKey(tenant), "x") }},
		{name: "expiry not a number", plant: func(tenant string) {
			s.Put(ctx, tenant, "", result(tenant, "7T:a", now), now.Add(time.Hour))
			rdb.HSet(ctx, ticketKey(tenant), "x", "soon")
		}},
		{name: "receipt time not a number", plant: func(tenant string) {
			s.Put(ctx, tenant, "", result(tenant, "7T:a", now), now.Add(time.Hour))
			rdb.HSet(ctx, ticketKey(tenant), "r", "yesterday")
		}},
		{name: "lease key is a hash", plant: func(tenant string) { rdb.HSet(ctx, leaseKey(tenant), "a", "b") }},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tenant := fmt.Sprintf("Cust%d", 500+i)
			c.plant(tenant)
			if res, _, err := s.Get(ctx, tenant); res != nil || err != nil {
				t.Fatalf("Get = %v, %v; want a miss", res, err)
			}
			if ok, err := s.CompareAndDelete(ctx, tenant, "7T:a"); err != nil {
				t.Fatalf("CompareAndDelete = %v, %v", ok, err)
			}
			lease, err := s.Lock(ctx, tenant, time.Minute)
			if err != nil || lease == "" {
				t.Fatalf("Lock = %q, %v", lease, err)
			}
			if err := s.Put(ctx, tenant, lease, result(tenant, "7T:b", now), now.Add(time.Hour)); err != nil {
				t.Fatalf("Put over it: %v", err)
			}
			if err := s.Unlock(ctx, tenant, lease); err != nil {
				t.Fatalf("Unlock: %v", err)
			}
			if res, _, err := s.Get(ctx, tenant); err != nil || res == nil || res.Ticket != "7T:b" {
				t.Fatalf("after the Put: Get = %v, %v", res, err)
			}
			// An unleased Put over a planted entry.
			c.plant(tenant)
			if err := s.Put(ctx, tenant, "", result(tenant, "7T:c", now.Add(time.Second)), now.Add(time.Hour)); err != nil {
				t.Fatalf("unleased Put over it: %v", err)
			}
			// The store did not pause: another tenant is served at once.
			if err := s.Put(ctx, testTenant, "", result(testTenant, "7T:other", now), now.Add(time.Hour)); err != nil {
				t.Fatalf("another tenant after a malformed entry: %v", err)
			}
			if _, _, err := s.Get(ctx, testTenant); errors.Is(err, redisstore.ErrUnavailable) || err != nil {
				t.Fatalf("another tenant after a malformed entry: %v", err)
			}
		})
	}
}

// missOnce is a store whose first Get misses, as when another replica
// stores its ticket and unlocks between a replica's Get and its Lock.
type missOnce struct {
	*redisstore.Store
	missed atomic.Bool
}

func (m *missOnce) Get(ctx context.Context, tenant string) (*sysuser.SystemUserResult, time.Time, error) {
	if m.missed.CompareAndSwap(false, true) {
		return nil, time.Time{}, nil
	}
	return m.Store.Get(ctx, tenant)
}

// The replica that gets the lease looks once more before exchanging: the
// previous holder may have stored its ticket and unlocked in between.
func TestLeaseTakerLooksAgainBeforeExchanging(t *testing.T) {
	r := startRedis(t)
	fake := newFake(t, nil)
	ctx := context.Background()
	first := newClient(t, fake.URL, newStore(t, newRedisClient(t, r.Addr()), nil), nil, nil)
	want, err := first.Tenant(testTenant, testToken).Ticket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	late := &missOnce{Store: newStore(t, newRedisClient(t, r.Addr()), nil)}
	second := newClient(t, fake.URL, late, nil, nil)
	got, err := second.Tenant(testTenant, testToken).Ticket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !late.missed.Load() || got.Ticket != want.Ticket || fake.ExchangeCount(testTenant) != 1 {
		t.Fatalf("the second replica exchanged (%d exchanges) instead of adopting the stored ticket", fake.ExchangeCount(testTenant))
	}
}

// With Redis gone or hanging, store methods fail fast and the Client
// exchanges on its own: no caller sees an error.
func TestRedisDownOrHangingNeverFailsACaller(t *testing.T) {
	requireRedis(t)
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downAddr := down.Addr().String()
	down.Close() // nothing listens there

	fake := newFake(t, nil)
	cases := []struct {
		name string
		addr string
	}{
		{name: "down", addr: downAddr},
		{name: "hanging", addr: newHangingServer(t)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rdb := newRedisClient(t, c.addr)
			s, err := redisstore.New(rdb, redisstore.Options{Keys: []redisstore.Key{testKey("k1")}, Timeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() }) // after the Client's Close, registered below
			ctx := context.Background()
			start := time.Now()
			if _, _, err := s.Get(ctx, testTenant); err == nil {
				t.Fatal("Get succeeded without Redis")
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Get took %v to fail", d)
			}
			start = time.Now()
			if _, err := s.Lock(ctx, testTenant, time.Minute); !errors.Is(err, redisstore.ErrUnavailable) {
				t.Errorf("Lock right after a failure = %v, want ErrUnavailable", err)
			}
			if d := time.Since(start); d > 50*time.Millisecond {
				t.Errorf("Lock right after a failure took %v", d)
			}
			var logs logRecorder
			start = time.Now()
			client := newClient(t, fake.URL, s, logs.logger(), nil) // subscribes
			if d := time.Since(start); d > 200*time.Millisecond {
				t.Errorf("NewClient waited %v for Redis", d)
			}
			start = time.Now()
			res, err := client.Tenant(testTenant, testToken).Ticket(ctx)
			if err != nil || res.Ticket == "" {
				t.Fatalf("Ticket = %v, %v", res, err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Ticket took %v", d)
			}
			if logs.count("WARN", "ticket store get failed", "tenant="+testTenant) == 0 {
				t.Errorf("no warning logged:\n%s", logs.all())
			}
			if strings.Contains(logs.all(), res.Ticket) {
				t.Error("a log record carries the ticket")
			}
		})
	}
}

// A Redis Cluster (here one node owning every slot) refuses scripts whose
// keys are in different slots: the hash tag keeps a tenant's in one.
func TestClusterClient(t *testing.T) {
	r := startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	ctx := context.Background()
	plain := newRedisClient(t, r.Addr())
	if err := plain.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", "0", "16383").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the cluster is up", func() bool {
		info, _ := plain.ClusterInfo(ctx).Result()
		return strings.Contains(info, "cluster_state:ok")
	})
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{r.Addr()}, ContextTimeoutEnabled: true, ReadTimeout: 500 * time.Millisecond})
	t.Cleanup(func() { cc.Close() }) // after the store's Close, registered below
	s := newStore(t, cc, nil)
	now := time.Now()
	lease, err := s.Lock(ctx, testTenant, time.Minute)
	if err != nil || lease == "" {
		t.Fatal(lease, err)
	}
	if err := s.Put(ctx, testTenant, lease, result(testTenant, "7T:cluster", now), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(ctx, testTenant, lease); err != nil {
		t.Fatal(err)
	}
	calls := make(chan string, 1)
	s.Subscribe(func(_, ticket string) { calls <- ticket })
	if got, _, err := s.Get(ctx, testTenant); err != nil || got == nil || got.Ticket != "7T:cluster" {
		t.Fatalf("Get = %v, %v", got, err)
	}
	eventually(t, "the subscriber listens", func() bool {
		n, _ := plain.PubSubNumSub(ctx, "sysuser:invalidations").Result()
		return n["sysuser:invalidations"] == 1
	})
	if ok, err := s.CompareAndDelete(ctx, testTenant, "7T:cluster"); !ok || err != nil {
		t.Fatalf("CompareAndDelete = %v, %v", ok, err)
	}
	select {
	case got := <-calls:
		if got != "7T:cluster" {
			t.Fatal("wrong ticket invalidated")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no invalidation through the cluster")
	}
	var _ sysuser.TicketStore = s
}

// After Close, every method that talks to Redis fails with an error
// matching net.ErrClosed and reaches Redis no more: a stored ticket is not
// returned, a free lease is not taken, nothing is written or deleted.
func TestClosedStoreFails(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r.Addr())
	s := newStore(t, rdb, nil)
	ctx := context.Background()
	now := time.Now()
	if err := s.Put(ctx, testTenant, "", result(testTenant, "7T:before-close", now), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	entry := rdb.HGetAll(ctx, "sysuser:{"+testTenant+"}:ticket").Val()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("a second Close = %v", err)
	}
	cases := []struct {
		name string
		call func() error
	}{
		{name: "Get", call: func() error {
			res, _, err := s.Get(ctx, testTenant)
			if res != nil {
				t.Error("Get returned the stored result")
			}
			return err
		}},
		{name: "Lock", call: func() error {
			lease, err := s.Lock(ctx, "Cust99999", time.Minute)
			if lease != "" {
				t.Error("Lock took a lease")
			}
			return err
		}},
		{name: "Put", call: func() error {
			return s.Put(ctx, testTenant, "", result(testTenant, "7T:after-close", now.Add(time.Second)), now.Add(time.Hour))
		}},
		{name: "Unlock", call: func() error { return s.Unlock(ctx, testTenant, "some-lease") }},
		{name: "CompareAndDelete", call: func() error {
			ok, err := s.CompareAndDelete(ctx, testTenant, "7T:before-close")
			if ok {
				t.Error("CompareAndDelete reported a delete")
			}
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("err = %v, want one matching net.ErrClosed", err)
			}
			if strings.Contains(err.Error(), "7T:") {
				t.Errorf("the error carries a ticket: %v", err)
			}
		})
	}
	if got := rdb.HGetAll(ctx, "sysuser:{"+testTenant+"}:ticket").Val(); !reflect.DeepEqual(got, entry) {
		t.Error("the entry changed after Close")
	}
	if n := rdb.Exists(ctx, "sysuser:{Cust99999}:lease").Val(); n != 0 {
		t.Error("a lease was taken after Close")
	}
	if stop := s.Subscribe(func(string, string) {}); stop() || redisstore.Subscribers(s) != 0 {
		t.Error("Subscribe registered a function after Close")
	}
}

// A nil Options.Logger logs nothing, not even to slog.Default; a Logger
// given receives the same warning.
func TestNilLoggerLogsNothing(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r.Addr())
	ctx := context.Background()
	now := time.Now()
	if err := newStore(t, rdb, nil, testKey("k1")).Put(ctx, testTenant, "", result(testTenant, "7T:a", now), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var defaults logRecorder
	saved := slog.Default()
	slog.SetDefault(defaults.logger())
	t.Cleanup(func() { slog.SetDefault(saved) })

	var given logRecorder
	for _, logger := range []*slog.Logger{nil, given.logger()} {
		s, err := redisstore.New(rdb, redisstore.Options{Keys: []redisstore.Key{testKey("k2")}, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if res, _, err := s.Get(ctx, testTenant); res != nil || err != nil { // another key's entry: a miss, warned
			t.Fatalf("Get = %v, %v; want a miss", res, err)
		}
	}
	if n := given.count("WARN", "cannot be read"); n != 1 {
		t.Fatalf("the given Logger got %d warnings, want 1:\n%s", n, given.all())
	}
	if all := defaults.all(); all != "" {
		t.Errorf("with a nil Logger, slog.Default got:\n%s", all)
	}
}

// newHangingServer returns the address of a TCP server that accepts and
// reads but never answers, as a hung Redis does. It closes its listener
// and connections at cleanup, and waits for its goroutines.
func newHangingServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
		wg     sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(io.Discard, c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}
