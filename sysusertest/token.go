package sysusertest

// The token endpoint: client authentication, PKCE and the id_token.

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// oauthError answers the token endpoint's error JSON (RFC 6749 5.2).
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// serveToken redeems an authorization code.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not form-encoded")
		return
	}
	f := r.PostForm
	for k, v := range f {
		if len(v) > 1 {
			oauthError(w, http.StatusBadRequest, "invalid_request", k+" is repeated")
			return
		}
	}
	clientID, ok := s.authenticateClient(w, r)
	if !ok {
		return
	}
	switch gt := f.Get("grant_type"); gt {
	case "authorization_code":
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is missing")
		return
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported", gt))
		return
	}
	code := f.Get("code")
	if code == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "code is missing")
		return
	}
	now := s.opts.Clock()
	c, refusal := s.redeem(code, clientID, f, now)
	if refusal != "" {
		oauthError(w, http.StatusBadRequest, "invalid_grant", refusal)
		return
	}

	s.mu.Lock()
	t := s.tenants[strings.ToLower(c.tenant)]
	key := s.keys[len(s.keys)-1]
	var claims map[string]any
	if t != nil {
		claims = s.idTokenClaims(t, t.name, clientID, c.req.nonce, now)
	}
	s.mu.Unlock()
	if t == nil { // cannot happen: tenants are never removed
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the tenant is gone")
		return
	}
	idToken, err := key.sign(claims)
	if err != nil { // cannot happen: the claims are the fake's own
		oauthError(w, http.StatusInternalServerError, "server_error", "the id_token could not be signed")
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token":  randomToken(32),
		"token_type":    "Bearer",
		"expires_in":    3600,
		"id_token":      idToken,
		"refresh_token": randomToken(32),
	})
}

// authenticateClient authenticates the token request's client by
// client_secret_basic or client_secret_post, not both (RFC 6749 2.3), and
// returns its client_id; when it fails, it has answered with the error.
func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request) (clientID string, ok bool) {
	f := r.PostForm
	clientID, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		clientID, err1 = url.QueryUnescape(clientID) // form-encoded first (RFC 6749 2.3.1)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="SuperOffice"`)
			oauthError(w, http.StatusUnauthorized, "invalid_client", "malformed Basic credentials")
			return "", false
		}
		if f.Has("client_secret") {
			oauthError(w, http.StatusBadRequest, "invalid_request", "client authenticated by both Basic and client_secret")
			return "", false
		}
		if id := f.Get("client_id"); id != "" && id != clientID {
			oauthError(w, http.StatusBadRequest, "invalid_request", "client_id differs from the Basic user")
			return "", false
		}
	} else {
		clientID, secret = f.Get("client_id"), f.Get("client_secret")
	}
	s.sid.mu.Lock()
	client, known := s.sid.clients[clientID]
	s.sid.mu.Unlock()
	if !known || secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(client.secret)) != 1 {
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="SuperOffice"`)
		}
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return "", false
	}
	return clientID, true
}

// redeem checks the authorization code for clientID and the token
// request's form f, and marks it used: it can be redeemed once only. The
// refusal is the invalid_grant description.
func (s *Server) redeem(code, clientID string, f url.Values, now time.Time) (c *authzCode, refusal string) {
	s.sid.mu.Lock()
	defer s.sid.mu.Unlock()
	c = s.sid.codes[code]
	switch {
	case c == nil:
		refusal = "the authorization code is unknown"
	case c.used:
		refusal = "the authorization code was already used"
	case !now.Before(c.issued.Add(codeLifetime)):
		refusal = "the authorization code has expired"
	case c.req.clientID != clientID:
		refusal = "the authorization code was issued to another client"
	case f.Get("redirect_uri") != c.req.redirectURI:
		refusal = "redirect_uri differs from the authorize request's"
	default:
		refusal = checkVerifier(c.req.challenge, f.Get("code_verifier"))
	}
	if refusal != "" {
		return nil, refusal
	}
	c.used = true
	return c, ""
}

// checkVerifier checks PKCE (RFC 7636 4.6), refusing a verifier for a code
// issued without a challenge too (the downgrade RFC 9700 2.1.1 warns of).
func checkVerifier(challenge, verifier string) (refusal string) {
	switch {
	case challenge == "" && verifier == "":
		return ""
	case challenge == "":
		return "code_verifier given, but the authorize request had no code_challenge"
	case verifier == "":
		return "code_verifier is missing"
	case !isVerifier(verifier):
		return "code_verifier is not 43 to 128 unreserved characters"
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) != 1 {
		return "code_verifier does not match code_challenge"
	}
	return ""
}

// isVerifier says whether v is a PKCE code_verifier: 43 to 128 unreserved
// characters (RFC 7636 4.1).
func isVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range []byte(v) {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0) {
			return false
		}
	}
	return true
}
