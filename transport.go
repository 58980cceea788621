package sysuser

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// transport is the http.RoundTripper of Tenant.Transport.
type transport struct {
	tenant *Tenant
	base   http.RoundTripper
	origin atomic.Pointer[webAPIOrigin] // the last webapi_url checked
}

// webAPIOrigin is a webapi_url, parsed and checked once.
type webAPIOrigin struct {
	raw, scheme, hostPort string
	err                   error
}

// check refuses a request whose origin is not the tenant's WebApi's,
// parsing webAPIURL only when it changed.
func (t *transport) check(u *url.URL, webAPIURL string) error {
	o := t.origin.Load()
	if o == nil || o.raw != webAPIURL {
		o = &webAPIOrigin{raw: webAPIURL}
		api, err := url.Parse(webAPIURL)
		switch {
		case err != nil || api.Host == "":
			o.err = fmt.Errorf("%w: the tenant's webapi_url is not an absolute URL", ErrNotWebAPI)
		case api.Scheme != "https" && !(api.Scheme == "http" && isLoopback(api.Hostname())):
			o.err = fmt.Errorf("%w: the tenant's webapi_url is %s://%s, neither https nor a loopback host", ErrNotWebAPI, api.Scheme, api.Host)
		default:
			o.scheme, o.hostPort = api.Scheme, hostPort(api)
		}
		t.origin.Store(o)
	}
	if o.err != nil {
		return o.err
	}
	if u == nil || !strings.EqualFold(u.Scheme, o.scheme) || !strings.EqualFold(hostPort(u), o.hostPort) {
		got := "<nil>"
		if u != nil {
			got = u.Scheme + "://" + u.Host
		}
		return fmt.Errorf("%w: request to %s, but the tenant's WebApi is %s://%s", ErrNotWebAPI, got, o.scheme, o.hostPort)
	}
	return nil
}

// webAPITimeout bounds each request of the *http.Client Tenant.HTTPClient
// returns, from dialling to reading the body's end.
const webAPITimeout = 2 * time.Minute

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
	if err := t.check(req.URL, res.WebAPIURL); err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.send(req, res.Ticket)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	// The WebApi no longer accepts this ticket.
	t.tenant.Invalidate(req.Context(), res.Ticket)
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return resp, nil // the body is spent; the caller sees the 401
	}
	res, err = t.tenant.Ticket(req.Context())
	if err != nil || t.check(req.URL, res.WebAPIURL) != nil {
		return resp, nil // no new ticket for this WebApi: the 401 stands
	}
	retry := req
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return resp, nil
		}
		retry = req.Clone(req.Context())
		retry.Body = body
	}
	drain(resp)
	t.tenant.c.log.LogAttrs(req.Context(), slog.LevelDebug, "sysuser: WebApi answered 401; retrying with a new ticket", slog.String("tenant", t.tenant.ContextIdentifier()))
	return t.send(retry, res.Ticket)
}

// send clones req, sets the credentials on the clone and sends it.
func (t *transport) send(req *http.Request, ticket string) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Header.Set("Authorization", "SOTicket "+ticket)
	out.Header.Set("SO-AppToken", *t.tenant.c.appToken)
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(out)
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
