package sysuser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Backoff after a failed exchange: transient failures start at
// minBackoff and double up to maxBackoff, with jitter; a refusal
// (*AuthenticationError) or an invalid token waits refusalBackoff, since
// asking again at once will not change SuperOffice's answer.
const (
	minBackoff     = time.Second
	maxBackoff     = 5 * time.Minute
	refusalBackoff = 30 * time.Second
	sweepInterval  = time.Minute
	// maxNegatives bounds how many tenants' failures are remembered at once
	// (the negative cache). Past it a failure is not remembered, so the
	// next caller tries again, still bounded by MaxConcurrentExchanges.
	maxNegatives = 10000
)

// tenantState is one tenant's cache: the current ticket, read without
// locks, and what coordinates its renewal.
type tenantState struct {
	id  string
	cur atomic.Pointer[entry]

	mu       sync.Mutex // guards the fields below; never held across I/O
	flight   *flight
	retryAt  time.Time // no new attempt before this, after a failure
	lastErr  error
	failures int
	paused   bool    // lastErr is a *TenantNotRunningError: look the state up before exchanging
	token    *string // the system user token of the newest handle (see Client.Tenant)
	tokenSeq uint64  // that handle's Tenant.seq
	dead     bool    // removed by a sweep: look the tenant up again

	where whereabouts // where the tenant lives, whether it runs (status.go)
}

// entry is one ticket in a tenantState. It is immutable but for its atomic
// fields.
type entry struct {
	st        *tenantState
	res       *SystemUserResult
	refreshAt time.Time // renew from then on (not with SlidingExpiry)
	expiresAt time.Time // never hand out from then on (not with SlidingExpiry)
	until     int64     // refreshAt by the wall clock, in Unix nanoseconds

	// fresh is the cached path's first test. With the real clock a timer
	// clears it when the entry needs a closer look (renewal due, or, with
	// SlidingExpiry, possibly idle too long); with Config.Clock it is never
	// set, and every call takes the slow path, which reads Config.Clock.
	// Timers run late when the process was stopped and continued, and by
	// the time the machine was suspended, so the cached path also reads the
	// wall clock: see serves.
	fresh atomic.Bool
	// With SlidingExpiry: used is set by each use and collected by the
	// timer; lastUse (Unix nanoseconds) is a lower bound of the last use.
	used    atomic.Bool
	lastUse atomic.Int64
	timer   atomic.Pointer[time.Timer]
}

// serves is the cached path's second test: whether e may be handed out at
// wall, the wall clock in Unix nanoseconds. It holds wherever the timers
// stand: a process stopped (SIGSTOP, a frozen container) runs on for a
// moment after it continues before its overdue timers fire, and the
// monotonic clock that drives them does not advance while the machine is
// suspended, so fresh alone can stay set for as long as the process or the
// machine slept.
func (e *entry) serves(c *Client, wall int64) bool {
	if c.sliding {
		// lastUse is a lower bound of the last use: the ticket has been
		// idle for at most wall-lastUse.
		return wall < e.lastUse.Load()+int64(c.lifetime)
	}
	return wall < e.until
}

// stop stops the entry's timer.
func (e *entry) stop() {
	if t := e.timer.Load(); t != nil {
		t.Stop()
	}
}

// flight is one shared exchange; done closes when res and err are set.
type flight struct {
	done chan struct{}
	res  *SystemUserResult
	err  error
}

// phase is where an entry stands at a given time.
type phase int

const (
	phaseFresh   phase = iota // hand it out
	phaseRenew                // hand it out and renew it in the background
	phaseExpired              // do not hand it out
)

func (c *Client) phase(e *entry, now time.Time) phase {
	if c.sliding {
		if !now.Before(time.Unix(0, e.lastUse.Load()).Add(c.lifetime)) {
			return phaseExpired
		}
		return phaseFresh
	}
	switch {
	case reached(now, e.expiresAt):
		return phaseExpired
	case reached(now, e.refreshAt):
		return phaseRenew
	}
	return phaseFresh
}

// reached reports whether now is at or past t by the monotonic clock or by
// the wall clock, whichever is further: the monotonic clock does not
// advance while the machine is suspended, and the wall clock can be set
// back.
func reached(now, t time.Time) bool {
	return !now.Before(t) || !now.Round(0).Before(t)
}

