package sysuser

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors. Every error the package returns for one of these causes
// matches it with errors.Is, however much context it carries.
var (
	// ErrInvalidKey means the private key could not be used: it is not an RSA
	// private key, is truncated, inconsistent, public-only or
	// password-protected. The message names what is wrong (for a
	// password-protected PEM key, how to decrypt it once:
	// `openssl pkey -in encrypted.pem -out plain.pem`, keeping the plain key
	// in a secret store) but never repeats key material.
	ErrInvalidKey = errors.New("sysuser: invalid private key")

	// ErrInvalidToken means the JWT returned by SuperOffice failed
	// verification. The jwt/v5 cause (for example jwt.ErrTokenExpired or
	// jwt.ErrTokenSignatureInvalid) is wrapped too.
	ErrInvalidToken = errors.New("sysuser: invalid token")

	// ErrInvalidConfig means NewClient was given an incomplete or
	// contradictory Config.
	ErrInvalidConfig = errors.New("sysuser: invalid config")

	// ErrInvalidArgument means a call was given an unusable argument, such as
	// an empty system user token or context identifier.
	ErrInvalidArgument = errors.New("sysuser: invalid argument")

	// ErrKeySetUnavailable means SuperOffice's signing keys (the JWKS)
	// could not be fetched, so the token could not be checked at all. The
	// cause (a network error, *HTTPError, ErrMalformedResponse, ctx's error)
	// is wrapped too. It is not ErrInvalidToken: nothing is known to be
	// wrong with the token.
	ErrKeySetUnavailable = errors.New("sysuser: SuperOffice's signing keys are unavailable")

	// ErrCrossHostRedirect means the login service redirected to another
	// host or scheme; following would send the application token there.
	ErrCrossHostRedirect = errors.New("sysuser: refusing to follow a redirect to another host")

	// ErrNotWebAPI means a request through a Transport was not for the
	// tenant's WebApi (another scheme, host or port than the base
	// SuperOffice names for it now or named before, or a redirect away from
	// it), so the transport refused to send it: the ticket and the
	// application token go nowhere else. It is also the error when the
	// WebApi answered 421 Misdirected Request and SuperOffice's state API
	// names no other host for the tenant.
	ErrNotWebAPI = errors.New("sysuser: request is not for the tenant's WebApi")

	// ErrInvalidState means an onboarding callback did not match a login
	// this browser started: no or a foreign state cookie, another state, an
	// expired or replayed login. It is how login CSRF and replays are
	// refused.
	ErrInvalidState = errors.New("sysuser: onboarding callback does not match a login this browser started")

	// ErrTenantNotRunning means SuperOffice says the tenant is not running
	// (suspended, deleted, in offline maintenance, ...). The error is a
	// *TenantNotRunningError, which says the state and when the Client
	// asks again.
	ErrTenantNotRunning = errors.New("sysuser: the tenant is not running")

	// ErrMalformedResponse means SuperOffice answered with a success status
	// but a body that is not a well-formed answer of the expected kind, or
	// one larger than the package reads.
	ErrMalformedResponse = errors.New("sysuser: malformed response")
)

// AuthenticationError means SuperOffice answered and refused the exchange
// (IsSuccessful was false). Message is SuperOffice's ErrorMessage, for example
// "Calculated signature is invalid". A refusal is final for the request that
// caused it: retrying the same request will not help.
type AuthenticationError struct {
	// Message is SuperOffice's ErrorMessage, as it sent it.
	Message string
	// ContextIdentifier is the tenant the exchange was for, e.g. "Cust12345".
	ContextIdentifier string
}

// Error implements error.
func (e *AuthenticationError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no reason given"
	}
	return fmt.Sprintf("sysuser: SuperOffice refused the system user token for %s: %s", e.ContextIdentifier, msg)
}

// AuthorizationError is an OAuth error from SuperID: at the callback (error
// and error_description, "access_denied" when the administrator declined)
// or from the token endpoint ("invalid_grant", ...).
type AuthorizationError struct {
	// Code is the OAuth error code, such as "access_denied".
	Code string
	// Description is SuperID's error_description, bounded and cleaned.
	Description string
	// StatusCode is the token endpoint's HTTP status, or 0 at the callback.
	StatusCode int
}

// Error implements error.
func (e *AuthorizationError) Error() string {
	msg := "sysuser: SuperID answered " + e.Code
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// HTTPError means the login service answered with an unexpected HTTP status
// and no SOAP fault, for example a 500 HTML page from a proxy.
type HTTPError struct {
	// StatusCode is the HTTP status code, e.g. 503.
	StatusCode int
	// Status is the HTTP status line, e.g. "503 Service Unavailable".
	Status string
	// Body is the start of the response body (at most 512 bytes), for
	// diagnostics. It is not part of Error().
	Body []byte

	retryAfter string // the Retry-After header, if any
}

// Error implements error. It names the status only.
func (e *HTTPError) Error() string {
	status := e.Status
	if status == "" {
		status = fmt.Sprintf("%d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return "sysuser: login service answered HTTP " + status
}

// FaultError is a SOAP Fault returned by PartnerSystemUserService.
type FaultError struct {
	// StatusCode is the HTTP status that carried the fault, usually 500.
	StatusCode int
	// Code is the faultcode, e.g. "s:Client".
	Code string
	// String is the faultstring, the server's explanation.
	String string
}

// Error implements error.
func (e *FaultError) Error() string {
	return fmt.Sprintf("sysuser: SOAP fault %s: %s", e.Code, e.String)
}

// keyError builds an error matching ErrInvalidKey with a fixed reason.
// Reasons are always written by this package, never copied from a parser,
// so that no key material can reach the message.
func keyError(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidKey, reason)
}

func configError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

func argError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidArgument}, args...)...)
}

func tokenError(reason string, cause error) error {
	if cause == nil {
		return fmt.Errorf("%w: %s", ErrInvalidToken, reason)
	}
	return fmt.Errorf("%w: %s: %w", ErrInvalidToken, reason, cause)
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedResponse}, args...)...)
}
