package sysusertest

// SuperID's authorization code flow, as SuperOffice documents it for
// onboarding: the application sends the administrator's browser to the
// authorize endpoint, the administrator approves on SuperID's page, the
// browser brings a one-time code back to the application's redirect URI
// (a GET, or a cross-site form POST with response_mode=form_post), and the
// application redeems the code at the token endpoint for an id_token that
// carries the tenant's system user token.

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Paths of SuperID's authorization code flow, below the root, as
// SuperOffice serves them.
const (
	// AuthorizePath is the authorization endpoint: a GET with
	// response_type=code, client_id, redirect_uri, scope, state, nonce,
	// code_challenge and code_challenge_method answers with the approval
	// page.
	AuthorizePath = LoginPath + "/common/oauth/authorize"
	// TokenPath is the token endpoint: a form POST with
	// grant_type=authorization_code redeems a code.
	TokenPath = LoginPath + "/common/oauth/tokens"
)

// decidePath is where the approval page posts the administrator's
// decision: the fake's own, not SuperOffice's.
const decidePath = AuthorizePath + "/decide"

// codeLifetime is how long an authorization code can be redeemed after
// the administrator approved, by Options.Clock.
const codeLifetime = 60 * time.Second

// pendingLifetime is how long an approval page can still be decided.
const pendingLifetime = 10 * time.Minute

// superID holds the code flow's state. Its mutex is never held together
// with Server.mu.
type superID struct {
	mu      sync.Mutex
	clients map[string]oauthClient
	pending map[string]pendingDecision // by the approval page's request id
	codes   map[string]*authzCode
}

type oauthClient struct {
	secret       string
	redirectURIs []string
}

// authzRequest is a checked authorize request.
type authzRequest struct {
	clientID     string
	redirectURI  string
	responseMode string // query, form_post or fragment
	state        string
	nonce        string
	challenge    string // S256 code_challenge, or empty
	tenant       string // the fake's tenant parameter, or empty
}

type pendingDecision struct {
	req     authzRequest
	created time.Time
}

type authzCode struct {
	req    authzRequest
	tenant string // the approved tenant's context identifier
	issued time.Time
	used   bool
}

// RegisterClient registers an OAuth client (an application) with the
// fake's SuperID: its client_id, its client secret for the token endpoint,
// and the redirect URIs the authorize endpoint accepts, compared as exact
// strings. Registering a client again replaces its secret and redirect
// URIs. It fails, registering nothing, when clientID or clientSecret is
// empty, no redirect URI is given, or one is not an absolute URL without a
// fragment (RFC 6749 3.1.2).
func (s *Server) RegisterClient(clientID, clientSecret string, redirectURIs ...string) error {
	if clientID == "" || clientSecret == "" || len(redirectURIs) == 0 {
		return errors.New("sysusertest: RegisterClient needs a client id, a secret and at least one redirect URI")
	}
	for _, r := range redirectURIs {
		if u, err := url.Parse(r); err != nil || !u.IsAbs() || u.Host == "" || strings.Contains(r, "#") {
			return fmt.Errorf("sysusertest: RegisterClient: redirect URI %q is not an absolute URL without a fragment", r)
		}
	}
	s.sid.mu.Lock()
	defer s.sid.mu.Unlock()
	if s.sid.clients == nil {
		s.sid.clients = map[string]oauthClient{}
	}
	s.sid.clients[clientID] = oauthClient{secret: clientSecret, redirectURIs: slices.Clone(redirectURIs)}
	return nil
}

