package sysuser_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
)

// memStore is a TicketStore in memory, kept to the contract in
// TicketStore's doc, with a lease that can be stuck (held by a replica that
// never lets go) for chosen tenants, and the optional Subscribe.
type memStore struct {
	mu      sync.Mutex
	entries map[string]memEntry
	leases  map[string]string
	stuck   map[string]bool
	locks   map[string]int      // Lock calls per tenant
	puts    map[string][]string // the lease of each Put, per tenant
	subs    map[int]func(contextIdentifier, ticket string)
	nextSub int
}

type memEntry struct {
	res     *sysuser.SystemUserResult
	expires time.Time
}

func newMemStore() *memStore {
	return &memStore{entries: map[string]memEntry{}, leases: map[string]string{}, stuck: map[string]bool{},
		locks: map[string]int{}, puts: map[string][]string{}, subs: map[int]func(string, string){}}
}

func (s *memStore) Get(ctx context.Context, id string) (*sysuser.SystemUserResult, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[id]
	return e.res, e.expires, ctx.Err()
}

func (s *memStore) Lock(ctx context.Context, id string, ttl time.Duration) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.locks[id]++
	if s.stuck[id] || s.leases[id] != "" {
		return "", ctx.Err()
	}
	b := make([]byte, 8)
	rand.Read(b)
	s.leases[id] = hex.EncodeToString(b)
	return s.leases[id], ctx.Err()
}

func (s *memStore) Put(ctx context.Context, id, lease string, res *sysuser.SystemUserResult, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts[id] = append(s.puts[id], lease)
	if lease != "" && s.leases[id] != lease {
		return nil
	}
	if old := s.entries[id]; lease == "" && old.res != nil && !old.res.ReceivedAt.Before(res.ReceivedAt) {
		return nil
	}
	s.entries[id] = memEntry{res, expires}
	return ctx.Err()
}

func (s *memStore) Unlock(ctx context.Context, id, lease string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leases[id] == lease {
		delete(s.leases, id)
	}
	return ctx.Err()
}

func (s *memStore) CompareAndDelete(ctx context.Context, id, ticket string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.entries[id]; e.res != nil && e.res.Ticket == ticket {
		delete(s.entries, id)
		return true, ctx.Err()
	}
	return false, ctx.Err()
}

func (s *memStore) Subscribe(fn func(contextIdentifier, ticket string)) (stop func() bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nextSub
	s.nextSub++
	s.subs[n] = fn
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, ok := s.subs[n]
		delete(s.subs, n)
		return ok
	}
}

func (s *memStore) count(m map[string]int, id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return m[id]
}

// A lease that never ends (another replica's, with no expiry) used to keep
// a replica polling for two lease times while it held one of its exchange
// slots, stalling every other cold tenant. Now the wait holds no slot, ends
// within half of ExchangeTimeout, and the tenant still gets its ticket,
// within ExchangeTimeout.
func TestStuckLeaseStallsNothing(t *testing.T) {
	const exchangeTimeout = 4 * time.Second
	store := newMemStore()
	env := newTestEnv(t, nil, func(c *sysuser.Config) {
		c.Store, c.MaxConcurrentExchanges, c.ExchangeTimeout = store, 1, exchangeTimeout
	})
	env.fake.AddTenant("Cust2", "token-2")
	store.stuck[testTenant] = true

	type outcome struct {
		res *sysuser.SystemUserResult
		err error
	}
	stuck := make(chan outcome, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), exchangeTimeout)
		defer cancel()
		res, err := env.client.Tenant(testTenant, testUserToken).Ticket(ctx)
		stuck <- outcome{res, err}
	}()
	eventually(t, "the stuck tenant polls the lease", func() bool { return store.count(store.locks, testTenant) >= 2 })

	// Another tenant, cold, gets its ticket at once from the one slot.
	ctx, cancel := context.WithTimeout(context.Background(), exchangeTimeout/4)
	defer cancel()
	if _, err := env.client.Tenant("Cust2", "token-2").Ticket(ctx); err != nil {
		t.Fatalf("another tenant while one waits for a stuck lease: %v", err)
	}
	select {
	case o := <-stuck:
		t.Fatalf("the stuck tenant finished before the other: %v", o.err)
	default:
	}

	// The stuck tenant gets a ticket of its own within its ctx, and offers
	// it to the store without a lease.
	o := <-stuck
	if o.err != nil || o.res == nil {
		t.Fatalf("the tenant behind a stuck lease: %v", o.err)
	}
	store.mu.Lock()
	puts := store.puts[testTenant]
	store.mu.Unlock()
	if len(puts) != 1 || puts[0] != "" {
		t.Fatalf("puts for the stuck tenant: %q, want one without a lease", puts)
	}
}

// Client.Close stops the store's invalidation callback: five rounds of
// NewClient and Close leave none.
func TestCloseStopsTheStoreSubscription(t *testing.T) {
	store := newMemStore()
	env := newTestEnv(t, nil, func(c *sysuser.Config) { c.Store = store })
	for range 5 {
		c := mustClient(t, env.cfg)
		store.mu.Lock()
		n := len(store.subs)
		store.mu.Unlock()
		if n != 2 {
			t.Fatalf("%d callbacks with two Clients open, want 2", n)
		}
		c.Close()
	}
	env.client.Close()
	store.mu.Lock()
	n := len(store.subs)
	store.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d callbacks left after every Client closed", n)
	}
}
