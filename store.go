package sysuser

import (
	"context"
	"time"
)

// A TicketStore shares tickets between the replicas of an application, so
// that the fleet makes one exchange per tenant per renewal instead of one
// per replica. Config.Store is optional: without one, each Client keeps its
// tickets in its own memory, which is all a single process needs.
//
// With a store, each Client still keeps an in-process copy of every ticket
// it uses, so a cached ticket costs the same either way; the store is
// touched only when a Client has no usable ticket of its own, when a ticket
// is due for renewal, and on Invalidate. Package
// github.com/go-superoffice/sysuser/redisstore implements it on Redis.
//
// How the Client uses a store, for a tenant it has no usable ticket for:
//
//  1. Get. A usable ticket there (another replica's) is adopted, with no
//     exchange.
//  2. Otherwise Lock, with a time to live of Config.ExchangeTimeout plus
//     5 s. The replica that gets the lease looks once more (the previous
//     holder may have stored its ticket and unlocked between the Get and
//     the Lock), exchanges, stores the result with Put under its lease,
//     and Unlocks.
//  3. A replica that does not get the lease polls Get, with backoff, until
//     the holder's ticket appears or the lease is gone (its holder died:
//     the lease expired), and then starts again at 1. It waits at most two
//     lease times in all, then exchanges on its own as when the store
//     fails. Callers wait within their own ctx all along.
//
// What a shared store must guarantee:
//
//   - Get returns what the last successful Put stored for the tenant, or a
//     nil result after CompareAndDelete removed it or after its expiry
//     passed (returning an expired entry is allowed: the Client checks).
//     Put replaces the entry as a whole.
//   - Lock is a lease: at most one holder per tenant at a time across all
//     replicas, for at most ttl, identified by a value unique to this
//     acquisition (a random token). A lease whose holder dies expires.
//   - Put with a lease stores only while that lease is still held (fencing):
//     a holder that stalled past its lease cannot overwrite the ticket of
//     the replica that took over. Put with an empty lease (a Client that
//     exchanged on its own because the store failed) stores only if the
//     tenant has no entry newer than res (by ReceivedAt).
//   - Unlock releases the lease only if it is still the given one
//     (compare-and-delete), never another holder's.
//   - CompareAndDelete removes the entry only if its ticket is still the
//     given one, atomically, so that many replicas seeing the same rejected
//     ticket cause one new exchange, not one per replica.
//   - Tickets are as secret as the application token: encrypted at rest,
//     never logged.
//
// Every method takes the caller's ctx and must return when it ends. The
// Client never calls the store while holding a lock of its own. Any error
// from the store is logged at Warn and the Client carries on without it:
// a failing store never fails a caller, it only costs exchanges.
//
// A store may also tell Clients that a ticket was invalidated elsewhere, so
// that they drop their in-process copy at once instead of at their next 401:
// if it has a method
//
//	Subscribe(func(contextIdentifier, ticket string))
//
// NewClient calls it once with a function that drops the Client's copy of
// that tenant's ticket if it is still that ticket. Every ticket a Client
// holds came through its store's Get or Put, so a store that publishes
// only a keyed hash of the invalidated ticket can find the ticket among
// those it saw.
type TicketStore interface {
	// Get returns the tenant's stored result and when it stops being
	// usable, or a nil result when there is none.
	Get(ctx context.Context, contextIdentifier string) (res *SystemUserResult, expires time.Time, err error)
	// Lock tries to take the tenant's exchange lease for ttl. It returns
	// the lease, or "" when another replica holds it.
	Lock(ctx context.Context, contextIdentifier string, ttl time.Duration) (lease string, err error)
	// Put stores res as the tenant's result until expires, if lease is
	// still held (see the fencing rule above).
	Put(ctx context.Context, contextIdentifier, lease string, res *SystemUserResult, expires time.Time) error
	// Unlock releases the lease if it is still held.
	Unlock(ctx context.Context, contextIdentifier, lease string) error
	// CompareAndDelete removes the tenant's entry if its ticket is ticket,
	// and reports whether it did.
	CompareAndDelete(ctx context.Context, contextIdentifier, ticket string) (bool, error)
}

// invalidationSource is the optional method of a TicketStore described in
// its doc.
type invalidationSource interface {
	Subscribe(func(contextIdentifier, ticket string))
}
