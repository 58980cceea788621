package sysusertest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/fnv"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The messages the fake refuses with, as AuthenticationResponse.ErrorMessage.
// Only MsgInvalidTimestamp and MsgInvalidSignature are SuperOffice's
// documented texts; the others are the fake's own wording.
const (
	// MsgInvalidTimestamp is SuperOffice's documented text for error code 6
	// (InvalidTimestamp): the signed token's timestamp is malformed or too
	// far from the service's clock.
	MsgInvalidTimestamp = "The supplied timestamp is invalid"
	// MsgInvalidSignature is SuperOffice's documented text for error code 7
	// (InvalidSignature): the signature does not verify with the
	// application's public key.
	MsgInvalidSignature = "Calculated signature is invalid"
	// MsgInvalidApplicationToken refuses an unknown application token. The
	// fake's own wording; SuperOffice's text for this case is not documented.
	MsgInvalidApplicationToken = "The application token is invalid"
	// MsgUnknownSystemUserToken refuses a system user token the tenant does
	// not hold, or an unknown tenant. The fake's own wording; SuperOffice's
	// text for this case is not documented.
	MsgUnknownSystemUserToken = "The system user token is not valid for this customer"
	// MsgMalformedSignedToken refuses a signed token that is not
	// TOKEN.timestamp.signature. The fake's own wording; SuperOffice's text
	// for this case is not documented.
	MsgMalformedSignedToken = "The signed system token is malformed"
	// MsgTenantNotRunning refuses an exchange for a tenant whose state (see
	// SetState) is not a running one. The fake's own wording and behaviour:
	// SuperOffice does not document what it answers then.
	MsgTenantNotRunning = "The customer is not running"
)

// Paths the fake serves, below its root. URL is the root + LoginPath.
const (
	LoginPath = "/login"
	SOAPPath  = LoginPath + "/services/PartnerSystemUserService.svc"
	RESTPath  = LoginPath + "/api/PartnerSystemUser/Authenticate"
	JWKSPath  = LoginPath + "/.well-known/jwks"
)

// issuer is the iss of the exchange's tokens, as SuperOffice writes it.
const issuer = "SuperOffice AS"

// claimPrefix is the namespace of SuperOffice's claims: "schemes", as
// SuperOffice spells it (not "schemas").
const claimPrefix = "http://schemes.superoffice.net/identity/"

// nbfBefore is how long before iat SuperOffice's tokens say they are valid:
// real tokens carry nbf = iat - 60.
const nbfBefore = 60 * time.Second

