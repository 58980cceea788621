package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser/sysusertest"
)

// The tests build the command once and run it as a process, as a user
// would, against sysusertest's fake started in the test.

var bin string // the built command

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sysuser-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "sysuser")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// Test credentials. They must never appear in doctor's, exchange's or
// verify's output unless asked for.
const (
	testAppToken    = "app-token-0123456789abcdef-secret"
	testSystemToken = "TestApp system-user-token-8k8Q7DmBgo"
	testTenant      = "Cust12345"
)

var (
	keysOnce              sync.Once
	appKey, otherKey, sig *rsa.PrivateKey
)

// keys returns the application's key, another application's key and the
// fake's signing key, generated once.
func keys(t *testing.T) (app, other, signing *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		for _, k := range []**rsa.PrivateKey{&appKey, &otherKey, &sig} {
			var err error
			if *k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				panic(err)
			}
		}
	})
	return appKey, otherKey, sig
}

// writeFile writes data to a new file in the test's temporary directory.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pkcs1(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// fake is a fake SuperOffice for one test.
type fake struct {
	*sysusertest.Server
	loginURL string // where clients go: the fake, or the Date proxy in front
}

// newFake starts a fake that knows the application's key and the test
// tenant. A non-zero skew sets the fake's clock that far ahead of the
// real one, and puts a proxy in front that writes the fake's clock into
// the Date header (Go's server writes the real clock's).
func newFake(t *testing.T, skew time.Duration) *fake {
	t.Helper()
	app, _, signing := keys(t)
	opts := sysusertest.Options{ApplicationToken: testAppToken, PublicKey: &app.PublicKey, SigningKey: signing}
	clock := func() time.Time { return time.Now().Add(skew) }
	if skew != 0 {
		opts.Clock = clock
	}
	srv, err := sysusertest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.AddTenant(testTenant, testSystemToken)
	f := &fake{Server: srv, loginURL: srv.URL}
	if skew != 0 {
		root, _ := url.Parse(srv.Root)
		rp := httputil.NewSingleHostReverseProxy(root)
		rp.ModifyResponse = func(r *http.Response) error {
			r.Header.Set("Date", clock().UTC().Format(http.TimeFormat))
			return nil
		}
		proxy := httptest.NewServer(rp)
		t.Cleanup(proxy.Close)
		f.loginURL = proxy.URL + sysusertest.LoginPath
	}
	return f
}

// result is what a run of the command did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runOpts tune a run.
type runOpts struct {
	env       []string // NAME=value, added to a clean environment
	stdin     string
	stdinFile *os.File // instead of stdin
	stdout    *os.File // instead of a pipe
}

