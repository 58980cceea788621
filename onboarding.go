package sysuser

import (
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// OnboardingConfig configures an Onboarding. Verifier, ClientSecret,
// RedirectURL, StateKey and OnApproval are required.
//
// It holds secrets: fmt, log/slog and encoding/json show which are set,
// never their values, with Config's limits.
type OnboardingConfig struct {
	// Verifier says where to talk and whose keys to trust, as the
	// application's ApprovalVerifier: its login service (Environment or
	// LoginURL) gives the authorize and token endpoints, LoginURL +
	// "/common/oauth/authorize" and LoginURL + "/common/oauth/tokens"; its
	// ClientID is the application's OAuth client id; its HTTPClient talks
	// to the token endpoint; and its Certificate or key set, Leeway, Clock
	// and Issuer check the id_token. Its SkipNonceCheck plays no part (see
	// LegacySkipNonceCheck), and it must not set SkipSystemUserCheck: an
	// approval carries the system user token. The Verifier stays the
	// caller's: Onboarding.Close does not close it.
	Verifier *ApprovalVerifier
	// ClientSecret is the application's OAuth client secret from
	// SuperOffice's developer portal. It is sent to the token endpoint only
	// (client_secret_post).
	ClientSecret string
	// RedirectURL is the application's registered redirect URL, where
	// Onboarding's ServeHTTP must be mounted.
	RedirectURL string
	// StateKey protects the browser state (state, nonce and PKCE verifier)
	// that Start keeps in a cookie until the callback: at least 32 random
	// bytes, the same on every replica, kept secret.
	StateKey []byte
	// FormPost asks SuperID to post the callback (response_mode form_post)
	// instead of redirecting with a query (the default). The browser state
	// cookie is then SameSite=None, which browsers accept only as Secure:
	// on http it needs a browser that treats the host as secure (Chromium
	// does so for localhost).
	FormPost bool
	// OnApproval receives each verified approval: store the system user
	// token for the tenant and write the response (a redirect to a "done"
	// page, say). An error makes the handler answer 500 without detail.
	OnApproval func(w http.ResponseWriter, r *http.Request, a *Approval) error
	// OnError receives every failed callback: an *AuthorizationError when
	// the administrator declined or SuperOffice refused, ErrInvalidState
	// for a callback this browser did not start (login CSRF) or one replayed,
	// and verification or transport errors. Nil means a bare 400 page.
	OnError func(w http.ResponseWriter, r *http.Request, err error)
	// LegacyNonce, when set, makes ServeHTTP also accept an id_token
	// form-posted by the deprecated implicit and hybrid flows, started by
	// the application itself: it returns the nonce that login was started
	// with (from the application's session), and the id_token must carry it.
	LegacyNonce func(r *http.Request) string
	// LegacySkipNonceCheck accepts legacy id_token posts without a nonce
	// check: anyone can then post their own valid approval to the redirect
	// URL (login CSRF). Only for applications that cannot keep a nonce.
	LegacySkipNonceCheck bool
	// Logger receives why callbacks failed (never a code, token, verifier
	// or secret). Nil means no logging.
	Logger *slog.Logger
}

func (c OnboardingConfig) describe() string {
	set := func(ok bool) string {
		if ok {
			return "[set]"
		}
		return "[not set]"
	}
	login, clientID := "", ""
	if c.Verifier != nil {
		login, clientID = c.Verifier.login, c.Verifier.clientID
	}
	return fmt.Sprintf("sysuser.OnboardingConfig{Verifier: %s, LoginURL: %q, ClientID: %q, ClientSecret: %s, RedirectURL: %q, StateKey: %s, FormPost: %t}",
		set(c.Verifier != nil), login, clientID, set(c.ClientSecret != ""), c.RedirectURL, set(len(c.StateKey) > 0), c.FormPost)
}

// Format prints the config for every verb with its secrets shown as [set]
// or [not set].
func (c OnboardingConfig) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.describe()) }

