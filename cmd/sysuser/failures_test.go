package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser/sysusertest"
)

// Each failure a user meets exits with its code (1 failed, 2 usage) and
// says on one line what is wrong and what to do.

// oneLine fails unless msg is one line.
func oneLine(t *testing.T, what, msg string) {
	t.Helper()
	if strings.Count(strings.TrimRight(msg, "\n"), "\n") > 0 {
		t.Errorf("%s: more than one line:\n%s", what, msg)
	}
}

func TestFailuresExitCodesAndMessages(t *testing.T) {
	app, _, _ := keys(t)
	keyFile := writeFile(t, "app.pem", pkcs1(app))
	empty := writeFile(t, "empty.key", nil)
	garbage := writeFile(t, "garbage.key", []byte("not a key\n"))
	f := newFake(t, 0)
	env := settingsEnv(f.loginURL, keyFile)
	for _, c := range []struct {
		name string
		o    runOpts
		args []string
		code int
		says []string
		not  []string
	}{
		{"negative timeout", runOpts{env: env}, []string{"doctor", "-timeout", "-5s"}, exitUsage,
			[]string{"-timeout", "positive duration"}, nil},
		{"zero timeout", runOpts{env: env}, []string{"exchange", "-timeout", "0s"}, exitUsage,
			[]string{"-timeout", "positive duration"}, nil},
		{"empty key file, exchange", runOpts{env: settingsEnv(f.loginURL, empty)}, []string{"exchange"}, exitFail,
			[]string{"sysuser exchange: " + empty + " is empty", "private key"}, []string{"PrivateKey nor Signer"}},
		{"empty key file, sign", runOpts{}, []string{"sign", "-token", "t", "-key", empty}, exitFail,
			[]string{empty + " is empty"}, nil},
		{"garbage key, sign: one prefix", runOpts{}, []string{"sign", "-token", "t", "-key", garbage}, exitFail,
			[]string{"sysuser sign: " + garbage + ": invalid private key", "fix:"}, []string{"sysuser: "}},
		{"garbage key, key convert: one prefix", runOpts{}, []string{"key", "convert", "-in", garbage, "-to", "pem"}, exitFail,
			[]string{"sysuser key: " + garbage + ": invalid private key", "fix:"}, []string{"sysuser: "}},
		{"missing key file", runOpts{}, []string{"sign", "-token", "t", "-key", filepath.Join(t.TempDir(), "nope.pem")}, exitFail,
			[]string{"nope.pem: no such file"}, []string{"open "}},
		{"missing token file", runOpts{env: env}, []string{"exchange", "-token-file", filepath.Join(t.TempDir(), "nope.txt")}, exitFail,
			[]string{"-token-file", "nope.txt: no such file"}, nil},
		{"token file and flag", runOpts{env: env}, []string{"exchange", "-token-file", keyFile, "-token", "x"}, exitUsage,
			[]string{"not both"}, nil},
	} {
		r := runSysuser(t, c.o, c.args...)
		if r.code != c.code {
			t.Errorf("%s: want exit %d: %v", c.name, c.code, r)
			continue
		}
		for _, s := range c.says {
			if !strings.Contains(r.stderr, s) {
				t.Errorf("%s: stderr does not say %q: %v", c.name, s, r)
			}
		}
		for _, s := range c.not {
			if strings.Contains(r.stderr, s) {
				t.Errorf("%s: stderr says %q: %v", c.name, s, r)
			}
		}
		if c.code == exitFail {
			oneLine(t, c.name, r.stderr)
		}
		assertNoSecrets(t, r.stdout+r.stderr, app)
	}
}

func TestExchangeReadsTokensFromFiles(t *testing.T) {
	app, _, _ := keys(t)
	f := newFake(t, 0)
	appTokenFile := writeFile(t, "app-token.txt", []byte(testAppToken+"\r\n"))
	tokenFile := writeFile(t, "token.txt", []byte(testSystemToken+"\n"))
	r := runSysuser(t, runOpts{}, "exchange", "-login-url", f.loginURL, "-key", writeFile(t, "app.pem", pkcs1(app)),
		"-tenant", testTenant, "-app-token-file", appTokenFile, "-token-file", tokenFile, "--json")
	if r.code != exitOK || !strings.Contains(r.stdout, `"tenant":"Cust12345"`) {
		t.Fatalf("%v", r)
	}
	assertNoSecrets(t, r.stdout+r.stderr, app)
}

