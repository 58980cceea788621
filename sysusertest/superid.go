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
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
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

// CodeLifetime is how long an authorization code can be redeemed after
// the administrator approved, by Options.Clock.
const CodeLifetime = 60 * time.Second

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
// URIs. It panics when clientID or clientSecret is empty, no redirect URI
// is given, or one is not an absolute URL without a fragment (RFC 6749
// 3.1.2).
func (s *Server) RegisterClient(clientID, clientSecret string, redirectURIs ...string) {
	if clientID == "" || clientSecret == "" || len(redirectURIs) == 0 {
		panic("sysusertest: RegisterClient needs a client id, a secret and at least one redirect URI")
	}
	for _, r := range redirectURIs {
		if u, err := url.Parse(r); err != nil || !u.IsAbs() || u.Host == "" || strings.Contains(r, "#") {
			panic(fmt.Sprintf("sysusertest: RegisterClient: redirect URI %q is not an absolute URL without a fragment", r))
		}
	}
	s.sid.mu.Lock()
	defer s.sid.mu.Unlock()
	if s.sid.clients == nil {
		s.sid.clients = map[string]oauthClient{}
	}
	s.sid.clients[clientID] = oauthClient{secret: clientSecret, redirectURIs: slices.Clone(redirectURIs)}
}

// Callback is the request SuperID makes the browser send to the
// application's redirect URI once the administrator has decided: the
// authorization code and state, or the OAuth error parameters and state.
type Callback struct {
	// Method is GET for response_mode query (the default) and fragment,
	// POST for form_post.
	Method string
	// URL is where the browser goes. For query, the redirect URI with
	// Params added to its query; for fragment, with Params as its fragment
	// (which a browser does not send to the server); for form_post, the
	// redirect URI itself.
	URL string
	// Params are the parameters sent: code and state when approved; error
	// (such as access_denied), error_description and state otherwise.
	// state is there when the authorize request had one.
	Params url.Values

	origin string // the fake's origin, which a browser names in a POST's Origin
}

// Request returns the request a browser sends for c, for an
// http.Client's Do or a handler's ServeHTTP: a GET of URL, or for
// form_post a POST of Params, form-encoded, to URL. Its headers are those
// Chromium sends on the callback: Referer (the fake's origin + "/"),
// Sec-Fetch-Mode navigate, Sec-Fetch-Dest document, Origin (the fake's) on
// a POST only, and Sec-Fetch-Site: cross-site when URL's scheme or host
// differs from the fake's, as SuperOffice's always does; same-site when
// only the port differs, as for an application on 127.0.0.1 beside the
// fake; same-origin when neither does. Add the cookies the browser would
// carry with AddCookie: on a cross-site callback Chromium sends
// SameSite=Lax cookies with the GET but not with the POST. A fragment
// callback has nothing for a server to read: Request fails for it.
func (c *Callback) Request() (*http.Request, error) {
	var r *http.Request
	var err error
	switch c.Method {
	case http.MethodGet:
		if strings.Contains(c.URL, "#") {
			return nil, errors.New("sysusertest: a response_mode=fragment callback carries its parameters in the fragment, which the browser does not send")
		}
		r, err = http.NewRequest(http.MethodGet, c.URL, nil)
	case http.MethodPost:
		r, err = http.NewRequest(http.MethodPost, c.URL, strings.NewReader(c.Params.Encode()))
		if err == nil {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if c.origin != "" {
				r.Header.Set("Origin", c.origin)
			}
		}
	default:
		return nil, fmt.Errorf("sysusertest: callback method %q", c.Method)
	}
	if err != nil {
		return nil, err
	}
	r.Header.Set("Sec-Fetch-Mode", "navigate")
	r.Header.Set("Sec-Fetch-Dest", "document")
	if c.origin != "" { // a Callback of Authorize's
		r.Header.Set("Referer", c.origin+"/")
		r.Header.Set("Sec-Fetch-Site", fetchSite(c.origin, r.URL))
	}
	return r, nil
}