// LogValue describes the config to log/slog without its secrets.
func (c OnboardingConfig) LogValue() slog.Value { return slog.StringValue(c.describe()) }

// MarshalJSON writes the description Format prints, as a JSON string, so
// that json.Marshal and slog's JSON handler show no secret.
func (c OnboardingConfig) MarshalJSON() ([]byte, error) { return json.Marshal(c.describe()) }

// Onboarding lets a tenant's administrator approve the application by
// SuperOffice's authorization code flow, with PKCE, state and nonce, and
// hands the approval (the tenant's system user token) to OnApproval.
//
// Mount Start where the administrator clicks "Connect SuperOffice" and the
// Onboarding itself (its ServeHTTP) at the RedirectURL:
//
//	v, err := sysuser.NewApprovalVerifier(sysuser.ApprovalConfig{Environment: sysuser.Online, ClientID: clientID})
//	...
//	defer v.Close()
//	ob, err := sysuser.NewOnboarding(sysuser.OnboardingConfig{Verifier: v, ...})
//	http.HandleFunc("/connect", ob.Start)
//	http.Handle("/superoffice/callback", ob)
//
// Start binds a fresh state, nonce and PKCE verifier to the browser in an
// encrypted, HttpOnly cookie that lives 10 minutes. The callback accepts
// GET (query) and POST (form_post); checks the state against the cookie in
// constant time; redeems the code at the token endpoint; verifies the
// id_token with the Verifier (RS256, SuperOffice's key, the environment's
// issuer, the Verifier's client id as audience, the nonce, its leeway);
// accepts each nonce once (the record is kept in this process's memory,
// not shared between replicas); clears the cookie; and calls OnApproval. It is safe for concurrent use.
//
// Each callback whose state cookie is genuine costs one request to the
// token endpoint, with the client secret; since anyone can start a login,
// anyone can cause such requests, one per callback (rate-limit the
// redirect URL if that matters). The record of used states and nonces is
// bounded (see onceSet in the source): a flood of callbacks never locks out
// a genuine login. Close it when done, before its Verifier.
type Onboarding struct {
	cfg       OnboardingConfig
	secret    *string // ClientSecret; see hidden
	clientID  string  // the verifier's
	authorize string
	tokenURL  string
	verifier  *ApprovalVerifier
	aead      cipher.AEAD
	http      *http.Client // the verifier's
	now       func() time.Time
	log       *slog.Logger
	secure    bool // cookies carry Secure
	used      onceSet
	closed    atomic.Bool
}

// onboardingTTL is how long a started login may take.
const onboardingTTL = 10 * time.Minute

// maxCallbackBody caps a callback's form: a code and a state, or an
// id_token, are a few KiB.
const maxCallbackBody = 64 << 10

// NewOnboarding checks cfg and returns an Onboarding. Errors match
// ErrInvalidConfig.
func NewOnboarding(cfg OnboardingConfig) (*Onboarding, error) {
	switch {
	case cfg.Verifier == nil:
		return nil, configError("Verifier is nil; make one with NewApprovalVerifier")
	case cfg.Verifier.skipSystemUser:
		return nil, configError("the Verifier skips the system user check; an onboarding needs the system user token")
	case cfg.ClientSecret == "":
		return nil, configError("ClientSecret is empty; the token endpoint needs it")
	case len(cfg.StateKey) < 32:
		return nil, configError("StateKey has %d bytes; it needs at least 32 random bytes", len(cfg.StateKey))
	case cfg.OnApproval == nil:
		return nil, configError("OnApproval is nil; it stores the approval")
	case cfg.LegacyNonce != nil && cfg.LegacySkipNonceCheck:
		return nil, configError("set LegacyNonce or LegacySkipNonceCheck, not both")
	}
	redirect, err := url.Parse(cfg.RedirectURL)
	if err != nil || redirect.Host == "" || (redirect.Scheme != "https" && !(redirect.Scheme == "http" && isLoopback(redirect.Hostname()))) {
		return nil, configError("RedirectURL must be an absolute https URL (http only on a loopback host)")
	}
	v := cfg.Verifier
	mac := hmac.New(sha256.New, cfg.StateKey)
	mac.Write([]byte("sysuser onboarding state cookie v1"))
	block, _ := aes.NewCipher(mac.Sum(nil)) // a 32-byte key cannot fail
	aead, _ := cipher.NewGCM(block)
	o := &Onboarding{
		cfg: cfg, secret: hidden(cfg.ClientSecret), clientID: v.clientID,
		authorize: v.login + authorizePath, tokenURL: v.login + tokenPath,
		verifier: v, aead: aead, http: v.http, now: v.now, log: cfg.Logger,
		secure: redirect.Scheme == "https" || cfg.FormPost,
	}
	o.cfg.ClientSecret, o.cfg.StateKey = "", nil // kept hidden, not in cfg
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// browserState is what the cookie carries between Start and the callback.
type browserState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"`
}

