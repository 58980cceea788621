package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A client in another language, given only the settings "sysuser fake"
// prints, gets a ticket from it: sysusertest's Python client (zeep driven
// by the WSDL the fake serves, PyJWT against its key set), over plain HTTP
// and over TLS trusting the printed CA file.

const (
	interopPython  = "/usr/bin/python3" // Debian's packages install for it
	interopInstall = "apt-get install -y python3-zeep python3-jwt python3-cryptography"
)

func TestFakeInteropPython(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Python SOAP client against sysuser fake; skipped with -short")
	}
	missing := ""
	if _, err := os.Stat(interopPython); err != nil {
		missing = interopPython + " not found"
	} else if out, err := exec.Command(interopPython, "-c", "import zeep, jwt, cryptography").CombinedOutput(); err != nil {
		missing = interopPython + " cannot import zeep, jwt and cryptography: " + strings.TrimSpace(string(out))
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s; install with: %s", missing, interopInstall)
		}
		t.Skipf("%s; install with: %s", missing, interopInstall)
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "sysusertest", "testdata", "interop", "client.py"))
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"http", "tls"} {
		t.Run(mode, func(t *testing.T) {
			var args []string
			if mode == "tls" {
				args = append(args, "--tls")
			}
			s := startFake(t, append(args, "--tenant", "Cust4242=Interop App-8k8Q7DmBgo")...)
			tn := s.Tenants[0]
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, interopPython, script)
			cmd.Dir = filepath.Dir(script)
			cmd.Env = append(cleanEnv(),
				"LOGIN_URL="+s.LoginURL,
				"APP_TOKEN="+s.ApplicationToken,
				"KEY_FILE="+s.PrivateKeyPEM,
				"SYSTEM_USER_TOKEN="+tn.SystemUserToken,
				"TENANT="+tn.ContextIdentifier,
				"WSDL="+s.WSDLURL, // the fake's own WSDL names its endpoint
				"ENDPOINT=",
				"NO_PROXY=127.0.0.1,localhost,::1", "no_proxy=127.0.0.1,localhost,::1",
				"PYTHONDONTWRITEBYTECODE=1",
			)
			if s.CAFile != "" {
				// requests (zeep) and urllib (the key set) trust the CA.
				cmd.Env = append(cmd.Env, "REQUESTS_CA_BUNDLE="+s.CAFile, "SSL_CERT_FILE="+s.CAFile)
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			if err := cmd.Run(); err != nil {
				t.Fatalf("client.py: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			var got struct {
				Ticket    string `json:"ticket"`
				Ctx       string `json:"ctx"`
				WebAPIURL string `json:"webapi_url"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("client.py printed %q: %v", stdout.String(), err)
			}
			if !strings.HasPrefix(got.Ticket, "7T:") || got.Ctx != tn.ContextIdentifier || got.WebAPIURL != tn.WebAPIURL {
				t.Fatalf("client.py got %+v, want a ticket for %+v", got, tn)
			}
			t.Logf("client.py got a ticket for %s over %s in %v", got.Ctx, mode, time.Since(start).Round(time.Millisecond))

			// The ticket works on the fake's WebApi.
			hc := &http.Client{Transport: &http.Transport{}}
			if s.CAFile != "" {
				ca, err := os.ReadFile(s.CAFile)
				if err != nil {
					t.Fatal(err)
				}
				pool := x509.NewCertPool()
				pool.AppendCertsFromPEM(ca)
				hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
			}
			defer hc.CloseIdleConnections()
			req, _ := http.NewRequest(http.MethodGet, got.WebAPIURL+"v1/Contact/2", nil)
			req.Header.Set("Authorization", "SOTicket "+got.Ticket)
			req.Header.Set("SO-AppToken", s.ApplicationToken)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("the Python client's ticket on the WebApi: HTTP %d", resp.StatusCode)
			}
		})
	}
}