// fetchSite is Sec-Fetch-Site for a navigation from origin to u. Sites are
// compared by host name, without the public suffix list: right for
// loopback addresses and localhost, where the tests run.
func fetchSite(origin string, u *url.URL) string {
	o, err := url.Parse(origin)
	switch {
	case err != nil:
		return "cross-site"
	case strings.EqualFold(o.Scheme, u.Scheme) && strings.EqualFold(o.Host, u.Host):
		return "same-origin"
	case strings.EqualFold(o.Scheme, u.Scheme) && strings.EqualFold(o.Hostname(), u.Hostname()):
		return "same-site"
	}
	return "cross-site"
}

// Authorize takes the administrator's decision on the authorize request
// authorizeURL (the URL an application sends the browser to, below
// Root + AuthorizePath) without a browser, as clicking Approve or Decline
// on the approval page does, and returns the callback the browser would
// then send to the application. approve false declines (error
// access_denied). tenant is the tenant approved for; empty means the one
// the page preselects: the authorize URL's tenant parameter (the fake's
// own), else the first added tenant in sorted order.
//
// An authorize request the fake refuses with an error page (an unknown
// client_id, a redirect_uri not registered for it, an unknown tenant)
// is an error; one it refuses back to the application (a response_type
// other than code, a scope without openid, a code_challenge_method other
// than S256) gives the callback with the OAuth error.
//
//	resp, _ := client.Get(app.URL + "/connect") // the app redirects to the fake
//	cb, err := srv.Authorize(resp.Header.Get("Location"), true, "Cust12345")
//	req, err := cb.Request()
//	req.AddCookie(stateCookie) // what the browser would carry
//	resp, err = client.Do(req) // the app redeems cb.Params.Get("code")
func (s *Server) Authorize(authorizeURL string, approve bool, tenant string) (*Callback, error) {
	u, err := url.Parse(authorizeURL)
	if err != nil {
		return nil, fmt.Errorf("sysusertest: authorize URL: %w", err)
	}
	if !strings.EqualFold(u.Scheme+"://"+u.Host, s.Root) || !strings.EqualFold(u.Path, AuthorizePath) {
		return nil, fmt.Errorf("sysusertest: %s is not the fake's authorize endpoint %s", redact(u), s.Root+AuthorizePath)
	}
	req, aerr := s.parseAuthorize(u.Query())
	if aerr != nil {
		if aerr.page {
			return nil, fmt.Errorf("sysusertest: the authorize request gets an error page: %s", aerr.desc)
		}
		return s.errorCallback(req, aerr.code, aerr.desc), nil
	}
	return s.decide(req, approve, tenant)
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
	req.responseMode = "query"
	redirect := func(code, format string, a ...any) *authzError {
		return &authzError{code: code, desc: fmt.Sprintf(format, a...)}
	}
	switch m := q.Get("response_mode"); m {
	case "", "query":
	case "form_post", "fragment":
		req.responseMode = m
	default:
		return req, redirect("invalid_request", "response_mode %q is not supported", m)
	}
	for k, v := range q {
		if len(v) > 1 {
			return req, redirect("invalid_request", "%s is repeated", k)
		}
	}
	switch rt := q.Get("response_type"); rt {
	case "code":
	case "":
		return req, redirect("invalid_request", "response_type is missing")
	default:
		return req, redirect("unsupported_response_type", "response_type %q is not supported: use code", rt)
	}
	if !slices.Contains(strings.Fields(q.Get("scope")), "openid") {
		return req, redirect("invalid_scope", "scope must contain openid")
	}
	req.nonce = q.Get("nonce")
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return req, redirect("invalid_request", "code_challenge_method without code_challenge")
	case challenge == "":
	case method != "S256": // absent means plain (RFC 7636 4.3)
		return req, redirect("invalid_request", "code_challenge_method must be S256")
	case len(challenge) != 43 || !isBase64URL(challenge):
		return req, redirect("invalid_request", "code_challenge is not a base64url SHA-256 digest")
	default:
		req.challenge = challenge
	}
	return req, nil
}