// Authorize approves the authorize request authorizeURL (the URL an
// application sends the browser to, below Root + AuthorizePath) for the
// tenant contextIdentifier without a browser, as the administrator does by
// choosing the tenant and clicking Approve on the approval page, and
// returns the callback the browser would then send to the application: a
// one-time code for an id_token like IDToken's. An empty contextIdentifier
// means the tenant the page preselects: the authorize URL's tenant
// parameter (the fake's own), else the first added tenant in sorted order.
//
// An authorize request the fake refuses with an error page (an unknown
// client_id, a redirect_uri not registered for it, an unknown tenant)
// is an error; one it refuses back to the application (a response_type
// other than code, a scope without openid, a code_challenge_method other
// than S256) gives the callback with the OAuth error.
//
//	resp, _ := client.Get(app.URL + "/connect") // the app redirects to the fake
//	cb, err := srv.Authorize("Cust12345", resp.Header.Get("Location"))
//	req, err := cb.Request()
//	req.AddCookie(stateCookie) // what the browser would carry
//	resp, err = client.Do(req) // the app redeems cb.Params.Get("code")
func (s *Server) Authorize(contextIdentifier, authorizeURL string) (*Callback, error) {
	req, cb, err := s.authorizeRequest(authorizeURL)
	if cb != nil || err != nil {
		return cb, err
	}
	return s.approve(req, contextIdentifier)
}

// Decline declines the authorize request authorizeURL without a browser,
// as the administrator does by clicking Decline on the approval page, and
// returns the callback the browser would then send to the application:
// error access_denied. Refused requests are as for Authorize.
func (s *Server) Decline(authorizeURL string) (*Callback, error) {
	req, cb, err := s.authorizeRequest(authorizeURL)
	if cb != nil || err != nil {
		return cb, err
	}
	return s.decline(req), nil
}

// authorizeRequest checks the authorize request authorizeURL for Authorize
// and Decline: an error for one the fake refuses with an error page, the
// callback with the OAuth error for one it refuses back to the
// application, else the request to decide.
func (s *Server) authorizeRequest(authorizeURL string) (authzRequest, *Callback, error) {
	u, err := url.Parse(authorizeURL)
	if err != nil {
		return authzRequest{}, nil, fmt.Errorf("sysusertest: authorize URL: %w", err)
	}
	if !strings.EqualFold(u.Scheme+"://"+u.Host, s.Root) || !strings.EqualFold(u.Path, AuthorizePath) {
		return authzRequest{}, nil, fmt.Errorf("sysusertest: %s is not the fake's authorize endpoint %s", redact(u), s.Root+AuthorizePath)
	}
	req, aerr := s.parseAuthorize(u.Query())
	if aerr != nil {
		if aerr.page {
			return req, nil, fmt.Errorf("sysusertest: the authorize request gets an error page: %s", aerr.desc)
		}
		return req, s.errorCallback(req, aerr.code, aerr.desc), nil
	}
	return req, nil, nil
}

// redact drops a URL's query, which may hold secrets, for error texts.
func redact(u *url.URL) string {
	v := *u
	v.RawQuery, v.Fragment, v.User = "", "", nil
	return v.String()
}

// authzError refuses an authorize request: with an error page when page
// is set (the redirect URI cannot be trusted), else back to the
// application with the OAuth error code.
type authzError struct {
	page bool
	code string
	desc string
}

// parseAuthorize checks an authorize request. On an error that goes back to
// the application, req holds what is needed to send it there.
func (s *Server) parseAuthorize(q url.Values) (req authzRequest, aerr *authzError) {
	page := func(format string, a ...any) *authzError {
		return &authzError{page: true, desc: fmt.Sprintf(format, a...)}
	}
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(q[k]) > 1 {
			return req, page("%s is repeated", k)
		}
	}
	req.clientID, req.redirectURI = q.Get("client_id"), q.Get("redirect_uri")
	if req.clientID == "" {
		return req, page("client_id is missing")
	}
	s.sid.mu.Lock()
	client, known := s.sid.clients[req.clientID]
	s.sid.mu.Unlock()
	if !known {
		return req, page("client_id %q is not a registered application", req.clientID)
	}
	if req.redirectURI == "" {
		return req, page("redirect_uri is missing")
	}
	if !slices.Contains(client.redirectURIs, req.redirectURI) {
		return req, page("redirect_uri %q is not registered for client_id %q", req.redirectURI, req.clientID)
	}
	if t := q.Get("tenant"); t != "" {
		name, ok := s.tenantName(t)
		if !ok {
			return req, page("tenant %q was not added (AddTenant)", t)
		}
		req.tenant = name
	}
	if len(s.tenantNames()) == 0 {
		return req, page("no tenant was added (AddTenant): there is nothing to approve")
	}
	// From here on, errors go back to the application.
	req.state = q.Get("state")
	aerr = checkAuthzParams(q, &req)
	return req, aerr
}

