package sysuser

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Transport is an http.RoundTripper that calls one tenant's WebApi as its
// system user. Each request gets
//
//	Authorization: SOTicket <ticket>
//	SO-AppToken: <application token>
//
// with the ticket from Client.Ticket, so tickets are cached and renewed as
// Ticket describes. The transport always sets both headers, replacing any
// Authorization or SO-AppToken the caller set: a request through it is the
// system user's. It sends them only to the tenant's WebApi: a request whose
// scheme, host and port are not those of the tenant's webapi_url fails with
// ErrNotWebAPI before anything is sent, and so does a redirect away from it.
// When the WebApi answers 401 Unauthorized, the transport
// invalidates that ticket and retries once with a new one, if the request
// body can be replayed (it has none, or http.NewRequest set GetBody);
// otherwise the 401 is returned.
//
// The caller's request is never modified; its body is closed on every path.
// A Transport is safe for concurrent use.
type Transport struct {
	client          *Client
	systemUserToken string
	tenant          string
	base            http.RoundTripper
}

// Transport returns a Transport for the tenant contextIdentifier, sending
// through base (nil means http.DefaultTransport).
func (c *Client) Transport(systemUserToken, contextIdentifier string, base http.RoundTripper) *Transport {
	return &Transport{client: c, systemUserToken: systemUserToken, tenant: contextIdentifier, base: base}
}

// WebAPIClient returns an *http.Client whose requests go to the tenant's
// WebApi as its system user, through a Transport over
// http.DefaultTransport. Build request URLs on the tenant's WebAPIURL:
//
//	res, err := client.Ticket(ctx, token, "Cust12345")
//	req, _ := http.NewRequestWithContext(ctx, "GET", res.WebAPIURL+"v1/Contact/2", nil)
//	resp, err := client.WebAPIClient(token, "Cust12345").Do(req)
func (c *Client) WebAPIClient(systemUserToken, contextIdentifier string) *http.Client {
	return &http.Client{Transport: c.Transport(systemUserToken, contextIdentifier, nil), Timeout: WebAPITimeout}
}

// WebAPITimeout bounds each request of the *http.Client WebAPIClient
// returns, from dialling to reading the body's end.
const WebAPITimeout = 2 * time.Minute

// checkWebAPIOrigin refuses a request whose scheme, host and port are not
// those of the tenant's webapi_url, and a webapi_url that is neither https
// nor http on a loopback host: the ticket and the application token go to
// the tenant's WebApi and nowhere else.
func checkWebAPIOrigin(u *url.URL, webAPIURL string) error {
	api, err := url.Parse(webAPIURL)
	if err != nil || api.Host == "" {
		return fmt.Errorf("%w: the tenant's webapi_url is not an absolute URL", ErrNotWebAPI)
	}
	if api.Scheme != "https" && !(api.Scheme == "http" && isLoopback(api.Hostname())) {
		return fmt.Errorf("%w: the tenant's webapi_url is %s://%s, neither https nor a loopback host", ErrNotWebAPI, api.Scheme, api.Host)
	}
	if u == nil || !strings.EqualFold(u.Scheme, api.Scheme) || !strings.EqualFold(hostPort(u), hostPort(api)) {
		got := "<nil>"
		if u != nil {
			got = u.Scheme + "://" + u.Host
		}
		return fmt.Errorf("%w: request to %s, but the tenant's WebApi is %s://%s", ErrNotWebAPI, got, api.Scheme, api.Host)
	}
	return nil
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
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.client.Ticket(req.Context(), t.systemUserToken, t.tenant)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	if err := checkWebAPIOrigin(req.URL, res.WebAPIURL); err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.send(req, res.Ticket)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	// The WebApi no longer accepts this ticket.
	t.client.Invalidate(t.tenant, res.Ticket)
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return resp, nil // the body is spent; the caller sees the 401
	}
	res, err = t.client.Ticket(req.Context(), t.systemUserToken, t.tenant)
	if err != nil {
		return resp, nil // no new ticket: the 401 stands
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
	t.client.log.LogAttrs(req.Context(), slog.LevelDebug, "sysuser: WebApi answered 401; retrying with a new ticket", slog.String("tenant", t.tenant))
	return t.send(retry, res.Ticket)
}

// send clones req, sets the credentials on the clone and sends it.
func (t *Transport) send(req *http.Request, ticket string) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Header.Set("Authorization", "SOTicket "+ticket)
	out.Header.Set("SO-AppToken", t.client.secrets.appToken)
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

func (t Transport) describe() string {
	return fmt.Sprintf("sysuser.Transport{tenant: %s, SystemUserToken: [redacted]}", t.tenant)
}

// String describes the Transport without its secrets.
func (t Transport) String() string { return t.describe() }

// GoString describes the Transport without its secrets, for %#v.
func (t Transport) GoString() string { return t.describe() }

// Format prints the description for every verb.
func (t Transport) Format(f fmt.State, _ rune) { io.WriteString(f, t.describe()) }

// LogValue describes the Transport to log/slog without its secrets.
func (t Transport) LogValue() slog.Value { return slog.StringValue(t.describe()) }
