package sysuser

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
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
//     the lease expired), and then starts again at 1. While it polls it
//     holds none of its MaxConcurrentExchanges slots, so other tenants'
//     exchanges go on. It polls for at most half of ExchangeTimeout, then
//     exchanges on its own within the other half, as when the store fails:
//     a lease that never ends (no expiry, or one far longer than asked)
//     costs each renewal of that tenant half an ExchangeTimeout, never a
//     caller's ticket. The whole of it, exchange included, stays within
//     ExchangeTimeout (the holder's Put and Unlock after its exchange get
//     up to 5 s more), and callers wait within their own ctx all along.
//
// What a shared store must guarantee:
//
//   - Get returns what the last successful Put stored for the tenant, or a
//     nil result after CompareAndDelete removed it or after its expiry
//     passed (returning an expired entry is allowed: the Client checks).
//     Put replaces the entry as a whole.
//   - Lock is a lease: at most one holder per tenant at a time across all
//     replicas, for at most ttl, identified by a value unique to this
//     acquisition (a random token). A lease whose holder dies expires. A
//     lease found with no expiry, or with more time left than the ttl
//     asked, is broken: the store takes it over (or returns an error).
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
// methods are called from many goroutines at once, by every Client sharing
// the store: an implementation must be safe for concurrent use. The
// Client never calls the store while holding a lock of its own. Any error
// from the store is logged at Warn and the Client carries on without it:
// a failing store never fails a caller, it only costs exchanges.
//
// A store may also tell Clients that a ticket was invalidated elsewhere, so
// that they drop their in-process copy at once instead of at their next 401:
// if it has a method
//
//	Subscribe(fn func(contextIdentifier, ticket string)) (stop func() bool)
//
// NewClient calls it once with a function that drops the Client's copy of
// that tenant's ticket if it is still that ticket, and Client.Close calls
// the stop it returned. As with context.AfterFunc, stop unregisters fn and
// reports whether this call did so (false if it was already stopped); a
// call of fn for a message the store was already delivering may still run
// after stop returns, none later, and the store lets go of fn. fn may run
// on any goroutine, concurrently with itself. Every ticket a Client holds came
// through its store's Get or Put, so a store that publishes only a keyed
// hash of the invalidated ticket can find the ticket among those it saw.
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
	Subscribe(fn func(contextIdentifier, ticket string)) (stop func() bool)
}

// storeLeaseMargin is how much longer than ExchangeTimeout a lease lasts:
// time for the holder's Put after its exchange, and the bound of that Put
// and of the Unlock.
const storeLeaseMargin = 5 * time.Second

// storePollMin and storePollMax bound the wait between two looks at a
// shared store while another replica exchanges.
const (
	storePollMin = 25 * time.Millisecond
	storePollMax = time.Second
)

// exchangeSlot is one of the Client's MaxConcurrentExchanges slots, held
// by a flight. obtain lets go of it while it waits for another replica and
// takes it again before exchanging.
type exchangeSlot struct {
	slots chan struct{}
	held  bool
}

// release gives the slot back, if held.
func (s *exchangeSlot) release() {
	if s.held {
		<-s.slots
		s.held = false
	}
}

// acquire takes a slot within ctx, if not held.
func (s *exchangeSlot) acquire(ctx context.Context) error {
	if s.held {
		return nil
	}
	select {
	case s.slots <- struct{}{}:
		s.held = true
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sysuser: waiting for an exchange slot: %w", ctx.Err())
	}
}

