package sysuser

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// maxResponseBytes caps every response body the package reads: 64 KiB. A
// real answer is a few KiB (a SOAP envelope around a JWT of some fifteen
// claims is 3 to 5 KiB; SuperOffice's key set, with certificates, about as
// much); a larger one is refused without reading the rest.
const maxResponseBytes = 64 << 10

// maxErrorBodyBytes is how much of an error response HTTPError keeps.
const maxErrorBodyBytes = 512

// request is one call to the login service.
type request struct {
	method, url string
	body        []byte
	header      [][2]string // name, value
}

// send makes the request with hc under ctx and returns the response with
// its body read through the cap and closed. A body over the cap is an
// error; a status other than 200 is the caller's to classify (statusError).
func send(ctx context.Context, hc *http.Client, r request) (*http.Response, []byte, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, nil, err
	}
	for _, h := range r.header {
		req.Header.Set(h[0], h[1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	data, err := readCapped(resp)
	if err != nil {
		return nil, nil, err
	}
	return resp, data, nil
}

// readCapped reads and closes resp.Body, refusing a body larger than
// maxResponseBytes after reading at most one byte more than that.
func readCapped(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, &readError{err: err}
	}
	if len(body) > maxResponseBytes {
		return nil, malformed("response body is larger than %d bytes", maxResponseBytes)
	}
	return body, nil
}

// readError is a failure while reading an answer whose headers arrived.
// It is never retried: the server may have acted on the request already
// (an exchange creates a credentials record).
type readError struct{ err error }

func (e *readError) Error() string { return "sysuser: reading the answer: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// statusError is the error for an answer whose status is not 200.
func statusError(resp *http.Response, body []byte) *HTTPError {
	if len(body) > maxErrorBodyBytes {
		body = body[:maxErrorBodyBytes]
	}
	return &HTTPError{StatusCode: resp.StatusCode, Status: serverText(resp.Status), Body: append([]byte(nil), body...), retryAfter: resp.Header.Get("Retry-After")}
}

// newDefaultHTTPClient returns the client used when Config.HTTPClient is
// nil: bounded connect, TLS handshake, response header and overall times,
// and TLS verification as Go does it by default.
func newDefaultHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   16,
		},
	}
}

// safeHTTPClient returns c, or the default client when c is nil, with the
// package's redirect rule applied (to a copy: c itself is not changed).
func safeHTTPClient(c *http.Client) *http.Client {
	if c == nil {
		c = newDefaultHTTPClient()
	}
	return withSafeRedirects(c)
}

// withSafeRedirects returns a shallow copy of c whose redirects never leave
// the original host or downgrade from https, checked before c's own policy.
func withSafeRedirects(c *http.Client) *http.Client {
	cp := *c
	next := c.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		if !sameOrigin(first, req.URL) {
			return ErrCrossHostRedirect
		}
		if len(via) >= 5 {
			return errors.New("sysuser: stopped after 5 redirects")
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &cp
}

func sameOrigin(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && a.Host == b.Host
}

// isLoopback reports whether host (no port) names this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
