package sysusertest_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
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
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(srv.CACertificate())
		conn, err := tls.Dial("tcp", listen, &tls.Config{ServerName: name, RootCAs: pool})
		if err != nil {
			t.Errorf("TLS as %s: %v", name, err)
			continue
		}
		conn.Close()
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
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", u, resp.StatusCode)
		}
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
	if _, err := sysusertest.NewServer(sysusertest.Options{Addr: "127.0.0.1:0", Host: "https://sod.superoffice.com", ApplicationToken: "app", PublicKey: &key(t).PublicKey}); err == nil {
		t.Error("Host with a scheme: no error")
	}
	if _, err := sysusertest.NewServer(sysusertest.Options{Addr: "127.0.0.1:0", Host: "sod.superoffice.com:443", ApplicationToken: "app", PublicKey: &key(t).PublicKey}); err == nil {
		t.Error("Host with a port: no error")
	}
}

// A wildcard listen address prints a host clients can use: 127.0.0.1 for
// 0.0.0.0, localhost for ::.
func TestWildcardAddrPrintsAUsableHost(t *testing.T) {
	for addr, want := range map[string]string{"0.0.0.0:0": "127.0.0.1", "[::]:0": "localhost", ":0": "localhost"} {
		srv, err := sysusertest.NewServer(sysusertest.Options{Addr: addr, ApplicationToken: "app", PublicKey: &key(t).PublicKey})
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
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
		srv.Close()
	}
}
