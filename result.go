package sysuser

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// ClaimPrefix is the namespace of SuperOffice's identity claims.
const ClaimPrefix = "http://schemes.superoffice.net/identity/"

// Claim names SuperOffice uses in system user and approval tokens.
const (
	ClaimTicket           = ClaimPrefix + "ticket"
	ClaimContext          = ClaimPrefix + "ctx"
	ClaimSerial           = ClaimPrefix + "serial"
	ClaimWebAPIURL        = ClaimPrefix + "webapi_url"
	ClaimNetServerURL     = ClaimPrefix + "netserver_url"
	ClaimAssociateID      = ClaimPrefix + "associateid"
	ClaimIdentityProvider = ClaimPrefix + "identityprovider"
	ClaimEmail            = ClaimPrefix + "email"
	ClaimUPN              = ClaimPrefix + "upn"
	ClaimTenantID         = ClaimPrefix + "tenantId"
	ClaimIsAdministrator  = ClaimPrefix + "is_administrator"
	ClaimCompanyName      = ClaimPrefix + "company_name"
	ClaimCompanyID        = ClaimPrefix + "company_id"
	ClaimFirstName        = ClaimPrefix + "firstname"
	ClaimLastName         = ClaimPrefix + "lastname"
	ClaimSystemToken      = ClaimPrefix + "system_token"
)

// SystemUserResult is what a verified exchange yields: the system user
// ticket and the claims that came with it.
//
// The ticket is a credential. fmt and log/slog show it redacted (for
// example "7T:…[redacted]"); read the Ticket field itself to use it.
type SystemUserResult struct {
	// Ticket is the system user ticket ("7T:..."), for
	// "Authorization: SOTicket <Ticket>". Treat it as opaque and secret.
	Ticket string
	// WebAPIURL is the tenant's REST base URL, ending in "/api/",
	// e.g. "https://sod.superoffice.com/Cust12345/api/".
	WebAPIURL string
	// NetServerURL is the tenant's SOAP services base URL.
	NetServerURL string
	// ContextIdentifier is the tenant, e.g. "Cust12345".
	ContextIdentifier string
	// Serial is the tenant database's serial number; the token's audience
	// is "spn:" + Serial.
	Serial string
	// AssociateID is the system user's associate id, as SuperOffice sent it.
	AssociateID string
	// Email, UPN and IdentityProvider identify the system user.
	Email, UPN, IdentityProvider string
	// TenantID is SuperOffice's tenantId claim, when present.
	TenantID string
	// IsAdministrator reports the is_administrator claim ("True").
	IsAdministrator bool
	// CompanyName, CompanyID, FirstName and LastName are the remaining
	// identity claims, when present.
	CompanyName, CompanyID, FirstName, LastName string

	// IssuedAt and ExpiresAt are the JWT's own iat and exp. The JWT is
	// short-lived (minutes); the ticket inside it lasts hours and is not
	// bounded by ExpiresAt.
	IssuedAt, ExpiresAt time.Time
	// ReceivedAt is when the exchange that produced this result finished,
	// by the Client's clock. Ticket lifetimes count from it.
	ReceivedAt time.Time
	// Token is the raw JWT, verified. It carries the ticket: keep it as
	// secret as the ticket.
	Token string
	// Claims holds every claim of the verified JWT, including those with no
	// field above. It too holds the ticket.
	Claims map[string]any
}

// knownClaims maps each claim name the package knows to its constant, so
// that cached results share one copy of every name instead of holding the
// copies the JSON decoder made (about 700 bytes a result).
var knownClaims = func() map[string]string {
	m := map[string]string{}
	for _, name := range []string{
		"iss", "aud", "exp", "nbf", "iat", "nonce", "sub",
		ClaimTicket, ClaimContext, ClaimSerial, ClaimWebAPIURL, ClaimNetServerURL,
		ClaimAssociateID, ClaimIdentityProvider, ClaimEmail, ClaimUPN, ClaimTenantID,
		ClaimIsAdministrator, ClaimCompanyName, ClaimCompanyID, ClaimFirstName,
		ClaimLastName, ClaimSystemToken,
	} {
		m[name] = name
	}
	return m
}()

// internClaims returns claims with the known names replaced by constants.
func internClaims(claims map[string]any) map[string]any {
	out := make(map[string]any, len(claims))
	for k, v := range claims {
		if c, ok := knownClaims[k]; ok {
			k = c
		}
		out[k] = v
	}
	return out
}

// resultFromClaims fills a SystemUserResult from verified claims.
func resultFromClaims(claims map[string]any) *SystemUserResult {
	claims = internClaims(claims)
	str := func(name string) string {
		switch v := claims[name].(type) {
		case string:
			return v
		case float64:
			return fmt.Sprint(v)
		case bool:
			return fmt.Sprint(v)
		}
		return ""
	}
	return &SystemUserResult{
		Ticket:            str(ClaimTicket),
		WebAPIURL:         str(ClaimWebAPIURL),
		NetServerURL:      str(ClaimNetServerURL),
		ContextIdentifier: str(ClaimContext),
		Serial:            str(ClaimSerial),
		AssociateID:       str(ClaimAssociateID),
		Email:             str(ClaimEmail),
		UPN:               str(ClaimUPN),
		IdentityProvider:  str(ClaimIdentityProvider),
		TenantID:          str(ClaimTenantID),
		IsAdministrator:   strings.EqualFold(str(ClaimIsAdministrator), "true"),
		CompanyName:       str(ClaimCompanyName),
		CompanyID:         str(ClaimCompanyID),
		FirstName:         str(ClaimFirstName),
		LastName:          str(ClaimLastName),
		Claims:            claims,
	}
}

// RedactTicket returns a form of a ticket that is safe to print: its type
// prefix (such as "7T:") and a marker, never its secret part.
func RedactTicket(ticket string) string {
	if ticket == "" {
		return ""
	}
	if i := strings.IndexByte(ticket, ':'); i > 0 && i <= 4 {
		return ticket[:i+1] + "…[redacted]"
	}
	return "[redacted]"
}

func (r SystemUserResult) describe() string {
	return fmt.Sprintf("sysuser.SystemUserResult{Ticket: %s, WebAPIURL: %s, ContextIdentifier: %s, Serial: %s, AssociateID: %s, ExpiresAt: %s}",
		RedactTicket(r.Ticket), r.WebAPIURL, r.ContextIdentifier, r.Serial, r.AssociateID, r.ExpiresAt.UTC().Format(time.RFC3339))
}

// String describes the result with the ticket redacted.
func (r SystemUserResult) String() string { return r.describe() }

// GoString describes the result with the ticket redacted, for %#v.
func (r SystemUserResult) GoString() string { return r.describe() }

// Format prints the redacted description for every verb, so that no
// formatting verb reaches the ticket, the raw token or the claims.
func (r SystemUserResult) Format(f fmt.State, _ rune) { io.WriteString(f, r.describe()) }

// LogValue gives log/slog the result with the ticket redacted.
func (r SystemUserResult) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("ticket", RedactTicket(r.Ticket)),
		slog.String("context_identifier", r.ContextIdentifier),
		slog.String("webapi_url", r.WebAPIURL),
		slog.String("serial", r.Serial),
		slog.Time("expires_at", r.ExpiresAt),
	)
}