// cookieName names the cookie of one login, so that logins started in
// several tabs do not overwrite each other.
func cookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return cookiePrefix + hex.EncodeToString(sum[:8])
}

// cookiePrefix starts the name of every state cookie.
const cookiePrefix = "sysuser_onboarding_"

// random returns n random bytes in base64url.
func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// maxPendingLogins bounds the logins one browser has started and not
// finished: Start deletes the oldest state cookies beyond it, so that
// repeated starts cannot grow the browser's Cookie header without bound.
const maxPendingLogins = 4

// Start begins an approval: it binds a fresh state, nonce and PKCE
// verifier to the browser and redirects it to SuperID's authorize endpoint
// (response_type=code, scope=openid, code_challenge_method=S256). Use it as
// an http.HandlerFunc.
//
// It starts only for a top-level navigation: GET or HEAD (else 405), and,
// when the browser sends Sec-Fetch-Mode or Sec-Fetch-Dest, "navigate" and
// "document" (else 403), so that a cross-site page's images, scripts or
// frames start nothing. A browser keeps at most 4 started logins: Start
// deletes the state cookies of its oldest ones (and any it cannot read).
func (o *Onboarding) Start(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if mode, dest := r.Header.Get("Sec-Fetch-Mode"), r.Header.Get("Sec-Fetch-Dest"); (mode != "" && mode != "navigate") || (dest != "" && dest != "document") {
		http.Error(w, "a login starts only from a top-level navigation", http.StatusForbidden)
		return
	}
	if o.closed.Load() {
		http.Error(w, "onboarding is closed", http.StatusServiceUnavailable)
		return
	}
	o.dropOldLogins(w, r)
	bs := browserState{State: random(24), Nonce: random(24), Verifier: random(48), Expires: o.now().Add(onboardingTTL).Unix()}
	plain, _ := json.Marshal(bs)
	name := cookieName(bs.State)
	nonce := make([]byte, o.aead.NonceSize())
	rand.Read(nonce)
	sealed := o.aead.Seal(nonce, nonce, plain, []byte(name))
	http.SetCookie(w, o.cookie(name, base64.RawURLEncoding.EncodeToString(sealed), int(onboardingTTL/time.Second)))
	challenge := sha256.Sum256([]byte(bs.Verifier))
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {o.clientID},
		"redirect_uri":          {o.cfg.RedirectURL},
		"scope":                 {"openid"},
		"state":                 {bs.State},
		"nonce":                 {bs.Nonce},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(challenge[:])},
		"code_challenge_method": {"S256"},
	}
	if o.cfg.FormPost {
		q.Set("response_mode", "form_post")
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, o.authorize+"?"+q.Encode(), http.StatusFound)
}

