package sysuser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// State is a tenant's state as SuperOffice's state API names it, such as
// "Running" or "Suspended". SuperOffice documents these names and numbers:
//
//	Unknown (0), Provisioning (1), Running (2), Deleted (3), Suspended (4),
//	OnlineMaintenance (5), OfflineMaintenance (6), ProvisioningFailed (8),
//	Deleting (10), DeleteFailed (11), MigrationPending (12)
//
// A tenant is running in Running and OnlineMaintenance. OfflineMaintenance
// (upgrades) usually lasts minutes, MigrationPending can last weeks, and a
// Suspended tenant's APIs are unavailable. A name SuperOffice adds later is
// kept as it was sent; a number this package does not know is kept as its
// decimal digits.
type State string

// stateNumbers are SuperOffice's documented state numbers, by name.
var stateNumbers = map[State]int{
	"Unknown": 0, "Provisioning": 1, "Running": 2, "Deleted": 3, "Suspended": 4,
	"OnlineMaintenance": 5, "OfflineMaintenance": 6, "ProvisioningFailed": 8,
	"Deleting": 10, "DeleteFailed": 11, "MigrationPending": 12,
}

// Number returns the state's documented number, or -1 for a state this
// package does not know.
func (s State) Number() int {
	if n, ok := stateNumbers[s]; ok {
		return n
	}
	return -1
}

// UnmarshalJSON accepts the state's name (as the state API sends it) or its
// number.
func (s *State) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var name string
		if err := json.Unmarshal(data, &name); err != nil {
			return err
		}
		*s = State(name)
		return nil
	}
	n, err := strconv.Atoi(string(data))
	if err != nil {
		return fmt.Errorf("sysuser: State is neither a name nor a number")
	}
	for name, num := range stateNumbers {
		if num == n {
			*s = name
			return nil
		}
	}
	*s = State(strconv.Itoa(n))
	return nil
}

// TenantStatus is what SuperOffice's state API says of a tenant: its state,
// where it lives now, and until when that answer holds.
type TenantStatus struct {
	// ContextIdentifier is the tenant, such as "Cust12345".
	ContextIdentifier string
	// State is the tenant's state.
	State State
	// IsRunning is SuperOffice's word on whether the tenant's APIs answer:
	// true in Running and OnlineMaintenance.
	IsRunning bool
	// Endpoint is the tenant's address now, such as
	// "https://sod2.superoffice.com/Cust12345". It changes when SuperOffice
	// moves the tenant to balance load.
	Endpoint string
	// API is the tenant's WebApi base now, as the state API sends it (its
	// "Api" field, without a trailing slash): "https://sod2.superoffice.com/Cust12345/api".
	API string
	// ValidUntil is when to ask again.
	ValidUntil time.Time
}