func TestVerifyAnotherIssuerFails(t *testing.T) {
	f := newFake(t, 0)
	for _, iss := range []string{"https://accounts.example.com", "someone else"} {
		token := signClaims(t, f.Server, map[string]any{"iss": iss, "aud": "x", "exp": time.Now().Add(time.Minute).Unix()})
		r := runSysuser(t, runOpts{stdin: token}, "verify", "--login-url", f.URL)
		if r.code != exitFail || !strings.Contains(r.stderr, iss) || !strings.Contains(r.stderr, `"SuperOffice AS"`) || strings.Contains(r.stderr, "SO_CLIENT_ID") {
			t.Errorf("issuer %q: want exit 1 naming the issuer: %v", iss, r)
		}
		oneLine(t, iss, r.stderr)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestVerifyOfflineSaysKeysUnavailable(t *testing.T) {
	f := newFake(t, 0)
	jwt := exchangeJWT(t, f)
	// Offline: every request to sod.superoffice.com goes to a proxy that
	// is not there.
	r := runSysuser(t, runOpts{stdin: jwt, env: []string{"HTTPS_PROXY=http://" + closedPort(t)}}, "verify", "-env", "sod", "-timeout", "5s")
	if r.code != exitFail || !strings.Contains(r.stderr, "could not verify") || !strings.Contains(r.stderr, "signing keys could not be fetched") ||
		strings.Contains(r.stderr, "invalid system user token") {
		t.Errorf("offline: %v", r)
	}
	oneLine(t, "offline", r.stderr)
}

func TestDoctorTimeoutAdviceNamesTheURL(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a 1s timeout; skipped with -short")
	}
	app, _, _ := keys(t)
	// A server that accepts connections and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	r := runSysuser(t, runOpts{env: settingsEnv("http://"+l.Addr().String()+"/login", writeFile(t, "app.pem", pkcs1(app)))}, "doctor", "-timeout", "1s")
	lines := doctorLines(t, r)
	expect(t, lines, "reach", "FAIL", "no answer in time", "http to 127.0.0.1 port "+port, "HTTP_PROXY")
	if strings.Contains(r.stdout, "443") {
		t.Errorf("advice names 443 for an http URL on port %s:\n%s", port, r.stdout)
	}
}

func TestDoctorBadTokensHaveFixes(t *testing.T) {
	app, _, _ := keys(t)
	keyFile := writeFile(t, "app.pem", pkcs1(app))
	const ns = "http://schemes.superoffice.net/identity/"
	for _, c := range []struct {
		name   string
		change func(map[string]any)
		says   []string
	}{
		{"wrong issuer", func(m map[string]any) { m["iss"] = "https://impostor.example" }, []string{"issuer", "not SuperOffice's login service", "fix: check SO_LOGIN_URL"}},
		{"wrong audience", func(m map[string]any) { m["aud"] = "spn:somebody-else" }, []string{"audience", "fix: check SO_LOGIN_URL"}},
		{"no ticket", func(m map[string]any) { delete(m, ns+"ticket") }, []string{"ticket claim is missing", "system user access", "fix: check the tenant's approval"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t, 0)
			f.SetTokenFunc(func(claims map[string]any) string {
				c.change(claims)
				return signClaims(t, f.Server, claims)
			})
			r := runSysuser(t, runOpts{env: settingsEnv(f.loginURL, keyFile)}, "doctor")
			if r.code != exitFail {
				t.Fatalf("want exit 1: %v", r)
			}
			lines := doctorLines(t, r)
			expect(t, lines, "exchange", "FAIL", c.says...)
			assertNoSecrets(t, r.stdout+r.stderr, app)
			t.Logf("%s", lines["exchange"][1])
		})
	}
}

