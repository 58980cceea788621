package main

import (
	"crypto/rand"
	"crypto/rsa"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser/sysusertest"
)

// doctorLines maps each check doctor printed to its status and text.
func doctorLines(t *testing.T, r result) map[string][2]string {
	t.Helper()
	line := regexp.MustCompile(`^(ok|warn|FAIL|skip)\s+(\S+)\s+(.*)$`)
	out := map[string][2]string{}
	var order []string
	for l := range strings.Lines(r.stdout) {
		m := line.FindStringSubmatch(strings.TrimRight(l, "\n"))
		if m == nil {
			t.Fatalf("doctor printed a line that is not a check: %q\n%v", l, r)
		}
		out[m[2]] = [2]string{m[1], m[3]}
		if m[1] == "FAIL" && !strings.Contains(m[3], " — fix: ") {
			t.Errorf("a FAIL line without a fix: %q", l)
		}
		order = append(order, m[2])
	}
	if want := "settings key dns reach clock jwks exchange state"; strings.Join(order, " ") != want {
		t.Errorf("checks in order %v, want %s", order, want)
	}
	return out
}

// expect checks one doctor line's status and that its text says each of
// says.
func expect(t *testing.T, lines map[string][2]string, check, status string, says ...string) {
	t.Helper()
	got, ok := lines[check]
	if !ok {
		t.Errorf("no %s line", check)
		return
	}
	if got[0] != status {
		t.Errorf("%s: %s %q, want %s", check, got[0], got[1], status)
	}
	for _, s := range says {
		if !strings.Contains(got[1], s) {
			t.Errorf("%s line %q does not say %q", check, got[1], s)
		}
	}
}

func TestDoctorAllOK(t *testing.T) {
	app, _, _ := keys(t)
	f := newFake(t, 0)
	for _, c := range []struct{ name, format string }{
		{"pkcs1", "PKCS#1"},
		{"xml", ".NET XML"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var key []byte
			if c.name == "xml" {
				var err error
				if key, err = dotNetXML(app); err != nil {
					t.Fatal(err)
				}
			} else {
				key = pkcs1(app)
			}
			r := runSysuser(t, runOpts{env: settingsEnv(f.loginURL, writeFile(t, "app.key", key))}, "doctor")
			if r.code != exitOK {
				t.Fatalf("want exit 0: %v", r)
			}
			lines := doctorLines(t, r)
			for _, check := range []string{"settings", "key", "dns", "reach", "clock", "jwks", "exchange"} {
				expect(t, lines, check, "ok")
			}
			expect(t, lines, "key", "ok", c.format, "2048 bits", "e = 65537")
			expect(t, lines, "reach", "ok", "plain HTTP", "HTTP 200")
			expect(t, lines, "jwks", "ok", "1 RSA key", f.KeyID())
			expect(t, lines, "exchange", "ok", "7T:…[redacted]", f.WebAPIURL(testTenant))
			assertNoSecrets(t, r.stdout+r.stderr, app)
			t.Logf("\n%s", r.stdout)
		})
	}
}

func TestDoctorClockSkew(t *testing.T) {
	app, _, _ := keys(t)
	keyFile := writeFile(t, "app.pem", pkcs1(app))
	t.Run("3 minutes: warn", func(t *testing.T) {
		f := newFake(t, 3*time.Minute)
		r := runSysuser(t, runOpts{env: settingsEnv(f.loginURL, keyFile)}, "doctor")
		if r.code != exitOK {
			t.Fatalf("warnings only: want exit 0: %v", r)
		}
		lines := doctorLines(t, r)
		expect(t, lines, "clock", "warn", "3m0s behind", "The supplied timestamp is invalid", "NTP")
		expect(t, lines, "exchange", "ok")
		assertNoSecrets(t, r.stdout+r.stderr, app)
		t.Logf("\n%s", r.stdout)
	})
	t.Run("10 minutes: FAIL", func(t *testing.T) {
		f := newFake(t, 10*time.Minute)
		r := runSysuser(t, runOpts{env: settingsEnv(f.loginURL, keyFile)}, "doctor")
		if r.code != exitFail {
			t.Fatalf("want exit 1: %v", r)
		}
		lines := doctorLines(t, r)
		expect(t, lines, "clock", "FAIL", "10m0s behind", "The supplied timestamp is invalid")
		expect(t, lines, "exchange", "FAIL", `"The supplied timestamp is invalid"`, "clock", "measured this machine's clock 10m0s")
		assertNoSecrets(t, r.stdout+r.stderr, app)
		t.Logf("\n%s", r.stdout)
	})
}

