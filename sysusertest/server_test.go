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
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/go-superoffice/sysuser/sysusertest"
)

var (
	keyOnce sync.Once
	appKey  *rsa.PrivateKey
)

func key(t *testing.T) *rsa.PrivateKey {
	keyOnce.Do(func() {
		var err error
		if appKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return appKey
}

// sign makes a signed system user token by hand, as SuperOffice specifies.
func sign(t *testing.T, token string, at time.Time) string {
	data := token + "." + at.UTC().Format("200601021504")
	sum := sha256.Sum256([]byte(data))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key(t), crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return data + "." + base64.StdEncoding.EncodeToString(sig)
}

func newFake(t *testing.T, clock func() time.Time) *sysusertest.Server {
	s, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "app", PublicKey: &key(t).PublicKey, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.AddTenant("Cust1", "tok. with dots")
	return s
}

func rest(t *testing.T, s *sysusertest.Server, appToken, tenant, signed string) (ok bool, token, msg string) {
	body, _ := json.Marshal(map[string]string{"SignedSystemToken": signed, "ApplicationToken": appToken, "ContextIdentifier": tenant, "ReturnTokenType": "JWT"})
	resp, err := http.Post(s.URL+"/api/PartnerSystemUser/Authenticate", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		IsSuccessful bool
		Token        string
		ErrorMessage string
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r.IsSuccessful, r.Token, r.ErrorMessage
}

func TestNewServerNeedsItsOptions(t *testing.T) {
	if _, err := sysusertest.NewServer(sysusertest.Options{PublicKey: &key(t).PublicKey}); err == nil {
		t.Error("no application token accepted")
	}
	if _, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "x"}); err == nil {
		t.Error("no public key accepted")
	}
}

func TestRESTIssuesAVerifiableToken(t *testing.T) {
	s := newFake(t, nil)
	ok, token, msg := rest(t, s, "app", "Cust1", sign(t, "tok. with dots", time.Now()))
	if !ok || msg != "" {
		t.Fatalf("refused: %s", msg)
	}
	block, _ := pem.Decode(s.SigningCertificate())
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return cert.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer("SuperOffice AS"), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Header["kid"] != s.KeyID() || claims["aud"] != "spn:"+claims["http://schemes.superoffice.net/identity/serial"].(string) {
		t.Fatalf("header %v, claims %v", tok.Header, claims)
	}
	if !strings.HasPrefix(claims["http://schemes.superoffice.net/identity/ticket"].(string), "7T:") {
		t.Fatal("no ticket")
	}
	if s.ExchangeCount("Cust1") != 1 || sysusertest.IssuedTickets(s) != 1 {
		t.Fatal("not counted")
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
	for _, c := range []struct{ app, tenant, signed, want string }{
		{"wrong", "Cust1", good, sysusertest.MsgInvalidApplicationToken},
		{"app", "Cust1", sign(t, "tok. with dots", now.Add(-6*time.Minute)), sysusertest.MsgInvalidTimestamp},
		{"app", "Cust1", sign(t, "tok. with dots", now.Add(6*time.Minute)), sysusertest.MsgInvalidTimestamp},
		{"app", "Cust1", forged, sysusertest.MsgInvalidSignature},
		{"app", "Cust1", "no-dots", sysusertest.MsgMalformedSignedToken},
		{"app", "Cust2", good, sysusertest.MsgUnknownSystemUserToken},
		{"app", "Cust1", sign(t, "other", now), sysusertest.MsgUnknownSystemUserToken},
	} {
		if ok, _, msg := rest(t, s, c.app, c.tenant, c.signed); ok || msg != c.want {
			t.Errorf("%+v: ok=%v msg=%q", c, ok, msg)
		}
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

// soapAction is Authenticate's action as SuperOffice's WSDL names it
// (soap:operation soapAction), quoted as WCF clients send it.
const soapAction = `"http://www.superoffice.com/superid/partnersystemuser/0.1/IPartnerSystemUserService/Authenticate"`

func TestSOAPChecksActionAndAnswersLikeWCF(t *testing.T) {
	s := newFake(t, nil)
	env := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>` +
		`<ApplicationToken xmlns="http://www.superoffice.com/superid/partnersystemuser/0.1">app</ApplicationToken>` +
		`<ContextIdentifier xmlns="http://www.superoffice.com/superid/partnersystemuser/0.1">Cust1</ContextIdentifier></s:Header>` +
		`<s:Body><AuthenticationRequest xmlns="http://www.superoffice.com/superid/partnersystemuser/0.1">` +
		`<SignedSystemToken>` + sign(t, "tok. with dots", time.Now()) + `</SignedSystemToken><ReturnTokenType>Jwt</ReturnTokenType>` +
		`</AuthenticationRequest></s:Body></s:Envelope>`
	post := func(action string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/Services/PartnerSystemUserService.svc", strings.NewReader(env))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", action)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(soapAction); code != 200 || !strings.Contains(body, "<IsSuccessful>true</IsSuccessful>") {
		t.Fatalf("%d %s", code, body)
	}
	if code, body := post(`"urn:wrong"`); code != 500 || !strings.Contains(body, "ActionNotSupported") {
		t.Fatalf("wrong action: %d %s", code, body)
	}
	s.SetUnavailable(502)
	if code, _ := post(soapAction); code != 502 {
		t.Fatalf("SetUnavailable: %d", code)
	}
	if s.ExchangeCount("Cust1") != 2 {
		t.Fatalf("exchanges %d, want 2 (the wrong action is not one)", s.ExchangeCount("Cust1"))
	}
}

func TestWebAPIAcceptsOnlyItsTickets(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newFake(t, clock)
	s.AddTenant("Cust2", "t2")
	_, token, _ := rest(t, s, "app", "Cust1", sign(t, "tok. with dots", now))
	claims := jwt.MapClaims{}
	jwt.NewParser().ParseUnverified(token, claims)
	ticket := claims["http://schemes.superoffice.net/identity/ticket"].(string)
	call := func(tenant, auth, app string) int {
		req, _ := http.NewRequest(http.MethodGet, s.WebAPIURL(tenant)+"v1/Contact/2", nil)
		req.Header.Set("Authorization", auth)
		req.Header.Set("SO-AppToken", app)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		tenant, auth, app string
		want              int
	}{
		{"Cust1", "SOTicket " + ticket, "app", 200},
		{"Cust1", "SOTicket " + ticket, "wrong", 401},
		{"Cust1", "Bearer " + ticket, "app", 401},
		{"Cust2", "SOTicket " + ticket, "app", 401},
		{"Cust1", "SOTicket 7T:made-up", "app", 401},
	} {
		if got := call(c.tenant, c.auth, c.app); got != c.want {
			t.Errorf("%+v: %d", c, got)
		}
	}
	mu.Lock()
	now = now.Add(6 * time.Hour)
	mu.Unlock()
	if call("Cust1", "SOTicket "+ticket, "app") != 401 {
		t.Error("ticket accepted past its lifetime")
	}
	if s.WebAPICallCount("Cust1") != 5 {
		t.Errorf("WebAPICallCount = %d", s.WebAPICallCount("Cust1"))
	}
}
