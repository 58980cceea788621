package sysusertest_test

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/go-superoffice/sysuser/sysusertest"
)

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
