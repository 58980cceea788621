package sysusertest_test

// These tests hold the fake to SuperOffice's own material: every wire fact
// below is a literal copied from SuperOffice's documentation, WSDL or a real
// SuperOffice id_token, never one of the fake's constants.

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/go-superoffice/sysuser/sysusertest"
)

// SuperOffice's claim namespace, "schemes" (not "schemas"), as in
// real-sod-id-token.jwt.
const schemes = "http://schemes.superoffice.net/identity/"

// unverifiedClaims decodes a token's payload without checking it.
func unverifiedClaims(t *testing.T, tok string) (header map[string]any, claims jwt.MapClaims) {
	t.Helper()
	claims = jwt.MapClaims{}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, claims)
	if err != nil {
		t.Fatalf("parsing %q: %v", tok, err)
	}
	return parsed.Header, claims
}

func exchange(t *testing.T, s *sysusertest.Server, at time.Time) jwt.MapClaims {
	t.Helper()
	ok, tok, msg := rest(t, s, "app", "Cust1", sign(t, "tok. with dots", at))
	if !ok {
		t.Fatalf("exchange refused: %s", msg)
	}
	_, claims := unverifiedClaims(t, tok)
	return claims
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func fixedClock(at time.Time) func() time.Time { return func() time.Time { return at } }

func TestClaimsUseTheSchemesNamespace(t *testing.T) {
	now := time.Date(2026, 3, 4, 10, 20, 0, 0, time.UTC)
	s := newFake(t, fixedClock(now))
	idToken, err := s.IDToken("Cust1", "client", "")
	if err != nil {
		t.Fatal(err)
	}
	_, approval := unverifiedClaims(t, idToken)
	for name, claims := range map[string]jwt.MapClaims{"exchange": exchange(t, s, now), "approval": approval} {
		for k := range claims {
			if strings.Contains(k, "schemas.superoffice") {
				t.Errorf("%s token has claim %q: SuperOffice writes schemes.superoffice", name, k)
			}
		}
		for _, k := range []string{"ctx", "serial", "webapi_url", "netserver_url"} {
			if _, ok := claims[schemes+k]; !ok {
				t.Errorf("%s token lacks %s%s: %v", name, schemes, k, claims)
			}
		}
	}
	claims := exchange(t, s, now)
	if tk, _ := claims["http://schemes.superoffice.net/identity/ticket"].(string); !strings.HasPrefix(tk, "7T:") {
		t.Errorf("no http://schemes.superoffice.net/identity/ticket claim: %v", claims)
	}
	if claims["http://schemes.superoffice.net/identity/ctx"] != "Cust1" {
		t.Errorf("ctx = %v", claims["http://schemes.superoffice.net/identity/ctx"])
	}
	if approval["http://schemes.superoffice.net/identity/system_token"] != "tok. with dots" {
		t.Errorf("system_token = %v", approval["http://schemes.superoffice.net/identity/system_token"])
	}
}

// Real SuperOffice tokens carry nbf = iat - 60 and exp = iat + 300
// (real-sod-id-token.jwt: iat 1649314756, nbf 1649314696, exp 1649315056).
func TestTokenTimingIsSuperOffices(t *testing.T) {
	now := time.Date(2026, 3, 4, 10, 20, 30, 0, time.UTC)
	check := func(name string, claims jwt.MapClaims, lifetime int64) {
		t.Helper()
		iat, _ := claims["iat"].(float64)
		nbf, _ := claims["nbf"].(float64)
		exp, _ := claims["exp"].(float64)
		if int64(iat) != now.Unix() || int64(nbf) != int64(iat)-60 || int64(exp) != int64(iat)+lifetime {
			t.Errorf("%s: iat %v nbf %v exp %v, want iat %d, nbf iat-60, exp iat+%d", name, iat, nbf, exp, now.Unix(), lifetime)
		}
	}
	s := newFake(t, fixedClock(now))
	check("exchange", exchange(t, s, now), 300)
	idToken, err := s.IDToken("Cust1", "client", "n")
	if err != nil {
		t.Fatal(err)
	}
	_, approval := unverifiedClaims(t, idToken)
	check("approval", approval, 300)

	// TokenLifetime is exp - iat; nbf stays one minute before iat.
	long, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "app", PublicKey: &key(t).PublicKey,
		Clock: fixedClock(now), TokenLifetime: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer long.Close()
	long.AddTenant("Cust1", "tok. with dots")
	check("exchange with TokenLifetime 10m", exchange(t, long, now), 600)
}

func TestApproveIsShapedLikeARealIDToken(t *testing.T) {
	now := time.Now()
	s := newFake(t, fixedClock(now))
	idToken, err := s.IDToken("Cust1", "8cd4fc8710c121d8245c9d8ef59e1086", "smTo3BqVY0GyDAxm2Xe5iA")
	if err != nil {
		t.Fatal(err)
	}
	// Verified with the fake's published key, issued by its root to the client.
	block, _ := pem.Decode(s.SigningCertificate())
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(idToken, claims, func(*jwt.Token) (any, error) { return cert.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(s.Root), jwt.WithAudience("8cd4fc8710c121d8245c9d8ef59e1086"),
		jwt.WithTimeFunc(fixedClock(now))); err != nil {
		t.Fatal(err)
	}
	// Every claim of real-sod-id-token.jwt, plus system_token.
	for _, k := range []string{
		"sub", "iat", "nbf", "exp", "iss", "aud", "nonce",
		"http://schemes.superoffice.net/identity/associateid",
		"http://schemes.superoffice.net/identity/identityprovider",
		"http://schemes.superoffice.net/identity/email",
		"http://schemes.superoffice.net/identity/upn",
		"http://schemes.superoffice.net/identity/is_administrator",
		"http://schemes.superoffice.net/identity/ctx",
		"http://schemes.superoffice.net/identity/company_name",
		"http://schemes.superoffice.net/identity/serial",
		"http://schemes.superoffice.net/identity/netserver_url",
		"http://schemes.superoffice.net/identity/initials",
		"http://schemes.superoffice.net/identity/so_primary_email_address",
		"http://schemes.superoffice.net/identity/webapi_url",
		"http://schemes.superoffice.net/identity/system_token",
	} {
		v, ok := claims[k]
		if !ok {
			t.Errorf("no claim %s", k)
			continue
		}
		if strings.HasPrefix(k, "http://") {
			if _, isString := v.(string); !isString {
				t.Errorf("%s = %#v, want a string as in SuperOffice's token", k, v)
			}
		}
	}
	for k, want := range map[string]string{
		"http://schemes.superoffice.net/identity/identityprovider": "central-superid",
		"http://schemes.superoffice.net/identity/is_administrator": "True",
		"http://schemes.superoffice.net/identity/ctx":              "Cust1",
		"http://schemes.superoffice.net/identity/system_token":     "tok. with dots",
		"nonce": "smTo3BqVY0GyDAxm2Xe5iA",
	} {
		if claims[k] != want {
			t.Errorf("%s = %v, want %q", k, claims[k], want)
		}
	}
	if _, ok := claims["c_hash"]; ok {
		t.Errorf("c_hash %v is not a hash of any code", claims["c_hash"])
	}
	if want := s.WebAPIURL("Cust1"); claims["http://schemes.superoffice.net/identity/webapi_url"] != want {
		t.Errorf("webapi_url = %v, want %s", claims["http://schemes.superoffice.net/identity/webapi_url"], want)
	}

	noNonce, _ := s.IDToken("Cust1", "client", "")
	if _, c := unverifiedClaims(t, noNonce); c["nonce"] != nil {
		t.Errorf("nonce %v without one asked", c["nonce"])
	}
	if _, err := s.IDToken("Cust404", "client", ""); err == nil {
		t.Error("approved an unknown tenant")
	}
}

type jwks struct {
	Keys []struct {
		Kty, Use, Alg, Kid string
		X5c                []string
	}
}

func fetchJWKS(t *testing.T, url string) jwks {
	t.Helper()
	resp, body := get(t, url)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	var set jwks
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatal(err)
	}
	return set
}

// SuperOffice's Python sample verifies with keys[0] of
// https://{host}/login/.well-known/jwks.
func TestJWKSListsTheCurrentKeyFirst(t *testing.T) {
	s := newFake(t, nil)
	first := s.KeyID()
	if err := s.RotateKey(nil); err != nil {
		t.Fatal(err)
	}
	second := s.KeyID()
	if err := s.RotateKey(nil); err != nil {
		t.Fatal(err)
	}
	set := fetchJWKS(t, s.Root+"/login/.well-known/jwks")
	if len(set.Keys) != 3 {
		t.Fatalf("%d keys, want 3", len(set.Keys))
	}
	if got := []string{set.Keys[0].Kid, set.Keys[1].Kid, set.Keys[2].Kid}; got[0] != s.KeyID() || got[1] != second || got[2] != first {
		t.Errorf("kids %v, want [%s %s %s] (current first)", got, s.KeyID(), second, first)
	}
	k := set.Keys[0]
	if k.Kty != "RSA" || k.Use != "sig" || k.Alg != "RS256" || len(k.X5c) != 1 {
		t.Errorf("key %+v", k)
	}
	// Tokens name the key listed first.
	_, tok, _ := rest(t, s, "app", "Cust1", sign(t, "tok. with dots", time.Now()))
	if h, _ := unverifiedClaims(t, tok); h["kid"] != set.Keys[0].Kid {
		t.Errorf("token kid %v, keys[0] %s", h["kid"], set.Keys[0].Kid)
	}
}

const soapEnvelope = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>` +
	`<ApplicationToken xmlns="http://www.superoffice.com/superid/partnersystemuser/0.1">app</ApplicationToken>` +
	`<ContextIdentifier xmlns="http://www.superoffice.com/superid/partnersystemuser/0.1">Cust1</ContextIdentifier></s:Header>` +
	`<s:Body><AuthenticationRequest xmlns="http://www.superoffice.com/superid/partnersystemuser/0.1">` +
	`<SignedSystemToken>%s</SignedSystemToken><ReturnTokenType>Jwt</ReturnTokenType>` +
	`</AuthenticationRequest></s:Body></s:Envelope>`

func postSOAP(t *testing.T, url, signed string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(fmt.Sprintf(soapEnvelope, signed)))
	req.Header.Set("Content-Type", "text/xml;charset=UTF-8")
	req.Header.Set("SOAPAction", `"http://www.superoffice.com/superid/partnersystemuser/0.1/IPartnerSystemUserService/Authenticate"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// IIS matches paths without regard to case; SuperOffice's samples spell them
// in several cases.
func TestPathsIgnoreCase(t *testing.T) {
	s := newFake(t, nil)
	for _, p := range []string{
		"/Login/services/PartnerSystemUserService.svc",
		"/Login/Services/PartnerSystemUserService.svc",
		"/login/Services/PartnerSystemUserService.svc",
		"/LOGIN/SERVICES/PARTNERSYSTEMUSERSERVICE.SVC",
	} {
		if code, body := postSOAP(t, s.Root+p, sign(t, "tok. with dots", time.Now())); code != 200 || !strings.Contains(body, "<IsSuccessful>true</IsSuccessful>") {
			t.Errorf("SOAP at %s: %d %s", p, code, body)
		}
	}
	for _, p := range []string{"/Login/api/PartnerSystemUser/Authenticate", "/LOGIN/API/partnersystemuser/authenticate"} {
		body, _ := json.Marshal(map[string]string{"SignedSystemToken": sign(t, "tok. with dots", time.Now()), "ApplicationToken": "app", "ContextIdentifier": "Cust1", "ReturnTokenType": "JWT"})
		resp, err := http.Post(s.Root+p, "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"IsSuccessful":true`) {
			t.Errorf("REST at %s: %d %s", p, resp.StatusCode, b)
		}
	}
	for _, p := range []string{"/login/.well-known/jwks", "/LOGIN/.well-known/JWKS", "/Login/.Well-Known/Jwks"} {
		if set := fetchJWKS(t, s.Root+p); len(set.Keys) == 0 || set.Keys[0].Kid != s.KeyID() {
			t.Errorf("JWKS at %s: %+v", p, set)
		}
	}
	for _, p := range []string{"/login/.well-known/openid-configuration", "/Login/.Well-Known/OpenID-Configuration"} {
		if resp, body := get(t, s.Root+p); resp.StatusCode != 200 || !strings.Contains(body, `"jwks_uri"`) {
			t.Errorf("metadata at %s: %d %s", p, resp.StatusCode, body)
		}
	}
	claims := exchange(t, s, time.Now())
	ticket := claims["http://schemes.superoffice.net/identity/ticket"].(string)
	for _, p := range []string{"/Cust1/api/v1/Contact/2", "/Cust1/API/v1/Contact/2", "/cust1/Api/v1/Contact/2"} {
		req, _ := http.NewRequest(http.MethodGet, strings.TrimSuffix(s.WebAPIURL("Cust1"), "/Cust1/api/")+p, nil)
		req.Header.Set("Authorization", "SOTicket "+ticket)
		req.Header.Set("SO-AppToken", "app")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var echo map[string]string
		json.NewDecoder(resp.Body).Decode(&echo)
		resp.Body.Close()
		if resp.StatusCode != 200 || echo["Path"] != "v1/Contact/2" {
			t.Errorf("WebApi at %s: %d %v", p, resp.StatusCode, echo)
		}
	}
}

// WCF serves its WSDL at ?wsdl and ?singleWsdl; a WSDL-driven client posts to
// its soap:address.
func TestSOAPServesSuperOfficesWSDLPointingAtTheFake(t *testing.T) {
	s := newFake(t, nil)
	want := s.URL + "/services/PartnerSystemUserService.svc"
	for _, q := range []string{"?wsdl", "?WSDL", "?singleWsdl", "?singlewsdl", "?Wsdl="} {
		resp, body := get(t, s.Root+"/Login/services/PartnerSystemUserService.svc"+q)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
			t.Fatalf("GET %s: %d %s", q, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if !strings.Contains(body, `targetNamespace="http://www.superoffice.com/superid/partnersystemuser/0.1"`) ||
			!strings.Contains(body, `soapAction="http://www.superoffice.com/superid/partnersystemuser/0.1/IPartnerSystemUserService/Authenticate"`) {
			t.Errorf("%s: not SuperOffice's WSDL: %.300s", q, body)
		}
		if strings.Contains(body, "superoffice.no") {
			t.Errorf("%s: still points at SuperOffice's host", q)
		}
		var defs struct {
			Ports []struct {
				Name    string `xml:"name,attr"`
				Address struct {
					Location string `xml:"location,attr"`
				} `xml:"http://schemas.xmlsoap.org/wsdl/soap/ address"`
			} `xml:"http://schemas.xmlsoap.org/wsdl/ service>port"`
		}
		if err := xml.Unmarshal([]byte(body), &defs); err != nil {
			t.Fatal(err)
		}
		if len(defs.Ports) != 2 {
			t.Fatalf("%s: %d ports, want SuperOffice's 2", q, len(defs.Ports))
		}
		for _, p := range defs.Ports {
			if p.Address.Location != want {
				t.Errorf("%s: port %s at %q, want %q", q, p.Name, p.Address.Location, want)
			}
			if code, resp := postSOAP(t, p.Address.Location, sign(t, "tok. with dots", time.Now())); code != 200 || !strings.Contains(resp, "<IsSuccessful>true</IsSuccessful>") {
				t.Errorf("posting to %s: %d %s", p.Address.Location, code, resp)
			}
		}
	}
	if resp, _ := get(t, want); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET without ?wsdl: %d, want 405", resp.StatusCode)
	}
	if resp, _ := get(t, want+"?xsd=xsd0"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET ?xsd=xsd0: %d, want 405", resp.StatusCode)
	}
}

func TestOpenIDConfigurationNamesOnlyWhatTheFakeServes(t *testing.T) {
	s := newFake(t, nil)
	resp, body := get(t, s.Root+"/login/.well-known/openid-configuration")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var meta map[string]any
	if err := json.Unmarshal([]byte(body), &meta); err != nil {
		t.Fatal(err)
	}
	// The code flow's endpoints, as SuperOffice's (https://{env}.superoffice.com/login/common/oauth/...).
	for k, path := range map[string]string{"authorization_endpoint": "/login/common/oauth/authorize", "token_endpoint": "/login/common/oauth/tokens"} {
		if meta[k] != s.Root+path {
			t.Errorf("%s %v, want %s", k, meta[k], s.Root+path)
		}
	}
	if meta["issuer"] != s.Root {
		t.Errorf("issuer %v, want %s", meta["issuer"], s.Root)
	}
	// As SuperOffice's: https://{host}/login/.well-known/jwks.
	if meta["jwks_uri"] != s.Root+"/login/.well-known/jwks" {
		t.Errorf("jwks_uri %v", meta["jwks_uri"])
	}
	if set := fetchJWKS(t, meta["jwks_uri"].(string)); len(set.Keys) == 0 {
		t.Error("jwks_uri serves no key")
	}
	modes := fmt.Sprint(meta["response_modes_supported"])
	for _, m := range []string{"form_post", "fragment", "query"} {
		if !strings.Contains(modes, m) {
			t.Errorf("response_modes_supported %s lacks %s", modes, m)
		}
	}
	// Any other URL it names must answer: the code flow's endpoints refuse a
	// bare GET (superid_test.go drives them), but they are there.
	for k, v := range meta {
		if u, ok := v.(string); ok && strings.HasPrefix(u, "http") && k != "issuer" {
			if r, _ := get(t, u); r.StatusCode != 200 && !(strings.HasSuffix(k, "_endpoint") && r.StatusCode != 404) {
				t.Errorf("%s %s answers %d", k, u, r.StatusCode)
			}
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestOptionsAddrListensWhereAsked(t *testing.T) {
	addr := freeAddr(t)
	s, err := sysusertest.NewServer(sysusertest.Options{Addr: addr, ApplicationToken: "app", PublicKey: &key(t).PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Root != "http://"+addr || s.URL != "http://"+addr+"/login" {
		t.Errorf("Root %s URL %s, want http://%s", s.Root, s.URL, addr)
	}
	s.AddTenant("Cust1", "tok. with dots")
	if code, body := postSOAP(t, "http://"+addr+"/Login/services/PartnerSystemUserService.svc", sign(t, "tok. with dots", time.Now())); code != 200 ||
		!strings.Contains(body, "<IsSuccessful>true</IsSuccessful>") {
		t.Errorf("SOAP at %s: %d %s", addr, code, body)
	}

	// The address is taken now: a second server cannot listen there.
	if s2, err := sysusertest.NewServer(sysusertest.Options{Addr: addr, ApplicationToken: "app", PublicKey: &key(t).PublicKey}); err == nil {
		s2.Close()
		t.Error("NewServer listened on an address in use")
	}
	if _, err := sysusertest.NewServer(sysusertest.Options{Addr: "not an address", ApplicationToken: "app", PublicKey: &key(t).PublicKey}); err == nil {
		t.Error("NewServer accepted a bad address")
	}

	// Empty: a random loopback port.
	r := newFake(t, nil)
	if !strings.HasPrefix(r.Root, "http://127.0.0.1:") && !strings.HasPrefix(r.Root, "http://[::1]:") {
		t.Errorf("default Root %s is not on loopback", r.Root)
	}
}

// SuperOffice: a ticket is good for 6 hours with a sliding expiration that
// resets each time it is used.
func TestWebAPITicketExpirySlides(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 8, 0, 0, 0, time.UTC)
	now := t0
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	at := func(d time.Duration) { mu.Lock(); now = t0.Add(d); mu.Unlock() }
	s := newFake(t, clock)
	ticket := exchange(t, s, t0)["http://schemes.superoffice.net/identity/ticket"].(string)
	call := func(appToken ...string) int {
		req, _ := http.NewRequest(http.MethodGet, s.WebAPIURL("Cust1")+"v1/User/currentPrincipal", nil)
		req.Header.Set("Authorization", "SOTicket "+ticket)
		req.Header.Set("SO-AppToken", append(appToken, "app")[0])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, step := range []struct {
		at   time.Duration
		want int
	}{
		{0, 200},
		{5 * time.Hour, 200},                 // 5h idle
		{10*time.Hour + 59*time.Minute, 200}, // 5h59m idle, 10h59m after issue
		{17 * time.Hour, 401},                // 6h01m idle
	} {
		at(step.at)
		if got := call(); got != step.want {
			t.Errorf("t0+%v: %d, want %d", step.at, got, step.want)
		}
	}

	// A refused request does not renew the ticket; idle for TicketLifetime
	// exactly, it is refused.
	at(0)
	s = newFake(t, clock)
	ticket = exchange(t, s, t0)["http://schemes.superoffice.net/identity/ticket"].(string)
	at(5 * time.Hour)
	if got := call("wrong-app-token"); got != 401 {
		t.Errorf("wrong application token: %d, want 401", got)
	}
	at(6 * time.Hour)
	if got := call(); got != 401 {
		t.Errorf("6h after issue, a refused request in between: %d, want 401", got)
	}
}

// Only three texts are SuperOffice's documented ones (error codes 6 and 7,
// and the 421's description); the doc of every other message must say it is
// the fake's own wording.
func TestRefusalMessagesSayWhoseWordingTheyAre(t *testing.T) {
	// SuperOffice's "Check tenant status" page: 421 "with an additional
	// error description saying "Wrong subdomain used to access tenant"".
	if sysusertest.MsgWrongSubdomain != "Wrong subdomain used to access tenant" {
		t.Errorf("MsgWrongSubdomain = %q", sysusertest.MsgWrongSubdomain)
	}
	if sysusertest.MsgInvalidTimestamp != "The supplied timestamp is invalid" {
		t.Errorf("MsgInvalidTimestamp = %q", sysusertest.MsgInvalidTimestamp)
	}
	if sysusertest.MsgInvalidSignature != "Calculated signature is invalid" {
		t.Errorf("MsgInvalidSignature = %q", sysusertest.MsgInvalidSignature)
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	seen := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for _, name := range spec.Names {
				if !strings.HasPrefix(name.Name, "Msg") {
					continue
				}
				seen++
				doc := strings.Join(strings.Fields(spec.Doc.Text()), " ")
				documented := name.Name == "MsgInvalidTimestamp" || name.Name == "MsgInvalidSignature" || name.Name == "MsgWrongSubdomain"
				if own := strings.Contains(doc, "The fake's own wording"); own == documented {
					t.Errorf("%s: doc %q (SuperOffice's documented text: %v)", name.Name, doc, documented)
				}
			}
			return true
		})
	}
	if seen != 7 {
		t.Errorf("found %d Msg constants, want 7", seen)
	}
}