// TestDoctorNamesTheServersClock runs doctor against a login server whose
// clock is 10 minutes ahead while its Date header (Go's, the real time)
// is right: doctor must blame the server's clock, not this machine's.
func TestDoctorNamesTheServersClock(t *testing.T) {
	app, _, signing := keys(t)
	keyFile := writeFile(t, "app.pem", pkcs1(app))
	ahead := func() time.Time { return time.Now().Add(10 * time.Minute) }
	for _, c := range []struct {
		name    string
		maxSkew time.Duration
		says    []string
	}{
		// The server refuses the timestamp.
		{"timestamp", 0, []string{"The supplied timestamp is invalid", "login server's clock", "agrees with the login server's Date header", "fix: nothing to change on this machine"}},
		// It accepts it, but its token is not valid yet here.
		{"iat", 20 * time.Minute, []string{"login server's clock is off", "iat", "ahead of this machine's clock", "Date header", "fix: nothing to change on this machine"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: testAppToken, PublicKey: &app.PublicKey, SigningKey: signing, Clock: ahead, MaxClockSkew: c.maxSkew})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			srv.AddTenant(testTenant, testSystemToken)
			r := runSysuser(t, runOpts{env: settingsEnv(srv.URL, keyFile)}, "doctor")
			if r.code != exitFail {
				t.Fatalf("want exit 1: %v", r)
			}
			lines := doctorLines(t, r)
			expect(t, lines, "clock", "ok")
			expect(t, lines, "exchange", "FAIL", c.says...)
			if c.name == "iat" && !regexp.MustCompile(`(9m59s|10m0s|10m1s) ahead of this machine's clock`).MatchString(lines["exchange"][1]) {
				t.Errorf("doctor does not say the token's clock is 10 minutes ahead: %s", lines["exchange"][1])
			}
			if strings.Contains(lines["exchange"][1], "synchronise this machine's clock") {
				t.Errorf("doctor blames this machine's clock: %s", lines["exchange"][1])
			}
			t.Logf("%s", lines["exchange"][1])
		})
	}
}

// The same with this machine's clock at fault: the Date header and the
// token's iat agree, 10 minutes ahead.
func TestDoctorNamesThisMachinesClock(t *testing.T) {
	app, _, _ := keys(t)
	keyFile := writeFile(t, "app.pem", pkcs1(app))
	f := newFake(t, 10*time.Minute) // its Date header follows its clock
	r := runSysuser(t, runOpts{env: settingsEnv(f.loginURL, keyFile)}, "doctor")
	lines := doctorLines(t, r)
	expect(t, lines, "clock", "FAIL", "this machine's clock is 10m0s behind the login server's")
	expect(t, lines, "exchange", "FAIL", "measured this machine's clock 10m0s", "fix: synchronise this machine's clock")
}

func TestKeyConvertRefusesPlantedLinks(t *testing.T) {
	app, _, _ := keys(t)
	in := writeFile(t, "private.xml", pkcs1(app))
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim.txt")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "out.pem")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling.pem")
	if err := os.Symlink(filepath.Join(dir, "created-through-link"), dangling); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"key", "convert", "--in", in, "--to", "pem", "--out", link, "--overwrite"},
		{"key", "convert", "--in", in, "--to", "pem", "--out", link},
		{"key", "convert", "--in", in, "--to", "pem", "--out", dangling, "--overwrite"},
		{"key", "convert", "--in", in, "--to", "pem", "--out", dangling},
		{"key", "convert", "--in", in, "--to", "pem", "--out", dir, "--overwrite"},
	} {
		r := runSysuser(t, runOpts{}, args...)
		if r.code != exitFail || !(strings.Contains(r.stderr, "symbolic link") || strings.Contains(r.stderr, "not a regular file")) {
			t.Errorf("%v: %v", args[len(args)-2:], r)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the link's target was written: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "created-through-link")); err == nil {
		t.Error("a file was created through the dangling link")
	}
	// No temporary file is left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("the directory holds %d entries, want 3 (victim, two links, nothing else)", len(entries))
	}
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
