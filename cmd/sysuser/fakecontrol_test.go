package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
)

// control posts to the fake's control endpoint and decodes its answer.
func control(t *testing.T, s fakeSettings, path string, wantStatus int) map[string]any {
	t.Helper()
	resp, err := http.Post(s.ControlURL+path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus || json.Unmarshal(body, &out) != nil {
		t.Fatalf("POST %s: HTTP %d %s, want %d", path, resp.StatusCode, body, wantStatus)
	}
	return out
}

// fakeEnv is the SO_* environment for the fake's first tenant.
func fakeEnv(s fakeSettings) []string {
	tn := s.Tenants[0]
	return []string{"SO_LOGIN_URL=" + s.LoginURL, "SO_APP_TOKEN=" + s.ApplicationToken, "SO_PRIVATE_KEY_FILE=" + s.PrivateKeyPEM,
		"SO_SYSTEM_USER_TOKEN=" + tn.SystemUserToken, "SO_CONTEXT_IDENTIFIER=" + tn.ContextIdentifier}
}

func TestFakeRotatesItsKeyOnDemand(t *testing.T) {
	s := startFake(t)
	oldKid := s.KeyID
	oldCert, err := os.ReadFile(s.CertificateFile)
	if err != nil {
		t.Fatal(err)
	}
	// A token from before the rotation.
	r := runSysuser(t, runOpts{env: fakeEnv(s)}, "exchange", "--json", "--show-token")
	var before exchangeOutput
	if err := json.Unmarshal([]byte(r.stdout), &before); err != nil || r.code != exitOK {
		t.Fatalf("exchange: %v", r)
	}

	got := control(t, s, "rotate-key", http.StatusOK)
	newKid, _ := got["key_id"].(string)
	if newKid == "" || newKid == oldKid {
		t.Fatalf("rotate-key: %v (old kid %s)", got, oldKid)
	}
	// The key set publishes both, the new one first.
	resp, err := http.Get(s.JWKSURL)
	if err != nil {
		t.Fatal(err)
	}
	var set struct{ Keys []struct{ Kid string } }
	json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if len(set.Keys) != 2 || set.Keys[0].Kid != newKid || set.Keys[1].Kid != oldKid {
		t.Errorf("key set after rotation: %+v, want %s then %s", set.Keys, newKid, oldKid)
	}
	// New tokens name the new kid; the certificate file holds the new key.
	r = runSysuser(t, runOpts{env: fakeEnv(s)}, "exchange", "--json", "--show-token")
	var after exchangeOutput
	if err := json.Unmarshal([]byte(r.stdout), &after); err != nil || r.code != exitOK {
		t.Fatalf("exchange after rotation: %v", r)
	}
	header, _, err := peekJWT(after.JWT)
	if err != nil || header["kid"] != newKid {
		t.Errorf("the token after rotation names kid %v, want %s", header["kid"], newKid)
	}
	newCert, _ := os.ReadFile(s.CertificateFile)
	if string(newCert) == string(oldCert) {
		t.Error("the certificate file was not rewritten")
	}
	if r := runSysuser(t, runOpts{stdin: after.JWT}, "verify", "--cert", s.CertificateFile); r.code != exitOK {
		t.Errorf("the new token with the new certificate: %v", r)
	}
	if r := runSysuser(t, runOpts{stdin: before.JWT}, "verify", "--login-url", s.LoginURL); r.code != exitOK {
		t.Errorf("the old token with the key set (which keeps the old key): %v", r)
	}
	var settings fakeSettings
	resp, err = http.Get(s.ControlURL)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&settings)
	resp.Body.Close()
	if settings.KeyID != newKid {
		t.Errorf("GET control: key_id %q, want %q", settings.KeyID, newKid)
	}
}

func TestFakeClockOffset(t *testing.T) {
	s := startFake(t, "--clock-offset", "10m")
	if s.ClockOffset != "10m0s" {
		t.Errorf("clock_offset %q", s.ClockOffset)
	}
	// The fake's clock is 10 minutes ahead, its Date header is not: doctor
	// names the login server's clock.
	r := runSysuser(t, runOpts{env: fakeEnv(s)}, "doctor")
	lines := doctorLines(t, r)
	expect(t, lines, "clock", "ok")
	expect(t, lines, "exchange", "FAIL", "The supplied timestamp is invalid", "the login server's clock", "--clock-offset")
	if r.code != exitFail {
		t.Errorf("exit %d, want 1", r.code)
	}
	// Its state API's ValidUntil follows its clock.
	r = runSysuser(t, runOpts{}, "state", "--login-url", s.LoginURL, "--json", s.Tenants[0].ContextIdentifier)
	var st stateOutput
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("state: %v", r)
	}
	if until, _ := time.Parse(time.RFC3339, st.ValidUntil); time.Until(until) < 10*time.Minute {
		t.Errorf("ValidUntil %s is not 10 minutes ahead plus the fake's validity", st.ValidUntil)
	}
	// Back to no offset: the exchange works.
	if got := control(t, s, "clock?offset=0s", http.StatusOK); got["clock_offset"] != "0s" {
		t.Errorf("clock: %v", got)
	}
	if r := runSysuser(t, runOpts{env: fakeEnv(s)}, "exchange"); r.code != exitOK {
		t.Errorf("exchange after resetting the clock: %v", r)
	}
	control(t, s, "clock?offset=yesterday", http.StatusBadRequest)
}

