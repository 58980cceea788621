package sysuser

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
)

// A Tenant is a Client's handle on one tenant: it hands out the tenant's
// system user ticket, cached and renewed, and an HTTP client for the
// tenant's WebApi. Make one per tenant with Client.Tenant and keep it; it is
// safe for concurrent use and costs nothing while unused.
//
// The system user token sits behind an unexported pointer to a string:
// printing a Tenant, with any verb, shows addresses, never the token.
type Tenant struct {
	c     *Client
	st    atomic.Pointer[tenantState]
	token *string // the system user token; see hidden
	seq   uint64  // when the handle was made, among the Client's handles
	err   error   // a bad argument to Client.Tenant, reported by Ticket
}

// Tenant returns the handle for the tenant contextIdentifier (such as
// "Cust12345"), whose system user token is systemUserToken. Handles for the
// same tenant share one cache, one exchange at a time and one ticket.
// Invalid arguments are reported by the handle's Ticket, as errors matching
// ErrInvalidArgument.
//
// A tenant has one system user token at a time: when the tenant's
// administrator approves the application again, SuperOffice hands it a new
// one. So the newest handle's token is the tenant's: every handle of the
// tenant, older ones included, exchanges with the token given to the most
// recent Client.Tenant call for it, and a refusal that another token
// earned is forgotten when a handle brings a different token.
func (c *Client) Tenant(contextIdentifier, systemUserToken string) *Tenant {
	t := &Tenant{c: c, token: hidden(systemUserToken), seq: c.handles.Add(1)}
	t.err = checkContextIdentifier(contextIdentifier)
	if t.err == nil && systemUserToken == "" {
		t.err = argError("system user token is empty")
	}
	if t.err != nil {
		t.st.Store(&tenantState{id: contextIdentifier}) // never cached or exchanged
	} else {
		st := c.state(contextIdentifier)
		c.offerToken(st, t)
		t.st.Store(st)
	}
	return t
}

// ContextIdentifier returns the tenant's id, as given to Client.Tenant.
func (t *Tenant) ContextIdentifier() string { return t.st.Load().id }

// Ticket returns a valid ticket for the tenant: from the cache while it is
// fresh, exchanging the system user token only when needed.
//
//   - A ticket younger than Config.RefreshAge is returned as it is, without
//     locks or allocation: one read of the clock checks its age.
//   - An older one, still within Config.TicketLifetime, is returned while
//     one exchange renews it in the background.
//   - With no usable ticket, callers wait for one shared exchange; each
//     caller's ctx bounds only its own wait, and the exchange runs on under
//     its own timeout (Config.ExchangeTimeout) for the others. A caller
//     whose ctx is already done starts nothing.
//   - After a failure, callers get that error, without a new exchange, until
//     a backoff passes (with jitter; 30 s after a refusal).
//
// No call returns a ticket past its TicketLifetime (with SlidingExpiry, idle
// for its TicketLifetime) by the wall clock when the call is made, also
// after the process was stopped and continued or the machine suspended:
// the timers that renew tickets fire late then, so every call reads the
// clock. The result is shared by all callers: treat it as read-only.
func (t *Tenant) Ticket(ctx context.Context) (*SystemUserResult, error) {
	if e := t.st.Load().cur.Load(); e != nil && e.fresh.Load() && e.serves(t.c, time.Now().UnixNano()) {
		if t.c.sliding && !e.used.Load() {
			e.used.Store(true)
		}
		return e.res, nil
	}
	return t.c.ticket(ctx, t)
}

// WebAPIURL returns the tenant's WebApi base URL, ending in "/api/": the
// one SuperOffice names for the tenant now, which is the webapi_url claim
// of the current ticket, or the state API's Api when that is newer (after
// SuperOffice moved the tenant; see Status and Transport). Build request
// URLs on it: WebAPIURL + "v1/Contact/2". A base the application kept from
// before a move keeps working through Transport.
func (t *Tenant) WebAPIURL(ctx context.Context) (string, error) {
	res, err := t.Ticket(ctx)
	if err != nil {
		return "", err
	}
	if b := t.st.Load().where.base.Load(); b != nil {
		return b.raw, nil
	}
	return res.WebAPIURL, nil
}

