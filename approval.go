package sysuser

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ApprovalConfig configures an ApprovalVerifier. ClientID and a place to
// get keys from (Environment, LoginURL or Certificate) are required.
type ApprovalConfig struct {
	// Environment is SOD, Stage or Online, as in Config.
	Environment Environment
	// LoginURL overrides Environment, as in Config. The expected issuer is
	// its scheme and host ("https://sod.superoffice.com"), as SuperOffice's
	// OpenID Connect metadata gives it, and the key set is at
	// LoginURL + "/.well-known/jwks".
	LoginURL string
	// Issuer overrides the issuer derived from the login URL.
	Issuer string
	// ClientID is the application's client id: the id_token's audience.
	ClientID string
	// Certificate optionally pins SuperOffice's signing certificate, as in
	// Config.Certificate; otherwise keys come from the JWKS by kid, cached
	// once per process for all Clients and verifiers that share it (see
	// Config.Certificate).
	Certificate []byte
	// HTTPClient fetches the key set (and, for an Onboarding, talks to the
	// token endpoint). Nil means a client with timeouts.
	HTTPClient *http.Client
	// Leeway is the clock skew allowed on exp, nbf and iat. Zero means 5
	// minutes, as SuperOffice's own clients allow; negative means none.
	Leeway time.Duration
	// Clock returns the current time. Nil means time.Now.
	Clock func() time.Time
	// Logger receives why Verify refused a token, at Warn (never a token).
	// Nil means no logging.
	Logger *slog.Logger

	// Checks Verify makes unless explicitly skipped, as go-oidc's
	// Skip... fields do: a verifier is complete unless one is set.

	// SkipSystemUserCheck accepts id_tokens without the system_token and
	// ctx claims: those of a plain sign-in, where the application did not
	// ask for system user access. Approvals always carry them.
	SkipSystemUserCheck bool
	// SkipNonceCheck lets Verify accept an empty nonce argument, and then
	// checks no nonce. Without it, an empty nonce is an error: a nonce is
	// what ties an id_token to the login this browser started.
	SkipNonceCheck bool
}

// An ApprovalVerifier checks the id_token SuperID posts to the
// application's redirect URL when a tenant administrator approves the
// application, and extracts the approval. It is safe for concurrent use.
// An Onboarding takes one (OnboardingConfig.Verifier): it says where the
// onboarding talks and whose keys it trusts.
//
// Close it when done: it gives up its share of SuperOffice's key set (kept
// for the process while any Client or verifier uses it) and closes the idle
// connections of the HTTP client it made (without ApprovalConfig.HTTPClient;
// otherwise they stay the caller's), which would otherwise linger until
// their idle timeout.
type ApprovalVerifier struct {
	login       string // the login service URL, without a trailing slash
	issuer      string
	clientID    string
	keys        keySource
	releaseKeys func() // gives up keys, on Close
	parser      *jwt.Parser
	leeway      time.Duration
	now         func() time.Time
	log         *slog.Logger
	http        *http.Client // closed by Close when own
	ownHTTP     bool
	closed      atomic.Bool

	skipSystemUser, skipNonce bool // see ApprovalConfig
}

