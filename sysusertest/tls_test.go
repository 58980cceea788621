package sysusertest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

// tlsTestCA makes a CA and a certificate it issues for 127.0.0.1.
func tlsTestCA(t *testing.T) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sysusertest TLS test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}
}

// With Options.TLS the fake serves HTTPS with the given certificate: its
// URLs are https, a client that trusts only the CA exchanges through it,
// the WSDL names the https endpoint, and Client trusts the server.
func TestTLSServesHTTPSWithTheGivenCertificate(t *testing.T) {
	appKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pool, cert := tlsTestCA(t)
	srv, err := sysusertest.NewServer(sysusertest.Options{
		Addr:             "127.0.0.1:0",
		ApplicationToken: "tls app token",
		PublicKey:        &appKey.PublicKey,
		TLS:              &tls.Config{Certificates: []tls.Certificate{cert}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.AddTenant("Cust12345", "TLS App-token")
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") || !strings.HasPrefix(srv.Root, "https://") || srv.URL != srv.Root+sysusertest.LoginPath {
		t.Fatalf("URL %q, Root %q: want https on 127.0.0.1", srv.URL, srv.Root)
	}
	if got := srv.WebAPIURL("Cust12345"); !strings.HasPrefix(got, "https://") {
		t.Errorf("WebAPIURL = %q, want https", got)
	}

	caOnly := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer caOnly.CloseIdleConnections()
	resp, err := caOnly.Get(srv.URL + "/services/PartnerSystemUserService.svc?wsdl")
	if err != nil {
		t.Fatal(err)
	}
	wsdl, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.TLS == nil || !strings.Contains(string(wsdl), `location="`+srv.URL+`/services/PartnerSystemUserService.svc"`) {
		t.Errorf("the WSDL over TLS does not name the https endpoint:\n%.400s", wsdl)
	}
	if got := resp.TLS.PeerCertificates[0].Raw; string(got) != string(cert.Certificate[0]) {
		t.Error("the server did not present the certificate of Options.TLS")
	}

	client, err := sysuser.NewClient(sysuser.Config{
		LoginURL: srv.URL, ApplicationToken: "tls app token", PrivateKey: pkcs1PEM(appKey), HTTPClient: caOnly,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	res, err := client.Exchange(context.Background(), "Cust12345", "TLS App-token")
	if err != nil {
		t.Fatalf("exchange over TLS: %v", err)
	}
	if res.WebAPIURL != srv.WebAPIURL("Cust12345") {
		t.Errorf("webapi_url = %q, want %q", res.WebAPIURL, srv.WebAPIURL("Cust12345"))
	}

	// Client trusts the server; a client with only the system's roots
	// does not.
	resp, err = srv.Client().Get(srv.URL + "/.well-known/jwks")
	if err != nil {
		t.Fatalf("srv.Client(): %v", err)
	}
	resp.Body.Close()
	plain := &http.Client{Transport: &http.Transport{}}
	defer plain.CloseIdleConnections()
	var unknown x509.UnknownAuthorityError
	if _, err := plain.Get(srv.URL + "/.well-known/jwks"); !errors.As(err, &unknown) {
		t.Errorf("a client without the CA: err = %v, want x509.UnknownAuthorityError", err)
	}
}

// An Options.TLS without certificates: the fake makes a CA and a
// certificate for its hosts; a client that trusts only CACertificate
// reaches the login host and the numbered WebApi hosts, and Client trusts
// it too. With certificates of its own, CACertificate is nil.
func TestTLSWithoutCertificatesMakesItsOwnCA(t *testing.T) {
	appKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "a", PublicKey: &appKey.PublicKey, TLS: &tls.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.AddTenant("Cust1", "t")
	if !strings.HasPrefix(srv.URL, "https://") || !strings.HasPrefix(srv.WebAPIURL("Cust1"), "https://") {
		t.Fatalf("URL %q, WebApi %q: want https", srv.URL, srv.WebAPIURL("Cust1"))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(srv.CACertificate()) {
		t.Fatalf("CACertificate is not a PEM certificate: %q", srv.CACertificate())
	}
	caOnly := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer caOnly.CloseIdleConnections()
	for _, hc := range []*http.Client{caOnly, srv.Client()} {
		for _, u := range []string{srv.URL + "/.well-known/jwks", srv.WebAPIURL("Cust1") + "v1/Contact/2"} {
			resp, err := hc.Get(u)
			if err != nil {
				t.Fatalf("GET %s: %v", u, err)
			}
			resp.Body.Close()
			if resp.TLS == nil || (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized) {
				t.Errorf("GET %s: %d, TLS %v", u, resp.StatusCode, resp.TLS != nil)
			}
		}
	}

	_, cert := tlsTestCA(t)
	own, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "a", PublicKey: &appKey.PublicKey, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if own.CACertificate() != nil {
		t.Error("CACertificate with certificates from Options.TLS: want nil")
	}
	if plain := newFake(t, nil); plain.CACertificate() != nil {
		t.Error("CACertificate without TLS: want nil")
	}
}