// Options configure a Server.
type Options struct {
	// Addr is the TCP address the fake listens on, such as
	// "127.0.0.1:8089" or "sod.superoffice.com:443", for a client outside
	// the test process (a Python or Node program driven by the WSDL) that
	// needs a fixed URL. Empty means a random port on the loopback
	// interface, as httptest.NewServer does. NewServer fails when it cannot
	// listen there. Unless Host is set, the fake's URLs name Addr's host; a
	// wildcard host names one a client can use (127.0.0.1 for 0.0.0.0,
	// localhost for :: or none).
	Addr string
	// Host is the host name the fake's URLs, metadata and claims carry,
	// such as "sod.superoffice.com", when it is not Addr's host: to listen
	// on 127.0.0.1 or 0.0.0.0 and be reached by a name that resolves there.
	// Empty means Addr's host. A name gets numbered WebApi hosts beside it
	// (sod2.superoffice.com, sod3.superoffice.com), served on the same
	// listener and told apart by the Host header; an IP address or
	// localhost gets them as listeners at other ports of the same address.
	// Client reaches every one of them without DNS.
	Host string
	// ApplicationToken is the application's client secret the fake
	// expects. Required.
	ApplicationToken string
	// PublicKey is the application's public key, which verifies signed
	// system user tokens. Required.
	PublicKey *rsa.PublicKey
	// SigningKey is the key the fake signs its JWTs with. Nil means a new
	// 2048-bit key; pass one to save the generation time across servers.
	SigningKey *rsa.PrivateKey
	// Clock is the fake's time, for the timestamp check, token lifetimes
	// and ticket expiry. Nil means time.Now.
	Clock func() time.Time
	// MaxClockSkew is how far a signed token's timestamp may be from the
	// fake's clock. Zero means 5 minutes.
	MaxClockSkew time.Duration
	// TokenLifetime is the JWT's exp - iat, for exchange tokens and
	// approval id_tokens. Zero means 5 minutes, as in SuperOffice's tokens.
	// Whatever it is, nbf is iat - 60 s, as in SuperOffice's tokens.
	TokenLifetime time.Duration
	// TicketLifetime is how long a ticket may go unused before the fake
	// WebApi refuses it with 401. The expiry is sliding: every request the
	// WebApi accepts with the ticket starts it again. Zero means 6 hours, as
	// SuperOffice documents.
	TicketLifetime time.Duration
	// TLS, when set, makes the fake serve HTTPS with this configuration,
	// and URL and Root start with "https://". Without Certificates (and
	// GetCertificate), the fake makes a CA and a certificate it issues for
	// every host the fake serves, and for localhost, 127.0.0.1 and ::1;
	// CACertificate returns the CA. Client trusts the served certificate.
	TLS *tls.Config
	// HTTPClient sends the notifications of Notify. Nil means
	// http.DefaultClient.
	HTTPClient *http.Client
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the login service's base URL, for sysuser.Config.LoginURL.
	URL string
	// Root is the login host's root URL, such as
	// "https://sod.superoffice.com" or "http://127.0.0.1:41234": the
	// OpenID issuer and the state API's origin. Tenants' WebApi URLs are
	// on numbered hosts (WebAPIURL).
	Root string

	opts    Options
	servers []*httptest.Server // one per listener
	hosts   []host             // the login host, then the numbered WebApi hosts (hosts.go)
	byPort  bool               // hosts are told apart by listener, not by name
	dial    map[string]string  // host:port the fake serves -> listener address, for Client
	client  *http.Client
	caPEM   []byte

	mu        sync.Mutex
	keys      []*signingKey      // oldest first, the current one last; all are published
	tenants   map[string]*tenant // by context identifier
	tickets   map[string]ticketInfo
	jwksHits  int
	status    int // when non-zero, exchanges answer with this HTTP status
	tokenFunc func(claims map[string]any) (string, error)

	sid superID // SuperID's authorization code flow (superid.go)
}

// signingKey is one key the fake signs with, and its certificate.
type signingKey struct {
	key     *rsa.PrivateKey
	kid     string
	certDER []byte
}

func newSigningKey(key *rsa.PrivateKey) (*signingKey, error) {
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, fmt.Errorf("sysusertest: generating the signing key: %w", err)
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"SuperOffice AS"}, CommonName: "sysusertest Federated Login"},
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2120, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("sysusertest: making the certificate: %w", err)
	}
	thumb := sha1.Sum(der)
	return &signingKey{key: key, kid: strings.ToUpper(hex.EncodeToString(thumb[:])), certDER: der}, nil
}

// current returns the key the fake signs with now.
func (s *Server) current() *signingKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[len(s.keys)-1]
}

// RotateKey makes key (nil: a new 2048-bit key) the one the fake signs
// with from now on. The key set keeps publishing the earlier keys too, as
// a real rotation does; tokens name the new kid.
func (s *Server) RotateKey(key *rsa.PrivateKey) error {
	sk, err := newSigningKey(key)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, sk)
	return nil
}

type tenant struct {
	name        string // the context identifier as AddTenant last got it
	token       string
	serial      string
	refusal     string
	exchanges   int
	webapiCalls int

	// Where and how the tenant lives (state.go).
	host         int       // index in Server.hosts of its WebApi host, 1 or more
	state        string    // the state API's State, such as "Running"
	validUntil   time.Time // zero: a sliding StateValidity from each lookup
	stateLookups int
	misdirected  int
}

