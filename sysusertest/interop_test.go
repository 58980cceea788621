package sysusertest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser/sysusertest"
)

// The interop tests run clients of PartnerSystemUserService written with
// other languages' usual tools, as a partner would write them, against the
// fake: zeep (Python) and the soap package (Node), both driven by
// SuperOffice's real WSDL, each signing the system user token itself and
// verifying the returned JWT against the fake's JWKS with PyJWT or
// jsonwebtoken. They prove the fake speaks the protocol those clients
// speak, claim names included. The clients live in testdata/interop.

const (
	// Debian's packages install for /usr/bin/python3, not for whatever
	// python3 comes first on PATH (pyenv, a venv, ...).
	interopPython        = "/usr/bin/python3"
	interopPythonInstall = "apt-get install -y python3-zeep python3-jwt python3-cryptography"
	interopNodeInstall   = "cd sysusertest/testdata/interop/node && npm ci"
	interopSystemToken   = "Interop App-8k8Q7DmBgo"
	interopAppToken      = "interop app token 0123456789abcdef"
	interopClientTimeout = 2 * time.Minute
)

// interopClient is one client program and how to run it.
type interopClient struct {
	name   string
	keyPEM func(*rsa.PrivateKey) []byte // the key file format it gets
	check  func() (missing, install string)
	dir    string   // below testdata/interop
	argv   []string // run in dir
}

var interopClients = []interopClient{
	{
		name:   "python-zeep",
		keyPEM: pkcs1PEM,
		check: func() (string, string) {
			if _, err := os.Stat(interopPython); err != nil {
				return interopPython + " not found", interopPythonInstall
			}
			out, err := exec.Command(interopPython, "-c", "import zeep, jwt, cryptography").CombinedOutput()
			if err != nil {
				return interopPython + " cannot import zeep, jwt and cryptography (" + strings.TrimSpace(lastLine(out)) + ")", interopPythonInstall
			}
			return "", ""
		},
		dir:  ".",
		argv: []string{interopPython, "client.py"},
	},
	{
		name:   "node-soap",
		keyPEM: pkcs8PEM,
		check: func() (string, string) {
			if _, err := exec.LookPath("node"); err != nil {
				return "node not found on PATH", "install Node.js 20.19 or later with npm, then " + interopNodeInstall
			}
			for _, m := range []string{"soap", "jsonwebtoken"} {
				if _, err := os.Stat(filepath.Join("testdata", "interop", "node", "node_modules", m, "package.json")); err != nil {
					return "node module " + m + " is not installed", interopNodeInstall
				}
			}
			return "", ""
		},
		dir:  "node",
		argv: []string{"node", "client.js"},
	},
}

func TestInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("interop: runs Python and Node SOAP clients as subprocesses; skipped with -short")
	}
	appKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	wsdlFile, err := filepath.Abs(filepath.Join("testdata", "interop", "PartnerSystemUserService.wsdl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range interopClients {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if missing, install := c.check(); missing != "" {
				if os.Getenv("CI") == "true" {
					t.Fatalf("%s; install with: %s", missing, install)
				}
				t.Skipf("%s; install with: %s", missing, install)
			}
			keyFile := filepath.Join(t.TempDir(), "app-key.pem")
			if err := os.WriteFile(keyFile, c.keyPEM(appKey), 0o600); err != nil {
				t.Fatal(err)
			}
			endpoint := func(srv *sysusertest.Server) string {
				return srv.URL + "/services/PartnerSystemUserService.svc"
			}
			// SuperOffice's WSDL from testdata, its soap:address (a
			// SuperOffice host) overridden with the fake's endpoint.
			t.Run("testdata-wsdl", func(t *testing.T) {
				srv := newInteropServer(t, &appKey.PublicKey)
				out := runInterop(t, c, srv, keyFile, wsdlFile, endpoint(srv))
				if out.err != nil {
					t.Fatalf("%s failed after %v: %v\nstdout:\n%s\nstderr:\n%s", c.name, out.elapsed, out.err, out.stdout, out.stderr)
				}
				t.Logf("%s got a ticket in %v", c.name, out.elapsed)
				checkInteropTicket(t, srv, out.stdout)
			})
			// The WSDL the fake serves at ?wsdl, with its own address in it.
			t.Run("served-wsdl", func(t *testing.T) {
				srv := newInteropServer(t, &appKey.PublicKey)
				out := runInterop(t, c, srv, keyFile, srv.URL+"/services/PartnerSystemUserService.svc?wsdl", "")
				if out.err != nil {
					t.Fatalf("%s failed after %v: %v\nstdout:\n%s\nstderr:\n%s", c.name, out.elapsed, out.err, out.stdout, out.stderr)
				}
				t.Logf("%s got a ticket in %v", c.name, out.elapsed)
				checkInteropTicket(t, srv, out.stdout)
			})
			// The client really verifies what it gets: a token with the
			// right claims signed by a key the JWKS does not publish is
			// refused, and no ticket is printed.
			t.Run("foreign-key-refused", func(t *testing.T) {
				srv := newInteropServer(t, &appKey.PublicKey)
				other := newInteropServer(t, &appKey.PublicKey)
				srv.SetTokenFunc(func(claims map[string]any) (string, error) {
					return other.Sign(claims)
				})
				out := runInterop(t, c, srv, keyFile, wsdlFile, endpoint(srv))
				if out.err == nil {
					t.Fatalf("%s accepted a token signed by a key outside the JWKS and printed %q", c.name, out.stdout)
				}
				why := lineContaining(out.stderr, "signature")
				if why == "" {
					t.Errorf("%s failed, but not for the signature: %v\nstderr:\n%s", c.name, out.err, out.stderr)
				}
				if strings.Contains(out.stdout, "7T:") {
					t.Errorf("%s printed a ticket: %q", c.name, out.stdout)
				}
				t.Logf("%s refused the forged token in %v: %s", c.name, out.elapsed, why)
			})
		})
	}
}

