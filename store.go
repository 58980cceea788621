package sysuser

import (
	"context"
	"sync"
	"time"
)

// A TicketStore keeps each tenant's current ticket for a Client. The
// default, a MemoryStore, keeps them in this process; a store shared by
// several replicas (Redis, a database) can take its place without any change
// to callers.
//
// A shared store must guarantee:
//   - Get returns what the last Put stored for the tenant, or nil after a
//     CompareAndDelete removed it, or after expires has passed (returning an
//     expired entry is allowed: the Client checks expires itself).
//   - Put replaces the tenant's entry as a whole: a Get never sees the
//     result of one Put with the expiry of another.
//   - CompareAndDelete is atomic: it removes the entry only if its ticket is
//     still the given one, so that many replicas seeing the same rejected
//     ticket cause one new exchange, not one per replica.
//   - It keeps tickets as secret as the application token: encrypted at
//     rest and in transit, never logged.
//
// Get is on every request's path: it must be fast, and should not allocate.
// The Client treats a Get error as a miss and a Put error as a lost entry,
// logging both. Methods must be safe for concurrent use.
type TicketStore interface {
	// Get returns the tenant's stored result and when it stops being
	// usable, or a nil result when there is none.
	Get(ctx context.Context, contextIdentifier string) (res *SystemUserResult, expires time.Time, err error)
	// Put stores res as the tenant's current result until expires.
	Put(ctx context.Context, contextIdentifier string, res *SystemUserResult, expires time.Time) error
	// CompareAndDelete removes the tenant's entry if its ticket is ticket,
	// and reports whether it did.
	CompareAndDelete(ctx context.Context, contextIdentifier, ticket string) (bool, error)
}

// MemoryStore is the in-process TicketStore. Get takes no lock and
// allocates nothing. The zero value is ready to use.
type MemoryStore struct {
	m sync.Map // context identifier → *memEntry (immutable once stored)
}

type memEntry struct {
	res     *SystemUserResult
	expires time.Time
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// Get implements TicketStore.
func (s *MemoryStore) Get(_ context.Context, contextIdentifier string) (*SystemUserResult, time.Time, error) {
	v, ok := s.m.Load(contextIdentifier)
	if !ok {
		return nil, time.Time{}, nil
	}
	e := v.(*memEntry)
	return e.res, e.expires, nil
}

// Put implements TicketStore.
func (s *MemoryStore) Put(_ context.Context, contextIdentifier string, res *SystemUserResult, expires time.Time) error {
	s.m.Store(contextIdentifier, &memEntry{res: res, expires: expires})
	return nil
}

// CompareAndDelete implements TicketStore.
func (s *MemoryStore) CompareAndDelete(_ context.Context, contextIdentifier, ticket string) (bool, error) {
	v, ok := s.m.Load(contextIdentifier)
	if !ok || v.(*memEntry).res.Ticket != ticket {
		return false, nil
	}
	return s.m.CompareAndDelete(contextIdentifier, v), nil
}

// Len returns the number of tenants stored.
func (s *MemoryStore) Len() int {
	n := 0
	s.m.Range(func(_, _ any) bool { n++; return true })
	return n
}