// runSysuser runs the command with args and a clean environment plus env.
func runSysuser(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cleanEnv(o.env...)
	cmd.Stdin = strings.NewReader(o.stdin)
	if o.stdinFile != nil {
		cmd.Stdin = o.stdinFile
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if o.stdout != nil {
		cmd.Stdout = o.stdout
	}
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running sysuser %v: %v", args, err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// cleanEnv is the test's environment without SO_* settings or proxies,
// plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "SO_") || strings.HasSuffix(strings.ToLower(name), "_proxy") || name == "SSL_CERT_FILE" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// settingsEnv is the SO_* environment for the fake and a key file.
func settingsEnv(loginURL, keyFile string) []string {
	return []string{
		"SO_LOGIN_URL=" + loginURL,
		"SO_APP_TOKEN=" + testAppToken,
		"SO_PRIVATE_KEY_FILE=" + keyFile,
		"SO_SYSTEM_USER_TOKEN=" + testSystemToken,
		"SO_CONTEXT_IDENTIFIER=" + testTenant,
	}
}

// fullTicket matches a ticket that is not redacted.
var fullTicket = regexp.MustCompile(`7T:[A-Za-z0-9+/=]{8,}`)

// assertNoSecrets fails when out shows the application token, the system
// user token, a ticket or private key material.
func assertNoSecrets(t *testing.T, out string, key *rsa.PrivateKey) {
	t.Helper()
	for name, secret := range map[string]string{"application token": testAppToken, "system user token": testSystemToken} {
		if strings.Contains(out, secret) {
			t.Errorf("the output shows the %s:\n%s", name, out)
		}
	}
	if m := fullTicket.FindString(out); m != "" {
		t.Errorf("the output shows a ticket (%s…):\n%s", m[:6], out)
	}
	if strings.Contains(out, "-----BEGIN") || strings.Contains(out, "<D>") {
		t.Errorf("the output shows a private key:\n%s", out)
	}
	if key != nil {
		for _, v := range [][]byte{key.D.Bytes(), key.Primes[0].Bytes()} {
			for _, enc := range []string{fmt.Sprintf("%x", v[:16]), fmt.Sprintf("%X", v[:16])} {
				if strings.Contains(out, enc) {
					t.Errorf("the output shows private key material:\n%s", out)
				}
			}
		}
	}
}

func TestHelpForEveryCommand(t *testing.T) {
	for _, c := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"--help"}, []string{"doctor", "sign", "exchange", "verify", "key", "fake", "Exit codes", "SO_APP_TOKEN"}},
		{[]string{"help"}, []string{"Commands:"}},
		{[]string{"doctor", "--help"}, []string{"sysuser doctor", "-login-url", "-app-token", "-ca", "clock", "Exit codes"}},
		{[]string{"help", "doctor"}, []string{"sysuser doctor", "-login-url"}},
		{[]string{"sign", "--help"}, []string{"sysuser sign", "-token", "-key", "-at", "Exit codes"}},
		{[]string{"exchange", "-h"}, []string{"sysuser exchange", "-show-ticket", "-json", "Exit codes"}},
		{[]string{"verify", "--help"}, []string{"sysuser verify", "-client-id", "-cert", "-now", "-file", "Exit codes"}},
		{[]string{"key", "--help"}, []string{"sysuser key convert", "-in", "-to", "-out", "-force-stdout", "-overwrite", "0600"}},
		{[]string{"fake", "--help"}, []string{"sysuser fake", "-addr", "-tenant", "-tenants", "-tls", "-dir", "-json"}},
	} {
		r := runSysuser(t, runOpts{}, c.args...)
		if r.code != exitOK {
			t.Errorf("sysuser %v: %v", c.args, r)
			continue
		}
		for _, w := range c.wants {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("sysuser %v does not mention %q:\n%s", c.args, w, r.stdout)
			}
		}
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"doctor", "-no-such-flag"}, "Run 'sysuser doctor --help'"},
		{[]string{"doctor", "extra"}, "unexpected argument"},
		{[]string{"doctor", "-protocol", "carrier-pigeon"}, "want soap or rest"},
		{[]string{"sign", "-key", "k.pem"}, "SO_SYSTEM_USER_TOKEN"},
		{[]string{"sign", "-token", "t", "-key", "k.pem", "-at", "yesterday"}, "-at"},
		{[]string{"exchange"}, "SO_APP_TOKEN"},
		{[]string{"verify", "a.b.c"}, "no keys to verify with"},
		{[]string{"key"}, "sysuser key convert"},
		{[]string{"key", "convert", "-in", "x", "-to", "der"}, "want pem, pkcs1, pkcs8 or xml"},
		{[]string{"fake", "-tenant", "no-equals-sign"}, "CTX=TOKEN"},
	} {
		r := runSysuser(t, runOpts{}, c.args...)
		if r.code != exitUsage || !strings.Contains(r.stdout+r.stderr, c.want) {
			t.Errorf("sysuser %v: want exit 2 saying %q; got %v", c.args, c.want, r)
		}
	}
}

// signClaims signs claims as the fake signs its tokens; a failure fails t.
// It uses t.Errorf, not t.Fatal, as the fake's token funcs run on its
// server's goroutines.
func signClaims(t testing.TB, fake *sysusertest.Server, claims map[string]any) string {
	t.Helper()
	token, err := fake.Sign(claims)
	if err != nil {
		t.Errorf("signing claims: %v", err)
	}
	return token
}

func TestHelpShowsNoSecret(t *testing.T) {
	env := []string{"SO_APP_TOKEN=" + testAppToken, "SO_SYSTEM_USER_TOKEN=" + testSystemToken, "SO_CONTEXT_IDENTIFIER=" + testTenant, "SO_ENVIRONMENT=sod"}
	for _, args := range [][]string{
		{"help", "exchange"}, {"help", "doctor"}, {"exchange", "--help"}, {"help", "sign"}, {"sign", "-h"},
		{"doctor", "-h"}, {"verify", "--help"}, {"help"}, {"fake", "--help"}, {"state", "--help"},
	} {
		r := runSysuser(t, runOpts{env: env}, args...)
		if r.code != exitOK {
			t.Errorf("%v: %v", args, r)
		}
		assertNoSecrets(t, r.stdout+r.stderr, nil)
		if args[len(args)-1] == "exchange" && !strings.Contains(r.stdout, "$SO_APP_TOKEN, which is set") {
			t.Errorf("%v does not say the application token is set:\n%s", args, r.stdout)
		}
	}
	// Without the variables, help says they are not set.
	r := runSysuser(t, runOpts{}, "help", "exchange")
	if !strings.Contains(r.stdout, "$SO_APP_TOKEN, not set") {
		t.Errorf("help exchange without SO_APP_TOKEN:\n%s", r.stdout)
	}
}
