package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser/sysusertest"
)

func TestSign(t *testing.T) {
	app, _, _ := keys(t)
	xmlKey, err := dotNetXML(app)
	if err != nil {
		t.Fatal(err)
	}
	// SuperOffice's definition, computed here: PKCS#1 v1.5 is
	// deterministic, so every implementation must print exactly this.
	data := testSystemToken + ".202611231234"
	sum := sha256.Sum256([]byte(data))
	sig, err := rsa.SignPKCS1v15(rand.Reader, app, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	want := data + "." + base64.StdEncoding.EncodeToString(sig) + "\n"
	for _, c := range []struct {
		name string
		key  []byte
		at   string
	}{
		{"pem", pkcs1(app), "2026-11-23T12:34Z"},
		{"xml", xmlKey, "2026-11-23T12:34:59Z"},
		{"offset", pkcs1(app), "2026-11-23T13:34:10+01:00"},
		{"superoffice-form", xmlKey, "202611231234"},
	} {
		r := runSysuser(t, runOpts{env: []string{"SO_SYSTEM_USER_TOKEN=" + testSystemToken}}, "sign", "--key", writeFile(t, "k", c.key), "--at", c.at)
		if r.code != exitOK || r.stdout != want {
			t.Errorf("%s: got %v\nwant stdout %q", c.name, r, want)
		}
	}
	// Without --at: the current minute.
	r := runSysuser(t, runOpts{}, "sign", "--token", "t.with.dots", "--key", writeFile(t, "k", pkcs1(app)))
	now := time.Now().UTC()
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "t.with.dots.") {
		t.Fatalf("%v", r)
	}
	stamp := strings.Split(r.stdout, ".")[3]
	if stamp != now.Format("200601021504") && stamp != now.Add(-time.Minute).Format("200601021504") {
		t.Errorf("timestamp %s, want about %s", stamp, now.Format("200601021504"))
	}
	// An unusable key is a failure (1), not a usage error.
	r = runSysuser(t, runOpts{}, "sign", "--token", "t", "--key", writeFile(t, "k", []byte("not a key")))
	if r.code != exitFail || !strings.Contains(r.stderr, "invalid private key") {
		t.Errorf("bad key: %v", r)
	}
}

func TestExchange(t *testing.T) {
	app, other, _ := keys(t)
	f := newFake(t, 0)
	env := settingsEnv(f.loginURL, writeFile(t, "app.pem", pkcs1(app)))

	r := runSysuser(t, runOpts{env: env}, "exchange")
	if r.code != exitOK {
		t.Fatalf("%v", r)
	}
	for _, want := range []string{"tenant      Cust12345", "ticket      7T:…[redacted]", "WebApi URL  " + f.WebAPIURL(testTenant), "ctx ", "serial ", "ticket             7T:…[redacted]"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("exchange output lacks %q:\n%s", want, r.stdout)
		}
	}
	assertNoSecrets(t, r.stdout+r.stderr, app)

	r = runSysuser(t, runOpts{env: env}, "exchange", "--json")
	var got struct {
		Tenant, Ticket string
		WebAPIURL      string `json:"webapi_url"`
		Claims         map[string]any
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != exitOK {
		t.Fatalf("--json: %v: %v", err, r)
	}
	if got.Tenant != testTenant || got.Ticket != "7T:…[redacted]" || got.WebAPIURL != f.WebAPIURL(testTenant) || got.Claims["iss"] != "SuperOffice AS" {
		t.Errorf("--json: %+v", got)
	}
	assertNoSecrets(t, r.stdout+r.stderr, app)

	// --show-ticket prints the ticket, and it works on the WebApi.
	r = runSysuser(t, runOpts{env: env}, "exchange", "--json", "--show-ticket")
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != exitOK {
		t.Fatalf("--show-ticket: %v: %v", err, r)
	}
	req, _ := http.NewRequest(http.MethodGet, got.WebAPIURL+"v1/Contact/2", nil)
	req.Header.Set("Authorization", "SOTicket "+got.Ticket)
	req.Header.Set("SO-AppToken", testAppToken)
	resp, err := f.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the printed ticket on the WebApi: HTTP %d", resp.StatusCode)
	}

	// A refusal: exit 1, with its cause, no secret.
	r = runSysuser(t, runOpts{env: settingsEnv(f.loginURL, writeFile(t, "other.pem", pkcs1(other)))}, "exchange")
	if r.code != exitFail || !strings.Contains(r.stderr, "Calculated signature is invalid") || !strings.Contains(r.stderr, "private key") {
		t.Errorf("refusal: %v", r)
	}
	assertNoSecrets(t, r.stdout+r.stderr, other)
}

// exchangeJWT returns a system user token the fake issued.
func exchangeJWT(t *testing.T, f *fake) string {
	t.Helper()
	app, _, _ := keys(t)
	r := runSysuser(t, runOpts{env: settingsEnv(f.loginURL, writeFile(t, "app.pem", pkcs1(app)))}, "exchange", "--json", "--show-token")
	var got struct{ JWT string }
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != exitOK || got.JWT == "" {
		t.Fatalf("exchange --show-token: %v: %v", err, r)
	}
	return got.JWT
}

func TestVerifySystemUserToken(t *testing.T) {
	f := newFake(t, 0)
	jwt := exchangeJWT(t, f)
	tokenFile := writeFile(t, "token.jwt", []byte(jwt+"\n"))
	certFile := writeFile(t, "superoffice.crt", f.SigningCertificate())
	for _, c := range []struct {
		name string
		o    runOpts
		args []string
	}{
		{"argument, key set", runOpts{}, []string{"verify", "--login-url", f.URL, jwt}},
		{"file argument", runOpts{}, []string{"verify", "--login-url", f.URL, tokenFile}},
		{"-file, environment", runOpts{env: []string{"SO_LOGIN_URL=" + f.URL}}, []string{"verify", "-file", tokenFile}},
		{"stdin, pinned certificate", runOpts{stdin: jwt}, []string{"verify", "--cert", certFile}},
		{"dash", runOpts{stdin: jwt}, []string{"verify", "--cert", certFile, "-"}},
	} {
		r := runSysuser(t, c.o, c.args...)
		if r.code != exitOK || !strings.HasPrefix(r.stdout, "valid system user token (alg RS256, kid "+f.KeyID()) ||
			!strings.Contains(r.stdout, "ctx                Cust12345") || !strings.Contains(r.stdout, "ticket             7T:…[redacted]") {
			t.Errorf("%s: %v", c.name, r)
		}
		assertNoSecrets(t, r.stdout+r.stderr, nil)
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