// NewApprovalVerifier checks cfg and returns a verifier. Errors match
// ErrInvalidConfig.
func NewApprovalVerifier(cfg ApprovalConfig) (*ApprovalVerifier, error) {
	if cfg.ClientID == "" {
		return nil, configError("ClientID is empty; it is the id_token's audience")
	}
	login, err := resolveLoginURL(cfg.Environment, cfg.LoginURL)
	if err != nil {
		return nil, err
	}
	issuer := cfg.Issuer
	if issuer == "" {
		u, _ := url.Parse(login) // resolveLoginURL checked it
		issuer = u.Scheme + "://" + u.Host
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	v := &ApprovalVerifier{login: login, issuer: issuer, clientID: cfg.ClientID, leeway: leewayOrDefault(cfg.Leeway), now: now, log: cfg.Logger,
		http: safeHTTPClient(cfg.HTTPClient), ownHTTP: cfg.HTTPClient == nil,
		skipSystemUser: cfg.SkipSystemUserCheck, skipNonce: cfg.SkipNonceCheck}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if v.keys, v.releaseKeys, err = newKeySource(cfg.Certificate, login, cfg.HTTPClient, v.http, cfg.Clock); err != nil {
		return nil, err
	}
	v.parser = newParser(issuer, cfg.ClientID, v.leeway, now)
	return v, nil
}

// Approval is what a verified approval id_token says: above all the
// tenant and the system user token to store for it.
//
// SystemUserToken is a credential: fmt (every verb but %p), log/slog and
// encoding/json show the approval without it or its claims, on the paths
// and with the limits SystemUserResult's doc describes.
type Approval struct {
	// SystemUserToken is what Client.Tenant and Client.Exchange take. Store
	// it per tenant, as a secret.
	SystemUserToken string
	// ContextIdentifier is the tenant, e.g. "Cust12345".
	ContextIdentifier string
	// WebAPIURL and NetServerURL are the tenant's REST and SOAP bases.
	WebAPIURL, NetServerURL string
	// Serial is the tenant database's serial number.
	Serial string
	// Subject, Email, UPN, AssociateID, FirstName, LastName and
	// IsAdministrator describe the administrator who approved.
	Subject, Email, UPN, AssociateID, FirstName, LastName string
	IsAdministrator                                       bool
	// CompanyName and IdentityProvider, when present.
	CompanyName, IdentityProvider string
	// IssuedAt and ExpiresAt are the id_token's iat and exp.
	IssuedAt, ExpiresAt time.Time
	// Claims holds every claim of the verified id_token.
	Claims map[string]any
}

// refused logs why a token was refused.
func (v *ApprovalVerifier) refused(ctx context.Context, err error) {
	v.log.LogAttrs(ctx, slog.LevelWarn, "sysuser: id_token refused", slog.String("error", serverText(err.Error())))
}

// verify is Verify without the log record. skipNonce is the verifier's
// SkipNonceCheck, or its caller's own (Onboarding's LegacySkipNonceCheck).
func (v *ApprovalVerifier) verify(ctx context.Context, idToken, nonce string, skipNonce bool) (*Approval, error) {
	if v.closed.Load() {
		return nil, fmt.Errorf("sysuser: the ApprovalVerifier is closed: %w", net.ErrClosed)
	}
	if nonce == "" && !skipNonce {
		return nil, argError("no nonce to check the id_token against (set ApprovalConfig.SkipNonceCheck to verify without one)")
	}
	claims, err := verifyJWT(ctx, idToken, v.keys, v.parser)
	if err != nil {
		return nil, err
	}
	if nonce != "" {
		if got, _ := claims["nonce"].(string); got != nonce {
			return nil, tokenError("nonce does not match the one this login started with", nil)
		}
	}
	// OpenID Connect Core 3.1.3.7: with several audiences, azp must be
	// present; when present, it must be this client.
	aud, _ := claims.GetAudience()
	azp, hasAzp := claims["azp"]
	if len(aud) > 1 && !hasAzp {
		return nil, tokenError("the token has several audiences and no azp claim", jwt.ErrTokenInvalidAudience)
	}
	if hasAzp && azp != v.clientID {
		return nil, tokenError("azp claim is not this client id", jwt.ErrTokenInvalidAudience)
	}
	res := resultFromClaims(claims)
	if res.ContextIdentifier != "" {
		if err := checkContextIdentifier(res.ContextIdentifier); err != nil {
			return nil, tokenError("ctx claim is not a tenant id", nil)
		}
	}
	a := &Approval{
		SystemUserToken:   claimString(res.Claims, claimSystemToken),
		ContextIdentifier: res.ContextIdentifier,
		WebAPIURL:         res.WebAPIURL,
		NetServerURL:      res.NetServerURL,
		Serial:            res.Serial,
		Subject:           claimString(res.Claims, "sub"),
		Email:             res.Email,
		UPN:               res.UPN,
		AssociateID:       res.AssociateID,
		FirstName:         res.FirstName,
		LastName:          res.LastName,
		IsAdministrator:   res.IsAdministrator,
		CompanyName:       res.CompanyName,
		IdentityProvider:  res.IdentityProvider,
		IssuedAt:          res.IssuedAt,
		ExpiresAt:         res.ExpiresAt,
		Claims:            res.Claims,
	}
	if !v.skipSystemUser {
		if a.SystemUserToken == "" {
			return nil, tokenError("system_token claim is missing (was the application approved for system user access?)", nil)
		}
		if a.ContextIdentifier == "" {
			return nil, tokenError("ctx claim is missing", nil)
		}
	}
	return a, nil
}

// Verify checks idToken and returns the approval it carries. The token must
// be RS256, signed by SuperOffice's key (pinned, or from the JWKS by kid),
// issued by the environment's issuer to ClientID (with several audiences,
// or with an azp claim, azp must be ClientID), not expired (exp is
// required), carry nonce, and carry the system_token claim and a ctx claim
// that is a tenant id (as Client.Tenant accepts). The last two checks are
// skipped only as ApprovalConfig says (SkipNonceCheck, with an empty nonce;
// SkipSystemUserCheck). Failures match ErrInvalidToken (and the jwt/v5
// cause), or ErrInvalidArgument for an empty nonce; failures to fetch keys
// are returned as they are.
func (v *ApprovalVerifier) Verify(ctx context.Context, idToken, nonce string) (*Approval, error) {
	a, err := v.verify(ctx, idToken, nonce, v.skipNonce)
	if err != nil {
		v.refused(ctx, err)
		return nil, err
	}
	return a, nil
}

// Close gives up the verifier's share of SuperOffice's key set and closes
// the idle connections of the HTTP client it made (not those of an
// ApprovalConfig.HTTPClient). Later calls, and those of an Onboarding
// using the verifier, fail with an error matching net.ErrClosed. Close is
// safe to call more than once.
func (v *ApprovalVerifier) Close() error {
	if !v.closed.CompareAndSwap(false, true) {
		return nil
	}
	v.releaseKeys()
	if v.ownHTTP {
		v.http.CloseIdleConnections()
	}
	return nil
}

func (a Approval) describe() string {
	return fmt.Sprintf("sysuser.Approval{ContextIdentifier: %s, SystemUserToken: [redacted], WebAPIURL: %s, Email: %s}", a.ContextIdentifier, a.WebAPIURL, a.Email)
}

// Format prints the redacted description for every verb.
func (a Approval) Format(f fmt.State, _ rune) { io.WriteString(f, a.describe()) }

// MarshalJSON writes the fields LogValue gives, with the system user token
// redacted and without the claims, so that json.Marshal and slog's JSON
// handler show no secret. Store SystemUserToken itself, not the Approval's
// JSON.
func (a Approval) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"context_identifier": a.ContextIdentifier, "system_user_token": "[redacted]",
		"webapi_url": a.WebAPIURL, "email": a.Email})
}

// LogValue gives log/slog the approval without the system user token.
func (a Approval) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("context_identifier", a.ContextIdentifier),
		slog.String("system_user_token", "[redacted]"),
		slog.String("webapi_url", a.WebAPIURL),
		slog.String("email", a.Email),
	)
}