type ticketInfo struct {
	tenant   string
	lastUsed time.Time // issued, or last accepted by the WebApi
	revoked  bool
}

// NewServer starts a fake, listening on Options.Addr. Close it when done.
func NewServer(opts Options) (*Server, error) {
	if opts.ApplicationToken == "" {
		return nil, errors.New("sysusertest: Options.ApplicationToken is empty")
	}
	if opts.PublicKey == nil {
		return nil, errors.New("sysusertest: Options.PublicKey is nil")
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.MaxClockSkew == 0 {
		opts.MaxClockSkew = 5 * time.Minute
	}
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = 5 * time.Minute
	}
	if opts.TicketLifetime == 0 {
		opts.TicketLifetime = 6 * time.Hour
	}
	sk, err := newSigningKey(opts.SigningKey)
	if err != nil {
		return nil, err
	}
	if err := checkHost(opts.Host); err != nil {
		return nil, err
	}
	s := &Server{
		opts:    opts,
		keys:    []*signingKey{sk},
		tenants: map[string]*tenant{},
		tickets: map[string]ticketInfo{},
	}
	scheme := "http"
	if opts.TLS != nil {
		scheme = "https"
	}
	listeners, err := s.listen(scheme)
	if err != nil {
		return nil, err
	}
	// Set before serving: handlers read them.
	s.Root = s.hosts[0].origin
	s.URL = s.Root + LoginPath
	if err := s.start(listeners); err != nil {
		for _, l := range listeners {
			l.Close()
		}
		return nil, err
	}
	return s, nil
}

// Close shuts the server down: every host it serves.
func (s *Server) Close() {
	for _, hs := range s.servers {
		hs.Close()
	}
	s.client.CloseIdleConnections()
}

// Client returns an *http.Client that talks to the server: it trusts the
// fake's TLS certificate and reaches every host the fake serves (the login
// host and the numbered WebApi hosts) at the fake's listeners, whatever DNS
// says of their names.
func (s *Server) Client() *http.Client { return s.client }

// AddTenant registers a tenant (e.g. "Cust12345") and the system user token
// the application holds for it. Adding a tenant again replaces its token.
func (s *Server) AddTenant(contextIdentifier, systemUserToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(contextIdentifier)))
	t := s.tenants[strings.ToLower(contextIdentifier)]
	if t == nil {
		t = &tenant{serial: fmt.Sprintf("%010d", h.Sum32()), host: 1, state: "Running"}
		s.tenants[strings.ToLower(contextIdentifier)] = t
	}
	t.name, t.token = contextIdentifier, systemUserToken
}

// Refuse makes every exchange for the tenant fail with IsSuccessful=false
// and message as ErrorMessage. An empty message stops refusing.
func (s *Server) Refuse(contextIdentifier, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[strings.ToLower(contextIdentifier)]; t != nil {
		t.refusal = message
	}
}

