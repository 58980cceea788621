package sysuser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Defaults for the ticket cache; see the Config fields of the same names.
const (
	// DefaultRefreshAge is how old a ticket gets before one caller renews it
	// (SuperOffice recommends renewing at least every hour).
	DefaultRefreshAge = time.Hour
	// DefaultTicketLifetime is how long a ticket is handed out at all:
	// SuperOffice's 6 hours less a 10 minute safety margin.
	DefaultTicketLifetime = 6*time.Hour - 10*time.Minute
	// DefaultExchangeTimeout bounds one shared exchange.
	DefaultExchangeTimeout = time.Minute
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
)

// tenantState coordinates exchanges for one tenant. The cached ticket
// itself lives in the TicketStore; this holds what is in flight and how the
// last attempt went.
type tenantState struct {
	mu       sync.Mutex
	flight   *flight
	retryAt  time.Time // no new attempt before this, after a failure
	lastErr  error
	failures int
	dead     bool // removed by a sweep: look the tenant up again
}

// flight is one shared exchange; done closes when res and err are set.
type flight struct {
	done chan struct{}
	res  *SystemUserResult
	err  error
}

// Ticket returns a valid ticket for the tenant: from the cache while it is
// fresh, exchanging systemUserToken only when needed.
//
//   - A ticket younger than Config.RefreshAge is returned as it is, without
//     locks or allocation.
//   - An older one, still within Config.TicketLifetime, is returned while
//     one exchange renews it in the background.
//   - With no usable ticket, callers wait for one shared exchange; each
//     caller's ctx bounds only its own wait, and the exchange runs on under
//     its own timeout (Config.ExchangeTimeout) for the others.
//   - After a failure, callers get that error, without a new exchange, until
//     a backoff passes (with jitter; 30 s after a refusal).
//
// No ticket is ever returned past its TicketLifetime. The result is shared
// by all callers: treat it as read-only. Tenants are told apart by
// contextIdentifier exactly as given; the system user token is only used
// when an exchange is needed.
func (c *Client) Ticket(ctx context.Context, systemUserToken, contextIdentifier string) (*SystemUserResult, error) {
	now := c.now()
	res, expires, err := c.store.Get(ctx, contextIdentifier)
	if err == nil && res != nil && now.Before(expires) {
		if now.Before(res.ReceivedAt.Add(c.refreshAge)) {
			return res, nil
		}
		c.refresh(ctx, systemUserToken, contextIdentifier, now)
		return res, nil
	}
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "sysuser: ticket store get failed", slog.String("tenant", contextIdentifier), slog.String("error", err.Error()))
	}
	return c.await(ctx, systemUserToken, contextIdentifier)
}

// WebAPIURL returns the tenant's WebApi base URL (the webapi_url claim,
// ending in "/api/"), from the cached ticket when there is one. Build
// request URLs on it: WebAPIURL + "v1/Contact/2".
func (c *Client) WebAPIURL(ctx context.Context, systemUserToken, contextIdentifier string) (string, error) {
	res, err := c.Ticket(ctx, systemUserToken, contextIdentifier)
	if err != nil {
		return "", err
	}
	return res.WebAPIURL, nil
}

// state returns the tenant's coordination state, creating it if needed.
func (c *Client) state(contextIdentifier string) *tenantState {
	if v, ok := c.tenants.Load(contextIdentifier); ok {
		return v.(*tenantState)
	}
	v, _ := c.tenants.LoadOrStore(contextIdentifier, &tenantState{})
	return v.(*tenantState)
}

// lockState returns the tenant's state, locked and not swept away.
func (c *Client) lockState(contextIdentifier string) *tenantState {
	for {
		st := c.state(contextIdentifier)
		st.mu.Lock()
		if !st.dead {
			return st
		}
		st.mu.Unlock()
	}
}

// refresh starts a background exchange for a tenant whose ticket is past
// its refresh age, unless one is running or a backoff is in force.
func (c *Client) refresh(ctx context.Context, systemUserToken, contextIdentifier string, now time.Time) {
	st := c.lockState(contextIdentifier)
	defer st.mu.Unlock()
	if st.flight == nil && !now.Before(st.retryAt) {
		c.log.LogAttrs(ctx, slog.LevelDebug, "sysuser: refreshing ticket", slog.String("tenant", contextIdentifier))
		st.flight = c.launch(ctx, st, systemUserToken, contextIdentifier, true)
	}
}

