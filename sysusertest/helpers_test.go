package sysusertest_test

// The tests hold the fake to SuperOffice's own material: every wire fact
// they check is a literal copied from SuperOffice's documentation, WSDL or a
// real SuperOffice token, never one of the fake's constants.

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/go-superoffice/sysuser/sysusertest"
)

var (
	keyOnce   sync.Once
	appKey    *rsa.PrivateKey
	appKeyErr error
)

// key is the application's key, made once for all the tests.
func key(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() { appKey, appKeyErr = rsa.GenerateKey(rand.Reader, 2048) })
	if appKeyErr != nil {
		t.Fatal(appKeyErr)
	}
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
