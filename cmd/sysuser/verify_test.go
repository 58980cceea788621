package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser/sysusertest"
)

func TestVerifySystemUserToken(t *testing.T) {
	f := newFake(t, 0)
	jwt := exchangeJWT(t, f)
	tokenFile := writeFile(t, "token.jwt", []byte(jwt+"\n"))
	certFile := writeFile(t, "superoffice.crt", f.SigningCertificate())
	cases := []struct {
		name string
		o    runOpts
		args []string
	}{
		{name: "argument, key set", args: []string{"verify", "--login-url", f.URL, jwt}},
		{name: "file argument", args: []string{"verify", "--login-url", f.URL, tokenFile}},
		{name: "-file, environment", o: runOpts{env: []string{"SO_LOGIN_URL=" + f.URL}}, args: []string{"verify", "-file", tokenFile}},
		{name: "stdin, pinned certificate", o: runOpts{stdin: jwt}, args: []string{"verify", "--cert", certFile}},
		{name: "dash", o: runOpts{stdin: jwt}, args: []string{"verify", "--cert", certFile, "-"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runSysuser(t, c.o, c.args...)
			if r.code != exitOK || !strings.HasPrefix(r.stdout, "valid system user token (alg RS256, kid "+f.KeyID()) ||
				!strings.Contains(r.stdout, "ctx                Cust12345") || !strings.Contains(r.stdout, "ticket             7T:…[redacted]") {
				t.Errorf("%v", r)
			}
			assertNoSecrets(t, r.stdout+r.stderr, nil)
		})
	}

	r := runSysuser(t, runOpts{}, "verify", "--cert", certFile, "--json", "--show-ticket", tokenFile)
	var got struct {
		Kind, Tenant string
		Valid        bool
		Claims       map[string]any
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != exitOK {
		t.Fatalf("--json: %v: %v", err, r)
	}
	if !got.Valid || got.Kind != "system user token" || got.Tenant != testTenant || !fullTicket.MatchString(got.Claims["http://schemes.superoffice.net/identity/ticket"].(string)) {
		t.Errorf("--json --show-ticket: %+v", got)
	}

	// Later than its lifetime: invalid, unless -now puts it back.
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r = runSysuser(t, runOpts{}, "verify", "--cert", certFile, "--now", later, tokenFile)
	if r.code != exitFail || !strings.Contains(r.stderr, "expired") {
		t.Errorf("-now an hour later: %v", r)
	}
	// A token signed by another key (another fake's) is refused.
	app, otherKey, _ := keys(t)
	other, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "x", PublicKey: &app.PublicKey, SigningKey: otherKey})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	r = runSysuser(t, runOpts{}, "verify", "--cert", writeFile(t, "other.crt", other.SigningCertificate()), tokenFile)
	if r.code != exitFail || !strings.Contains(r.stderr, "invalid system user token") {
		t.Errorf("foreign certificate: %v", r)
	}
	// Garbage is not a JWT.
	r = runSysuser(t, runOpts{}, "verify", "--cert", certFile, "not-a-jwt")
	if r.code != exitFail || !strings.Contains(r.stderr, "not a JWT") {
		t.Errorf("garbage: %v", r)
	}
}

func TestVerifyIDToken(t *testing.T) {
	f := newFake(t, 0)
	idToken, err := f.IDToken(testTenant, "my-client-id", "n0nce")
	if err != nil {
		t.Fatal(err)
	}
	r := runSysuser(t, runOpts{stdin: idToken}, "verify", "--login-url", f.URL)
	if r.code != exitUsage || !strings.Contains(r.stderr, "-client-id") {
		t.Errorf("without a client id: %v", r)
	}
	r = runSysuser(t, runOpts{stdin: idToken, env: []string{"SO_CLIENT_ID=my-client-id"}}, "verify", "--login-url", f.URL, "--nonce", "n0nce")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "valid id_token") || !strings.Contains(r.stdout, "system_token       [redacted") ||
		!strings.Contains(r.stdout, "ctx                "+testTenant) {
		t.Errorf("id_token: %v", r)
	}
	assertNoSecrets(t, r.stdout+r.stderr, nil)
	r = runSysuser(t, runOpts{stdin: idToken}, "verify", "--login-url", f.URL, "--client-id", "my-client-id", "--show-system-token")
	if r.code != exitOK || !strings.Contains(r.stdout, testSystemToken) {
		t.Errorf("--show-system-token: %v", r)
	}
	r = runSysuser(t, runOpts{stdin: idToken}, "verify", "--login-url", f.URL, "--client-id", "someone-else")
	if r.code != exitFail || !strings.Contains(r.stderr, "invalid id_token") {
		t.Errorf("another audience: %v", r)
	}
	r = runSysuser(t, runOpts{stdin: idToken}, "verify", "--login-url", f.URL, "--client-id", "my-client-id", "--nonce", "other")
	if r.code != exitFail {
		t.Errorf("another nonce: %v", r)
	}
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