// await waits for the tenant's shared exchange, starting it if needed.
func (c *Client) await(ctx context.Context, systemUserToken, contextIdentifier string) (*SystemUserResult, error) {
	if err := checkContextIdentifier(contextIdentifier); err != nil {
		return nil, err
	}
	if systemUserToken == "" {
		return nil, argError("system user token is empty")
	}
	st := c.lockState(contextIdentifier)
	f := st.flight
	if f == nil {
		// A flight may have finished between the caller's Get and this lock.
		now := c.now()
		if res, expires, err := c.store.Get(ctx, contextIdentifier); err == nil && res != nil && now.Before(expires) {
			st.mu.Unlock()
			return res, nil
		}
		if st.lastErr != nil && now.Before(st.retryAt) {
			err := st.lastErr
			st.mu.Unlock()
			return nil, err
		}
		f = c.launch(ctx, st, systemUserToken, contextIdentifier, false)
		st.flight = f
	}
	st.mu.Unlock()
	select {
	case <-f.done:
		return f.res, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("sysuser: waiting for a ticket for %s: %w", contextIdentifier, ctx.Err())
	}
}

// launch runs one exchange for the tenant in its own goroutine, under a
// context that keeps ctx's values but not its cancellation. st.mu is held.
func (c *Client) launch(ctx context.Context, st *tenantState, systemUserToken, contextIdentifier string, background bool) *flight {
	f := &flight{done: make(chan struct{})}
	xctx := context.WithoutCancel(ctx)
	go func() {
		ctx, cancel := context.WithTimeout(xctx, c.exchangeTimeout)
		defer cancel()
		start := time.Now()
		res, err := c.Exchange(ctx, systemUserToken, contextIdentifier)
		now := c.now()
		if err == nil {
			if perr := c.store.Put(ctx, contextIdentifier, res, res.ReceivedAt.Add(c.lifetime)); perr != nil {
				c.log.LogAttrs(ctx, slog.LevelWarn, "sysuser: ticket store put failed", slog.String("tenant", contextIdentifier), slog.String("error", perr.Error()))
			}
			c.log.LogAttrs(ctx, slog.LevelInfo, "sysuser: new ticket", slog.String("tenant", contextIdentifier), slog.Bool("refresh", background),
				slog.Duration("duration", time.Since(start)))
		}
		st.mu.Lock()
		if err == nil {
			st.failures, st.retryAt, st.lastErr = 0, time.Time{}, nil
		} else {
			st.failures++
			wait := backoff(st.failures, err)
			st.retryAt, st.lastErr = now.Add(wait), err
			msg := "sysuser: ticket exchange failed"
			if background {
				msg = "sysuser: ticket refresh failed; still serving the current ticket"
			}
			c.log.LogAttrs(ctx, slog.LevelWarn, msg,
				slog.String("tenant", contextIdentifier), slog.Int("failures", st.failures),
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

// Invalidate drops the tenant's cached ticket if it is still ticket, for
// example after the WebApi answered 401 to it. A ticket that was already
// replaced is left alone, so a burst of 401s for one ticket costs one new
// exchange. It reports whether it dropped anything.
func (c *Client) Invalidate(contextIdentifier, ticket string) bool {
	ok, err := c.store.CompareAndDelete(context.Background(), contextIdentifier, ticket)
	if err != nil {
		c.log.LogAttrs(context.Background(), slog.LevelWarn, "sysuser: ticket store delete failed", slog.String("tenant", contextIdentifier), slog.String("error", err.Error()))
	}
	if ok {
		c.log.LogAttrs(context.Background(), slog.LevelInfo, "sysuser: ticket invalidated", slog.String("tenant", contextIdentifier))
	}
	return ok
}

// sweep drops, at most once per sweepInterval, the tickets past their
// lifetime and the state of tenants with nothing cached or pending, so the
// cache holds only tenants someone asked for within the ticket lifetime.
func (c *Client) sweep(now time.Time) {
	last := c.lastSweep.Load()
	if now.UnixNano()-last < int64(sweepInterval) || !c.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	ctx := context.Background()
	c.tenants.Range(func(k, v any) bool {
		id, st := k.(string), v.(*tenantState)
		res, expires, err := c.store.Get(ctx, id)
		if err != nil {
			return true
		}
		if res != nil && !now.Before(expires) {
			c.store.CompareAndDelete(ctx, id, res.Ticket)
			res = nil
		}
		if res == nil {
			st.mu.Lock()
			if st.flight == nil && !now.Before(st.retryAt) {
				st.dead = true
				c.tenants.CompareAndDelete(id, st)
			}
			st.mu.Unlock()
		}
		return true
	})
}