func newInteropServer(t *testing.T, pub *rsa.PublicKey) *sysusertest.Server {
	t.Helper()
	srv, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: interopAppToken, PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.AddTenant("Cust12345", interopSystemToken)
	return srv
}

type interopRun struct {
	stdout, stderr string
	err            error // the client's exit status
	elapsed        time.Duration
}

// runInterop runs the client against srv for tenant Cust12345, with the
// WSDL at wsdl and, when endpoint is not empty, that SOAP address instead
// of the WSDL's own. It fails the test when the client does not finish in
// time.
func runInterop(t *testing.T, c interopClient, srv *sysusertest.Server, keyFile, wsdl, endpoint string) interopRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interopClientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Dir = filepath.Join("testdata", "interop", c.dir)
	cmd.Env = append(os.Environ(),
		"LOGIN_URL="+srv.URL,
		"APP_TOKEN="+interopAppToken,
		"KEY_FILE="+keyFile,
		"SYSTEM_USER_TOKEN="+interopSystemToken,
		"TENANT=Cust12345",
		"WSDL="+wsdl,
		"ENDPOINT="+endpoint,
		// The fake is on loopback: keep any proxy from the environment out.
		"NO_PROXY=127.0.0.1,localhost,::1", "no_proxy=127.0.0.1,localhost,::1",
		"PYTHONDONTWRITEBYTECODE=1",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start).Round(time.Millisecond)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("%s did not finish within %v\nstderr:\n%s", c.name, interopClientTimeout, stderr.String())
	}
	return interopRun{stdout: stdout.String(), stderr: stderr.String(), err: err, elapsed: elapsed}
}

// checkInteropTicket checks what a client printed, then uses the ticket on
// the fake WebApi.
func checkInteropTicket(t *testing.T, srv *sysusertest.Server, stdout string) {
	t.Helper()
	var got struct {
		Ticket    string `json:"ticket"`
		Ctx       string `json:"ctx"`
		WebAPIURL string `json:"webapi_url"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("the client printed %q, not JSON: %v", stdout, err)
	}
	if !strings.HasPrefix(got.Ticket, "7T:") {
		t.Errorf("ticket = %q, want a 7T: ticket", got.Ticket)
	}
	if got.Ctx != "Cust12345" {
		t.Errorf("ctx = %q, want Cust12345", got.Ctx)
	}
	if want := srv.WebAPIURL("Cust12345"); got.WebAPIURL != want {
		t.Errorf("webapi_url = %q, want %q", got.WebAPIURL, want)
	}
	if n := srv.ExchangeCount("Cust12345"); n != 1 {
		t.Errorf("the fake counted %d exchanges for Cust12345, want 1", n)
	}

	// The ticket works on the tenant's WebApi.
	req, err := http.NewRequest(http.MethodGet, got.WebAPIURL+"v1/Contact/2", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "SOTicket "+got.Ticket)
	req.Header.Set("SO-AppToken", interopAppToken)
	req.Header.Set("Accept", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %sv1/Contact/2 with the ticket: HTTP %d, want 200", got.WebAPIURL, resp.StatusCode)
	}
}

func pkcs1PEM(key *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

func pkcs8PEM(key *rsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// lineContaining returns the last line of s that contains word in any case
// and is not a stack frame, trimmed; or "".
func lineContaining(s, word string) string {
	found := ""
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		frame := strings.HasPrefix(line, "at ") || strings.HasPrefix(line, "File ")
		if !frame && strings.Contains(strings.ToLower(line), word) {
			found = line
		}
	}
	return found
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	return s[strings.LastIndexByte(s, '\n')+1:]
}