// SetUnavailable makes every exchange answer with the HTTP status (such as
// 503) and an HTML page, as a failing front end would. Zero restores
// normal service. The key set and the WebApi stay up.
func (s *Server) SetUnavailable(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

// SetTokenFunc replaces how the fake turns the claims of a successful
// exchange into the token it returns. f gets the claims it would sign and
// returns the token to send; Sign signs claims as the fake does, so
// `return srv.Sign(claims)` after changing them is the usual body. An error
// from f makes the exchange answer 500, as the fake's own signing failure
// would. Nil restores the default. Tests use it to return forged or broken
// tokens.
func (s *Server) SetTokenFunc(f func(claims map[string]any) (string, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenFunc = f
}

// Sign signs claims with the fake's current key: RS256, with kid and x5t
// headers, as the fake signs its own tokens. It fails when encoding/json
// cannot encode the claims (a channel, a function, NaN).
func (s *Server) Sign(claims map[string]any) (string, error) {
	return s.current().sign(claims)
}

func (k *signingKey) sign(claims map[string]any) (string, error) {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
	tok.Header["kid"] = k.kid
	thumb := sha1.Sum(k.certDER)
	tok.Header["x5t"] = base64.RawURLEncoding.EncodeToString(thumb[:])
	signed, err := tok.SignedString(k.key)
	if err != nil {
		return "", fmt.Errorf("sysusertest: signing a token: %w", err)
	}
	return signed, nil
}

// KeyID is the kid of the fake's signing key: the upper-case hex SHA-1
// thumbprint of its certificate, as SuperOffice's kids are.
func (s *Server) KeyID() string { return s.current().kid }

// SigningCertificate returns the certificate of the key the fake signs its
// tokens with, in PEM, as SuperOffice ships SuperOfficeFederatedLogin.crt,
// for sysuser.Config.Certificate. It is not the TLS certificate: see
// CACertificate and Client for that.
func (s *Server) SigningCertificate() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.current().certDER})
}

// ExchangeCount returns how many Authenticate requests named the tenant:
// successful, refused, or failed by SetUnavailable.
func (s *Server) ExchangeCount(contextIdentifier string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[strings.ToLower(contextIdentifier)]; t != nil {
		return t.exchanges
	}
	return 0
}

// WebAPIURL returns the tenant's WebApi base URL on its current numbered
// host, as the webapi_url claim carries it (ending in "/api/"). A tenant
// not added yet gets the URL it will have when added.
func (s *Server) WebAPIURL(contextIdentifier string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenantOrigin(s.tenants[strings.ToLower(contextIdentifier)]) + "/" + contextIdentifier + "/api/"
}

// tenantOrigin is the origin of t's WebApi host; t may be nil. s.mu is held.
func (s *Server) tenantOrigin(t *tenant) string {
	if t == nil {
		return s.hosts[1].origin
	}
	return s.hosts[t.host].origin
}

// route dispatches on the host (index in s.hosts) and the path, ignoring
// the path's case as IIS does: SuperOffice answers at /Login/services/...
// and /login/Services/... alike. The login host serves authentication and
// the state API, and answers WebApi paths with 421; the numbered hosts
// serve the WebApi only.
func (s *Server) route(w http.ResponseWriter, r *http.Request, host int) {
	p := r.URL.Path
	lower := strings.ToLower(p)
	if host != 0 {
		if strings.Contains(lower, "/api/") {
			s.serveWebAPI(w, r, host)
			return
		}
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.EqualFold(p, SOAPPath):
		s.serveSOAP(w, r)
	case strings.EqualFold(p, RESTPath):
		s.serveREST(w, r)
	case strings.EqualFold(p, JWKSPath):
		s.serveJWKS(w, r)
	case strings.EqualFold(p, openIDConfigurationPath):
		s.serveOpenIDConfiguration(w, r)
	case strings.EqualFold(p, AuthorizePath):
		s.serveAuthorize(w, r)
	case strings.EqualFold(p, decidePath):
		s.serveDecide(w, r)
	case strings.EqualFold(p, TokenPath):
		s.serveToken(w, r)
	case strings.HasPrefix(lower, strings.ToLower(StatePath)+"/"):
		s.serveState(w, r)
	case strings.Contains(lower, "/api/"):
		s.serveWebAPI(w, r, 0)
	default:
		http.NotFound(w, r)
	}
}

// failPage answers with a failing front end's HTML page.
func failPage(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", status, http.StatusText(status))
}