// obtain gets a new ticket for the tenant: from the shared store when
// another replica has one, else by an exchange under the store's lease (see
// TicketStore), else, without a store or when it fails, by an exchange of
// this Client's own. prev is the entry being renewed, if any. ctx is the
// flight's, bounded by ExchangeTimeout; slot is the flight's exchange slot,
// held on entry, let go while waiting for another replica, and held again
// before any exchange.
func (c *Client) obtain(ctx context.Context, contextIdentifier, systemUserToken string, prev *entry, slot *exchangeSlot) (res *SystemUserResult, adopted bool, err error) {
	if c.store == nil {
		res, err = c.Exchange(ctx, contextIdentifier, systemUserToken)
		return res, false, err
	}
	warn := func(op string, err error) {
		c.storeFailed(ctx, contextIdentifier, op, err, true)
		c.log.LogAttrs(ctx, slog.LevelWarn, "sysuser: ticket store "+op+" failed; exchanging without it",
			slog.String("tenant", contextIdentifier), slog.String("error", err.Error()))
	}
	// Store calls and the wait for another replica get the first half of
	// ctx's time; an exchange of this Client's own the rest.
	wctx, cancel := context.WithTimeout(ctx, waitBudget(ctx, c.exchangeTimeout))
	defer cancel()
	ttl := c.exchangeTimeout + storeLeaseMargin
	wait := storePollMin
	for {
		shared, expires, err := c.store.Get(wctx, contextIdentifier)
		if err != nil {
			warn("get", err)
			break
		}
		if c.adoptable(shared, expires, prev) {
			return shared, true, nil
		}
		lease, err := c.store.Lock(wctx, contextIdentifier, ttl)
		if err != nil {
			warn("lock", err)
			break
		}
		if lease != "" {
			return c.obtainLeased(ctx, contextIdentifier, systemUserToken, prev, slot, lease)
		}
		// Another replica is exchanging: look again shortly, without
		// holding a slot other tenants' exchanges could use.
		slot.release()
		if err := sleep(wctx, wait/2+rand.N(wait/2+1)); err != nil {
			c.storeFailed(ctx, contextIdentifier, "wait", err, true)
			c.log.LogAttrs(ctx, slog.LevelWarn, "sysuser: another replica's exchange did not finish in time; exchanging without the store",
				slog.String("tenant", contextIdentifier), slog.Duration("waited", waitBudget(ctx, c.exchangeTimeout)))
			break
		}
		wait = min(2*wait, storePollMax)
	}
	if err := slot.acquire(ctx); err != nil {
		return nil, false, err
	}
	res, err = c.Exchange(ctx, contextIdentifier, systemUserToken)
	if err == nil {
		c.storePut(ctx, contextIdentifier, "", res, slog.LevelDebug)
	}
	return res, false, err
}

// obtainLeased runs the lease holder's part: look once more, else take a
// slot and exchange, store the result, and let the lease go.
func (c *Client) obtainLeased(ctx context.Context, contextIdentifier, systemUserToken string, prev *entry, slot *exchangeSlot, lease string) (res *SystemUserResult, adopted bool, err error) {
	// The previous holder may have stored its ticket and let go between
	// the Get and the Lock: look once more.
	shared, expires, gerr := c.store.Get(ctx, contextIdentifier)
	if gerr == nil && c.adoptable(shared, expires, prev) {
		res, adopted = shared, true
	} else if err = slot.acquire(ctx); err == nil {
		res, err = c.Exchange(ctx, contextIdentifier, systemUserToken)
		if err == nil {
			c.storePut(ctx, contextIdentifier, lease, res, slog.LevelWarn)
		}
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeLeaseMargin)
	defer cancel()
	if uerr := c.store.Unlock(uctx, contextIdentifier, lease); uerr != nil {
		c.storeFailed(ctx, contextIdentifier, "unlock", uerr, false)
		c.log.LogAttrs(ctx, slog.LevelWarn, "sysuser: ticket store unlock failed", slog.String("tenant", contextIdentifier), slog.String("error", uerr.Error()))
	}
	return res, adopted, err
}

// storePut stores a new ticket, within storeLeaseMargin even when ctx has
// run out (the ticket is worth sharing), and logs a failure at level.
func (c *Client) storePut(ctx context.Context, contextIdentifier, lease string, res *SystemUserResult, level slog.Level) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeLeaseMargin)
	defer cancel()
	if err := c.store.Put(pctx, contextIdentifier, lease, res, res.ReceivedAt.Add(c.lifetime)); err != nil {
		c.storeFailed(ctx, contextIdentifier, "put", err, false)
		c.log.LogAttrs(ctx, level, "sysuser: ticket store put failed", slog.String("tenant", contextIdentifier), slog.String("error", err.Error()))
	}
}

// waitBudget is how long obtain may spend on the store before exchanging on
// its own: half of what is left of ctx, or of ExchangeTimeout.
func waitBudget(ctx context.Context, exchangeTimeout time.Duration) time.Duration {
	left := exchangeTimeout
	if d, ok := ctx.Deadline(); ok {
		left = min(left, time.Until(d))
	}
	return max(left/2, 0)
}

// adoptable reports whether a ticket from the shared store may replace
// prev: it is not prev's ticket, and it is fresh.
func (c *Client) adoptable(res *SystemUserResult, expires time.Time, prev *entry) bool {
	if res == nil || res.Ticket == "" || (prev != nil && prev.res.Ticket == res.Ticket) {
		return false
	}
	now := c.now()
	if !now.Before(expires) {
		return false
	}
	return c.sliding || now.Before(res.ReceivedAt.Add(c.refreshAge))
}
