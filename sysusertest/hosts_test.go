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
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

// namedHostClient is a client as an application configured with only what
// the fake prints would have, on a machine whose hosts file maps
// *.superoffice.com to the fake: it trusts only the CA and dials every
// superoffice.com name at listen, whatever DNS says.
func namedHostClient(t *testing.T, caPEM []byte, listen string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CACertificate is not a PEM certificate")
	}
	var d net.Dialer
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil || !strings.HasSuffix(host, ".superoffice.com") {
				t.Errorf("the client dialled %s, not a superoffice.com name", addr)
				return nil, &net.AddrError{Err: "not a superoffice.com name", Addr: addr}
			}
			return d.DialContext(ctx, network, listen)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

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

// Asked to serve sod.superoffice.com, the fake names it in every URL it
// prints, serves or signs; its numbered WebApi hosts are sod2 and sod3 on
// the same listener, told apart by the Host header; its certificate covers
// all three names, so a client with only the CA and a hosts-file mapping
// exchanges, calls the WebApi, reads the state and follows a move.
func TestNamedHostServesTheNameEverywhere(t *testing.T) {
	appKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sysusertest.NewServer(sysusertest.Options{
		Addr: "127.0.0.1:0", Host: "sod.superoffice.com",
		ApplicationToken: "app", PublicKey: &appKey.PublicKey, TLS: &tls.Config{},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.AddTenant("Cust12345", "token")
	root, err := url.Parse(srv.Root)
	if err != nil || root.Scheme != "https" || root.Hostname() != "sod.superoffice.com" || root.Path != "" {
		t.Fatalf("Root %q, want https://sod.superoffice.com:PORT", srv.Root)
	}
	port := root.Port()
	listen := net.JoinHostPort("127.0.0.1", port)
	if srv.URL != srv.Root+"/login" {
		t.Errorf("URL %q, Root %q", srv.URL, srv.Root)
	}
	sod2 := "https://sod2.superoffice.com:" + port
	sod3 := "https://sod3.superoffice.com:" + port
	if got := srv.WebAPIURL("Cust12345"); got != sod2+"/Cust12345/api/" {
		t.Errorf("WebAPIURL = %q, want on %s", got, sod2)
	}

	// The certificate covers every name the fake serves.
	for _, name := range []string{"sod.superoffice.com", "sod2.superoffice.com", "sod3.superoffice.com", "localhost", "127.0.0.1"} {
		t.Run("TLS as "+name, func(t *testing.T) {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(srv.CACertificate())
			conn, err := tls.Dial("tcp", listen, &tls.Config{ServerName: name, RootCAs: pool})
			if err != nil {
				t.Errorf("TLS as %s: %v", name, err)
				return
			}
			conn.Close()
		})
	}

	hc := namedHostClient(t, srv.CACertificate(), listen)
	getJSON := func(u string, v any) int {
		t.Helper()
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer resp.Body.Close()
		if v != nil {
			json.NewDecoder(resp.Body).Decode(v)
		}
		return resp.StatusCode
	}
	var meta map[string]any
	getJSON(srv.URL+"/.well-known/openid-configuration", &meta)
	if meta["issuer"] != srv.Root || meta["jwks_uri"] != srv.Root+"/login/.well-known/jwks" {
		t.Errorf("metadata issuer %v, jwks_uri %v", meta["issuer"], meta["jwks_uri"])
	}
	for k, v := range meta {
		if s, ok := v.(string); ok && strings.HasPrefix(s, "http") && !strings.HasPrefix(s, srv.Root+"/") && s != srv.Root {
			t.Errorf("metadata %s = %s, not on %s", k, s, srv.Root)
		}
	}
	resp, err := hc.Get(srv.URL + "/services/PartnerSystemUserService.svc?wsdl")
	if err != nil {
		t.Fatal(err)
	}
	wsdl, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(wsdl), `location="`+srv.URL+`/services/PartnerSystemUserService.svc"`) {
		t.Errorf("the WSDL does not name %s:\n%.600s", srv.URL, wsdl)
	}

	// The library exchanges through the name; the token's URLs name sod2.
	client, err := sysuser.NewClient(sysuser.Config{LoginURL: srv.URL, ApplicationToken: "app", PrivateKey: pkcs1PEM(appKey), HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	res, err := client.Exchange(context.Background(), "Cust12345", "token")
	if err != nil {
		t.Fatalf("exchange through sod.superoffice.com: %v", err)
	}
	if res.WebAPIURL != sod2+"/Cust12345/api/" || res.NetServerURL != sod2+"/Cust12345/Remote/Services88/" {
		t.Errorf("webapi_url %q, netserver_url %q, want on %s", res.WebAPIURL, res.NetServerURL, sod2)
	}
	idToken, err := srv.IDToken("Cust12345", "client", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, c := unverifiedClaims(t, idToken); c["iss"] != srv.Root || c["http://schemes.superoffice.net/identity/webapi_url"] != res.WebAPIURL {
		t.Errorf("id_token iss %v, webapi_url %v", c["iss"], c["http://schemes.superoffice.net/identity/webapi_url"])
	}

	call := func(base string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"v1/Contact/2", nil)
		req.Header.Set("Authorization", "SOTicket "+res.Ticket)
		req.Header.Set("SO-AppToken", "app")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", base, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := call(res.WebAPIURL); code != http.StatusOK {
		t.Errorf("WebApi on sod2: %d", code)
	}
	if code := call(srv.Root + "/Cust12345/api/"); code != http.StatusMisdirectedRequest {
		t.Errorf("WebApi on sod: %d, want 421", code)
	}
	if code := call(sod3 + "/Cust12345/api/"); code != http.StatusMisdirectedRequest {
		t.Errorf("WebApi on sod3 before the move: %d, want 421", code)
	}
	var st map[string]any
	getJSON(srv.Root+"/api/state/Cust12345", &st)
	if st["Endpoint"] != sod2+"/Cust12345" || st["Api"] != sod2+"/Cust12345/api" {
		t.Errorf("state %v, want on %s", st, sod2)
	}

	moved, err := srv.MoveTenant("Cust12345")
	if err != nil || moved != sod3+"/Cust12345/api/" {
		t.Fatalf("MoveTenant = %q, %v; want on %s", moved, err, sod3)
	}
	if code := call(res.WebAPIURL); code != http.StatusMisdirectedRequest {
		t.Errorf("WebApi on sod2 after the move: %d, want 421", code)
	}
	if code := call(moved); code != http.StatusOK {
		t.Errorf("WebApi on sod3 after the move: %d", code)
	}
	getJSON(srv.Root+"/api/state/Cust12345", &st)
	if st["Api"] != sod3+"/Cust12345/api" {
		t.Errorf("state after the move: %v", st)
	}

	// Notifications carry the name as issuer.
	rc, hook := newReceiver(t, http.StatusOK)
	if _, err := srv.Notify(context.Background(), "Cust12345", hook, sysusertest.Notification{}); err != nil {
		t.Fatal(err)
	}
	_, n, _ := rc.last(t)
	if _, c := unverifiedClaims(t, n["Token"].(string)); c["iss"] != srv.Root {
		t.Errorf("notification iss %v, want %s", c["iss"], srv.Root)
	}

	// Client reaches the names without a hosts file.
	resp, err = srv.Client().Get(sod3 + "/Cust12345/api/v1/Contact/2")
	if err != nil {
		t.Fatalf("srv.Client() to sod3: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("srv.Client() to sod3 without a ticket: %d, want 401", resp.StatusCode)
	}
}

// Addr naming localhost: the URLs name localhost, the numbered WebApi
// hosts are other ports, and a client with the CA and the system resolver
// reaches them as printed.
func TestNamedHostFromAddr(t *testing.T) {
	srv, err := sysusertest.NewServer(sysusertest.Options{Addr: "localhost:0", ApplicationToken: "app", PublicKey: &key(t).PublicKey, TLS: &tls.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.AddTenant("Cust1", "token")
	root, _ := url.Parse(srv.Root)
	webapi, _ := url.Parse(srv.WebAPIURL("Cust1"))
	if root.Hostname() != "localhost" || webapi.Hostname() != "localhost" || root.Port() == webapi.Port() {
		t.Fatalf("Root %s, WebApi %s: want localhost, the WebApi at another port", srv.Root, srv.WebAPIURL("Cust1"))
	}
	// Only the CA, the system resolver: localhost works as printed.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(srv.CACertificate())
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()
	for _, u := range []string{srv.URL + "/.well-known/jwks", srv.Root + "/api/state/Cust1"} {
		t.Run("GET "+u, func(t *testing.T) {
			resp, err := hc.Get(u)
			if err != nil {
				t.Fatalf("GET %s: %v", u, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: %d", u, resp.StatusCode)
			}
		})
	}
	resp, err := hc.Get(srv.WebAPIURL("Cust1") + "v1/Contact/2")
	if err != nil {
		t.Fatalf("WebApi at %s: %v", srv.WebAPIURL("Cust1"), err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("WebApi without a ticket: %d, want 401", resp.StatusCode)
	}

	// Options.Host is a bare name or address.
	if s, err := sysusertest.NewServer(sysusertest.Options{Addr: "127.0.0.1:0", Host: "https://sod.superoffice.com", ApplicationToken: "app", PublicKey: &key(t).PublicKey}); err == nil {
		s.Close()
		t.Error("Host with a scheme: no error")
	}
	if s, err := sysusertest.NewServer(sysusertest.Options{Addr: "127.0.0.1:0", Host: "sod.superoffice.com:443", ApplicationToken: "app", PublicKey: &key(t).PublicKey}); err == nil {
		s.Close()
		t.Error("Host with a port: no error")
	}
}

// A wildcard listen address prints a host clients can use: 127.0.0.1 for
// 0.0.0.0, localhost for ::.
func TestWildcardAddrPrintsAUsableHost(t *testing.T) {
	for addr, want := range map[string]string{"0.0.0.0:0": "127.0.0.1", "[::]:0": "localhost", ":0": "localhost"} {
		t.Run(addr, func(t *testing.T) {
			srv, err := sysusertest.NewServer(sysusertest.Options{Addr: addr, ApplicationToken: "app", PublicKey: &key(t).PublicKey})
			if err != nil {
				t.Fatalf("%s: %v", addr, err)
			}
			t.Cleanup(srv.Close)
			srv.AddTenant("Cust1", "tok. with dots")
			root, _ := url.Parse(srv.Root)
			webapi, _ := url.Parse(srv.WebAPIURL("Cust1"))
			if root.Hostname() != want || webapi.Hostname() != want {
				t.Errorf("%s: Root %s, WebApi %s; want host %s", addr, srv.Root, srv.WebAPIURL("Cust1"), want)
			}
			// What it prints works.
			ok, tok, msg := rest(t, srv, "app", "Cust1", sign(t, "tok. with dots", time.Now()))
			if !ok {
				t.Errorf("%s: exchange at %s: %s", addr, srv.URL, msg)
			} else {
				claims := jwt.MapClaims{}
				jwt.NewParser().ParseUnverified(tok, claims)
				if code, body := webAPIGet(t, srv.WebAPIURL("Cust1"), claims["http://schemes.superoffice.net/identity/ticket"].(string)); code != http.StatusOK {
					t.Errorf("%s: WebApi at %s: %d %s", addr, srv.WebAPIURL("Cust1"), code, body)
				}
			}
		})
	}
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
	if s, err := sysusertest.NewServer(sysusertest.Options{Addr: "not an address", ApplicationToken: "app", PublicKey: &key(t).PublicKey}); err == nil {
		s.Close()
		t.Error("NewServer accepted a bad address")
	}

	// Empty: a random loopback port.
	r := newFake(t, nil)
	if !strings.HasPrefix(r.Root, "http://127.0.0.1:") && !strings.HasPrefix(r.Root, "http://[::1]:") {
		t.Errorf("default Root %s is not on loopback", r.Root)
	}
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
			t.Run("GET "+u, func(t *testing.T) {
				resp, err := hc.Get(u)
				if err != nil {
					t.Fatalf("GET %s: %v", u, err)
				}
				resp.Body.Close()
				if resp.TLS == nil || (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized) {
					t.Errorf("GET %s: %d, TLS %v", u, resp.StatusCode, resp.TLS != nil)
				}
			})
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

// URLs leave out the scheme's default port, as SuperOffice's do
// ("https://sod.superoffice.com"); numbered hosts number the first label.
func TestOriginAndNumberedName(t *testing.T) {
	for _, c := range []struct {
		scheme, name string
		port         int
		want         string
	}{
		{scheme: "https", name: "sod.superoffice.com", port: 443, want: "https://sod.superoffice.com"},
		{scheme: "http", name: "sod.superoffice.com", port: 80, want: "http://sod.superoffice.com"},
		{scheme: "https", name: "sod.superoffice.com", port: 8443, want: "https://sod.superoffice.com:8443"},
		{scheme: "http", name: "sod.superoffice.com", port: 443, want: "http://sod.superoffice.com:443"},
		{scheme: "https", name: "::1", port: 443, want: "https://[::1]"},
		{scheme: "http", name: "::1", port: 8080, want: "http://[::1]:8080"},
	} {
		t.Run(c.want, func(t *testing.T) {
			if got := sysusertest.Origin(c.scheme, c.name, c.port); got != c.want {
				t.Errorf("origin(%s, %s, %d) = %s, want %s", c.scheme, c.name, c.port, got, c.want)
			}
		})
	}
	for name, want := range map[string]string{"sod.superoffice.com": "sod2.superoffice.com", "online.superoffice.com": "online2.superoffice.com", "fake": "fake2"} {
		t.Run("numbered "+name, func(t *testing.T) {
			if got := sysusertest.NumberedName(name, 2); got != want {
				t.Errorf("numberedName(%s, 2) = %s, want %s", name, got, want)
			}
		})
	}
}
