package sysuser

import (
	"context"
	"fmt"
	"io"
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

// Protocol selects how the Client talks to PartnerSystemUserService.
type Protocol int

const (
	// SOAP posts a SOAP 1.1 envelope to /services/PartnerSystemUserService.svc,
	// exactly as the service's WSDL describes. It is the default.
	SOAP Protocol = iota
	// REST posts the JSON twin to /api/PartnerSystemUser/Authenticate.
	REST
)

// String returns "SOAP" or "REST".
func (p Protocol) String() string {
	switch p {
	case SOAP:
		return "SOAP"
	case REST:
		return "REST"
	}
	return fmt.Sprintf("Protocol(%d)", int(p))
}

// Environments maps each SuperOffice environment name accepted in
// Config.Environment to its login service URL.
var Environments = map[string]string{
	"sod":      "https://sod.superoffice.com/login",
	"stage":    "https://qaonline.superoffice.com/login",
	"qaonline": "https://qaonline.superoffice.com/login",
	"online":   "https://online.superoffice.com/login",
}

// JWKSPath is where the login service publishes its signing keys, below
// the login URL.
const JWKSPath = "/.well-known/jwks"

// Config configures a Client. ApplicationToken, a key (PrivateKey or
// Signer) and a place to talk to (Environment or LoginURL) are required.
//
// A Config holds secrets; printing it with fmt or slog shows which fields
// are set, never their values.
type Config struct {
	// Environment is "sod" (development), "stage" or "qaonline" (stage), or
	// "online" (production). Ignored when LoginURL is set.
	Environment string
	// LoginURL is the base URL of the login service, such as
	// "https://sod.superoffice.com/login". It overrides Environment. The
	// endpoints hang below it: SOAPPath, RESTPath and JWKSPath. It must be
	// https, except on a loopback host (for tests and sysusertest).
	LoginURL string
	// ApplicationToken is the application's client secret.
	ApplicationToken string
	// PrivateKey is the application's RSA private key, in .NET XML or PEM
	// (see ParsePrivateKey). Set PrivateKey or Signer, not both.
	PrivateKey []byte
	// Signer signs system user tokens; an alternative to PrivateKey.
	Signer *Signer
	// Certificate optionally pins the key that signs SuperOffice's tokens:
	// the PEM certificate SuperOffice ships (SuperOfficeFederatedLogin.crt),
	// or a PEM public key. Without it the Client fetches the environment's
	// key set from LoginURL + JWKSPath and picks the key by the token's kid.
	Certificate []byte
	// Protocol is SOAP (the default) or REST.
	Protocol Protocol
	// HTTPClient makes the requests to the login service. Nil means a client
	// with bounded connect, TLS and overall timeouts. Either way the Client
	// refuses redirects to another host.
	HTTPClient *http.Client
	// Leeway is the clock skew allowed when checking the token's lifetime.
	// Zero means DefaultLeeway; negative means none.
	Leeway time.Duration
	// Clock returns the current time. Nil means time.Now. Tests set it to
	// move time without waiting.
	Clock func() time.Time
	// RefreshAge is how old a cached ticket may get before Ticket renews it
	// in the background, still handing out the current one. Zero means
	// DefaultRefreshAge (1 hour).
	RefreshAge time.Duration
	// TicketLifetime is how long after its exchange a ticket is handed out
	// at all; past it, callers wait for a new one. Zero means
	// DefaultTicketLifetime (6 hours less 10 minutes). It must exceed
	// RefreshAge.
	TicketLifetime time.Duration
	// ExchangeTimeout bounds each exchange Ticket runs on behalf of all its
	// callers. Zero means DefaultExchangeTimeout (1 minute).
	ExchangeTimeout time.Duration
	// MaxAttempts is how many times Exchange tries when a failure is
	// transient (connection refused or reset, a timeout, HTTP 429, 502, 503,
	// 504), within the caller's ctx. Zero means DefaultMaxAttempts (3); 1
	// means no retries. Refusals and invalid tokens are never retried.
	MaxAttempts int
	// RetryDelay is the base of the exponential backoff between attempts,
	// with jitter; a Retry-After header of up to 30 s takes precedence.
	// Zero means DefaultRetryDelay (250 ms).
	RetryDelay time.Duration
	// Store keeps the cached tickets. Nil means a new MemoryStore.
	Store TicketStore
	// Logger receives the Client's log records (exchanges, refreshes,
	// failures, durations; never secrets). Nil means no logging.
	Logger *slog.Logger
}

func (c Config) describe() string {
	set := func(ok bool) string {
		if ok {
			return "[set]"
		}
		return "[not set]"
	}
	login := c.LoginURL
	if u, err := url.Parse(login); err == nil {
		login = u.Redacted() // masks a password in user info
	} else {
		login = "[unparsable]"
	}
	return fmt.Sprintf("sysuser.Config{Environment: %q, LoginURL: %q, ApplicationToken: %s, PrivateKey: %s, Signer: %s, Certificate: %s, Protocol: %s}",
		c.Environment, login, set(c.ApplicationToken != ""), set(len(c.PrivateKey) > 0), set(c.Signer != nil), set(len(c.Certificate) > 0), c.Protocol)
}

// String describes the Config without its secrets.
func (c Config) String() string { return c.describe() }

// GoString describes the Config without its secrets, for %#v.
func (c Config) GoString() string { return c.describe() }

// Format prints the description for every verb, so that no formatting verb
// reaches a secret.
func (c Config) Format(f fmt.State, _ rune) { io.WriteString(f, c.describe()) }

// LogValue describes the Config to log/slog without its secrets.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.describe()) }

// A Client exchanges system user tokens for tickets with one application's
// credentials. It is safe for concurrent use; make one per application and
// share it.
type Client struct {
	secrets  *clientSecrets
	signer   *Signer
	loginURL string
	protocol Protocol
	http     *http.Client
	attempts int
	retryGap time.Duration
	keys     keySource
	parser   *jwt.Parser
	now      func() time.Time
	log      *slog.Logger

	// Ticket cache.
	store           TicketStore
	refreshAge      time.Duration
	lifetime        time.Duration
	exchangeTimeout time.Duration
	tenants         sync.Map // context identifier → *tenantState
	lastSweep       atomic.Int64
}

// NewClient checks cfg and returns a Client. Errors match ErrInvalidConfig,
// or ErrInvalidKey for an unusable private key.
func NewClient(cfg Config) (*Client, error) {
	c := &Client{secrets: &clientSecrets{appToken: cfg.ApplicationToken}, protocol: cfg.Protocol, now: cfg.Clock, log: cfg.Logger}
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
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.http = safeHTTPClient(cfg.HTTPClient)
	if c.keys, err = newKeySource(cfg.Certificate, c.loginURL, c.http, c.now); err != nil {
		return nil, err
	}
	c.parser = newExchangeParser(leewayOrDefault(cfg.Leeway), c.now)
	c.attempts = cfg.MaxAttempts
	if c.attempts == 0 {
		c.attempts = DefaultMaxAttempts
	}
	c.retryGap = orDefault(cfg.RetryDelay, DefaultRetryDelay)
	if c.attempts < 0 || c.retryGap < 0 {
		return nil, configError("MaxAttempts and RetryDelay must not be negative")
	}
	c.store = cfg.Store
	if c.store == nil {
		c.store = NewMemoryStore()
	}
	c.refreshAge = orDefault(cfg.RefreshAge, DefaultRefreshAge)
	c.lifetime = orDefault(cfg.TicketLifetime, DefaultTicketLifetime)
	c.exchangeTimeout = orDefault(cfg.ExchangeTimeout, DefaultExchangeTimeout)
	if c.refreshAge < 0 || c.lifetime < 0 || c.exchangeTimeout < 0 {
		return nil, configError("RefreshAge, TicketLifetime and ExchangeTimeout must not be negative")
	}
	if c.refreshAge >= c.lifetime {
		return nil, configError("RefreshAge (%s) must be shorter than TicketLifetime (%s)", c.refreshAge, c.lifetime)
	}
	c.lastSweep.Store(c.now().UnixNano())
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// clientSecrets holds what a Client must never print. It sits behind a
// pointer so that even printing a dereferenced Client shows an address.
type clientSecrets struct {
	appToken string
}

func (c *Client) describe() string {
	if c == nil {
		return "<nil>"
	}
	return fmt.Sprintf("sysuser.Client{LoginURL: %q, Protocol: %s, ApplicationToken: [redacted], Signer: %s}", c.loginURL, c.protocol, c.signer)
}

// String describes the Client without its secrets.
func (c *Client) String() string { return c.describe() }

// GoString describes the Client without its secrets, for %#v.
func (c *Client) GoString() string { return c.describe() }

// Format prints the description for every verb.
func (c *Client) Format(f fmt.State, _ rune) { io.WriteString(f, c.describe()) }

// LogValue describes the Client to log/slog without its secrets.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.describe()) }

// resolveLoginURL turns Environment or LoginURL into a base URL without a
// trailing slash, refusing plain http except on loopback.
func resolveLoginURL(env, login string) (string, error) {
	if login == "" {
		if env == "" {
			return "", configError("neither Environment nor LoginURL is set")
		}
		u, ok := Environments[strings.ToLower(env)]
		if !ok {
			return "", configError("unknown Environment %q (want sod, stage, qaonline or online)", env)
		}
		return u, nil
	}
	// Errors name the scheme and host only: a URL can carry user info.
	u, err := url.Parse(login)
	if err != nil || u.Host == "" {
		return "", configError("LoginURL is not an absolute URL")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", configError("LoginURL to host %q is plain http; the application token travels in the request, so only https is allowed (http only on a loopback host)", u.Host)
		}
	default:
		return "", configError("LoginURL scheme %q is not https", u.Scheme)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", configError("LoginURL to host %q must not carry a query, fragment or user info", u.Host)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// LoginURL returns the base URL of the login service the Client talks to.
func (c *Client) LoginURL() string { return c.loginURL }

// Exchange signs systemUserToken for the current minute, sends it to
// PartnerSystemUserService for the tenant contextIdentifier (e.g.
// "Cust12345"), verifies the JWT that comes back and returns its claims.
//
// Every call creates a credentials record in the tenant's database and the
// ticket lasts hours: do not call Exchange per request. Ticket and the
// transports built on it cache the result.
//
// Transient failures (connection refused or reset, timeouts, HTTP 429, 502,
// 503, 504) are retried up to Config.MaxAttempts times within ctx, each
// attempt signing anew.
//
// Errors: *AuthenticationError when SuperOffice refuses; ErrInvalidToken
// when the JWT fails verification; ErrKeySetUnavailable when SuperOffice's
// keys could not be fetched; *FaultError for a SOAP fault; *HTTPError for
// another unexpected status; ErrMalformedResponse for an unreadable answer;
// ErrCrossHostRedirect; ErrInvalidArgument for empty arguments; ctx's error
// when it ends first. No error carries a secret.
func (c *Client) Exchange(ctx context.Context, systemUserToken, contextIdentifier string) (*SystemUserResult, error) {
	start := time.Now()
	res, err := c.exchange(ctx, systemUserToken, contextIdentifier)
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

func (c *Client) exchange(ctx context.Context, systemUserToken, contextIdentifier string) (*SystemUserResult, error) {
	if err := checkContextIdentifier(contextIdentifier); err != nil {
		return nil, err
	}
	raw, err := c.authenticate(ctx, systemUserToken, contextIdentifier)
	if err != nil {
		return nil, err
	}
	claims, err := verifyJWT(ctx, raw, c.keys, c.parser)
	if err != nil {
		return nil, err
	}
	if err := checkExchangeClaims(claims); err != nil {
		return nil, err
	}
	res := resultFromClaims(claims)
	res.Token = raw
	if res.ContextIdentifier == "" {
		res.ContextIdentifier = contextIdentifier
	} else if !strings.EqualFold(res.ContextIdentifier, contextIdentifier) {
		return nil, tokenError(fmt.Sprintf("token is for tenant %q, not %q", res.ContextIdentifier, contextIdentifier), nil)
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		res.ExpiresAt = exp.Time
	}
	if iat, err := claims.GetIssuedAt(); err == nil && iat != nil {
		res.IssuedAt = iat.Time
	}
	res.ReceivedAt = c.now()
	return res, nil
}

// authenticate signs and sends the token, retrying transient failures, and
// returns the JWT. Each attempt signs anew, so its timestamp is current.
func (c *Client) authenticate(ctx context.Context, systemUserToken, contextIdentifier string) (string, error) {
	for attempt := 1; ; attempt++ {
		signed, err := c.signer.SignAt(systemUserToken, c.now())
		if err != nil {
			return "", err
		}
		var raw string
		if c.protocol == REST {
			raw, err = c.authenticateREST(ctx, signed, contextIdentifier)
		} else {
			raw, err = c.authenticateSOAP(ctx, signed, contextIdentifier)
		}
		if err == nil {
			return raw, nil
		}
		err = c.transportError(ctx, err)
		if attempt >= c.attempts || ctx.Err() != nil || !retryable(err) {
			return "", err
		}
		wait, ok := retryDelay(err, attempt, c.retryGap, time.Now())
		if !ok {
			return "", err
		}
		c.log.LogAttrs(ctx, slog.LevelDebug, "sysuser: retrying exchange", slog.String("tenant", contextIdentifier),
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.String("error", err.Error()))
		if serr := sleep(ctx, wait); serr != nil {
			return "", fmt.Errorf("sysuser: exchange: %w (after %w)", serr, err)
		}
	}
}

// transportError makes sure a failure caused by ctx reports ctx's error
// (so errors.Is(err, context.DeadlineExceeded) holds) and that a *url.Error
// carries no URL-embedded detail beyond the endpoint.
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("sysuser: exchange: %w", ctxErr)
	}
	return err
}

// checkContextIdentifier refuses an empty or unprintable tenant id.
func checkContextIdentifier(id string) error {
	if id == "" {
		return argError("context identifier is empty (want a tenant id such as Cust12345)")
	}
	if len(id) > 128 || strings.IndexFunc(id, func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' }) >= 0 {
		return argError("context identifier %q is not a tenant id such as Cust12345", id)
	}
	return nil
}
