package sysuser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

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
		s, err := NewSigner(cfg.PrivateKey)
		if err != nil {
			return nil, err
		}
		c.signer = s
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
	if c.keys, err = newKeySource(cfg.Certificate, c.loginURL, c.http, c.now); err != nil {
		return nil, err
	}
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
	if src, ok := c.store.(invalidationSource); ok {
		c.unsubscribe = src.Subscribe(c.invalidatedElsewhere)
	}
	return c, nil
}

// checkApplicationKey refuses an application key whose public exponent is
// not 65537, and logs a warning for one under 2048 bits: SuperOffice does
// not document the size it issues, and the partner keys in its own public
// samples are 1024 bits, so such keys are accepted (see keycheck.go).
func (c *Client) checkApplicationKey() error {
	err := checkApplicationKey(c.signer.key)
	var kc *keyCheckError
	if err == nil || !errors.As(err, &kc) {
		return err
	}
	if kc.e != rsaExponentF4 {
		return err
	}
	c.log.LogAttrs(context.Background(), slog.LevelWarn, "sysuser: the application key is shorter than 2048 bits; ask SuperOffice for a new key pair",
		slog.Int("bits", kc.bits))
	return nil
}

// Close stops the Client's background work (renewal timers, the sweep of
// idle tenants, its store's invalidation callback) and closes the idle
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
	if c.ownHTTP {
		c.http.CloseIdleConnections()
	}
	return nil
}

// Exchange signs systemUserToken for the current minute, sends it to
// PartnerSystemUserService for the tenant contextIdentifier (e.g.
// "Cust12345"), verifies the JWT that comes back and returns its claims.
//
// Every call creates a credentials record in the tenant's database and the
// ticket lasts hours: do not call Exchange per request. Client.Tenant gives
// a handle whose Ticket and HTTP client cache the result.
//
// Transient failures (connection refused or reset, a timeout before the
// answer began, HTTP 429, 502, 503, 504) are retried up to
// Config.MaxAttempts times, each attempt signing anew, all within ctx and
// within Config.ExchangeTimeout.
//
// Errors: *AuthenticationError when SuperOffice refuses; ErrInvalidToken
// when the JWT fails verification; ErrKeySetUnavailable when SuperOffice's
// keys could not be fetched; *FaultError for a SOAP fault; *HTTPError for
// another unexpected status; ErrMalformedResponse for an unreadable answer;
// ErrCrossHostRedirect; ErrInvalidArgument for empty arguments; ctx's error
// when it ends first. No error carries a secret.
func (c *Client) Exchange(ctx context.Context, contextIdentifier, systemUserToken string) (*SystemUserResult, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.exchangeTimeout)
	defer cancel()
	start := time.Now()
	var x *exchangeObs
	if c.obs != nil {
		ctx, x = c.observeExchange(ctx, contextIdentifier)
	}
	res, err := c.exchange(ctx, contextIdentifier, systemUserToken, x)
	if x != nil {
		x.done(ctx, time.Since(start), err)
	}
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelDebug, "sysuser: exchange failed",
			slog.String("tenant", contextIdentifier), slog.String("protocol", c.protocol.String()),
			slog.Duration("duration", time.Since(start)), slog.String("error", err.Error()))
		return nil, err
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "sysuser: exchange",
		slog.String("tenant", contextIdentifier), slog.String("protocol", c.protocol.String()),
		slog.Duration("duration", time.Since(start)))
	return res, nil
}

func (c *Client) exchange(ctx context.Context, contextIdentifier, systemUserToken string, x *exchangeObs) (*SystemUserResult, error) {
	if err := checkContextIdentifier(contextIdentifier); err != nil {
		return nil, err
	}
	if systemUserToken == "" {
		return nil, argError("system user token is empty")
	}
	raw, err := c.authenticate(ctx, contextIdentifier, systemUserToken, x)
	if err != nil {
		return nil, err
	}
	res, err := c.verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(res.ContextIdentifier, contextIdentifier) {
		return nil, tokenError(fmt.Sprintf("token is for tenant %q, not %q", res.ContextIdentifier, contextIdentifier), nil)
	}
	return res, nil
}

// Verify checks a system user token, such as the JWT PartnerSystemUserService
// returns, as Exchange does (RS256, SuperOffice's key, issuer "SuperOffice
// AS", audience "spn:" + serial, lifetime, a ticket and a tenant present)
// and returns what it says. Errors are those of Exchange's verification.
func (c *Client) Verify(ctx context.Context, token string) (*SystemUserResult, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	return c.verify(ctx, token)
}

func (c *Client) verify(ctx context.Context, raw string) (*SystemUserResult, error) {
	claims, err := verifyJWT(ctx, raw, c.keys, c.parser)
	if err != nil {
		return nil, err
	}
	if err := checkExchangeClaims(claims); err != nil {
		return nil, err
	}
	res := resultFromClaims(claims)
	res.Token = raw
	res.ReceivedAt = c.now()
	return res, nil
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