func TestDoctorWrongKey(t *testing.T) {
	_, other, _ := keys(t)
	f := newFake(t, 0)
	r := runSysuser(t, runOpts{env: settingsEnv(f.loginURL, writeFile(t, "other.pem", pkcs1(other)))}, "doctor")
	if r.code != exitFail {
		t.Fatalf("want exit 1: %v", r)
	}
	lines := doctorLines(t, r)
	expect(t, lines, "key", "ok")
	expect(t, lines, "exchange", "FAIL", `"Calculated signature is invalid"`, "private key", "this application")
	assertNoSecrets(t, r.stdout+r.stderr, other)
	t.Logf("\n%s", r.stdout)
}

func TestDoctorRefusedTenant(t *testing.T) {
	app, _, _ := keys(t)
	keyFile := writeFile(t, "app.pem", pkcs1(app))
	f := newFake(t, 0)
	for _, c := range []struct {
		message string
		says    []string
	}{
		{"Revoked", []string{`"Revoked"`, "revoked", "approve the application again"}},
		{"The approval has expired", []string{"Expired", "approve the application again"}},
		{"Access denied", []string{"Denied", "approve the application again"}},
		{"NeedsReapproval", []string{"NeedsReapproval", "approve the application again"}},
		{"The system user token is not valid for this customer", []string{"SO_SYSTEM_USER_TOKEN", "SO_CONTEXT_IDENTIFIER"}},
		// An unknown text is shown, on one line, bounded, without the
		// secrets a server might echo. (The fake's XML turns the escape
		// character into U+FFFD; a line break becomes a space.)
		{"Zorg\x1b[31m error\r\nwith " + testAppToken + " and " + strings.Repeat("x", 500),
			[]string{`"Zorg`, `[31m error with [redacted] and xxx`, "…", "not one this tool knows"}},
	} {
		f.Refuse(testTenant, c.message)
		r := runSysuser(t, runOpts{env: settingsEnv(f.loginURL, keyFile)}, "doctor")
		if r.code != exitFail {
			t.Errorf("refusal %q: want exit 1: %v", c.message, r)
			continue
		}
		lines := doctorLines(t, r)
		expect(t, lines, "exchange", "FAIL", c.says...)
		if strings.ContainsAny(r.stdout, "\x1b\r") || len(lines["exchange"][1]) > 1500 {
			t.Errorf("refusal %q: the line is not sanitised or not bounded: %q", c.message, lines["exchange"][1])
		}
		assertNoSecrets(t, r.stdout+r.stderr, app)
		t.Logf("%s", strings.TrimSpace(lines["exchange"][1]))
	}
}

