package sysusertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// openIDConfigurationPath is where the fake publishes its OpenID Connect
// metadata, as SuperOffice does.
const openIDConfigurationPath = LoginPath + "/.well-known/openid-configuration"

// IDToken mints the id_token SuperID would post to the application's
// redirect URL when the tenant's administrator approves the application:
// RS256 by the fake's key, issued by Root to clientID, carrying the
// tenant's system user token (see AddTenant), its ctx, URLs and serial, the
// administrator's identity, and nonce when it is not empty. Its claims are
// those of a real SuperOffice id_token (identityprovider "central-superid",
// is_administrator "True", string associateid, upn, initials,
// so_primary_email_address, ...) plus system_token; nbf is iat - 60 s and
// exp is iat + Options.TokenLifetime. The tenant must have been added.
func (s *Server) IDToken(contextIdentifier, clientID, nonce string) (string, error) {
	now := s.opts.Clock()
	s.mu.Lock()
	t := s.tenants[strings.ToLower(contextIdentifier)]
	key := s.keys[len(s.keys)-1]
	var claims map[string]any
	if t != nil {
		claims = s.idTokenClaims(t, contextIdentifier, clientID, nonce, now)
	}
	s.mu.Unlock()
	if t == nil {
		return "", fmt.Errorf("sysusertest: tenant %q was not added", contextIdentifier)
	}
	return key.sign(claims)
}

// idTokenClaims are the claims of the id_token SuperID issues when the
// tenant's administrator approves clientID: IDToken's, and the token
// endpoint's for an approved authorization code. s.mu is held.
func (s *Server) idTokenClaims(t *tenant, contextIdentifier, clientID, nonce string, now time.Time) map[string]any {
	upn := "admin@" + strings.ToLower(contextIdentifier) + ".example"
	claims := map[string]any{
		"iss":                                    s.Root,
		"aud":                                    clientID,
		"sub":                                    upn,
		"iat":                                    now.Unix(),
		"nbf":                                    now.Add(-nbfBefore).Unix(),
		"exp":                                    now.Add(s.opts.TokenLifetime).Unix(),
		claimPrefix + "associateid":              "1",
		claimPrefix + "identityprovider":         "central-superid",
		claimPrefix + "email":                    upn,
		claimPrefix + "upn":                      upn,
		claimPrefix + "is_administrator":         "True",
		claimPrefix + "ctx":                      contextIdentifier,
		claimPrefix + "company_name":             contextIdentifier + " AS",
		claimPrefix + "serial":                   t.serial,
		claimPrefix + "netserver_url":            s.tenantOrigin(t) + "/" + contextIdentifier + "/Remote/Services88/",
		claimPrefix + "webapi_url":               s.tenantOrigin(t) + "/" + contextIdentifier + "/api/",
		claimPrefix + "initials":                 "AA",
		claimPrefix + "so_primary_email_address": upn,
		claimPrefix + "system_token":             t.token,
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	return claims
}

// serveOpenIDConfiguration answers with metadata shaped like SuperOffice's,
// naming only endpoints the fake serves: the keys, and the authorization
// code flow's authorize and token endpoints (see superid.go).
func (s *Server) serveOpenIDConfiguration(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                s.Root,
		"jwks_uri":                              s.URL + "/.well-known/jwks",
		"authorization_endpoint":                s.Root + AuthorizePath,
		"token_endpoint":                        s.Root + TokenPath,
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code"},
		"scopes_supported":                      []string{"openid"},
		"response_modes_supported":              []string{"form_post", "fragment", "query"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "token id_token", "token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}