// checkAuthzParams checks the authorize request's parameters once its
// client and redirect URI are known, filling in req: a refusal goes back
// to the application with the OAuth error code.
func checkAuthzParams(q url.Values, req *authzRequest) *authzError {
	req.responseMode = "query"
	redirect := func(code, format string, a ...any) *authzError {
		return &authzError{code: code, desc: fmt.Sprintf(format, a...)}
	}
	switch m := q.Get("response_mode"); m {
	case "", "query":
	case "form_post", "fragment":
		req.responseMode = m
	default:
		return redirect("invalid_request", "response_mode %q is not supported", m)
	}
	for k, v := range q {
		if len(v) > 1 {
			return redirect("invalid_request", "%s is repeated", k)
		}
	}
	switch rt := q.Get("response_type"); rt {
	case "code":
	case "":
		return redirect("invalid_request", "response_type is missing")
	default:
		return redirect("unsupported_response_type", "response_type %q is not supported: use code", rt)
	}
	if !slices.Contains(strings.Fields(q.Get("scope")), "openid") {
		return redirect("invalid_scope", "scope must contain openid")
	}
	req.nonce = q.Get("nonce")
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return redirect("invalid_request", "code_challenge_method without code_challenge")
	case challenge == "":
	case method != "S256": // absent means plain (RFC 7636 4.3)
		return redirect("invalid_request", "code_challenge_method must be S256")
	case len(challenge) != 43 || !isBase64URL(challenge):
		return redirect("invalid_request", "code_challenge is not a base64url SHA-256 digest")
	default:
		req.challenge = challenge
	}
	return nil
}

func isBase64URL(s string) bool {
	for _, c := range []byte(s) {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// tenantNames returns the added tenants' context identifiers, sorted.
func (s *Server) tenantNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.tenants))
	for _, t := range s.tenants {
		names = append(names, t.name)
	}
	slices.Sort(names)
	return names
}

// tenantName returns the added tenant's context identifier as added.
func (s *Server) tenantName(contextIdentifier string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[strings.ToLower(contextIdentifier)]; t != nil {
		return t.name, true
	}
	return "", false
}

// preselected is the tenant the approval page preselects: the authorize
// request's tenant parameter, else the first added tenant in sorted order.
func (s *Server) preselected(req authzRequest) string {
	if req.tenant != "" {
		return req.tenant
	}
	if names := s.tenantNames(); len(names) > 0 {
		return names[0]
	}
	return ""
}

// decline is the administrator's refusal of req.
func (s *Server) decline(req authzRequest) *Callback {
	return s.errorCallback(req, "access_denied", "The administrator declined the application")
}

// approve issues a code for the approved tenant (empty: the preselected
// one).
func (s *Server) approve(req authzRequest, tenant string) (*Callback, error) {
	if tenant == "" {
		tenant = s.preselected(req)
	}
	name, ok := s.tenantName(tenant)
	if !ok {
		return nil, fmt.Errorf("sysusertest: tenant %q was not added (AddTenant)", tenant)
	}
	now := s.opts.Clock()
	code := randomToken(32)
	s.sid.mu.Lock()
	if s.sid.codes == nil {
		s.sid.codes = map[string]*authzCode{}
	}
	for k, c := range s.sid.codes { // forget old codes, used or not
		if now.Sub(c.issued) > pendingLifetime {
			delete(s.sid.codes, k)
		}
	}
	s.sid.codes[code] = &authzCode{req: req, tenant: name, issued: now}
	s.sid.mu.Unlock()
	p := url.Values{"code": {code}}
	if req.state != "" {
		p.Set("state", req.state)
	}
	return s.callback(req, p), nil
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
