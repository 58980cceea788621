package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Clients in other languages, given only the settings "sysuser fake"
// prints (and the CA variables it prints), get a ticket from it: the
// Python client (zeep driven by the WSDL the fake serves, PyJWT against its
// key set), the Node client (the soap package, jsonwebtoken) and curl.
// Modes:
//   - http: plain HTTP on 127.0.0.1;
//   - localhost-tls: --addr localhost:0 --tls, the clients trusting the CA
//     through SSL_CERT_FILE, REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS and
//     CURL_CA_BUNDLE as printed;
//   - named-host-tls: --host sod.superoffice.com --tls on a loopback port.
//     The printed names must resolve to the fake; instead of editing
//     /etc/hosts (root, and the whole machine would see it) each client
//     gets the equivalent for itself alone: a sitecustomize for Python's
//     getaddrinfo, a --require hook for Node's dns.lookup, curl --resolve.
//     URLs, certificate names and TLS are as they would be with /etc/hosts.

const (
	interopPython  = "/usr/bin/python3" // Debian's packages install for it
	interopInstall = "apt-get install -y python3-zeep python3-jwt python3-cryptography"
	interopNode    = "cd sysusertest/testdata/interop/node && npm ci"
)

// interopDir is sysusertest's directory of client programs.
func interopDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", "..", "sysusertest", "testdata", "interop"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// missingClient skips (or, with CI=true, fails) when a client cannot run.
func missingClient(t *testing.T, missing, install string) {
	t.Helper()
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; install with: %s", missing, install)
	}
	t.Skipf("%s; install with: %s", missing, install)
}

// pythonHook and nodeHook send the names in FAKE_HOST_NAMES to 127.0.0.1,
// as an /etc/hosts line would, for one process.
const pythonHook = `import os, socket
_names = {n.lower() for n in os.environ.get("FAKE_HOST_NAMES", "").split(",") if n}
_getaddrinfo = socket.getaddrinfo
def _fake_getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and host.lower().rstrip(".") in _names:
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = _fake_getaddrinfo
`

const nodeHook = `const dns = require('dns');
const names = new Set((process.env.FAKE_HOST_NAMES || '').split(',').filter(Boolean).map((n) => n.toLowerCase()));
const lookup = dns.lookup;
dns.lookup = function (host, options, callback) {
  if (names.has(String(host).toLowerCase().replace(/\.$/, ''))) host = '127.0.0.1';
  return lookup.call(this, host, options, callback);
};
`

func TestFakeInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Python, Node and curl clients against sysuser fake; skipped with -short")
	}
	dir := interopDir(t)
	hooks := t.TempDir()
	if err := os.WriteFile(filepath.Join(hooks, "sitecustomize.py"), []byte(pythonHook), 0o644); err != nil {
		t.Fatal(err)
	}
	nodeHookFile := filepath.Join(hooks, "resolve-fake-hosts.js")
	if err := os.WriteFile(nodeHookFile, []byte(nodeHook), 0o644); err != nil {
		t.Fatal(err)
	}
	clients := []struct {
		name  string
		check func() (missing, install string)
		argv  func(s fakeSettings) []string
		dir   string
	}{
		{"python-zeep", func() (string, string) {
			if _, err := os.Stat(interopPython); err != nil {
				return interopPython + " not found", interopInstall
			}
			if out, err := exec.Command(interopPython, "-c", "import zeep, jwt, cryptography").CombinedOutput(); err != nil {
				return interopPython + " cannot import zeep, jwt and cryptography: " + lastLine(out), interopInstall
			}
			return "", ""
		}, func(fakeSettings) []string { return []string{interopPython, "client.py"} }, dir},
		{"node-soap", func() (string, string) {
			if _, err := exec.LookPath("node"); err != nil {
				return "node not found on PATH", "install Node.js 20.19 or later, then " + interopNode
			}
			for _, m := range []string{"soap", "jsonwebtoken"} {
				if _, err := os.Stat(filepath.Join(dir, "node", "node_modules", m, "package.json")); err != nil {
					return "node module " + m + " is not installed", interopNode
				}
			}
			return "", ""
		}, func(fakeSettings) []string { return []string{"node", "client.js"} }, filepath.Join(dir, "node")},
	}
	for _, mode := range []struct {
		name string
		addr string
		args []string
	}{
		{"http", "127.0.0.1:0", nil},
		{"localhost-tls", "localhost:0", []string{"--tls"}},
		{"named-host-tls", "127.0.0.1:0", []string{"--host", "sod.superoffice.com", "--tls"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			s := startFakeAt(t, mode.addr, append(mode.args, "--tenant", "Cust4242=Interop App-8k8Q7DmBgo")...)
			tn := s.Tenants[0]
			// Only the printed settings.
			env := append(cleanEnv(),
				"LOGIN_URL="+s.LoginURL, "APP_TOKEN="+s.ApplicationToken, "KEY_FILE="+s.PrivateKeyPEM,
				"SYSTEM_USER_TOKEN="+tn.SystemUserToken, "TENANT="+tn.ContextIdentifier,
				"WSDL="+s.WSDLURL, "ENDPOINT=",
				"NO_PROXY=127.0.0.1,localhost,::1,.superoffice.com", "no_proxy=127.0.0.1,localhost,::1,.superoffice.com",
				"PYTHONDONTWRITEBYTECODE=1",
			)
			for k, v := range s.CAEnv {
				env = append(env, k+"="+v)
			}
			if len(s.HostNames) > 0 {
				env = append(env, "FAKE_HOST_NAMES="+strings.Join(s.HostNames, ","), "PYTHONPATH="+hooks, "NODE_OPTIONS=--require "+nodeHookFile)
			}
			hc := fakeHTTPClient(t, s)
			for _, c := range clients {
				t.Run(c.name, func(t *testing.T) {
					missing, install := c.check()
					missingClient(t, missing, install)
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
					defer cancel()
					argv := c.argv(s)
					cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
					cmd.Dir, cmd.Env = c.dir, env
					var stdout, stderr bytes.Buffer
					cmd.Stdout, cmd.Stderr = &stdout, &stderr
					start := time.Now()
					if err := cmd.Run(); err != nil {
						t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", c.name, err, stdout.String(), stderr.String())
					}
					var got struct {
						Ticket    string `json:"ticket"`
						Ctx       string `json:"ctx"`
						WebAPIURL string `json:"webapi_url"`
					}
					if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
						t.Fatalf("%s printed %q: %v", c.name, stdout.String(), err)
					}
					if !strings.HasPrefix(got.Ticket, "7T:") || got.Ctx != tn.ContextIdentifier || got.WebAPIURL != tn.WebAPIURL {
						t.Fatalf("%s got %+v, want a ticket for %+v", c.name, got, tn)
					}
					t.Logf("%s got a ticket for %s in %v", c.name, got.Ctx, time.Since(start).Round(time.Millisecond))
					// The ticket works on the printed WebApi URL.
					req, _ := http.NewRequest(http.MethodGet, got.WebAPIURL+"v1/Contact/2", nil)
					req.Header.Set("Authorization", "SOTicket "+got.Ticket)
					req.Header.Set("SO-AppToken", s.ApplicationToken)
					resp, err := hc.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Errorf("%s's ticket on the WebApi: HTTP %d", c.name, resp.StatusCode)
					}
				})
			}
			t.Run("curl", func(t *testing.T) {
				if _, err := exec.LookPath("curl"); err != nil {
					missingClient(t, "curl not found on PATH", "apt-get install -y curl")
				}
				// The WSDL, the key set and the state API, trusting the CA
				// through CURL_CA_BUNDLE only.
				for _, u := range []string{s.WSDLURL, s.JWKSURL, tn.StateURL} {
					args := []string{"--silent", "--show-error", "--fail", "--max-time", "30", "--output", "/dev/null", "--write-out", "%{http_code}"}
					for _, n := range s.HostNames {
						_, port, _ := net.SplitHostPort(strings.SplitN(strings.TrimPrefix(s.Issuer, "https://"), "/", 2)[0])
						args = append(args, "--resolve", n+":"+port+":127.0.0.1")
					}
					cmd := exec.Command("curl", append(args, u)...)
					cmd.Env = env
					out, err := cmd.CombinedOutput()
					if err != nil || string(out) != "200" {
						t.Errorf("curl %s: %v: %s", u, err, out)
					}
				}
			})
		})
	}
}

// fakeHTTPClient trusts the fake's CA (if any) and sends its host names to
// 127.0.0.1, as the printed hosts line would.
func fakeHTTPClient(t *testing.T, s fakeSettings) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	if s.CAFile != "" {
		ca, err := os.ReadFile(s.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	dialer := &net.Dialer{}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, _ := net.SplitHostPort(addr)
		for _, n := range s.HostNames {
			if strings.EqualFold(n, host) {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
		}
		return dialer.DialContext(ctx, network, addr)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