// state returns the tenant's state, creating it if needed.
func (c *Client) state(contextIdentifier string) *tenantState {
	if v, ok := c.tenants.Load(contextIdentifier); ok {
		return v.(*tenantState)
	}
	v, loaded := c.tenants.LoadOrStore(contextIdentifier, &tenantState{id: contextIdentifier})
	if !loaded {
		c.armSweeper()
		if c.obs != nil && c.obs.TenantCache != nil {
			c.obs.TenantCache(context.Background(), Event{Tenant: contextIdentifier, Cached: true})
		}
	}
	return v.(*tenantState)
}

// ticket is the slow path of Tenant.Ticket: it reads the clock, and
// renews or waits as the tenant's entry requires.
func (c *Client) ticket(ctx context.Context, t *Tenant) (*SystemUserResult, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	st := t.liveState()
	now := c.now()
	if e := st.cur.Load(); e != nil {
		switch c.phase(e, now) {
		case phaseFresh:
			c.touch(e, now)
			return e.res, nil
		case phaseRenew:
			c.renew(ctx, st, st.systemUserToken(), now)
			return e.res, nil
		}
	}
	if t.err != nil {
		return nil, t.err
	}
	return c.await(ctx, st, st.systemUserToken())
}

// offerToken makes t's token the tenant's if t is newer than the handle
// whose token it has. A different token forgets a failure the previous one
// earned (a pause, which is about the tenant, stays).
func (c *Client) offerToken(st *tenantState, t *Tenant) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.token != nil && t.seq <= st.tokenSeq {
		return
	}
	changed := st.token != nil && *st.token != *t.token
	st.token, st.tokenSeq = t.token, t.seq
	if changed && st.lastErr != nil && !st.paused {
		c.negatives.Add(-1)
		st.lastErr, st.retryAt, st.failures = nil, time.Time{}, 0
	}
}

// systemUserToken returns the tenant's system user token.
func (st *tenantState) systemUserToken() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return *st.token
}

// touch records a use of a ticket whose lifetime slides, and puts it back
// on the cached path if a timer took it off.
func (c *Client) touch(e *entry, now time.Time) {
	if !c.sliding {
		return
	}
	if e.lastUse.Load() < now.UnixNano() {
		e.lastUse.Store(now.UnixNano())
	}
	if c.clock == nil && e.timer.Load() != nil {
		e.fresh.Store(true)
	}
}

// renew starts a background exchange for a tenant whose ticket is due for
// renewal, unless one is running, a backoff is in force or no exchange slot
// is free (the ticket is still good; a later call tries again).
func (c *Client) renew(ctx context.Context, st *tenantState, systemUserToken string, now time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.flight != nil || now.Before(st.retryAt) || ctx.Err() != nil {
		return
	}
	select {
	case c.slots <- struct{}{}:
	default:
		return
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "sysuser: renewing ticket", slog.String("tenant", st.id))
	st.flight = c.launch(ctx, st, systemUserToken, true)
}

// await waits for the tenant's shared exchange, starting it if needed. An
// exchange needs one of the Client's slots: the caller waits for it within
// its own ctx, and a caller whose ctx is done starts nothing.
func (c *Client) await(ctx context.Context, st *tenantState, systemUserToken string) (*SystemUserResult, error) {
	haveSlot := false
	defer func() {
		if haveSlot {
			<-c.slots
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sysuser: waiting for a ticket for %s: %w", st.id, err)
		}
		st.mu.Lock()
		f := st.flight
		if f == nil {
			now := c.now()
			if e := st.cur.Load(); e != nil && c.phase(e, now) != phaseExpired {
				st.mu.Unlock() // a flight finished since the caller looked
				return e.res, nil
			}
			if st.lastErr != nil && now.Before(st.retryAt) {
				err := st.lastErr
				st.mu.Unlock()
				return nil, err
			}
			if haveSlot {
				f = c.launch(ctx, st, systemUserToken, false)
				st.flight, haveSlot = f, false // the flight releases the slot
			}
		}
		st.mu.Unlock()
		if f != nil {
			select {
			case <-f.done:
				if f.err == nil && f.res != nil && reached(c.now(), f.res.ReceivedAt.Add(c.lifetime)) {
					// The exchange finished before the process was
					// stopped or the machine suspended, and its ticket
					// is past its lifetime now: look again.
					continue
				}
				return f.res, f.err
			case <-ctx.Done():
				return nil, fmt.Errorf("sysuser: waiting for a ticket for %s: %w", st.id, ctx.Err())
			}
		}
		// No flight: take a slot, then look again (another caller may
		// have launched one meanwhile).
		select {
		case c.slots <- struct{}{}:
			haveSlot = true
		case <-ctx.Done():
			return nil, fmt.Errorf("sysuser: waiting for an exchange slot for %s: %w", st.id, ctx.Err())
		}
	}
}