func isBase64URL(s string) bool {
	for _, c := range []byte(s) {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
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

// decide issues a code for the approved tenant (empty: the preselected
// one), or declines.
func (s *Server) decide(req authzRequest, approve bool, tenant string) (*Callback, error) {
	if !approve {
		return s.errorCallback(req, "access_denied", "The administrator declined the application"), nil
	}
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

func (s *Server) errorCallback(req authzRequest, code, desc string) *Callback {
	p := url.Values{"error": {code}, "error_description": {desc}}
	if req.state != "" {
		p.Set("state", req.state)
	}
	return s.callback(req, p)
}

// callback sends p to the redirect URI as the response mode says.
func (s *Server) callback(req authzRequest, p url.Values) *Callback {
	cb := &Callback{Method: http.MethodGet, Params: p, origin: s.Root}
	switch req.responseMode {
	case "form_post":
		cb.Method, cb.URL = http.MethodPost, req.redirectURI
	case "fragment":
		u, _ := url.Parse(req.redirectURI) // RegisterClient checked it parses
		u.Fragment, u.RawFragment = "", ""
		cb.URL = u.String() + "#" + p.Encode()
	default:
		u, _ := url.Parse(req.redirectURI)
		q := u.Query() // the redirect URI's own query is kept (RFC 6749 3.1.2)
		for k, v := range p {
			q[k] = v
		}
		u.RawQuery = q.Encode()
		cb.URL = u.String()
	}
	return cb
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

var approvalPage = template.Must(template.New("approve").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>SuperOffice: approve {{.ClientID}}</title></head>
<body>
<h1>Approve {{.ClientID}}</h1>
<p id="request">The application <strong id="application">{{.ClientID}}</strong> asks to sign you in
and for system user access to <strong id="tenant-name">{{.Tenant}}</strong>.</p>
<form id="decision" method="post" action="{{.Action}}">
<input type="hidden" name="request" value="{{.Request}}">
<label for="tenant">Tenant</label>
<select id="tenant" name="tenant">{{range .Tenants}}
<option value="{{.}}"{{if eq . $.Tenant}} selected{{end}}>{{.}}</option>{{end}}
</select>
<button id="approve" type="submit" name="decision" value="approve">Approve</button>
<button id="decline" type="submit" name="decision" value="decline">Decline</button>
</form>
<p><small>sysusertest: a fake of SuperOffice's SuperID, for tests.</small></p>
</body>
</html>
`))

var formPostPage = template.Must(template.New("form_post").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Working...</title></head>
<body>
<form method="post" action="{{.URL}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"></noscript>
</form>
<script>document.forms[0].submit()</script>
</body>
</html>
`))

var errorPage = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>SuperOffice: sign-in error</title></head>
<body><h1>Sign-in error</h1><p id="error">{{.}}</p></body>
</html>
`))

func htmlHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
}

// showError answers with an error page: the browser stays at the fake.
func showError(w http.ResponseWriter, status int, msg string) {
	htmlHeaders(w)
	w.WriteHeader(status)
	errorPage.Execute(w, msg)
}

// serveAuthorize answers an authorize request with the approval page, an
// error page, or an OAuth error sent back to the application.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		showError(w, http.StatusMethodNotAllowed, "use GET")
		return
	}
	if err := r.ParseForm(); err != nil {
		showError(w, http.StatusBadRequest, "malformed request")
		return
	}
	req, aerr := s.parseAuthorize(r.Form)
	if aerr != nil {
		if aerr.page {
			showError(w, http.StatusBadRequest, aerr.desc)
		} else {
			s.send(w, s.errorCallback(req, aerr.code, aerr.desc))
		}
		return
	}
	tenants, selected := s.tenantNames(), s.preselected(req)
	now := s.opts.Clock()
	id := randomToken(24)
	s.sid.mu.Lock()
	if s.sid.pending == nil {
		s.sid.pending = map[string]pendingDecision{}
	}
	for k, p := range s.sid.pending {
		if now.Sub(p.created) > pendingLifetime {
			delete(s.sid.pending, k)
		}
	}
	s.sid.pending[id] = pendingDecision{req: req, created: now}
	s.sid.mu.Unlock()
	htmlHeaders(w)
	approvalPage.Execute(w, map[string]any{
		"ClientID": req.clientID,
		"Tenant":   selected,
		"Tenants":  tenants,
		"Action":   decidePath,
		"Request":  id,
	})
}

// serveDecide takes the approval page's decision, once.
func (s *Server) serveDecide(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		showError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		showError(w, http.StatusBadRequest, "malformed request")
		return
	}
	now := s.opts.Clock()
	id := r.PostForm.Get("request")
	s.sid.mu.Lock()
	p, ok := s.sid.pending[id]
	delete(s.sid.pending, id)
	s.sid.mu.Unlock()
	if !ok || now.Sub(p.created) > pendingLifetime {
		showError(w, http.StatusBadRequest, "this approval request is unknown, expired or already decided: start again from the application")
		return
	}
	var approve bool
	switch r.PostForm.Get("decision") {
	case "approve":
		approve = true
	case "decline":
	default:
		showError(w, http.StatusBadRequest, "decision must be approve or decline")
		return
	}
	cb, err := s.decide(p.req, approve, r.PostForm.Get("tenant"))
	if err != nil {
		showError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.send(w, cb)
}

// send makes the browser deliver cb: a 302 for query and fragment, an
// auto-submitting form for form_post.
func (s *Server) send(w http.ResponseWriter, cb *Callback) {
	if cb.Method == http.MethodGet {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Location", cb.URL)
		w.WriteHeader(http.StatusFound)
		return
	}
	type field struct{ Name, Value string }
	var fields []field
	for _, k := range slices.Sorted(maps.Keys(cb.Params)) {
		for _, v := range cb.Params[k] {
			fields = append(fields, field{k, v})
		}
	}
	htmlHeaders(w)
	formPostPage.Execute(w, map[string]any{"URL": cb.URL, "Fields": fields})
}

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

	// Client authentication: client_secret_basic or client_secret_post,
	// not both (RFC 6749 2.3).
	clientID, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		clientID, err1 = url.QueryUnescape(clientID) // form-encoded first (RFC 6749 2.3.1)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="SuperOffice"`)
			oauthError(w, http.StatusUnauthorized, "invalid_client", "malformed Basic credentials")
			return
		}
		if f.Has("client_secret") {
			oauthError(w, http.StatusBadRequest, "invalid_request", "client authenticated by both Basic and client_secret")
			return
		}
		if id := f.Get("client_id"); id != "" && id != clientID {
			oauthError(w, http.StatusBadRequest, "invalid_request", "client_id differs from the Basic user")
			return
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
	s.sid.mu.Lock()
	c := s.sid.codes[code]
	var refusal string
	switch {
	case c == nil:
		refusal = "the authorization code is unknown"
	case c.used:
		refusal = "the authorization code was already used"
	case !now.Before(c.issued.Add(CodeLifetime)):
		refusal = "the authorization code has expired"
	case c.req.clientID != clientID:
		refusal = "the authorization code was issued to another client"
	case f.Get("redirect_uri") != c.req.redirectURI:
		refusal = "redirect_uri differs from the authorize request's"
	default:
		refusal = checkVerifier(c.req.challenge, f.Get("code_verifier"))
	}
	if refusal == "" {
		c.used = true // redeemed once only, then refused
	}
	s.sid.mu.Unlock()
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
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token":  randomToken(32),
		"token_type":    "Bearer",
		"expires_in":    3600,
		"id_token":      key.sign(claims),
		"refresh_token": randomToken(32),
	})
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
