package sysusertest_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/go-superoffice/sysuser/sysusertest"
)

func TestNewServerNeedsItsOptions(t *testing.T) {
	if s, err := sysusertest.NewServer(sysusertest.Options{PublicKey: &key(t).PublicKey}); err == nil {
		s.Close()
		t.Error("no application token accepted")
	}
	if s, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "x"}); err == nil {
		s.Close()
		t.Error("no public key accepted")
	}
}

func TestRefusals(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s := newFake(t, func() time.Time { return now })
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	good := sign(t, "tok. with dots", now)
	forged := func() string {
		data := "tok. with dots." + now.Format("200601021504")
		sum := sha256.Sum256([]byte(data))
		sig, _ := rsa.SignPKCS1v15(rand.Reader, other, crypto.SHA256, sum[:])
		return data + "." + base64.StdEncoding.EncodeToString(sig)
	}()
	for _, c := range []struct {
		name, app, tenant, signed, want string
	}{
		{name: "wrong application token", app: "wrong", tenant: "Cust1", signed: good, want: sysusertest.MsgInvalidApplicationToken},
		{name: "timestamp 6 minutes old", app: "app", tenant: "Cust1", signed: sign(t, "tok. with dots", now.Add(-6*time.Minute)), want: sysusertest.MsgInvalidTimestamp},
		{name: "timestamp 6 minutes ahead", app: "app", tenant: "Cust1", signed: sign(t, "tok. with dots", now.Add(6*time.Minute)), want: sysusertest.MsgInvalidTimestamp},
		{name: "another key's signature", app: "app", tenant: "Cust1", signed: forged, want: sysusertest.MsgInvalidSignature},
		{name: "no dots", app: "app", tenant: "Cust1", signed: "no-dots", want: sysusertest.MsgMalformedSignedToken},
		{name: "unknown tenant", app: "app", tenant: "Cust2", signed: good, want: sysusertest.MsgUnknownSystemUserToken},
		{name: "another system user token", app: "app", tenant: "Cust1", signed: sign(t, "other", now), want: sysusertest.MsgUnknownSystemUserToken},
	} {
		t.Run(c.name, func(t *testing.T) {
			if ok, _, msg := rest(t, s, c.app, c.tenant, c.signed); ok || msg != c.want {
				t.Errorf("%+v: ok=%v msg=%q", c, ok, msg)
			}
		})
	}
	s.Refuse("Cust1", "Revoked")
	if ok, _, msg := rest(t, s, "app", "Cust1", good); ok || msg != "Revoked" {
		t.Errorf("Refuse: %v %q", ok, msg)
	}
	s.Refuse("Cust1", "")
	if ok, _, _ := rest(t, s, "app", "Cust1", good); !ok {
		t.Error("Refuse(\"\") did not restore")
	}
}

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
		t.Run("SOAP "+p, func(t *testing.T) {
			if code, body := postSOAP(t, s.Root+p, sign(t, "tok. with dots", time.Now())); code != 200 || !strings.Contains(body, "<IsSuccessful>true</IsSuccessful>") {
				t.Errorf("SOAP at %s: %d %s", p, code, body)
			}
		})
	}
	for _, p := range []string{"/Login/api/PartnerSystemUser/Authenticate", "/LOGIN/API/partnersystemuser/authenticate"} {
		t.Run("REST "+p, func(t *testing.T) {
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
		})
	}
	for _, p := range []string{"/login/.well-known/jwks", "/LOGIN/.well-known/JWKS", "/Login/.Well-Known/Jwks"} {
		t.Run("JWKS "+p, func(t *testing.T) {
			if set := fetchJWKS(t, s.Root+p); len(set.Keys) == 0 || set.Keys[0].Kid != s.KeyID() {
				t.Errorf("JWKS at %s: %+v", p, set)
			}
		})
	}
	for _, p := range []string{"/login/.well-known/openid-configuration", "/Login/.Well-Known/OpenID-Configuration"} {
		t.Run("metadata "+p, func(t *testing.T) {
			if resp, body := get(t, s.Root+p); resp.StatusCode != 200 || !strings.Contains(body, `"jwks_uri"`) {
				t.Errorf("metadata at %s: %d %s", p, resp.StatusCode, body)
			}
		})
	}
	claims := exchange(t, s, time.Now())
	ticket := claims["http://schemes.superoffice.net/identity/ticket"].(string)
	for _, p := range []string{"/Cust1/api/v1/Contact/2", "/Cust1/API/v1/Contact/2", "/cust1/Api/v1/Contact/2"} {
		t.Run("WebApi "+p, func(t *testing.T) {
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
		})
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

// Sign signs as the fake does: RS256 with the current kid, verifiable with
// the signing certificate. Claims encoding/json cannot encode are an error,
// not a panic.
func TestSign(t *testing.T) {
	s := newFake(t, nil)
	tok, err := s.Sign(map[string]any{"iss": "Someone Else", "n": 1})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(s.SigningCertificate())
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return cert.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}))
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Header["kid"] != s.KeyID() || claims["iss"] != "Someone Else" {
		t.Errorf("header %v, claims %v", parsed.Header, claims)
	}
	for _, c := range []struct {
		name   string
		claims map[string]any
	}{
		{name: "a channel", claims: map[string]any{"c": make(chan int)}},
		{name: "a function", claims: map[string]any{"f": func() {}}},
		{name: "NaN", claims: map[string]any{"n": math.NaN()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if tok, err := s.Sign(c.claims); err == nil || tok != "" {
				t.Errorf("Sign = %q, %v; want an error", tok, err)
			}
		})
	}
}

// SetTokenFunc's token is what the exchange returns, and its error makes
// the exchange answer 500; nil restores the fake's own signing.
func TestSetTokenFunc(t *testing.T) {
	s := newFake(t, nil)
	s.AddTenant("Cust1", "tok")
	post := func() (int, string) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"SignedSystemToken": sign(t, "tok", time.Now()), "ApplicationToken": "app", "ContextIdentifier": "Cust1", "ReturnTokenType": "JWT"})
		resp, err := http.Post(s.URL+"/api/PartnerSystemUser/Authenticate", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		name     string
		f        func(map[string]any) (string, error)
		status   int
		contains string
	}{
		{name: "a forged token", f: func(map[string]any) (string, error) { return "forged.token.here", nil }, status: 200, contains: `"forged.token.here"`},
		{name: "an error", f: func(map[string]any) (string, error) { return "", errors.New("cannot sign") }, status: 500},
		{name: "nil restores the fake's signing", f: nil, status: 200, contains: `"Token":"ey`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.SetTokenFunc(c.f)
			status, body := post()
			if status != c.status || !strings.Contains(body, c.contains) {
				t.Fatalf("got %d %.200q, want %d with %q", status, body, c.status, c.contains)
			}
			if strings.Contains(body, "cannot sign") {
				t.Fatalf("the token func's error reached the client: %.200q", body)
			}
		})
	}
}
