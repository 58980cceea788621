package sysuser

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
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

// An Environment names one of SuperOffice's environments, and so the login
// service to talk to and whose keys sign its tokens. Use the constants; a
// configuration naming any other value is refused (ErrInvalidConfig). Case
// does not matter, and "qaonline" is accepted as another name for Stage.
type Environment string

// SuperOffice's environments.
const (
	// SOD is the development environment, sod.superoffice.com, where
	// applications are built and tested.
	SOD Environment = "sod"
	// Stage is the stage environment, qaonline.superoffice.com, where
	// SuperOffice certifies an application before production.
	Stage Environment = "stage"
	// Online is production, online.superoffice.com.
	Online Environment = "online"
)

// loginURL returns the environment's login service URL, or false for a
// name that is none of SuperOffice's environments.
func (e Environment) loginURL() (string, bool) {
	switch strings.ToLower(string(e)) {
	case "sod":
		return "https://sod.superoffice.com/login", true
	case "stage", "qaonline":
		return "https://qaonline.superoffice.com/login", true
	case "online":
		return "https://online.superoffice.com/login", true
	}
	return "", false
}

// Defaults of the Config fields of the same names.
const (
	defaultLeeway          = 5 * time.Minute
	defaultRefreshAge      = time.Hour
	defaultTicketLifetime  = 6*time.Hour - 10*time.Minute
	defaultExchangeTimeout = time.Minute
	defaultMaxAttempts     = 3
	defaultRetryDelay      = 250 * time.Millisecond
	defaultMaxExchanges    = 4
)

// Upper bounds of Config's durations: larger values are mistakes (such as
// a count of nanoseconds taken for seconds) and would overflow the
// arithmetic on them, so NewClient refuses them.
const (
	maxRetryDelay      = time.Minute
	maxExchangeTimeout = time.Hour
	maxTicketLifetime  = 30 * 24 * time.Hour
)

// Config configures a Client. ApplicationToken, a key (PrivateKey or
// Signer) and a place to talk to (Environment or LoginURL) are required.
//
// A Config holds secrets; fmt, log/slog and encoding/json show which
// fields are set, never their values, on the paths and with the limits
// SystemUserResult's doc describes (not in an unexported field of a struct
// fmt prints, nor with %p on a struct value).
type Config struct {
	// Environment is SOD, Stage or Online. Ignored when LoginURL is set.
	Environment Environment
	// LoginURL is the base URL of the login service, such as
	// "https://sod.superoffice.com/login". It overrides Environment. The
	// service's endpoints hang below it. It must be https, except on a
	// loopback host (for tests and sysusertest).
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
	// or a PEM public key (see ParsePublicKey). Without it the Client
	// fetches the environment's key set (LoginURL + "/.well-known/jwks") and
	// picks the key by the token's kid. Clients and ApprovalVerifiers of one
	// process that fetch the same key set with the same HTTPClient (or both
	// with none) and no Clock share one cache of it, fetched once and
	// released by their Close.
	Certificate []byte
	// Protocol is SOAP (the default) or REST.
	Protocol Protocol
	// HTTPClient makes the requests to the login service. Nil means a client
	// with bounded connect, TLS and overall timeouts. Either way the Client
	// refuses redirects to another host.
	HTTPClient *http.Client
	// Leeway is the clock skew allowed when checking the token's lifetime.
	// Zero means 5 minutes, as SuperOffice's own clients allow; negative
	// means none.
	Leeway time.Duration
	// Clock returns the current time. Nil means time.Now. Tests set it to
	// move time without waiting; with a Clock set, every Ticket call reads
	// it, so the cached path is slower than with the real clock.
	Clock func() time.Time
	// SlidingExpiry follows SuperOffice's later credential-management
	// guidance: a ticket stays valid for TicketLifetime after its last use,
	// so it is renewed only when it has been idle that long or after the
	// WebApi answered 401. RefreshAge is then ignored. The default (false)
	// follows the original guidance: renew every RefreshAge, and never use a
	// ticket past TicketLifetime after its exchange. See the README for what
	// each costs.
	SlidingExpiry bool
	// RefreshAge is how old a cached ticket may get before it is renewed in
	// the background, the current one still handed out meanwhile. Zero means
	// 1 hour (SuperOffice recommends renewing at least every hour).
	RefreshAge time.Duration
	// TicketLifetime is how long after its exchange (or, with
	// SlidingExpiry, after its last use) a ticket is handed out at all; past
	// it, callers wait for a new one. Zero means 6 hours, SuperOffice's
	// ticket lifetime, less a 10 minute margin. It must exceed RefreshAge.
	// RefreshAge and TicketLifetime over 30 days are refused.
	TicketLifetime time.Duration
	// ExchangeTimeout bounds each exchange, all attempts together: those
	// Ticket runs on behalf of its callers, and those of Exchange when its
	// ctx has no earlier deadline. Zero means 1 minute; over 1 hour is
	// refused.
	ExchangeTimeout time.Duration
	// MaxConcurrentExchanges bounds how many exchanges run at once, across
	// all tenants; other callers wait for a slot within their ctx. Zero
	// means 4.
	MaxConcurrentExchanges int
	// MaxAttempts is how many times an exchange is tried when a failure is
	// transient (connection refused or reset, a timeout before the answer
	// began, HTTP 429, 502, 503, 504). Zero means 3; 1 means no retries.
	// Refusals and invalid tokens are never retried.
	MaxAttempts int
	// RetryDelay is the base of the exponential backoff between attempts,
	// with jitter; a Retry-After header of up to 30 s takes precedence.
	// Zero means 250 ms; over 1 minute is refused.
	RetryDelay time.Duration
	// Store shares tickets between replicas (see TicketStore). Nil means
	// each Client keeps its own, in memory.
	Store TicketStore
	// Logger receives the Client's log records (exchanges, refreshes,
	// failures, durations; never secrets). Nil means no logging.
	Logger *slog.Logger
	// Observer is told of the Client's exchanges, state lookups, retries,
	// store failures, cached tenants and notifications, for metrics and
	// traces (see Observer and package otelsysuser). Nil means none.
	Observer *Observer
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

// Format prints the Config for every verb (%v, %+v, %#v, %s, ...) with its
// secrets shown as [set] or [not set].
func (c Config) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.describe()) }

// LogValue describes the Config to log/slog without its secrets.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.describe()) }

// MarshalJSON writes the description Format prints, as a JSON string, so
// that json.Marshal and slog's JSON handler show no secret.
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.describe()) }

// resolveLoginURL turns Environment or LoginURL into a base URL without a
// trailing slash, refusing plain http except on loopback.
func resolveLoginURL(env Environment, login string) (string, error) {
	if login == "" {
		if env == "" {
			return "", configError("neither Environment nor LoginURL is set")
		}
		u, ok := env.loginURL()
		if !ok {
			return "", configError("unknown Environment %q (want sysuser.SOD, Stage or Online)", string(env))
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

// orDefault returns d, or def when d is zero.
func orDefault[T comparable](d, def T) T {
	var zero T
	if d == zero {
		return def
	}
	return d
}