// dropOldLogins deletes the state cookies of the browser's oldest started
// logins, keeping maxPendingLogins-1 for the one Start adds, and those it
// cannot read or that expired.
func (o *Onboarding) dropOldLogins(w http.ResponseWriter, r *http.Request) {
	type pending struct {
		name    string
		expires int64
	}
	var keep []pending
	for _, ck := range r.Cookies() {
		if !strings.HasPrefix(ck.Name, cookiePrefix) {
			continue
		}
		bs, err := o.openCookie(ck)
		if err != nil || !o.now().Before(time.Unix(bs.Expires, 0)) {
			http.SetCookie(w, o.cookie(ck.Name, "", -1))
			continue
		}
		keep = append(keep, pending{ck.Name, bs.Expires})
	}
	if len(keep) < maxPendingLogins {
		return
	}
	slices.SortFunc(keep, func(a, b pending) int { return cmp.Compare(a.expires, b.expires) })
	for _, p := range keep[:len(keep)-(maxPendingLogins-1)] {
		http.SetCookie(w, o.cookie(p.name, "", -1))
	}
}

// openCookie decrypts a state cookie made by Start.
func (o *Onboarding) openCookie(ck *http.Cookie) (browserState, error) {
	var bs browserState
	sealed, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || len(sealed) < o.aead.NonceSize() {
		return bs, fmt.Errorf("%w: the state cookie is damaged", ErrInvalidState)
	}
	plain, err := o.aead.Open(nil, sealed[:o.aead.NonceSize()], sealed[o.aead.NonceSize():], []byte(ck.Name))
	if err != nil || json.Unmarshal(plain, &bs) != nil {
		return bs, fmt.Errorf("%w: the state cookie was not made here", ErrInvalidState)
	}
	return bs, nil
}

// cookie makes the state cookie: HttpOnly, Path=/, short-lived; SameSite=Lax
// for query callbacks (a top-level cross-site GET carries Lax cookies),
// Secure unless the redirect URL is plain loopback http; and SameSite=None,
// always Secure, for form_post callbacks (a cross-site POST carries only
// None cookies, and browsers keep None cookies only when Secure; Chromium
// accepts Secure cookies from http://localhost).
func (o *Onboarding) cookie(name, value string, maxAge int) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: o.secure, SameSite: http.SameSiteLaxMode}
	if o.cfg.FormPost {
		c.SameSite = http.SameSiteNoneMode
	}
	return c
}

// ServeHTTP is the redirect URL's handler: the callback of the code flow
// (GET with a query, or POST with a form), and, when configured, the
// legacy id_token post.
func (o *Onboarding) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if o.closed.Load() {
		o.fail(w, r, "onboarding is closed", fmt.Errorf("sysuser: the Onboarding is closed: %w", net.ErrClosed))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxCallbackBody)
	if err := r.ParseForm(); err != nil {
		o.fail(w, r, "the callback could not be read", fmt.Errorf("%w: the callback could not be read", ErrInvalidState))
		return
	}
	if r.Method == http.MethodPost && r.PostForm.Get("id_token") != "" && r.PostForm.Get("code") == "" {
		o.legacy(w, r)
		return
	}
	a, err := o.callback(r.Context(), w, r)
	if err != nil {
		o.fail(w, r, "the callback failed", err)
		return
	}
	o.approve(w, r, a)
}

// callback checks the state, turns an error answer into an
// *AuthorizationError, redeems the code and verifies the id_token.
func (o *Onboarding) callback(ctx context.Context, w http.ResponseWriter, r *http.Request) (*Approval, error) {
	state := r.Form.Get("state")
	if state == "" {
		return nil, fmt.Errorf("%w: the callback has no state", ErrInvalidState)
	}
	name := cookieName(state)
	ck, err := r.Cookie(name)
	if err != nil {
		return nil, fmt.Errorf("%w: this browser has no login with that state", ErrInvalidState)
	}
	http.SetCookie(w, o.cookie(name, "", -1)) // one callback per login, whatever happens
	bs, err := o.openCookie(ck)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(bs.State), []byte(state)) != 1 {
		return nil, fmt.Errorf("%w: the state differs from the one this browser started with", ErrInvalidState)
	}
	if !o.now().Before(time.Unix(bs.Expires, 0)) {
		return nil, fmt.Errorf("%w: the login started more than %s ago", ErrInvalidState, onboardingTTL)
	}
	if code := r.Form.Get("error"); code != "" {
		return nil, &AuthorizationError{Code: serverText(code), Description: serverText(r.Form.Get("error_description"))}
	}
	code := r.Form.Get("code")
	if code == "" {
		return nil, fmt.Errorf("%w: the callback has neither code nor error", ErrInvalidState)
	}
	if !o.used.add("state:"+bs.State, time.Unix(bs.Expires, 0), o.now()) {
		return nil, fmt.Errorf("%w: this login was already completed", ErrInvalidState)
	}
	idToken, err := o.redeem(ctx, code, bs.Verifier)
	if err != nil {
		return nil, err
	}
	return o.verify(ctx, idToken, bs.Nonce)
}