func TestFakeMovesAndPausesTenants(t *testing.T) {
	s := startFake(t)
	tn := s.Tenants[0]
	r := runSysuser(t, runOpts{env: fakeEnv(s)}, "exchange", "--json", "--show-ticket")
	var ex exchangeOutput
	if err := json.Unmarshal([]byte(r.stdout), &ex); err != nil || r.code != exitOK {
		t.Fatalf("exchange: %v", r)
	}
	if ex.WebAPIURL != tn.WebAPIURL {
		t.Errorf("webapi_url %s, printed %s", ex.WebAPIURL, tn.WebAPIURL)
	}
	moved := control(t, s, "move?tenant="+tn.ContextIdentifier, http.StatusOK)
	newURL, _ := moved["webapi_url"].(string)
	if newURL == "" || newURL == tn.WebAPIURL {
		t.Fatalf("move: %v", moved)
	}
	// The old host answers 421; the state API names the new one.
	req, _ := http.NewRequest(http.MethodGet, tn.WebAPIURL+"v1/Contact/2", nil)
	req.Header.Set("Authorization", "SOTicket "+ex.Ticket)
	req.Header.Set("SO-AppToken", s.ApplicationToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(string(body), "Wrong subdomain used to access tenant") {
		t.Errorf("old host after the move: HTTP %d %s", resp.StatusCode, body)
	}
	r = runSysuser(t, runOpts{}, "state", "--login-url", s.LoginURL, tn.ContextIdentifier)
	if r.code != exitOK || !strings.Contains(r.stdout, "api          "+strings.TrimSuffix(newURL, "/")) {
		t.Errorf("state after the move: %v", r)
	}

	// Suspended: the state says so, doctor fails with what to do.
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	control(t, s, "state?tenant="+tn.ContextIdentifier+"&state=Suspended&valid_until="+until, http.StatusOK)
	r = runSysuser(t, runOpts{env: fakeEnv(s)}, "doctor")
	lines := doctorLines(t, r)
	expect(t, lines, "state", "FAIL", "Suspended", "valid until "+until, "fix: the tenant is suspended")
	expect(t, lines, "exchange", "FAIL")
	control(t, s, "state?tenant="+tn.ContextIdentifier+"&state=Running", http.StatusOK)
	r = runSysuser(t, runOpts{env: fakeEnv(s)}, "doctor")
	lines = doctorLines(t, r)
	expect(t, lines, "state", "ok", "Running")
	expect(t, lines, "exchange", "ok", newURL)

	control(t, s, "state?tenant=Cust999&state=Suspended", http.StatusBadRequest)
	control(t, s, "move?tenant=", http.StatusBadRequest)
}

func TestFakeSendsNotifications(t *testing.T) {
	s := startFake(t)
	tn := s.Tenants[0]
	var mu sync.Mutex
	var got []map[string]any
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n map[string]any
		json.NewDecoder(r.Body).Decode(&n)
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer app.Close()
	res := control(t, s, "notify?tenant="+tn.ContextIdentifier+"&change=Suspend&url="+url.QueryEscape(app.URL+"/state-change"), http.StatusOK)
	if res["status"] != float64(http.StatusAccepted) || res["change"] != float64(2) {
		t.Errorf("notify: %v", res)
	}
	mu.Lock()
	if len(got) != 1 || got[0]["ChangeType"] != float64(2) || got[0]["ContextIdentifier"] != tn.ContextIdentifier || got[0]["Token"] == "" {
		t.Errorf("the application got %v", got)
	}
	token, _ := got[0]["Token"].(string)
	mu.Unlock()
	// The token is signed by the fake's key, with its issuer.
	_, payload, err := peekJWT(token)
	if err != nil || payload["iss"] != s.Issuer {
		t.Errorf("notification token: %v %v", payload, err)
	}
	// Suspend applied to the fake: the state says so.
	r := runSysuser(t, runOpts{}, "state", "--login-url", s.LoginURL, tn.ContextIdentifier)
	if !strings.Contains(r.stdout, "Suspended") {
		t.Errorf("state after a Suspend notification: %v", r)
	}
	control(t, s, "notify?tenant="+tn.ContextIdentifier+"&change=3&url="+url.QueryEscape(app.URL), http.StatusOK)
	control(t, s, "notify?tenant="+tn.ContextIdentifier+"&change=Explode&url="+url.QueryEscape(app.URL), http.StatusBadRequest)
	control(t, s, "notify?tenant="+tn.ContextIdentifier+"&change=Upgrade&url=file:///etc/passwd", http.StatusBadRequest)

	// The control endpoint answers only below its random path.
	u, _ := url.Parse(s.ControlURL)
	resp, err := http.Post("http://"+u.Host+"/rotate-key", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("rotate-key without the control path: HTTP %d", resp.StatusCode)
	}
}

func TestFakeWildcardAddressPrintsUsableHost(t *testing.T) {
	s := startFakeAt(t, "0.0.0.0:0")
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+/login$`).MatchString(s.LoginURL) {
		t.Errorf("login URL %q for 0.0.0.0", s.LoginURL)
	}
	if r := runSysuser(t, runOpts{env: fakeEnv(s)}, "exchange"); r.code != exitOK {
		t.Errorf("exchange at the printed URL: %v", r)
	}
}

// TestFakeNamedHost serves sod.superoffice.com on a loopback port: every
// URL names it, the certificate covers it and its numbered hosts, and a
// client that resolves the printed host names to the listener gets a
// ticket and uses it, trusting only the printed CA.
func TestFakeNamedHost(t *testing.T) {
	s := startFake(t, "--host", "sod.superoffice.com", "--tls")
	port := regexp.MustCompile(`^https://sod\.superoffice\.com:(\d+)/login$`).FindStringSubmatch(s.LoginURL)
	if port == nil {
		t.Fatalf("login URL %q", s.LoginURL)
	}
	for _, u := range []string{s.WSDLURL, s.JWKSURL, s.Issuer, s.StateURL, s.Tenants[0].WebAPIURL} {
		if !strings.Contains(u, "superoffice.com:"+port[1]) {
			t.Errorf("%s does not name the served host", u)
		}
	}
	if want := "127.0.0.1 sod.superoffice.com sod2.superoffice.com sod3.superoffice.com"; s.HostsLine != want {
		t.Errorf("hosts line %q, want %q", s.HostsLine, want)
	}
	ca, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	// What /etc/hosts would do: each printed name goes to the listener.
	dialer := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, p, _ := net.SplitHostPort(addr)
			for _, n := range s.HostNames {
				if strings.EqualFold(n, host) {
					return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", p))
				}
			}
			t.Errorf("a request to %s, not a printed host name", addr)
			return nil, &net.AddrError{Err: "not a fake host", Addr: addr}
		},
	}}
	defer hc.CloseIdleConnections()
	key, _ := os.ReadFile(s.PrivateKeyPEM)
	client, err := sysuser.NewClient(sysuser.Config{LoginURL: s.LoginURL, ApplicationToken: s.ApplicationToken, PrivateKey: key, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	tn := s.Tenants[0]
	res, err := client.Exchange(context.Background(), tn.ContextIdentifier, tn.SystemUserToken)
	if err != nil {
		t.Fatalf("exchange at sod.superoffice.com: %v", err)
	}
	if res.WebAPIURL != tn.WebAPIURL || !strings.HasPrefix(res.WebAPIURL, "https://sod2.superoffice.com:"+port[1]+"/") {
		t.Errorf("webapi_url %q, printed %q", res.WebAPIURL, tn.WebAPIURL)
	}
	req, _ := http.NewRequest(http.MethodGet, res.WebAPIURL+"v1/Contact/2", nil)
	req.Header.Set("Authorization", "SOTicket "+res.Ticket)
	req.Header.Set("SO-AppToken", s.ApplicationToken)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("WebApi at sod2: HTTP %d", resp.StatusCode)
	}
}

func TestFakeRefusesPlantedLinksInDir(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim.txt")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"app-key.pem", "superoffice.crt"} {
		t.Run(name, func(t *testing.T) {
			link := filepath.Join(dir, name)
			os.Remove(link)
			if err := os.Symlink(victim, link); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(link)
			r := runSysuser(t, runOpts{}, "fake", "--addr", "127.0.0.1:0", "--dir", dir, "--control", "off")
			if r.code != exitFail || !strings.Contains(r.stderr, name+" is a symbolic link") {
				t.Errorf("%v", r)
			}
			if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
				t.Errorf("the link's target was written: %q", b)
			}
		})
	}
}
