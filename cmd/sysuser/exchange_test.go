package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

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