// authenticate is the service's logic, shared by SOAP and REST. It returns
// the token to send, or SuperOffice's refusal message, or an HTTP status
// to fail with (see SetUnavailable). Every call counts as an exchange for
// the tenant it names.
func (s *Server) authenticate(appToken, contextIdentifier, signed string) (token, refusal string, status int) {
	now := s.opts.Clock()
	s.mu.Lock()
	t := s.tenants[strings.ToLower(contextIdentifier)]
	if t != nil {
		t.exchanges++
	}
	if s.status != 0 {
		status = s.status
		s.mu.Unlock()
		return "", "", status
	}
	claims, refusal := s.check(t, appToken, contextIdentifier, signed, now)
	tokenFunc, key := s.tokenFunc, s.keys[len(s.keys)-1]
	s.mu.Unlock()
	if refusal != "" {
		return "", refusal, 0
	}
	sign := key.sign
	if tokenFunc != nil { // called without the lock: it may call Sign
		sign = tokenFunc
	}
	token, err := sign(claims)
	if err != nil { // the fake's own claims always encode; a tokenFunc may fail
		return "", "", http.StatusInternalServerError
	}
	return token, "", 0
}

// check validates one request and issues a ticket, returning the claims
// to sign. s.mu is held.
func (s *Server) check(t *tenant, appToken, contextIdentifier, signed string, now time.Time) (claims map[string]any, refusal string) {
	if appToken != s.opts.ApplicationToken {
		return nil, MsgInvalidApplicationToken
	}
	// TOKEN.yyyyMMddHHmm.base64(signature); the token may contain dots.
	i := strings.LastIndexByte(signed, '.')
	if i < 0 {
		return nil, MsgMalformedSignedToken
	}
	signedPart, sig64 := signed[:i], signed[i+1:]
	j := strings.LastIndexByte(signedPart, '.')
	if j < 0 {
		return nil, MsgMalformedSignedToken
	}
	sysToken, stamp := signedPart[:j], signedPart[j+1:]
	ts, err := time.Parse("200601021504", stamp)
	if err != nil || len(stamp) != 12 {
		return nil, MsgInvalidTimestamp
	}
	if d := now.Sub(ts); d > s.opts.MaxClockSkew || d < -s.opts.MaxClockSkew {
		return nil, MsgInvalidTimestamp
	}
	sig, err := base64.StdEncoding.DecodeString(sig64)
	if err != nil {
		return nil, MsgInvalidSignature
	}
	digest := sha256.Sum256([]byte(signedPart))
	if rsa.VerifyPKCS1v15(s.opts.PublicKey, crypto.SHA256, digest[:], sig) != nil {
		return nil, MsgInvalidSignature
	}
	if t == nil || t.token != sysToken {
		return nil, MsgUnknownSystemUserToken
	}
	if !t.running() {
		return nil, MsgTenantNotRunning
	}
	if t.refusal != "" {
		return nil, t.refusal
	}
	ticket := newTicket()
	s.tickets[ticket] = ticketInfo{tenant: strings.ToLower(contextIdentifier), lastUsed: now}
	claims = map[string]any{
		"iss":                            issuer,
		"aud":                            "spn:" + t.serial,
		"iat":                            now.Unix(),
		"nbf":                            now.Add(-nbfBefore).Unix(),
		"exp":                            now.Add(s.opts.TokenLifetime).Unix(),
		claimPrefix + "ticket":           ticket,
		claimPrefix + "ctx":              contextIdentifier,
		claimPrefix + "serial":           t.serial,
		claimPrefix + "webapi_url":       s.tenantOrigin(t) + "/" + contextIdentifier + "/api/",
		claimPrefix + "netserver_url":    s.tenantOrigin(t) + "/" + contextIdentifier + "/Remote/Services88/",
		claimPrefix + "associateid":      "5",
		claimPrefix + "identityprovider": "SuperOffice SuperId",
		claimPrefix + "email":            "system.user@" + strings.ToLower(contextIdentifier) + ".example",
		claimPrefix + "is_administrator": "False",
	}
	return claims, ""
}

func newTicket() string {
	b := make([]byte, 48)
	rand.Read(b)
	return "7T:" + base64.StdEncoding.EncodeToString(b)
}
