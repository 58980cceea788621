package sysuser

import (
	"context"
	"errors"
	"time"
)

// An Observer is told what a Client does, for metrics and traces: its
// exchanges and their retries, state lookups, new tickets, the WebApi
// transport's 401 and 421 retries, ticket store failures, tenants entering
// and leaving the cache, and state-change notifications. Package
// github.com/go-superoffice/sysuser/otelsysuser makes one that records
// them with OpenTelemetry.
//
// Each field is optional; a nil field is not called, and a Client without
// an Observer only checks for nil. The cached Ticket path calls none of
// them. Hooks run on the Client's goroutines, some while a caller waits,
// so they must be quick and safe for concurrent use. An Event never holds
// a secret (no ticket, token or key); its Err is one of the Client's
// errors, which carry none either.
type Observer struct {
	// ExchangeStart is called when an exchange begins (Client.Exchange, or
	// one that Tenant.Ticket runs for its callers, in a goroutine under
	// the first caller's ctx without its cancellation). The context it
	// returns, ctx or one derived from it (carrying a span, say), is the
	// exchange's: its requests are made with it, and ExchangeRetry and
	// ExchangeDone get it. Event: Tenant, Protocol, Renewal.
	ExchangeStart func(ctx context.Context, e Event) context.Context
	// ExchangeRetry is called when an attempt failed transiently and the
	// exchange waits before the next. Event: Tenant, Protocol, Renewal,
	// Attempt (the attempt that failed), Wait, StatusCode (the HTTP status
	// of the failure, 0 for a network error), Err.
	ExchangeRetry func(ctx context.Context, e Event)
	// ExchangeDone is called when an exchange ends. Event: Tenant,
	// Protocol, Renewal, Attempt (attempts made), Duration, Err (nil on
	// success).
	ExchangeDone func(ctx context.Context, e Event)
	// NewTicket is called when a tenant gets a new ticket on the Ticket
	// path, by an exchange or from the Config.Store. Event: Tenant,
	// Renewal, Adopted, Duration (from the start of the shared exchange,
	// store waits included).
	NewTicket func(ctx context.Context, e Event)
	// StatusStart is called when a state API lookup begins, in a goroutine
	// under the first asker's ctx without its cancellation. The context it
	// returns is the lookup's, as with ExchangeStart. Event: Tenant.
	StatusStart func(ctx context.Context, e Event) context.Context
	// StatusDone is called when a state API lookup ends. Event: Tenant,
	// State (on success), Duration, Err.
	StatusDone func(ctx context.Context, e Event)
	// TransportRetry is called when the transport of Tenant.Transport sends
	// a request again: after a 401 with a new ticket, or after a 421 to the
	// tenant's new host. Event: Tenant, StatusCode (401 or 421).
	TransportRetry func(ctx context.Context, e Event)
	// StoreError is called when a Config.Store call fails. Event: Tenant,
	// Op ("get", "lock", "put", "unlock" or "delete"; "wait" when another
	// replica's lease outlasted the wait for it), Fallback (the Client
	// exchanges without the store because of it), Err.
	StoreError func(ctx context.Context, e Event)
	// TenantCache is called when a tenant enters the Client's cache (Cached
	// true: a handle or a notification named it) or leaves it (Cached
	// false: a sweep dropped it, idle). Event: Tenant, Cached.
	TenantCache func(ctx context.Context, e Event)
	// Notification is called for each request to the StateChangeHandler,
	// before it answers. Event: StatusCode (the handler's answer: 200, or
	// the 4xx or 503 it refused with); for a verified notification (200)
	// also Tenant, Change and Applied (false for one issued before one
	// already applied, which changes nothing). A refused request's tenant
	// is not reported: nothing vouches for it.
	Notification func(ctx context.Context, e Event)
}

// An Event is what an Observer hook is told. Each hook's doc names the
// fields it sets; the others are zero.
type Event struct {
	// Tenant is the tenant's context identifier, such as "Cust12345".
	Tenant string
	// Protocol is the exchange's protocol.
	Protocol Protocol
	// Renewal is true for an exchange or new ticket that renews a ticket
	// still being handed out, in the background.
	Renewal bool
	// Attempt is the attempt that failed (ExchangeRetry) or the attempts
	// made (ExchangeDone).
	Attempt int
	// Wait is the wait before the next attempt.
	Wait time.Duration
	// Duration is how long the exchange, lookup or ticket took.
	Duration time.Duration
	// Adopted is true for a ticket another replica stored (Config.Store),
	// taken without an exchange.
	Adopted bool
	// State is the tenant's state.
	State State
	// StatusCode is an HTTP status code.
	StatusCode int
	// Op is the ticket store operation that failed.
	Op string
	// Fallback is true when a store failure makes the Client exchange
	// without the store.
	Fallback bool
	// Cached is true when a tenant entered the cache, false when it left.
	Cached bool
	// Change is a state-change notification's change ("Suspend", ...).
	Change string
	// Applied is true for a notification that acted on the Client.
	Applied bool
	// Err is the failure, or nil.
	Err error
}

// renewalKey marks the context of a renewal's exchange, for its Observer
// events; it is set only when the Client has an Observer.
type renewalKey struct{}

// exchangeObs follows one exchange for the Observer; nil without one.
type exchangeObs struct {
	o        *Observer
	ev       Event
	attempts int
}

// observeExchange starts following an exchange, and returns the ctx to run
// it with.
func (c *Client) observeExchange(ctx context.Context, contextIdentifier string) (context.Context, *exchangeObs) {
	renewal, _ := ctx.Value(renewalKey{}).(bool)
	x := &exchangeObs{o: c.obs, ev: Event{Tenant: contextIdentifier, Protocol: c.protocol, Renewal: renewal}}
	if x.o.ExchangeStart != nil {
		if xctx := x.o.ExchangeStart(ctx, x.ev); xctx != nil {
			ctx = xctx
		}
	}
	return ctx, x
}

// attempt records that an attempt is being made.
func (x *exchangeObs) attempt() {
	if x != nil {
		x.attempts++
	}
}

// retry reports a failed attempt the exchange will retry after wait.
func (x *exchangeObs) retry(ctx context.Context, attempt int, wait time.Duration, err error) {
	if x == nil || x.o.ExchangeRetry == nil {
		return
	}
	e := x.ev
	e.Attempt, e.Wait, e.Err = attempt, wait, err
	var he *HTTPError
	if errors.As(err, &he) {
		e.StatusCode = he.StatusCode
	}
	x.o.ExchangeRetry(ctx, e)
}

// done reports the exchange's end.
func (x *exchangeObs) done(ctx context.Context, d time.Duration, err error) {
	if x.o.ExchangeDone == nil {
		return
	}
	e := x.ev
	e.Attempt, e.Duration, e.Err = x.attempts, d, err
	x.o.ExchangeDone(ctx, e)
}

// storeFailed reports a failed ticket store call to the Observer.
func (c *Client) storeFailed(ctx context.Context, contextIdentifier, op string, err error, fallback bool) {
	if c.obs != nil && c.obs.StoreError != nil {
		c.obs.StoreError(ctx, Event{Tenant: contextIdentifier, Op: op, Fallback: fallback, Err: err})
	}
}
