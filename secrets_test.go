package sysuser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
)

// TestSecretsNeverLeak drives the package through its failure paths with a
// debug logger attached, collects every error it returns, prints every
// exported type in every fmt verb and through slog, and looks for the
// secrets in all of it: the application token, the system user token, the
// private key, the signed token's signature, the ticket and the raw JWT.
func TestSecretsNeverLeak(t *testing.T) {
	clock := newFakeClock()
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := newTestEnv(t, clock.Now, func(c *sysuser.Config) {
		c.Logger, c.Signer, c.PrivateKey = logger, nil, readTestdata(t, "key.xml")
		c.RetryDelay = time.Millisecond
	})
	ctx := context.Background()
	var errs []error
	collect := func(_ any, err error) {
		if err == nil {
			t.Helper()
			t.Fatal("a failure path succeeded")
		}
		errs = append(errs, err)
	}

	res, err := env.client.Tenant(testTenant, testUserToken).Ticket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := env.signer.SignAt(testUserToken, clock.Now())
	secrets := map[string]string{
		"application token": testAppToken,
		"system user token": testUserToken,
		"ticket":            res.Ticket[3:],
		"raw JWT":           res.Token[len(res.Token)-60:],
		"signature":         signed[strings.LastIndexByte(signed, '.')+1:][:40],
		"key file":          string(readTestdata(t, "key-compact.xml")[40:100]),
		"client secret":     "client-secret-0f1e2d3c4b5a",
		"state key":         "state-key-9a8b7c6d5e4f3a2b1c0d9e8f7a6b",
	}

	// Config, key and argument errors.
	collect(sysuser.NewClient(sysuser.Config{ApplicationToken: testAppToken, PrivateKey: []byte("<RSAKeyValue><Modulus>" + testAppToken + "</Modulus></RSAKeyValue>"), Environment: "sod"}))
	collect(sysuser.NewClient(sysuser.Config{ApplicationToken: testAppToken, Environment: "nowhere", Signer: env.signer}))
	collect(sysuser.NewClient(sysuser.Config{ApplicationToken: testAppToken, LoginURL: "http://example.com/" + testAppToken, Signer: env.signer}))
	collect(sysuser.ParsePrivateKey(readTestdata(t, "key-encrypted-pkcs8.pem")))
	collect(sysuser.ParsePrivateKey(dotnetXML(appKey(t), map[string]string{"DP": "AQAB"})))
	collect(env.signer.Sign(""))
	collect(env.client.Exchange(ctx, "", testUserToken))

	// Refusals, HTTP errors, faults, forged tokens, with retries logged.
	for _, p := range protocols {
		cfg := env.cfg
		cfg.Protocol = p
		c := mustClient(t, cfg)
		env.fake.Refuse(testTenant, "Denied")
		collect(c.Exchange(ctx, testTenant, testUserToken))
		env.fake.Refuse(testTenant, "")
		env.fake.SetUnavailable(503)
		collect(c.Exchange(ctx, testTenant, testUserToken))
		env.fake.SetUnavailable(0)
		env.fake.SetTokenFunc(func(claims map[string]any) (string, error) { claims["iss"] = "x"; return env.fake.Sign(claims) })
		collect(c.Exchange(ctx, testTenant, testUserToken))
		env.fake.SetTokenFunc(func(claims map[string]any) (string, error) { delete(claims, "exp"); return env.fake.Sign(claims) })
		collect(c.Exchange(ctx, testTenant, testUserToken))
		env.fake.SetTokenFunc(func(claims map[string]any) (string, error) { tok, err := env.fake.Sign(claims); return tok + "x", err })
		collect(c.Exchange(ctx, testTenant, testUserToken))
		env.fake.SetTokenFunc(nil)
		collect(c.Exchange(ctx, testTenant, "wrong "+testUserToken))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		collect(c.Exchange(cctx, testTenant, testUserToken))
	}
	fault := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>boom</faultstring></s:Fault></s:Body></s:Envelope>`)
	}))
	defer fault.Close()
	collect(mustClient(t, withLogin(env.cfg, fault.URL)).Exchange(ctx, testTenant, testUserToken))
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<nope/>") }))
	defer garbage.Close()
	collect(mustClient(t, withLogin(env.cfg, garbage.URL)).Exchange(ctx, testTenant, testUserToken))

	// The cache and the transport: a failed refresh, a cached failure, a
	// 401 and a refused round trip.
	clock.Advance(61 * time.Minute)
	env.fake.SetUnavailable(503)
	env.client.Tenant(testTenant, testUserToken).Ticket(ctx)
	eventually(t, "the refresh fails", func() bool { return strings.Contains(logs.String(), "renewal failed") })
	env.fake.SetUnavailable(0)
	env.fake.AddTenant("Cust2", "token-2")
	env.fake.Refuse("Cust2", "Revoked")
	collect(env.client.Tenant("Cust2", "token-2").Ticket(ctx))
	collect(env.client.Tenant("Cust2", "token-2").Ticket(ctx)) // the cached failure
	env.fake.RevokeTicket(res.Ticket)
	req, _ := http.NewRequest(http.MethodGet, env.fake.WebAPIURL(testTenant)+"v1/Contact/2", nil)
	if resp, err := env.client.Tenant(testTenant, testUserToken).HTTPClient().Do(req); err == nil {
		resp.Body.Close()
	}
	req, _ = http.NewRequest(http.MethodGet, env.fake.WebAPIURL("Cust2")+"v1/Contact/2", nil)
	collect(env.client.Tenant("Cust2", "token-2").Transport(nil).RoundTrip(req))

	// Print everything.
	transport := env.client.Tenant(testTenant, testUserToken).Transport(nil)
	cfg := env.cfg
	verifier, err := sysuser.NewApprovalVerifier(sysuser.ApprovalConfig{LoginURL: env.fake.URL, ClientID: "cid", Clock: clock.Now, SkipNonceCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	idToken, _ := env.fake.IDToken(testTenant, "cid", "")
	approval, err := verifier.Verify(ctx, idToken, "")
	if err != nil {
		t.Fatal(err)
	}
	collect(verifier.Verify(ctx, idToken, "other-nonce"))
	obCfg := sysuser.OnboardingConfig{Verifier: verifier, ClientSecret: secrets["client secret"],
		StateKey: []byte(secrets["state key"]), RedirectURL: "https://app.example/cb",
		OnApproval: func(http.ResponseWriter, *http.Request, *sysuser.Approval) error { return nil }}
	ob, err := sysuser.NewOnboarding(obCfg)
	if err != nil {
		t.Fatal(err)
	}
	values := []any{obCfg, &obCfg, ob, cfg, &cfg, env.client, env.signer, *env.signer, res, *res, transport, env.client.Tenant(testTenant, testUserToken), approval, *approval, verifier}
	for _, e := range errs {
		values = append(values, e)
	}
	var out strings.Builder
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%T"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		if s, ok := v.(fmt.Stringer); ok {
			out.WriteString(s.String() + "\n")
		}
		if g, ok := v.(fmt.GoStringer); ok {
			out.WriteString(g.GoString() + "\n")
		}
		slog.New(slog.NewJSONHandler(&out, nil)).Info("v", "value", v)
		slog.New(slog.NewTextHandler(&out, nil)).Info("v", "value", v)
	}
	out.WriteString(logs.String())
	all := out.String()
	for name, secret := range secrets {
		if i := strings.Index(all, secret); i >= 0 {
			t.Errorf("the %s leaked: …%s…", name, all[max(0, i-200):i])
		}
	}
	assertNoKeyMaterial(t, all, appKey(t))
	// The walk printed what it should have.
	for _, want := range []string{"7T:…[redacted]", "ApplicationToken: [set]", "SystemUserToken: [redacted]",
		"tenant=Cust12345", "renewal failed", "retrying exchange", "new ticket", "ticket invalidated", "Denied", "boom"} {
		if !strings.Contains(all, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if len(errs) < 25 {
		t.Fatalf("only %d errors walked", len(errs))
	}
}

// TestRedactionPaths prints each type with exported secret fields along
// every path docs/security.md promises: the value and a pointer, and both inside
// an exported struct field, a map, a slice and an interface; with every fmt
// verb but %p, through slog's text and JSON handlers, and through
// json.Marshal. The secrets never show.
func TestRedactionPaths(t *testing.T) {
	const secret = "SECRETVALUE42"
	hexSecret := fmt.Sprintf("%x", secret)
	res := &sysuser.SystemUserResult{Ticket: "7T:" + secret, ContextIdentifier: testTenant, Token: "a.b." + secret,
		Claims: map[string]any{"http://schemes.superoffice.net/identity/ticket": "7T:" + secret}}
	appr := &sysuser.Approval{SystemUserToken: secret, ContextIdentifier: testTenant,
		Claims: map[string]any{"http://schemes.superoffice.net/identity/system_token": secret}}
	cfg := &sysuser.Config{Environment: "sod", ApplicationToken: secret, PrivateKey: []byte(secret)}
	obCfg := &sysuser.OnboardingConfig{ClientSecret: secret, StateKey: []byte(secret)}
	type holder struct {
		Value any
		Ptr   any
	}
	for _, typ := range []struct {
		name       string
		value, ptr any
	}{
		{name: "SystemUserResult", value: *res, ptr: res},
		{name: "Approval", value: *appr, ptr: appr},
		{name: "Config", value: *cfg, ptr: cfg},
		{name: "OnboardingConfig", value: *obCfg, ptr: obCfg},
	} {
		paths := []struct {
			name string
			v    any
		}{
			{name: "value", v: typ.value},
			{name: "pointer", v: typ.ptr},
			{name: "exported fields", v: holder{Value: typ.value, Ptr: typ.ptr}},
			{name: "pointer to exported fields", v: &holder{Value: typ.value, Ptr: typ.ptr}},
			{name: "map", v: map[string]any{"value": typ.value, "ptr": typ.ptr}},
			{name: "slice", v: []any{typ.value, typ.ptr}},
			{name: "array", v: [2]any{typ.value, typ.ptr}},
		}
		for _, path := range paths {
			t.Run(typ.name+"/"+path.name, func(t *testing.T) {
				var outs []string
				for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%e", "%c", "%U", "%b", "%o", "%T", "%9.3v", "%-20s"} {
					outs = append(outs, verb+": "+fmt.Sprintf(verb, path.v))
				}
				var text, js strings.Builder
				slog.New(slog.NewTextHandler(&text, nil)).Info("m", "v", path.v)
				slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "v", path.v)
				b, err := json.Marshal(path.v)
				if err != nil {
					t.Fatalf("json.Marshal: %v", err)
				}
				outs = append(outs, "slog text: "+text.String(), "slog JSON: "+js.String(), "json.Marshal: "+string(b))
				for _, out := range outs {
					if strings.Contains(out, secret) || strings.Contains(strings.ToLower(out), hexSecret) {
						t.Errorf("the secret shows in %.300s", out)
					}
				}
			})
		}
	}
}