// launch runs one exchange for the tenant in its own goroutine, under a
// context that keeps ctx's values but not its cancellation, and bounded by
// ExchangeTimeout. The caller holds st.mu and a slot, which the flight
// releases when done.
func (c *Client) launch(ctx context.Context, st *tenantState, systemUserToken string, background bool) *flight {
	f := &flight{done: make(chan struct{})}
	prev := st.cur.Load()
	wasPaused := st.paused
	xctx := context.WithoutCancel(ctx)
	if c.obs != nil {
		xctx = context.WithValue(xctx, renewalKey{}, background)
	}
	go func() {
		slot := &exchangeSlot{slots: c.slots, held: true}
		defer slot.release()
		ctx, cancel := context.WithTimeout(xctx, c.exchangeTimeout)
		defer cancel()
		start := time.Now()
		var res *SystemUserResult
		var adopted bool
		var err error
		if !c.stillPaused(ctx, st, wasPaused) {
			res, adopted, err = c.obtain(ctx, st.id, systemUserToken, prev, slot)
			if err != nil {
				c.consultStatus(ctx, st)
			}
		}
		now := c.now()
		if err == nil && res != nil {
			c.install(st, res, now)
			c.log.LogAttrs(ctx, slog.LevelInfo, "sysuser: new ticket", slog.String("tenant", st.id), slog.Bool("renewal", background),
				slog.Bool("from_store", adopted), slog.Duration("duration", time.Since(start)))
			if c.obs != nil && c.obs.NewTicket != nil {
				c.obs.NewTicket(ctx, Event{Tenant: st.id, Renewal: background, Adopted: adopted, Duration: time.Since(start)})
			}
		}
		st.mu.Lock()
		switch {
		case st.paused:
			// The tenant does not run (see pause); a ticket that arrived
			// meanwhile is not handed out.
			if e := st.cur.Load(); e != nil && res != nil && e.res == res && st.cur.CompareAndSwap(e, nil) {
				e.stop()
			}
			res, err = nil, st.lastErr
		case err == nil:
			if st.lastErr != nil {
				c.negatives.Add(-1)
			}
			st.failures, st.retryAt, st.lastErr = 0, time.Time{}, nil
		default:
			st.failures++
			wait := backoff(st.failures, err)
			st.retryAt = now.Add(wait)
			switch {
			case st.lastErr != nil:
				st.lastErr = err
			case c.negatives.Load() < maxNegatives:
				c.negatives.Add(1)
				st.lastErr = err
			default:
				st.retryAt = time.Time{} // not remembered: the next caller tries
			}
			msg := "sysuser: ticket exchange failed"
			if background {
				msg = "sysuser: ticket renewal failed; still serving the current ticket"
			}
			c.log.LogAttrs(ctx, slog.LevelWarn, msg,
				slog.String("tenant", st.id), slog.Int("failures", st.failures),
				slog.Duration("retry_in", wait), slog.String("error", err.Error()))
		}
		st.flight = nil
		st.mu.Unlock()
		f.res, f.err = res, err
		close(f.done)
		c.sweep(now)
	}()
	return f
}

// install makes res the tenant's current ticket and, with the real clock,
// arms the timer that ends its time on the cached path.
func (c *Client) install(st *tenantState, res *SystemUserResult, now time.Time) {
	c.setBase(st, res.WebAPIURL, res.ReceivedAt)
	e := &entry{st: st, res: res, refreshAt: res.ReceivedAt.Add(c.refreshAge), expiresAt: res.ReceivedAt.Add(c.lifetime)}
	e.until = e.refreshAt.UnixNano()
	// The exchange is the ticket's first use: a process stopped between
	// it and now must not stretch the ticket's idle time.
	lastUse := now
	if r := res.ReceivedAt; !r.IsZero() && r.Before(now) {
		lastUse = r
	}
	e.lastUse.Store(lastUse.UnixNano())
	if old := st.cur.Swap(e); old != nil {
		old.stop()
	}
	if c.clock != nil || c.closed.Load() {
		return // every call reads Config.Clock; no timer
	}
	if c.sliding {
		c.armSliding(e, now)
	} else if d := e.refreshAt.Sub(now); d > 0 {
		e.fresh.Store(true)
		e.timer.Store(time.AfterFunc(d, func() { e.fresh.Store(false) }))
	}
}