// Invalidate drops the tenant's cached ticket if it is still ticket, for
// example after the WebApi answered 401 to it, here and in the shared
// store. A ticket that was already replaced is left alone, so a burst of
// 401s for one ticket costs one new exchange. It reports whether it dropped
// anything. The transport calls it itself.
func (t *Tenant) Invalidate(ctx context.Context, ticket string) bool {
	st := t.liveState()
	dropped := st.dropLocal(ticket)
	if t.c.store != nil && t.err == nil {
		ok, err := t.c.store.CompareAndDelete(ctx, st.id, ticket)
		if err != nil {
			t.c.storeFailed(ctx, st.id, "delete", err, false)
			t.c.log.LogAttrs(ctx, slog.LevelWarn, "sysuser: ticket store delete failed", slog.String("tenant", st.id), slog.String("error", err.Error()))
		}
		dropped = dropped || ok
	}
	if dropped {
		t.c.log.LogAttrs(ctx, slog.LevelInfo, "sysuser: ticket invalidated", slog.String("tenant", st.id))
	}
	return dropped
}

// Transport returns an http.RoundTripper that calls the tenant's WebApi as
// its system user, sending through base (nil means http.DefaultTransport).
// See HTTPClient for what it does to each request.
func (t *Tenant) Transport(base http.RoundTripper) http.RoundTripper {
	return &transport{tenant: t, base: base}
}

// webAPITimeout bounds each request of the *http.Client Tenant.HTTPClient
// returns, from dialling to reading the body's end.
const webAPITimeout = 2 * time.Minute

// HTTPClient returns an *http.Client for the tenant's WebApi, through
// Transport(nil), with an overall timeout of 2 minutes per request. Each
// request gets
//
//	Authorization: SOTicket <ticket>
//	SO-AppToken: <application token>
//
// with the ticket from Ticket, replacing any Authorization or SO-AppToken
// the caller set: a request through it is the system user's. The
// credentials go only to the tenant's WebApi: a request whose scheme, host
// and port are not those of its webapi_url fails with ErrNotWebAPI before
// anything is sent, and so does a redirect away from it. When the WebApi
// answers 401 Unauthorized, the ticket is invalidated and the request
// retried once with a new one, if its body can be replayed (it has none, or
// GetBody is set, as http.NewRequest does for common bodies); otherwise the
// 401 is returned. The caller's request is never modified.
//
// It sends through http.DefaultTransport, shared with the rest of the
// process: Client.Close does not close its idle connections (they close
// after the transport's 90 s idle timeout). To own them, or for another
// timeout, build the client yourself:
//
//	&http.Client{Transport: t.Transport(base), Timeout: d}
func (t *Tenant) HTTPClient() *http.Client {
	return &http.Client{Transport: t.Transport(nil), Timeout: webAPITimeout}
}

// liveState returns the tenant's state, looking it up again if a sweep
// dropped the one the handle had.
func (t *Tenant) liveState() *tenantState {
	st := t.st.Load()
	if t.err != nil {
		return st
	}
	for {
		st.mu.Lock()
		dead := st.dead
		st.mu.Unlock()
		if !dead {
			return st
		}
		next := t.c.state(st.id)
		t.c.offerToken(next, t)
		t.st.CompareAndSwap(st, next)
		st = t.st.Load()
	}
}

// checkContextIdentifier refuses an empty or unprintable tenant id.
func checkContextIdentifier(id string) error {
	if id == "" {
		return argError("context identifier is empty (want a tenant id such as Cust12345)")
	}
	if len(id) > 128 || strings.IndexFunc(id, func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' }) >= 0 {
		return argError("context identifier %q is not a tenant id such as Cust12345", id[:min(len(id), 64)])
	}
	return nil
}