func TestDoctorUnreachableHost(t *testing.T) {
	app, _, _ := keys(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	r := runSysuser(t, runOpts{env: settingsEnv("http://"+addr+"/login", writeFile(t, "app.pem", pkcs1(app)))}, "doctor", "-timeout", "5s")
	if r.code != exitFail {
		t.Fatalf("want exit 1: %v", r)
	}
	lines := doctorLines(t, r)
	expect(t, lines, "dns", "ok")
	expect(t, lines, "reach", "FAIL", "connection refused", "port")
	for _, check := range []string{"clock", "jwks", "exchange"} {
		expect(t, lines, check, "skip", "skipped")
	}
	assertNoSecrets(t, r.stdout+r.stderr, app)
	t.Logf("\n%s", r.stdout)
}

func TestDoctorMissingSettingsAndBadKey(t *testing.T) {
	r := runSysuser(t, runOpts{}, "doctor")
	if r.code != exitFail {
		t.Fatalf("want exit 1: %v", r)
	}
	lines := doctorLines(t, r)
	expect(t, lines, "settings", "FAIL", "SO_ENVIRONMENT", "SO_APP_TOKEN", "SO_PRIVATE_KEY_FILE", "SO_SYSTEM_USER_TOKEN", "SO_CONTEXT_IDENTIFIER")
	for _, check := range []string{"key", "dns", "reach", "clock", "jwks", "exchange"} {
		expect(t, lines, check, "skip")
	}

	f := newFake(t, 0)
	bad := writeFile(t, "bad.xml", []byte("<RSAKeyValue><Modulus>AQAB</Modulus></RSAKeyValue>"))
	r = runSysuser(t, runOpts{env: settingsEnv(f.loginURL, bad)}, "doctor")
	if r.code != exitFail {
		t.Fatalf("want exit 1: %v", r)
	}
	lines = doctorLines(t, r)
	expect(t, lines, "key", "FAIL", ".NET XML")
	expect(t, lines, "reach", "ok")
	expect(t, lines, "exchange", "skip", "key check failed")
	if n := f.ExchangeCount(testTenant); n != 0 {
		t.Errorf("doctor exchanged %d times with an unusable key", n)
	}
}

func TestDoctorTLSAndPinnedCertificate(t *testing.T) {
	app, _, _ := keys(t)
	keyFile := writeFile(t, "app.pem", pkcs1(app))
	s := startFake(t, "--tls")
	env := settingsEnv(s.LoginURL, keyFile)
	env[1] = "SO_APP_TOKEN=" + s.ApplicationToken
	env[3] = "SO_SYSTEM_USER_TOKEN=" + s.Tenants[0].SystemUserToken
	env[4] = "SO_CONTEXT_IDENTIFIER=" + s.Tenants[0].ContextIdentifier
	env[2] = "SO_PRIVATE_KEY_FILE=" + s.PrivateKeyXML

	r := runSysuser(t, runOpts{env: env}, "doctor")
	if r.code != exitFail {
		t.Fatalf("without -ca: want exit 1: %v", r)
	}
	lines := doctorLines(t, r)
	expect(t, lines, "reach", "FAIL", "not trusted", "-ca")

	r = runSysuser(t, runOpts{env: env}, "doctor", "-ca", s.CAFile, "-cert", s.CertificateFile)
	if r.code != exitOK {
		t.Fatalf("with -ca: want exit 0: %v", r)
	}
	lines = doctorLines(t, r)
	expect(t, lines, "reach", "ok", "https://", "TLS 1.3", "sysusertest CA")
	expect(t, lines, "jwks", "ok", "the certificate -cert pins is kid")
	expect(t, lines, "exchange", "ok")
	if strings.Contains(r.stdout, s.ApplicationToken) || strings.Contains(r.stdout, s.Tenants[0].SystemUserToken) {
		t.Errorf("doctor shows a secret:\n%s", r.stdout)
	}
	t.Logf("\n%s", r.stdout)
}

func TestDoctorUnresolvableHost(t *testing.T) {
	app, _, _ := keys(t)
	// .invalid never resolves (RFC 2606).
	r := runSysuser(t, runOpts{env: settingsEnv("https://sysuser-doctor-test.invalid/login", writeFile(t, "app.pem", pkcs1(app)))}, "doctor", "-timeout", "10s")
	if r.code != exitFail {
		t.Fatalf("want exit 1: %v", r)
	}
	lines := doctorLines(t, r)
	expect(t, lines, "dns", "FAIL", "sysuser-doctor-test.invalid", "does not resolve")
	for _, check := range []string{"reach", "clock", "jwks", "exchange"} {
		expect(t, lines, check, "skip")
	}
	assertNoSecrets(t, r.stdout+r.stderr, app)
}

func TestDoctorWeakKeyWarns(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	f := newFake(t, 0)
	r := runSysuser(t, runOpts{env: settingsEnv(f.loginURL, writeFile(t, "weak.pem", pkcs1(weak)))}, "doctor")
	lines := doctorLines(t, r)
	if lines["key"][0] == "ok" {
		t.Errorf("a 1024-bit key passed: %v", r)
	}
	if lines["key"][0] == "warn" {
		expect(t, lines, "key", "warn", "1024 bits", "under 2048 bits")
	} else { // sysuser itself may refuse to sign with it
		expect(t, lines, "key", "FAIL", "1024")
	}
	assertNoSecrets(t, r.stdout+r.stderr, weak)
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
			f.SetTokenFunc(func(claims map[string]any) (string, error) {
				c.change(claims)
				return f.Server.Sign(claims)
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