// armSliding keeps e on the cached path while it may still be in use.
// Every interval the timer collects the used flag: a use since the last
// check happened after it, so the last check is a lower bound of the last
// use, and the estimate errs early by at most one interval. When the
// ticket may be idle for nearly its lifetime, the timer takes it off the
// cached path, and the slow path, which reads the clock, decides. The
// timer runs until the entry is replaced, invalidated or swept.
func (c *Client) armSliding(e *entry, now time.Time) {
	interval := max(c.lifetime/8, 10*time.Millisecond)
	e.fresh.Store(true)
	last := now
	var check func()
	check = func() {
		now := time.Now()
		if e.used.Swap(false) && e.lastUse.Load() < last.UnixNano() {
			e.lastUse.Store(last.UnixNano())
		}
		last = now
		e.fresh.Store(now.Add(interval).Before(time.Unix(0, e.lastUse.Load()).Add(c.lifetime)))
		if !c.closed.Load() && e.st.cur.Load() == e {
			e.timer.Store(time.AfterFunc(interval, check))
		}
	}
	e.timer.Store(time.AfterFunc(interval, check))
}

// backoff is how long to wait after the n-th failure in a row.
func backoff(n int, err error) time.Duration {
	var ae *AuthenticationError
	if errors.As(err, &ae) || errors.Is(err, ErrInvalidToken) {
		return refusalBackoff
	}
	d := minBackoff << min(n-1, 16)
	if d > maxBackoff || d <= 0 {
		d = maxBackoff
	}
	// Full jitter in [d/2, d).
	return d/2 + rand.N(d/2)
}

// dropLocal removes the tenant's in-process ticket if it is still ticket.
func (st *tenantState) dropLocal(ticket string) bool {
	e := st.cur.Load()
	if e == nil || e.res.Ticket != ticket || !st.cur.CompareAndSwap(e, nil) {
		return false
	}
	e.stop()
	return true
}

// invalidatedElsewhere is what a shared store calls when another replica
// invalidated a ticket.
func (c *Client) invalidatedElsewhere(contextIdentifier, ticket string) {
	if v, ok := c.tenants.Load(contextIdentifier); ok && v.(*tenantState).dropLocal(ticket) {
		c.log.LogAttrs(context.Background(), slog.LevelDebug, "sysuser: ticket invalidated by another replica", slog.String("tenant", contextIdentifier))
	}
}

// armSweeper makes sure a sweep runs within sweepInterval, with or without
// traffic, while the Client has tenants.
func (c *Client) armSweeper() {
	c.sweeperMu.Lock()
	defer c.sweeperMu.Unlock()
	if c.sweeper != nil || c.closed.Load() {
		return
	}
	c.sweeper = time.AfterFunc(c.sweepEvery, func() {
		c.sweep(c.now())
		c.sweeperMu.Lock()
		c.sweeper = nil
		c.sweeperMu.Unlock()
		empty := true
		c.tenants.Range(func(_, _ any) bool { empty = false; return false })
		if !empty {
			c.armSweeper()
		}
	})
}

// sweep drops, at most once per sweepInterval, the tickets past their
// lifetime and the state of tenants with nothing cached, pending or
// remembered, so the cache holds only tenants someone asked for recently.
// It reads only this Client's memory, never the store.
func (c *Client) sweep(now time.Time) {
	last := c.lastSweep.Load()
	if now.UnixNano()-last < int64(c.sweepEvery) || !c.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	c.tenants.Range(func(k, v any) bool {
		st := v.(*tenantState)
		if e := st.cur.Load(); e != nil && c.phase(e, now) == phaseExpired && st.cur.CompareAndSwap(e, nil) {
			e.stop()
		}
		dropped := false
		st.mu.Lock()
		if st.cur.Load() == nil && st.flight == nil && !now.Before(st.retryAt) {
			if st.lastErr != nil {
				c.negatives.Add(-1)
				st.lastErr = nil
			}
			st.dead = true
			dropped = c.tenants.CompareAndDelete(k, st)
		}
		st.mu.Unlock()
		if dropped && c.obs != nil && c.obs.TenantCache != nil {
			c.obs.TenantCache(context.Background(), Event{Tenant: st.id, Cached: false})
		}
		return true
	})
}