// verify checks an id_token with nonce and accepts each nonce once. The
// verifier logs nothing here: fail logs every refusal once.
func (o *Onboarding) verify(ctx context.Context, idToken, nonce string) (*Approval, error) {
	a, err := o.verifier.verify(ctx, idToken, nonce, o.cfg.LegacySkipNonceCheck)
	if err != nil {
		return nil, err
	}
	key := "nonce:" + nonce
	if nonce == "" { // the legacy path without a nonce check: the token itself, once
		sum := sha256.Sum256([]byte(idToken))
		key = "id_token:" + hex.EncodeToString(sum[:])
	}
	if !o.used.add(key, a.ExpiresAt.Add(o.verifier.leeway), o.now()) {
		return nil, fmt.Errorf("%w: this approval was already accepted once", ErrInvalidState)
	}
	return a, nil
}

// tokenAnswer is the token endpoint's JSON answer.
type tokenAnswer struct {
	IDToken          string `json:"id_token"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// redeem exchanges the code for tokens (client_secret_post, with the PKCE
// verifier) and returns the id_token.
func (o *Onboarding) redeem(ctx context.Context, code, verifier string) (string, error) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {o.cfg.RedirectURL},
		"client_id":     {o.clientID},
		"client_secret": {*o.secret},
		"code_verifier": {verifier},
	}
	ctx, cancel := context.WithTimeout(ctx, defaultExchangeTimeout)
	defer cancel()
	resp, body, err := send(ctx, o.http, request{method: http.MethodPost, url: o.tokenURL, body: []byte(form.Encode()),
		header: [][2]string{{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}}})
	if err != nil {
		return "", fmt.Errorf("sysuser: redeeming the authorization code: %w", err)
	}
	var ans tokenAnswer
	jerr := json.Unmarshal(body, &ans)
	switch {
	case resp.StatusCode != http.StatusOK && jerr == nil && ans.Error != "":
		return "", &AuthorizationError{Code: serverText(ans.Error), Description: serverText(ans.ErrorDescription), StatusCode: resp.StatusCode}
	case resp.StatusCode != http.StatusOK:
		return "", statusError(resp, body)
	case jerr != nil || ans.IDToken == "":
		return "", malformed("the token endpoint's answer has no id_token")
	}
	return ans.IDToken, nil
}

// legacy accepts an id_token form-posted by the deprecated implicit or
// hybrid flows, when the application allowed it.
func (o *Onboarding) legacy(w http.ResponseWriter, r *http.Request) {
	if o.cfg.LegacyNonce == nil && !o.cfg.LegacySkipNonceCheck {
		o.fail(w, r, "an id_token was posted but the legacy flow is not enabled",
			fmt.Errorf("%w: legacy id_token posts are not accepted (set LegacyNonce)", ErrInvalidState))
		return
	}
	nonce := ""
	if o.cfg.LegacyNonce != nil {
		if nonce = o.cfg.LegacyNonce(r); nonce == "" {
			o.fail(w, r, "no nonce for this login", fmt.Errorf("%w: no nonce for this browser's login", ErrInvalidState))
			return
		}
	}
	a, err := o.verify(r.Context(), r.PostForm.Get("id_token"), nonce)
	if err != nil {
		o.fail(w, r, "the legacy id_token was refused", err)
		return
	}
	o.approve(w, r, a)
}

// approve hands a verified approval to the application.
func (o *Onboarding) approve(w http.ResponseWriter, r *http.Request, a *Approval) {
	if err := o.cfg.OnApproval(w, r, a); err != nil {
		o.log.LogAttrs(r.Context(), slog.LevelError, "sysuser: storing an approval failed",
			slog.String("tenant", a.ContextIdentifier), slog.String("error", serverText(err.Error())))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	o.log.LogAttrs(r.Context(), slog.LevelInfo, "sysuser: approval accepted", slog.String("tenant", a.ContextIdentifier))
}

// fail logs why a callback failed and hands the error to OnError.
func (o *Onboarding) fail(w http.ResponseWriter, r *http.Request, why string, err error) {
	o.log.LogAttrs(r.Context(), slog.LevelWarn, "sysuser: onboarding callback refused",
		slog.String("reason", why), slog.String("error", serverText(strings.TrimSpace(err.Error()))))
	if o.cfg.OnError != nil {
		o.cfg.OnError(w, r, err)
		return
	}
	http.Error(w, "the approval could not be completed", http.StatusBadRequest)
}

// Close stops the Onboarding: afterwards Start answers 503 and callbacks
// fail with an error matching net.ErrClosed. It does not close the
// Verifier, which stays the caller's (close it after the Onboarding).
// Close is safe to call more than once.
func (o *Onboarding) Close() error {
	o.closed.Store(true)
	return nil
}

// onceSet remembers keys until they expire, so that a login (its state), a
// nonce or a legacy id_token is accepted once.
//
// It never refuses a new key for lack of room, and each add costs O(1)
// amortised under its mutex: keys sit in a map and, in the order they came,
// in a queue; an add first drops the expired keys at the queue's head, and,
// when the set holds maxOnce keys, the oldest key whatever its expiry. A
// flood of keys (anyone can start logins and send callbacks with junk codes)
// thus bounds the memory and pushes out the oldest records early, but never
// locks out a genuine login. What an evicted record lets through: a state
// older than the last maxOnce callbacks can be used once more, which costs
// one more token-endpoint request and nothing else (SuperID redeems each
// code once, and the nonce is recorded after verification); a nonce or a
// legacy id_token, recorded only after SuperOffice's signature verified,
// leaves the set early only after maxOnce later verified approvals within
// its lifetime.
type onceSet struct {
	mu    sync.Mutex
	keys  map[string]time.Time
	queue []onceKey // in the order added; queue[head:] is live
	head  int
}

// onceKey is one record in the queue.
type onceKey struct {
	key     string
	expires time.Time
}

const maxOnce = 100000

// add records key until expires and reports whether it was new.
func (s *onceSet) add(key string, expires, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string]time.Time{}
	}
	for s.head < len(s.queue) && !now.Before(s.queue[s.head].expires) {
		s.pop()
	}
	if exp, ok := s.keys[key]; ok && now.Before(exp) {
		return false
	}
	for (len(s.keys) >= maxOnce || len(s.queue)-s.head >= 2*maxOnce) && s.head < len(s.queue) {
		s.pop()
	}
	s.keys[key] = expires
	s.queue = append(s.queue, onceKey{key, expires})
	return true
}

// pop drops the oldest record; s.mu is held. The map entry goes only if it
// is that record's (a key added again after expiring has a later record).
func (s *onceSet) pop() {
	k := s.queue[s.head]
	s.queue[s.head] = onceKey{}
	s.head++
	if exp, ok := s.keys[k.key]; ok && exp.Equal(k.expires) {
		delete(s.keys, k.key)
	}
	if s.head > len(s.queue)/2 && s.head >= 1024 { // reclaim the dropped half
		s.queue = append(s.queue[:0:0], s.queue[s.head:]...)
		s.head = 0
	}
}

// len reports how many keys the set holds.
func (s *onceSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}
