package sysuser

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// transport is the http.RoundTripper of Tenant.Transport.
type transport struct {
	tenant *Tenant
	base   http.RoundTripper
}

// target returns where to send a request for u: u itself when it is on the
// tenant's WebApi origin now, or u re-targeted to that base when it was
// built on a base SuperOffice named for the tenant before (same path below
// the base, same query). Anything else is refused with ErrNotWebAPI.
func target(u *url.URL, st *tenantState, res *SystemUserResult) (*url.URL, *webAPIBase, error) {
	b := st.where.base.Load()
	if b == nil { // not installed by this Client (cannot happen on the Ticket path)
		b = parseBase(res.WebAPIURL, res.ReceivedAt)
	}
	if b.err != nil {
		return nil, nil, b.err
	}
	if u == nil {
		return nil, nil, fmt.Errorf("%w: request has no URL", ErrNotWebAPI)
	}
	if b.holds(u) {
		return u, b, nil
	}
	for _, p := range b.previous {
		if p.holds(u) {
			return retarget(u, p, b), b, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: request to %s://%s, but the tenant's WebApi is %s://%s", ErrNotWebAPI, u.Scheme, u.Host, b.scheme, b.hostPort)
}

// retarget moves u from the base from to the base to: the path below from's
// path (compared without regard to case) goes below to's; a path outside it
// is kept as it is, on to's origin.
func retarget(u *url.URL, from, to *webAPIBase) *url.URL {
	out := *u
	out.User = nil
	tu, _ := url.Parse(to.raw) // parsed before, in parseBase
	out.Scheme, out.Host = tu.Scheme, tu.Host
	esc := u.EscapedPath()
	if len(esc) >= len(from.path) && strings.EqualFold(esc[:len(from.path)], from.path) {
		esc = tu.EscapedPath() + esc[len(from.path):]
		if p, err := url.PathUnescape(esc); err == nil {
			out.Path, out.RawPath = p, esc
		}
	}
	return &out
}

// hostPort returns u's host with its port, the scheme's default made
// explicit.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.tenant.Ticket(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	st := t.tenant.st.Load()
	// The state lookups completed before this request, read before its
	// base: a 421 to it is news only if no lookup completed since.
	seen := st.where.gen.Load()
	u, _, err := target(req.URL, st, res)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.send(req, u, req.Body, res.Ticket)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return t.unauthorized(req, resp, res)
	case http.StatusMisdirectedRequest:
		return t.misdirected(req, resp, st, u, res.Ticket, seen)
	case http.StatusServiceUnavailable:
		return t.unavailable(req, resp, st)
	}
	return resp, nil
}

// unauthorized handles a 401: the WebApi no longer accepts the ticket. It
// is invalidated, and the request sent once more with a new one if its
// body can be replayed.
func (t *transport) unauthorized(req *http.Request, resp *http.Response, res *SystemUserResult) (*http.Response, error) {
	t.tenant.Invalidate(req.Context(), res.Ticket)
	body, ok := replayBody(req)
	if !ok {
		return resp, nil // the body is spent; the caller sees the 401
	}
	res, err := t.tenant.Ticket(req.Context())
	if err != nil {
		closeIf(body)
		return resp, nil // no new ticket: the 401 stands
	}
	u, _, err := target(req.URL, t.tenant.st.Load(), res)
	if err != nil {
		closeIf(body)
		return resp, nil
	}
	drain(resp)
	t.tenant.c.log.LogAttrs(req.Context(), slog.LevelDebug, "sysuser: WebApi answered 401; retrying with a new ticket", slog.String("tenant", t.tenant.ContextIdentifier()))
	if o := t.tenant.c.obs; o != nil && o.TransportRetry != nil {
		o.TransportRetry(req.Context(), Event{Tenant: t.tenant.ContextIdentifier(), StatusCode: http.StatusUnauthorized})
	}
	return t.send(req, u, body, res.Ticket)
}

// misdirected handles a 421 Misdirected Request, SuperOffice's answer on a
// host the tenant no longer lives on. The state is looked up again, once
// for all requests that were sent before the lookup; if the tenant moved,
// the request is sent once more to its new base when its body can be
// replayed (otherwise the 421 is returned, and the next request goes to the
// new base).
func (t *transport) misdirected(req *http.Request, resp *http.Response, st *tenantState, sent *url.URL, ticket string, seen uint64) (*http.Response, error) {
	c := t.tenant.c
	s, err := c.lookupStatus(req.Context(), st, seen, 0)
	if err != nil {
		c.log.LogAttrs(req.Context(), slog.LevelWarn, "sysuser: WebApi answered 421 and the state lookup failed", slog.String("tenant", st.id), slog.String("error", err.Error()))
		return resp, nil
	}
	if !s.IsRunning {
		drain(resp)
		return nil, &TenantNotRunningError{Status: *s}
	}
	b := st.where.base.Load()
	if b == nil || b.holds(sent) {
		drain(resp)
		return nil, fmt.Errorf("%w: the WebApi at %s://%s answered 421 Misdirected Request, and SuperOffice's state API names no other host for %s", ErrNotWebAPI, sent.Scheme, sent.Host, st.id)
	}
	body, ok := replayBody(req)
	if !ok {
		return resp, nil
	}
	u, _, err := target(req.URL, st, &SystemUserResult{})
	if err != nil {
		closeIf(body)
		return resp, nil
	}
	drain(resp)
	c.log.LogAttrs(req.Context(), slog.LevelDebug, "sysuser: WebApi answered 421; sending to the tenant's new host", slog.String("tenant", st.id))
	if c.obs != nil && c.obs.TransportRetry != nil {
		c.obs.TransportRetry(req.Context(), Event{Tenant: st.id, StatusCode: http.StatusMisdirectedRequest})
	}
	return t.send(req, u, body, ticket)
}

// unavailable handles a 503: if the state API says the tenant does not
// run, the caller gets a *TenantNotRunningError instead of the 503.
func (t *transport) unavailable(req *http.Request, resp *http.Response, st *tenantState) (*http.Response, error) {
	if s := t.tenant.c.consultStatus(req.Context(), st); s != nil && !s.IsRunning {
		drain(resp)
		return nil, &TenantNotRunningError{Status: *s}
	}
	return resp, nil
}

// replayBody returns a fresh copy of req's body for sending it again, and
// whether there is one: a request without a body always replays, one whose
// body was spent only through GetBody.
func replayBody(req *http.Request) (io.ReadCloser, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	return body, true
}

// send clones req with body, sends the clone to u (req.URL or where it was
// re-targeted) with the credentials set.
func (t *transport) send(req *http.Request, u *url.URL, body io.ReadCloser, ticket string) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Body = body
	if u != req.URL {
		out.URL, out.Host = u, ""
	}
	out.Header.Set("Authorization", "SOTicket "+ticket)
	out.Header.Set("SO-AppToken", *t.tenant.c.appToken)
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(out)
}

func closeIf(body io.ReadCloser) {
	if body != nil {
		body.Close()
	}
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// drain reads a little of a response we are discarding, so its connection
// can be reused, and closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
}
