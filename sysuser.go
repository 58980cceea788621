package sysuser

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A Client exchanges system user tokens for tickets with one application's
// credentials, and caches each tenant's ticket. It is safe for concurrent
// use; make one per application, share it, and Close it when done.
//
// A Client keeps its secrets (the application token, the key) behind
// unexported pointers to strings and keys, which fmt never follows: printing
// a Client, with any verb, shows addresses, never a secret.
type Client struct {
	appToken *string // see hidden
	signer   *Signer
	loginURL string
	// loginOrigin is loginURL's scheme and host: the state API hangs below
	// it, and it is the issuer of state-change notifications.
	loginOrigin string
	protocol    Protocol
	http        *http.Client
	ownHTTP     bool // http was made here, so Close may close its connections
	attempts    int
	retryGap    time.Duration
	keys        keySource
	releaseKeys func() // gives up keys, on Close
	parser      *jwt.Parser
	notices     *jwt.Parser      // state-change notifications' tokens (notify.go)
	clock       func() time.Time // Config.Clock, nil for the real clock
	now         func() time.Time
	log         *slog.Logger
	obs         *Observer // Config.Observer, nil for none

	// Ticket cache.
	store           TicketStore
	unsubscribe     func() bool // stops the store's invalidation callback; nil without one
	sliding         bool
	refreshAge      time.Duration
	lifetime        time.Duration
	exchangeTimeout time.Duration
	slots           chan struct{} // one per exchange allowed at once
	tenants         sync.Map      // context identifier → *tenantState
	lastSweep       atomic.Int64
	negatives       atomic.Int64 // tenants whose last failure is cached
	sweeper         *time.Timer
	sweepEvery      time.Duration
	sweeperMu       sync.Mutex
	closed          atomic.Bool
	handles         atomic.Uint64 // Tenant handles made; see Client.Tenant
}

// hidden keeps a secret string where fmt cannot print it. fmt follows a
// pointer to a struct one level down (with a bad verb such as %s on a
// pointer field, even below the top level) but never follows a pointer to
// a string: a *string field prints as an address, with every verb.
func hidden(s string) *string { return &s }

// NewClient checks cfg and returns a Client. Errors match ErrInvalidConfig,
// or ErrInvalidKey for an unusable private key.
func NewClient(cfg Config) (*Client, error) {
	c := &Client{appToken: hidden(cfg.ApplicationToken), protocol: cfg.Protocol, clock: cfg.Clock, log: cfg.Logger, obs: cfg.Observer}
	if cfg.ApplicationToken == "" {
		return nil, configError("ApplicationToken is empty")
	}
	if c.protocol != SOAP && c.protocol != REST {
		return nil, configError("Protocol %d is neither SOAP nor REST", int(c.protocol))
	}
	switch {
	case cfg.Signer != nil && len(cfg.PrivateKey) > 0:
		return nil, configError("set PrivateKey or Signer, not both")
	case cfg.Signer != nil:
		c.signer = cfg.Signer
	case len(cfg.PrivateKey) > 0:
		key, err := ParsePrivateKey(cfg.PrivateKey)
		if err != nil {
			return nil, err
		}
		c.signer = &Signer{key: key}
	default:
		return nil, configError("neither PrivateKey nor Signer is set")
	}
	login, err := resolveLoginURL(cfg.Environment, cfg.LoginURL)
	if err != nil {
		return nil, err
	}
	c.loginURL = login
	if u, err := url.Parse(login); err == nil {
		c.loginOrigin = u.Scheme + "://" + u.Host
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if err := c.checkApplicationKey(); err != nil {
		return nil, err
	}
	c.now = cfg.Clock
	if c.now == nil {
		c.now = time.Now
	}
	c.ownHTTP = cfg.HTTPClient == nil
	c.http = safeHTTPClient(cfg.HTTPClient)
	c.parser = newParser(issuerSystemUser, "", leewayOrDefault(cfg.Leeway), c.now)
	c.notices = newParser(c.loginOrigin, "", leewayOrDefault(cfg.Leeway), c.now)
	c.attempts = orDefault(cfg.MaxAttempts, defaultMaxAttempts)
	c.retryGap = orDefault(cfg.RetryDelay, defaultRetryDelay)
	if c.attempts < 0 || c.retryGap < 0 {
		return nil, configError("MaxAttempts and RetryDelay must not be negative")
	}
	if c.retryGap > maxRetryDelay {
		return nil, configError("RetryDelay (%s) is over %s", c.retryGap, maxRetryDelay)
	}
	c.store = cfg.Store
	c.sliding = cfg.SlidingExpiry
	c.refreshAge = orDefault(cfg.RefreshAge, defaultRefreshAge)
	c.lifetime = orDefault(cfg.TicketLifetime, defaultTicketLifetime)
	c.exchangeTimeout = orDefault(cfg.ExchangeTimeout, defaultExchangeTimeout)
	if c.refreshAge < 0 || c.lifetime < 0 || c.exchangeTimeout < 0 {
		return nil, configError("RefreshAge, TicketLifetime and ExchangeTimeout must not be negative")
	}
	if c.exchangeTimeout > maxExchangeTimeout || c.lifetime > maxTicketLifetime || c.refreshAge > maxTicketLifetime {
		return nil, configError("ExchangeTimeout (%s) is over %s, or TicketLifetime (%s) or RefreshAge (%s) over %s",
			c.exchangeTimeout, maxExchangeTimeout, c.lifetime, c.refreshAge, maxTicketLifetime)
	}
	if c.refreshAge >= c.lifetime && !c.sliding {
		return nil, configError("RefreshAge (%s) must be shorter than TicketLifetime (%s)", c.refreshAge, c.lifetime)
	}
	maxExchanges := orDefault(cfg.MaxConcurrentExchanges, defaultMaxExchanges)
	if maxExchanges < 0 {
		return nil, configError("MaxConcurrentExchanges must not be negative")
	}
	c.slots = make(chan struct{}, maxExchanges)
	c.sweepEvery = sweepInterval
	c.lastSweep.Store(c.now().UnixNano())
	if c.keys, c.releaseKeys, err = newKeySource(cfg.Certificate, c.loginURL, cfg.HTTPClient, c.http, cfg.Clock); err != nil {
		return nil, err
	}
	if src, ok := c.store.(invalidationSource); ok {
		c.unsubscribe = src.Subscribe(c.invalidatedElsewhere)
	}
	return c, nil
}

// Close stops the Client's background work (renewal timers, the sweep of
// idle tenants, its store's invalidation callback), gives up its share of
// SuperOffice's key set (see Config.Certificate) and closes the idle
// connections of the HTTP client it made (not those of a
// Config.HTTPClient). Calls after Close fail with an error matching
// net.ErrClosed. Close is safe to call more than once.
func (c *Client) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	if c.unsubscribe != nil {
		c.unsubscribe()
	}
	c.sweeperMu.Lock()
	if c.sweeper != nil {
		c.sweeper.Stop()
	}
	c.sweeperMu.Unlock()
	c.tenants.Range(func(_, v any) bool {
		if e := v.(*tenantState).cur.Swap(nil); e != nil {
			e.stop()
		}
		return true
	})
	c.releaseKeys()
	if c.ownHTTP {
		c.http.CloseIdleConnections()
	}
	return nil
}

// checkOpen fails once Close was called.
func (c *Client) checkOpen() error {
	if c.closed.Load() {
		return fmt.Errorf("sysuser: the Client is closed: %w", net.ErrClosed)
	}
	return nil
}
