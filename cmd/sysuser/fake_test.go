package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
)

// startFake runs "sysuser fake --json" on a free port with args, reads the
// settings it prints, and stops it with SIGINT when the test ends, checking
// that it exits 0.
func startFake(t *testing.T, args ...string) fakeSettings {
	t.Helper()
	return startFakeAt(t, "127.0.0.1:0", args...)
}

// startFakeAt is startFake listening on addr.
func startFakeAt(t *testing.T, addr string, args ...string) fakeSettings {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(bin, append([]string{"fake", "--addr", addr, "--json", "--dir", dir}, args...)...)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sysuser fake did not exit 0 on SIGINT: %v\nstderr:\n%s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Errorf("sysuser fake did not stop within 10s of SIGINT")
		}
	})
	type line struct {
		s   fakeSettings
		err error
	}
	got := make(chan line, 1)
	go func() {
		var l line
		l.err = json.NewDecoder(bufio.NewReader(stdout)).Decode(&l.s)
		got <- l
		done <- cmd.Wait()
	}()
	select {
	case l := <-got:
		if l.err != nil {
			t.Fatalf("sysuser fake printed no JSON settings: %v\nstderr:\n%s", l.err, stderr.String())
		}
		return l.s
	case <-time.After(time.Minute):
		t.Fatalf("sysuser fake printed nothing within a minute\nstderr:\n%s", stderr.String())
	}
	panic("unreachable")
}

func TestFakeServesTheTenantsItPrints(t *testing.T) {
	tenants := writeFile(t, "tenants.txt", []byte("# tenant, then the token (the rest of the line)\n\nCust2 token with  spaces\n"))
	s := startFake(t, "--tenant", "Cust1=one-token", "--tenants", tenants, "--app-token", "my fake app token")
	if !strings.HasPrefix(s.LoginURL, "http://127.0.0.1:") || !strings.HasSuffix(s.WSDLURL, "/login/services/PartnerSystemUserService.svc?wsdl") {
		t.Errorf("login URL %q, WSDL URL %q", s.LoginURL, s.WSDLURL)
	}
	if s.ApplicationToken != "my fake app token" || s.CAFile != "" {
		t.Errorf("application token %q, CA file %q", s.ApplicationToken, s.CAFile)
	}
	// The WebApi is on a numbered host: another port of the same address.
	if len(s.Tenants) != 2 || s.Tenants[0].ContextIdentifier != "Cust1" || s.Tenants[0].SystemUserToken != "one-token" ||
		!strings.HasPrefix(s.Tenants[0].WebAPIURL, "http://127.0.0.1:") || !strings.HasSuffix(s.Tenants[0].WebAPIURL, "/Cust1/api/") ||
		strings.HasPrefix(s.Tenants[0].WebAPIURL, strings.TrimSuffix(s.LoginURL, "/login")+"/") ||
		!regexp.MustCompile(`^http://127\.0\.0\.1:\d+/api/state/Cust1$`).MatchString(s.Tenants[0].StateURL) ||
		s.Tenants[1].ContextIdentifier != "Cust2" || s.Tenants[1].SystemUserToken != "token with  spaces" {
		t.Errorf("tenants %+v", s.Tenants)
	}
	for _, f := range []string{s.PrivateKeyPEM, s.PrivateKeyXML} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", f, fi.Mode().Perm())
		}
	}
	// Both key files hold the same key, and it is the one the fake knows:
	// every tenant exchanges, with either file.
	for i, tn := range s.Tenants {
		keyFile := []string{s.PrivateKeyPEM, s.PrivateKeyXML}[i]
		r := runSysuser(t, runOpts{env: []string{
			"SO_LOGIN_URL=" + s.LoginURL, "SO_APP_TOKEN=" + s.ApplicationToken, "SO_PRIVATE_KEY_FILE=" + keyFile,
			"SO_SYSTEM_USER_TOKEN=" + tn.SystemUserToken, "SO_CONTEXT_IDENTIFIER=" + tn.ContextIdentifier,
		}}, "exchange", "--json")
		if r.code != exitOK {
			t.Fatalf("exchange for %s with %s: %v", tn.ContextIdentifier, filepath.Base(keyFile), r)
		}
	}
}

func TestFakePlainOutputAndDefaults(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "fake", "--addr", "127.0.0.1:0", "--dir", dir)
	cmd.Env = cleanEnv()
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(stderr.String(), "serving at") {
		if ctx.Err() != nil {
			t.Fatalf("no start: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"login URL", "WSDL URL", "application token   fake-app-token-", "private key (PEM)", "private key (XML)", "tenant              Cust12345", "system user token", "export SO_LOGIN_URL="} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the settings do not show %q:\n%s", want, stdout.String())
		}
	}
	for _, f := range []string{"app-key.pem", "app-key.xml", "superoffice.crt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a process's writes and the test's
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFakeTLS(t *testing.T) {
	s := startFake(t, "--tls")
	if !strings.HasPrefix(s.LoginURL, "https://127.0.0.1:") || s.CAFile == "" {
		t.Fatalf("login URL %q, CA file %q", s.LoginURL, s.CAFile)
	}
	for _, v := range []string{"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "CURL_CA_BUNDLE"} {
		if s.CAEnv[v] != s.CAFile {
			t.Errorf("ca_env[%s] = %q, want the CA file %q", v, s.CAEnv[v], s.CAFile)
		}
	}
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("ca.pem holds no certificate")
	}
	key, err := os.ReadFile(s.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()
	client, err := sysuser.NewClient(sysuser.Config{LoginURL: s.LoginURL, ApplicationToken: s.ApplicationToken, PrivateKey: key, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	tn := s.Tenants[0]
	res, err := client.Exchange(context.Background(), tn.ContextIdentifier, tn.SystemUserToken)
	if err != nil {
		t.Fatalf("exchange over the fake's TLS, trusting only its ca.pem: %v", err)
	}
	if res.WebAPIURL != tn.WebAPIURL {
		t.Errorf("webapi_url %q, want %q", res.WebAPIURL, tn.WebAPIURL)
	}
	// The ticket works on the fake WebApi, over TLS.
	req, err := http.NewRequest(http.MethodGet, tn.WebAPIURL+"v1/Contact/2", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "SOTicket "+res.Ticket)
	req.Header.Set("SO-AppToken", s.ApplicationToken)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("WebApi: HTTP %d", resp.StatusCode)
	}
	var ue x509.UnknownAuthorityError
	if _, err := http.Get(s.JWKSURL); !errors.As(err, &ue) {
		t.Errorf("a client without ca.pem: err = %v, want an unknown authority", err)
	}
}