// UnmarshalJSON reads the state API's answer, whose fields are
// ContextIdentifier, Endpoint, State, IsRunning, ValidUntil and Api.
// Unknown fields are ignored.
func (s *TenantStatus) UnmarshalJSON(data []byte) error {
	var w struct {
		ContextIdentifier string
		Endpoint          string
		State             State
		IsRunning         bool
		ValidUntil        time.Time
		API               string `json:"Api"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*s = TenantStatus{ContextIdentifier: w.ContextIdentifier, State: w.State, IsRunning: w.IsRunning,
		Endpoint: w.Endpoint, API: w.API, ValidUntil: w.ValidUntil}
	return nil
}

// webAPIBase returns API as a WebApi base like the webapi_url claim's,
// ending in "/".
func (s *TenantStatus) webAPIBase() string {
	if s.API == "" || strings.HasSuffix(s.API, "/") {
		return s.API
	}
	return s.API + "/"
}

// TenantNotRunningError means SuperOffice says the tenant is not running
// (suspended, deleted, in offline maintenance, being provisioned, ...), so
// no ticket is fetched and no WebApi request is sent for it until
// Status.ValidUntil. It matches ErrTenantNotRunning.
type TenantNotRunningError struct {
	// Status is what the state API (or a state-change notification) said.
	// With a notification, ValidUntil is when the Client will ask the state
	// API again.
	Status TenantStatus
}

// Error implements error.
func (e *TenantNotRunningError) Error() string {
	s := e.Status
	msg := fmt.Sprintf("sysuser: tenant %s is not running: SuperOffice says %s", s.ContextIdentifier, serverText(string(s.State)))
	if !s.ValidUntil.IsZero() {
		msg += "; asking again after " + s.ValidUntil.UTC().Format(time.RFC3339)
	}
	return msg
}

// Is reports whether target is ErrTenantNotRunning.
func (e *TenantNotRunningError) Is(target error) bool { return target == ErrTenantNotRunning }

// How long a state API answer is relied on: its ValidUntil, clamped to
// [minStatusTTL, maxStatusTTL] from when it arrived. These bounds are the
// library's own: SuperOffice documents ValidUntil as "when to check again"
// and nothing about its usual range.
const (
	minStatusTTL = 10 * time.Second
	maxStatusTTL = 15 * time.Minute
	// statusRecheck is how old an answer may be when a failure (a failed
	// exchange, a WebApi 503) makes the Client consult the state: a younger
	// one is trusted, an older one is asked again.
	statusRecheck = 10 * time.Second
	// statusFailWait is how long a failed lookup is reported as it is,
	// before the state API is asked again.
	statusFailWait = 5 * time.Second
	// statusTimeout bounds one lookup.
	statusTimeout = 30 * time.Second
	// maxPreviousBases is how many earlier WebApi bases of a tenant are
	// remembered, so requests built on them can be re-targeted.
	maxPreviousBases = 4
)

// whereabouts is what a Client knows of where a tenant lives and whether
// it runs: the WebApi base its handles use now, and the state API's last
// answer. One per tenantState, so all handles of a tenant share it.
type whereabouts struct {
	base atomic.Pointer[webAPIBase] // the tenant's WebApi now
	gen  atomic.Uint64              // lookups that completed

	mu       sync.Mutex // guards the fields below; never held across I/O
	last     *TenantStatus
	at       time.Time // when last arrived
	until    time.Time // last's ValidUntil, clamped
	failErr  error     // the last lookup's failure, until failedAt + statusFailWait
	failedAt time.Time
	flight   *statusFlight
	noticeAt time.Time // the issue time of the newest notification applied
}

// statusFlight is one shared state API lookup.
type statusFlight struct {
	done chan struct{}
	res  *TenantStatus
	err  error
}

// Status returns SuperOffice's state of the tenant, from its state API:
// whether it runs, where it lives now and until when that holds. The
// answer is shared by all handles of the tenant and cached until its
// ValidUntil (at least 10 s, at most 15 min); at most one lookup per
// tenant runs at a time. The state API needs no credentials. The cached
// Ticket path never looks the state up.
//
// A lookup also acts: a tenant that is not running is paused (Ticket and
// the transport return a *TenantNotRunningError) until ValidUntil, and one
// that runs again is resumed. Errors: *HTTPError, ErrMalformedResponse, a
// network error, ctx's error.
func (t *Tenant) Status(ctx context.Context) (*TenantStatus, error) {
	if t.err != nil {
		return nil, t.err
	}
	if err := t.c.checkOpen(); err != nil {
		return nil, err
	}
	st := t.liveState()
	s, err := t.c.lookupStatus(ctx, st, st.where.gen.Load(), maxStatusTTL)
	if err != nil {
		return nil, err
	}
	cp := *s
	return &cp, nil
}

// lookupStatus returns the tenant's state: the cached answer when a lookup
// completed since the caller saw seen (a generation of st.where.gen), or
// when it is younger than maxAge and before its ValidUntil; otherwise a new
// lookup, shared with every caller asking meanwhile. Each caller waits
// within its own ctx; the lookup runs on under its own timeout.
func (c *Client) lookupStatus(ctx context.Context, st *tenantState, seen uint64, maxAge time.Duration) (*TenantStatus, error) {
	w := &st.where
	w.mu.Lock()
	now := c.now()
	if s := w.last; s != nil && (w.gen.Load() != seen || (now.Sub(w.at) < maxAge && now.Before(w.until))) {
		w.mu.Unlock()
		return s, nil
	}
	if w.failErr != nil && now.Sub(w.failedAt) < statusFailWait {
		err := w.failErr
		w.mu.Unlock()
		return nil, err
	}
	f := w.flight
	if f == nil {
		f = &statusFlight{done: make(chan struct{})}
		w.flight = f
		go c.fetchStatus(context.WithoutCancel(ctx), st, f)
	}
	w.mu.Unlock()
	select {
	case <-f.done:
		return f.res, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("sysuser: looking up the state of %s: %w", st.id, ctx.Err())
	}
}

// fetchStatus runs one lookup for f and applies its answer.
func (c *Client) fetchStatus(ctx context.Context, st *tenantState, f *statusFlight) {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	var start time.Time
	if c.obs != nil {
		start = time.Now()
		if c.obs.StatusStart != nil {
			if sctx := c.obs.StatusStart(ctx, Event{Tenant: st.id}); sctx != nil {
				ctx = sctx
			}
		}
	}
	s, err := c.getStatus(ctx, st.id)
	now := c.now()
	if err == nil && s.IsRunning && s.API != "" {
		// The base moves before the generation does: a request that saw
		// the new generation is built on the new base (see misdirected).
		c.setBase(st, s.webAPIBase(), now)
	}
	w := &st.where
	w.mu.Lock()
	if err == nil {
		w.last, w.at, w.until, w.failErr = s, now, clampTime(s.ValidUntil, now.Add(minStatusTTL), now.Add(maxStatusTTL)), nil
		w.gen.Add(1)
	} else {
		w.failErr, w.failedAt = err, now
	}
	w.flight = nil
	w.mu.Unlock()
	if err == nil {
		c.applyStatus(st, s, now)
	} else {
		c.log.LogAttrs(ctx, slog.LevelWarn, "sysuser: state lookup failed", slog.String("tenant", st.id), slog.String("error", err.Error()))
	}
	if c.obs != nil && c.obs.StatusDone != nil {
		e := Event{Tenant: st.id, Duration: time.Since(start), Err: err}
		if err == nil {
			e.State = s.State
		}
		c.obs.StatusDone(ctx, e)
	}
	f.res, f.err = s, err
	close(f.done)
}

// getStatus asks the state API about the tenant.
func (c *Client) getStatus(ctx context.Context, contextIdentifier string) (*TenantStatus, error) {
	resp, body, err := send(ctx, c.http, request{method: http.MethodGet, url: c.loginOrigin + statePath + url.PathEscape(contextIdentifier),
		header: [][2]string{{"Accept", "application/json"}}})
	if err != nil {
		return nil, fmt.Errorf("sysuser: looking up the state of %s: %w", contextIdentifier, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp, body)
	}
	var s TenantStatus
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, malformed("state API answer is not the documented JSON")
	}
	if s.State == "" {
		return nil, malformed("state API answer has no State")
	}
	if s.ContextIdentifier != "" && !strings.EqualFold(s.ContextIdentifier, contextIdentifier) {
		return nil, malformed("state API answered for tenant %q, not %q", serverText(s.ContextIdentifier), contextIdentifier)
	}
	s.ContextIdentifier = contextIdentifier
	s.State = State(serverText(string(s.State)))
	return &s, nil
}

// applyStatus acts on a state API answer: the tenant's WebApi base follows
// its Api, a tenant that does not run is paused until the answer's
// (clamped) ValidUntil, and one that runs is resumed.
func (c *Client) applyStatus(st *tenantState, s *TenantStatus, now time.Time) {
	if s.IsRunning && s.API != "" {
		c.setBase(st, s.webAPIBase(), now)
	}
	if s.IsRunning {
		if c.resume(st) {
			c.log.LogAttrs(context.Background(), slog.LevelInfo, "sysuser: tenant runs again", slog.String("tenant", st.id), slog.String("state", string(s.State)))
		}
		return
	}
	until := clampTime(s.ValidUntil, now.Add(minStatusTTL), now.Add(maxStatusTTL))
	c.pause(st, *s, until)
}

// pause makes the tenant's callers get a *TenantNotRunningError, with no
// exchange, until until, and drops its cached ticket.
func (c *Client) pause(st *tenantState, s TenantStatus, until time.Time) {
	s.ValidUntil = until
	err := &TenantNotRunningError{Status: s}
	st.mu.Lock()
	if st.lastErr == nil {
		c.negatives.Add(1)
	}
	st.lastErr, st.retryAt, st.paused = err, until, true
	st.mu.Unlock()
	if e := st.cur.Swap(nil); e != nil {
		e.stop()
	}
	c.log.LogAttrs(context.Background(), slog.LevelWarn, "sysuser: tenant is not running; pausing it",
		slog.String("tenant", st.id), slog.String("state", string(s.State)), slog.Time("until", until))
}

// resume ends a pause, and reports whether there was one.
func (c *Client) resume(st *tenantState) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.paused {
		return false
	}
	if st.lastErr != nil {
		c.negatives.Add(-1)
	}
	st.lastErr, st.retryAt, st.failures, st.paused = nil, time.Time{}, 0, false
	return true
}

// expireStatus makes the next consultation of the tenant's state ask the
// state API again.
func (st *tenantState) expireStatus() {
	st.where.mu.Lock()
	st.where.at, st.where.until = time.Time{}, time.Time{}
	st.where.mu.Unlock()
}

// clampTime returns t within [lo, hi].
func clampTime(t, lo, hi time.Time) time.Time {
	if t.Before(lo) {
		return lo
	}
	if t.After(hi) {
		return hi
	}
	return t
}

// webAPIBase is a tenant's WebApi base URL, parsed and checked once, with
// the bases it replaced.
type webAPIBase struct {
	raw              string // ends in "/"
	scheme, hostPort string
	path             string // escaped, lower case, ends in "/"
	err              error
	since            time.Time // when SuperOffice named it
	previous         []*webAPIBase
}

// parseBase parses and checks a WebApi base URL.
func parseBase(raw string, since time.Time) *webAPIBase {
	b := &webAPIBase{raw: raw, since: since}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		b.err = fmt.Errorf("%w: the tenant's WebApi URL is not an absolute URL", ErrNotWebAPI)
	case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
		b.err = fmt.Errorf("%w: the tenant's WebApi URL is %s://%s, neither https nor a loopback host", ErrNotWebAPI, u.Scheme, u.Host)
	default:
		b.scheme, b.hostPort = strings.ToLower(u.Scheme), strings.ToLower(hostPort(u))
		b.path = strings.ToLower(u.EscapedPath())
		if !strings.HasSuffix(b.path, "/") {
			b.path += "/"
		}
	}
	return b
}

// holds reports whether u is on b's origin.
func (b *webAPIBase) holds(u *url.URL) bool {
	return b.err == nil && strings.EqualFold(u.Scheme, b.scheme) && strings.EqualFold(hostPort(u), b.hostPort)
}

// setBase makes raw the tenant's WebApi base, unless the current one was
// named later than since. The replaced base is remembered, so requests
// built on it are re-targeted.
func (c *Client) setBase(st *tenantState, raw string, since time.Time) {
	for {
		cur := st.where.base.Load()
		if cur != nil && (cur.raw == raw || since.Before(cur.since)) {
			return
		}
		next := parseBase(raw, since)
		if cur != nil {
			for _, p := range append([]*webAPIBase{cur}, cur.previous...) {
				if len(next.previous) < maxPreviousBases && p.raw != raw && p.err == nil {
					next.previous = append(next.previous, &webAPIBase{raw: p.raw, scheme: p.scheme, hostPort: p.hostPort, path: p.path, since: p.since})
				}
			}
		}
		if st.where.base.CompareAndSwap(cur, next) {
			if cur != nil {
				c.log.LogAttrs(context.Background(), slog.LevelInfo, "sysuser: tenant's WebApi moved",
					slog.String("tenant", st.id), slog.String("from", cur.scheme+"://"+cur.hostPort), slog.String("to", next.scheme+"://"+next.hostPort))
			}
			return
		}
	}
}

// stillPaused is what a flight does first for a tenant that was paused: it
// asks the state API, and reports whether the tenant is still not running
// (the pause is then renewed by applyStatus, with no exchange). When the
// lookup fails, the exchange is tried.
func (c *Client) stillPaused(ctx context.Context, st *tenantState, wasPaused bool) bool {
	if !wasPaused {
		return false
	}
	s, err := c.lookupStatus(ctx, st, st.where.gen.Load(), 0)
	return err == nil && !s.IsRunning
}

// consultStatus is what a failure (a failed exchange, a WebApi 503) does:
// it asks the state API unless a recent answer is cached, which pauses the
// tenant if it does not run. It returns the state, or nil when it could not
// be had.
func (c *Client) consultStatus(ctx context.Context, st *tenantState) *TenantStatus {
	s, err := c.lookupStatus(ctx, st, st.where.gen.Load(), statusRecheck)
	if err != nil {
		return nil
	}
	if !s.IsRunning {
		// A cached answer paused the tenant when it arrived; a pause that
		// ended since is renewed.
		c.applyStatus(st, s, c.now())
	}
	return s
}
