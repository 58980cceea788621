package sysuser

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ClaimNamespace is the namespace of SuperOffice's identity claims, as it
// spells it ("schemes", not "schemas"). SystemUserResult.Claims and
// Approval.Claims hold the claims under their full names, such as
// ClaimNamespace + "company_id".
const ClaimNamespace = "http://schemes.superoffice.net/identity/"

// Claim names SuperOffice uses in system user and approval tokens.
const (
	claimTicket           = ClaimNamespace + "ticket"
	claimContext          = ClaimNamespace + "ctx"
	claimSerial           = ClaimNamespace + "serial"
	claimWebAPIURL        = ClaimNamespace + "webapi_url"
	claimNetServerURL     = ClaimNamespace + "netserver_url"
	claimAssociateID      = ClaimNamespace + "associateid"
	claimIdentityProvider = ClaimNamespace + "identityprovider"
	claimEmail            = ClaimNamespace + "email"
	claimUPN              = ClaimNamespace + "upn"
	claimTenantID         = ClaimNamespace + "tenantId"
	claimIsAdministrator  = ClaimNamespace + "is_administrator"
	claimCompanyName      = ClaimNamespace + "company_name"
	claimCompanyID        = ClaimNamespace + "company_id"
	claimFirstName        = ClaimNamespace + "firstname"
	claimLastName         = ClaimNamespace + "lastname"
	claimSystemToken      = ClaimNamespace + "system_token"
)

// SystemUserResult is what a verified exchange yields: the system user
// ticket and the claims that came with it.
//
// The ticket is a credential. fmt (every verb but %p), log/slog and
// encoding/json show the result with the ticket redacted (for example
// "7T:…[redacted]") and without Token and Claims, for a result or a pointer
// to one printed itself or reached through exported fields, maps, slices
// or interfaces; read the Ticket field itself to use it. Not hidden: a
// result in an unexported field of a struct that fmt or slog's text
// handler prints (fmt prints such fields by reflection, without calling
// Format), %p on a struct value holding it (a bad verb, printed the same
// way), and encoding/gob. Results are shared by all callers: treat them as
// read-only.
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
		claimTicket, claimContext, claimSerial, claimWebAPIURL, claimNetServerURL,
		claimAssociateID, claimIdentityProvider, claimEmail, claimUPN, claimTenantID,
		claimIsAdministrator, claimCompanyName, claimCompanyID, claimFirstName,
		claimLastName, claimSystemToken,
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

// claimString reads a claim as text: SuperOffice sends strings ("5",
// "True"), but a number or boolean is read as its text too.
func claimString(claims map[string]any, name string) string {
	switch v := claims[name].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// resultFromClaims fills a SystemUserResult from verified claims. It is the
// one mapping of claims to fields, for exchanges and approvals alike.
func resultFromClaims(claims jwt.MapClaims) *SystemUserResult {
	m := internClaims(claims)
	str := func(name string) string { return claimString(m, name) }
	res := &SystemUserResult{
		Ticket:            str(claimTicket),
		WebAPIURL:         str(claimWebAPIURL),
		NetServerURL:      str(claimNetServerURL),
		ContextIdentifier: str(claimContext),
		Serial:            str(claimSerial),
		AssociateID:       str(claimAssociateID),
		Email:             str(claimEmail),
		UPN:               str(claimUPN),
		IdentityProvider:  str(claimIdentityProvider),
		TenantID:          str(claimTenantID),
		IsAdministrator:   strings.EqualFold(str(claimIsAdministrator), "true"),
		CompanyName:       str(claimCompanyName),
		CompanyID:         str(claimCompanyID),
		FirstName:         str(claimFirstName),
		LastName:          str(claimLastName),
		Claims:            m,
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		res.ExpiresAt = exp.Time
	}
	if iat, err := claims.GetIssuedAt(); err == nil && iat != nil {
		res.IssuedAt = iat.Time
	}
	return res
}

// redactTicket returns a form of a ticket that is safe to print: its type
// prefix (such as "7T:") and a marker, never its secret part.
func redactTicket(ticket string) string {
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
		redactTicket(r.Ticket), r.WebAPIURL, r.ContextIdentifier, r.Serial, r.AssociateID, r.ExpiresAt.UTC().Format(time.RFC3339))
}

// Format prints the redacted description for every verb, so that no
// formatting verb reaches the ticket, the raw token or the claims.
func (r SystemUserResult) Format(f fmt.State, _ rune) { io.WriteString(f, r.describe()) }

// MarshalJSON writes the fields LogValue gives, the ticket redacted (as
// "redacted_ticket"), without Token and Claims, so that json.Marshal and
// slog's JSON handler show no secret. A TicketStore that keeps results as
// JSON copies the fields into a type of its own (as redisstore does).
func (r SystemUserResult) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Ticket            string    `json:"redacted_ticket"`
		ContextIdentifier string    `json:"context_identifier"`
		WebAPIURL         string    `json:"webapi_url"`
		Serial            string    `json:"serial"`
		ExpiresAt         time.Time `json:"expires_at"`
	}{redactTicket(r.Ticket), r.ContextIdentifier, r.WebAPIURL, r.Serial, r.ExpiresAt})
}

// LogValue gives log/slog the result with the ticket redacted.
func (r SystemUserResult) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("ticket", redactTicket(r.Ticket)),
		slog.String("context_identifier", r.ContextIdentifier),
		slog.String("webapi_url", r.WebAPIURL),
		slog.String("serial", r.Serial),
		slog.Time("expires_at", r.ExpiresAt),
	)
}
