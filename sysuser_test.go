package sysuser_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

var protocols = []sysuser.Protocol{sysuser.SOAP, sysuser.REST}

func TestExchangeSOAPAndRESTGiveTheSameResult(t *testing.T) {
	clock := newFakeClock()
	var results []*sysuser.SystemUserResult
	for _, p := range protocols {
		for _, pinned := range []bool{false, true} {
			env := newTestEnv(t, clock.Now, func(c *sysuser.Config) { c.Protocol = p })
			if pinned {
				cfg := env.cfg
				cfg.Certificate = env.fake.SigningCertificate()
				var err error
				if env.client, err = sysuser.NewClient(cfg); err != nil {
					t.Fatal(err)
				}
			}
			res, err := env.client.Exchange(context.Background(), testTenant, testUserToken)
			if err != nil {
				t.Fatalf("%s (pinned %v): %v", p, pinned, err)
			}
			if !strings.HasPrefix(res.Ticket, "7T:") || len(res.Ticket) < 20 {
				t.Errorf("%s: ticket %q", p, sysuser.RedactTicket(res.Ticket))
			}
			if res.WebAPIURL != env.fake.WebAPIURL(testTenant) || !strings.HasSuffix(res.WebAPIURL, "/Cust12345/api/") {
				t.Errorf("%s: WebAPIURL %q", p, res.WebAPIURL)
			}
			if res.ContextIdentifier != testTenant || res.Serial == "" || res.AssociateID != "5" || res.NetServerURL == "" || res.Email == "" {
				t.Errorf("%s: claims not filled: %v", p, res)
			}
			if !res.ExpiresAt.Equal(clock.Now().Add(5*time.Minute)) || !res.IssuedAt.Equal(clock.Now()) || !res.ReceivedAt.Equal(clock.Now()) {
				t.Errorf("%s: times %v %v %v", p, res.IssuedAt, res.ExpiresAt, res.ReceivedAt)
			}
			if res.Claims["http://schemes.superoffice.net/identity/ticket"] != res.Ticket || strings.Count(res.Token, ".") != 2 {
				t.Errorf("%s: raw token or claims missing", p)
			}
			if n := env.fake.ExchangeCount(testTenant); n != 1 {
				t.Errorf("%s: fake saw %d exchanges, want 1", p, n)
			}
			if got, want := env.fake.JWKSRequestCount(), map[bool]int{false: 1, true: 0}[pinned]; got != want {
				t.Errorf("%s pinned=%v: %d JWKS requests, want %d", p, pinned, got, want)
			}
			results = append(results, res)
		}
	}
	for _, r := range results[1:] {
		if r.WebAPIURL[strings.Index(r.WebAPIURL, "/Cust"):] != results[0].WebAPIURL[strings.Index(results[0].WebAPIURL, "/Cust"):] ||
			r.AssociateID != results[0].AssociateID || r.ContextIdentifier != results[0].ContextIdentifier {
			t.Errorf("protocols disagree: %v vs %v", r, results[0])
		}
	}
}

func TestExchangeWorksWithRealClockAndTicketCallsWebAPI(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	res, err := env.client.Exchange(context.Background(), testTenant, testUserToken)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, res.WebAPIURL+"v1/Contact/2", nil)
	req.Header.Set("Authorization", "SOTicket "+res.Ticket)
	req.Header.Set("SO-AppToken", testAppToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("WebApi answered %s", resp.Status)
	}
}

// TestRESTRequestShape checks the JSON body and headers on the wire.
func TestRESTRequestShape(t *testing.T) {
	var got map[string]any
	var hdr http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr = r.Header.Clone()
		if r.URL.Path != "/login/api/PartnerSystemUser/Authenticate" || r.Method != http.MethodPost {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		json.NewDecoder(r.Body).Decode(&got)
		io.WriteString(w, `{"IsSuccessful":false,"Token":null,"ErrorMessage":"Denied"}`)
	}))
	defer srv.Close()
	c, err := sysuser.NewClient(sysuser.Config{LoginURL: srv.URL + "/login/", ApplicationToken: testAppToken, PrivateKey: readTestdata(t, "key.xml"), Protocol: sysuser.REST})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Exchange(context.Background(), testTenant, testUserToken)
	var ae *sysuser.AuthenticationError
	if !errors.As(err, &ae) || ae.Message != "Denied" || ae.ContextIdentifier != testTenant {
		t.Fatalf("err = %v", err)
	}
	if len(got) != 4 || got["ApplicationToken"] != testAppToken || got["ContextIdentifier"] != testTenant || got["ReturnTokenType"] != "JWT" ||
		!strings.HasPrefix(got["SignedSystemToken"].(string), testUserToken+".") {
		t.Fatalf("body %v", got)
	}
	if hdr.Get("Content-Type") != "application/json" || hdr.Get("Accept") != "application/json" {
		t.Fatalf("headers %v", hdr)
	}
}

func TestExchangeRefusals(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.String(), func(t *testing.T) {
			clock := newFakeClock()
			env := newTestEnv(t, clock.Now, func(c *sysuser.Config) { c.Protocol = p })
			otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
			otherSigner, _ := sysuser.NewSignerFromKey(otherKey)
			env.fake.AddTenant("Cust999", "refused-token")
			env.fake.Refuse("Cust999", "The application is no longer approved (Revoked)")

			cases := []struct {
				name, tenant, token string
				cfg                 func(*sysuser.Config)
				want                string
			}{
				{"wrong application token", testTenant, testUserToken, func(c *sysuser.Config) { c.ApplicationToken = "wrong" }, sysusertest.MsgInvalidApplicationToken},
				{"wrong key", testTenant, testUserToken, func(c *sysuser.Config) { c.Signer = otherSigner }, sysusertest.MsgInvalidSignature},
				{"clock 10 minutes fast", testTenant, testUserToken, func(c *sysuser.Config) {
					c.Clock = func() time.Time { return clock.Now().Add(10 * time.Minute) }
				}, sysusertest.MsgInvalidTimestamp},
				{"unknown tenant", "Cust404", testUserToken, nil, sysusertest.MsgUnknownSystemUserToken},
				{"wrong system user token", testTenant, "not-the-token", nil, sysusertest.MsgUnknownSystemUserToken},
				{"tenant refuses", "Cust999", "refused-token", nil, "The application is no longer approved (Revoked)"},
			}
			for _, c := range cases {
				cfg := env.cfg
				if c.cfg != nil {
					c.cfg(&cfg)
				}
				client, err := sysuser.NewClient(cfg)
				if err != nil {
					t.Fatal(err)
				}
				_, err = client.Exchange(context.Background(), c.tenant, c.token)
				var ae *sysuser.AuthenticationError
				if !errors.As(err, &ae) || ae.Message != c.want || ae.ContextIdentifier != c.tenant {
					t.Errorf("%s: err = %v, want AuthenticationError %q", c.name, err, c.want)
					continue
				}
				var he *sysuser.HTTPError
				if errors.Is(err, sysuser.ErrInvalidToken) || errors.As(err, &he) {
					t.Errorf("%s: refusal also matches another error kind: %v", c.name, err)
				}
				if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), cfg.ApplicationToken) {
					t.Errorf("%s: message %q", c.name, err)
				}
			}
		})
	}
}

func TestExchangeHTTPErrorsAndFaults(t *testing.T) {
	for _, p := range protocols {
		env := newTestEnv(t, nil, func(c *sysuser.Config) { c.Protocol = p })
		env.fake.SetUnavailable(http.StatusServiceUnavailable)
		_, err := env.client.Exchange(context.Background(), testTenant, testUserToken)
		var he *sysuser.HTTPError
		if !errors.As(err, &he) || he.StatusCode != 503 || !strings.Contains(err.Error(), "503") || !bytes.Contains(he.Body, []byte("<html>")) {
			t.Fatalf("%s: err = %v, want HTTPError 503", p, err)
		}
		var ae *sysuser.AuthenticationError
		if errors.As(err, &ae) || errors.Is(err, sysuser.ErrInvalidToken) {
			t.Fatalf("%s: HTTP error matches another kind", p)
		}
	}

	fault := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode xmlns:a="urn:x">a:InternalServiceFault</faultcode><faultstring xml:lang="en-US">The server was unable to process the request</faultstring></s:Fault></s:Body></s:Envelope>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(500)
		io.WriteString(w, fault)
	}))
	defer srv.Close()
	c := mustClient(t, sysuser.Config{LoginURL: srv.URL, ApplicationToken: testAppToken, PrivateKey: readTestdata(t, "key-pkcs8.pem")})
	_, err := c.Exchange(context.Background(), testTenant, testUserToken)
	var fe *sysuser.FaultError
	if !errors.As(err, &fe) || fe.String != "The server was unable to process the request" || fe.StatusCode != 500 || fe.Code != "a:InternalServiceFault" {
		t.Fatalf("err = %v, want FaultError", err)
	}
	if !strings.Contains(err.Error(), "unable to process") {
		t.Fatalf("message %q lacks the faultstring", err)
	}
}

func mustClient(t testing.TB, cfg sysuser.Config) *sysuser.Client {
	t.Helper()
	c, err := sysuser.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestHugeResponseIsCapped serves 64 MiB and checks that the client stops
// early, in time and memory.
func TestHugeResponseIsCapped(t *testing.T) {
	for _, p := range protocols {
		var written int64
		var mu sync.Mutex
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			chunk := bytes.Repeat([]byte("<a>"), 1<<14)
			for i := 0; i < (64<<20)/len(chunk); i++ {
				n, err := w.Write(chunk)
				mu.Lock()
				written += int64(n)
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}))
		c := mustClient(t, sysuser.Config{LoginURL: srv.URL, ApplicationToken: testAppToken, Signer: mustSigner(t), Protocol: p})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := c.Exchange(context.Background(), testTenant, testUserToken)
		runtime.ReadMemStats(&after)
		srv.Close()
		if !errors.Is(err, sysuser.ErrMalformedResponse) {
			t.Fatalf("%s: err = %v, want ErrMalformedResponse", p, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
			t.Errorf("%s: allocated %d MiB reading a hostile answer", p, alloc>>20)
		}
		mu.Lock()
		if written >= 64<<20 {
			t.Errorf("%s: the whole 64 MiB was read", p)
		}
		mu.Unlock()
	}
}

func mustSigner(t testing.TB) *sysuser.Signer {
	t.Helper()
	s, err := sysuser.NewSignerFromKey(appKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestExchangeHonoursContext(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so that the server notices the client leaving
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release) // runs before the servers close
	for _, p := range protocols {
		c := mustClient(t, sysuser.Config{LoginURL: hang.URL, ApplicationToken: testAppToken, Signer: mustSigner(t), Protocol: p})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, err := c.Exchange(ctx, testTenant, testUserToken)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: err = %v, want DeadlineExceeded", p, err)
		}
	}

}

// TestKeySetFetchHonoursContext: the exchange answers, the JWKS hangs.
func TestKeySetFetchHonoursContext(t *testing.T) {
	release := make(chan struct{})
	env := newTestEnv(t, nil, nil)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/jwks") {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		forward(t, w, r, env.fake.Root)
	}))
	defer proxy.Close()
	defer close(release) // before the proxy closes
	c := mustClient(t, sysuser.Config{LoginURL: proxy.URL + "/login", ApplicationToken: testAppToken, Signer: env.signer})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Exchange(ctx, testTenant, testUserToken)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, sysuser.ErrKeySetUnavailable) || errors.Is(err, sysuser.ErrInvalidToken) {
		t.Fatalf("err = %v, want DeadlineExceeded and ErrKeySetUnavailable, not ErrInvalidToken", err)
	}
}

// forward relays r to root, for tests that put something between the client
// and the fake.
func forward(t testing.TB, w http.ResponseWriter, r *http.Request, root string) {
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, root+r.URL.RequestURI(), r.Body)
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func TestTokenVerification(t *testing.T) {
	clock := newFakeClock()
	forger, _ := rsa.GenerateKey(rand.Reader, 2048)
	signWith := func(key *rsa.PrivateKey, alg jwt.SigningMethod, kid string, claims map[string]any) string {
		tok := jwt.NewWithClaims(alg, jwt.MapClaims(claims))
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var env *testEnv
	cases := []struct {
		name  string
		token func(c map[string]any) string
		cause error
		says  string
	}{
		{"valid", func(c map[string]any) string { return signClaims(t, env.fake, c) }, nil, ""},
		{"exp within leeway", func(c map[string]any) string {
			c["exp"] = clock.Now().Add(-30 * time.Second).Unix()
			return signClaims(t, env.fake, c)
		}, nil, ""},
		{"forged with another key, same kid", func(c map[string]any) string { return signWith(forger, jwt.SigningMethodRS256, env.fake.KeyID(), c) }, jwt.ErrTokenSignatureInvalid, ""},
		{"alg none", func(c map[string]any) string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(c)).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}, jwt.ErrTokenSignatureInvalid, "none"},
		{"HS256 keyed with the public key", func(c map[string]any) string {
			pub := x509.MarshalPKCS1PublicKey(&fakeSigningKey(t).PublicKey)
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(c))
			tok.Header["kid"] = env.fake.KeyID()
			s, _ := tok.SignedString(pub)
			return s
		}, jwt.ErrTokenSignatureInvalid, "HS256"},
		{"RS512", func(c map[string]any) string {
			return signWith(fakeSigningKey(t), jwt.SigningMethodRS512, env.fake.KeyID(), c)
		}, jwt.ErrTokenSignatureInvalid, "RS512"},
		{"PS256", func(c map[string]any) string {
			return signWith(fakeSigningKey(t), jwt.SigningMethodPS256, env.fake.KeyID(), c)
		}, jwt.ErrTokenSignatureInvalid, "PS256"},
		{"wrong issuer", func(c map[string]any) string { c["iss"] = "Evil AS"; return signClaims(t, env.fake, c) }, jwt.ErrTokenInvalidIssuer, ""},
		{"wrong audience", func(c map[string]any) string { c["aud"] = "spn:other"; return signClaims(t, env.fake, c) }, jwt.ErrTokenInvalidAudience, ""},
		{"audience without serial", func(c map[string]any) string {
			delete(c, "http://schemes.superoffice.net/identity/serial")
			return signClaims(t, env.fake, c)
		}, nil, "serial"},
		{"expired", func(c map[string]any) string {
			c["exp"] = clock.Now().Add(-6 * time.Minute).Unix()
			return signClaims(t, env.fake, c)
		}, jwt.ErrTokenExpired, ""},
		{"no exp", func(c map[string]any) string { delete(c, "exp"); return signClaims(t, env.fake, c) }, jwt.ErrTokenRequiredClaimMissing, ""},
		{"not valid yet", func(c map[string]any) string {
			c["nbf"] = clock.Now().Add(10 * time.Minute).Unix()
			return signClaims(t, env.fake, c)
		}, jwt.ErrTokenNotValidYet, ""},
		{"no ticket", func(c map[string]any) string {
			delete(c, "http://schemes.superoffice.net/identity/ticket")
			return signClaims(t, env.fake, c)
		}, nil, "ticket claim"},
		{"other tenant", func(c map[string]any) string {
			c["http://schemes.superoffice.net/identity/ctx"] = "Cust666"
			return signClaims(t, env.fake, c)
		}, nil, "Cust666"},
		{"unknown kid", func(c map[string]any) string { return signWith(fakeSigningKey(t), jwt.SigningMethodRS256, "FFFF", c) }, jwt.ErrTokenUnverifiable, "FFFF"},
		{"not a JWT", func(c map[string]any) string { return "not-a-jwt" }, jwt.ErrTokenMalformed, ""},
		{"tampered payload", func(c map[string]any) string {
			good := signClaims(t, env.fake, c)
			parts := strings.Split(good, ".")
			c["http://schemes.superoffice.net/identity/ticket"] = "7T:stolen"
			payload, _ := json.Marshal(c)
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
		}, jwt.ErrTokenSignatureInvalid, ""},
	}
	for _, p := range protocols {
		env = newTestEnv(t, clock.Now, func(c *sysuser.Config) { c.Protocol = p })
		for _, c := range cases {
			var lastTicket string
			env.fake.SetTokenFunc(func(claims map[string]any) string {
				lastTicket, _ = claims["http://schemes.superoffice.net/identity/ticket"].(string)
				return c.token(claims)
			})
			res, err := env.client.Exchange(context.Background(), testTenant, testUserToken)
			if c.name == "valid" || c.name == "exp within leeway" {
				if err != nil || res.Ticket != lastTicket {
					t.Errorf("%s %s: %v", p, c.name, err)
				}
				continue
			}
			if res != nil || !errors.Is(err, sysuser.ErrInvalidToken) {
				t.Errorf("%s %s: got %v, %v; want ErrInvalidToken", p, c.name, res, err)
				continue
			}
			if c.cause != nil && !errors.Is(err, c.cause) {
				t.Errorf("%s %s: %v does not match %v", p, c.name, err, c.cause)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("%s %s: %q does not say %q", p, c.name, err, c.says)
			}
			if lastTicket != "" && strings.Contains(err.Error(), lastTicket[3:]) {
				t.Errorf("%s %s: error leaks the ticket", p, c.name)
			}
		}
	}
}

func TestPinnedCertificate(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	cfg := env.cfg
	cfg.Certificate = readTestdata(t, "SuperOfficeFederatedLogin-sod.crt")
	_, err := mustClient(t, cfg).Exchange(context.Background(), testTenant, testUserToken)
	if !errors.Is(err, sysuser.ErrInvalidToken) || !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Fatalf("token from the fake verified against SuperOffice's sod certificate: %v", err)
	}
	if env.fake.JWKSRequestCount() != 0 {
		t.Fatal("a pinned certificate still fetched the key set")
	}
	for _, name := range []string{"SuperOfficeFederatedLogin-sod.crt", "SuperOfficeFederatedLogin-stage.crt"} {
		pub, err := sysuser.ParsePublicKey(readTestdata(t, name))
		if err != nil || pub.N.BitLen() != 2048 {
			t.Fatalf("%s: %v", name, err)
		}
	}
	pubPEM := readTestdata(t, "key-public.pem")
	if _, err := sysuser.ParsePublicKey(pubPEM); err != nil {
		t.Fatalf("PEM public key: %v", err)
	}
	for name, bad := range map[string][]byte{"private key": readTestdata(t, "key-pkcs1.pem"), "garbage": []byte("hello"), "EC": readTestdata(t, "ec.pem")} {
		if _, err := sysuser.ParsePublicKey(bad); !errors.Is(err, sysuser.ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestJWKSIsCachedAndRefetchedForUnknownKid(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	for i := 0; i < 5; i++ {
		if _, err := env.client.Exchange(context.Background(), testTenant, testUserToken); err != nil {
			t.Fatal(err)
		}
	}
	if n := env.fake.JWKSRequestCount(); n != 1 {
		t.Fatalf("5 exchanges fetched the key set %d times, want 1", n)
	}
	env.fake.SetTokenFunc(func(c map[string]any) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(c))
		tok.Header["kid"] = "NEW-KID"
		s, _ := tok.SignedString(fakeSigningKey(t))
		return s
	})
	// Within the minimum interval after the first fetch, no refetch at all.
	env.client.Exchange(context.Background(), testTenant, testUserToken)
	if n := env.fake.JWKSRequestCount(); n != 1 {
		t.Fatalf("an unknown kid right after the first fetch fetched again (%d)", n)
	}
	clock.Advance(31 * time.Second)
	for i := 0; i < 10; i++ {
		if _, err := env.client.Exchange(context.Background(), testTenant, testUserToken); !errors.Is(err, sysuser.ErrInvalidToken) {
			t.Fatal(err)
		}
	}
	if n := env.fake.JWKSRequestCount(); n != 2 {
		t.Fatalf("10 tokens with an unknown kid fetched the key set %d times in all, want 2 (one refetch, then rate-limited)", n)
	}
	clock.Advance(time.Minute)
	env.client.Exchange(context.Background(), testTenant, testUserToken)
	if n := env.fake.JWKSRequestCount(); n != 3 {
		t.Fatalf("after the interval: %d fetches, want 3", n)
	}
	env.fake.SetTokenFunc(nil)
	if _, err := env.client.Exchange(context.Background(), testTenant, testUserToken); err != nil {
		t.Fatalf("known kid after refetches: %v", err)
	}
}

func TestNewClientRefusesBadConfig(t *testing.T) {
	key := readTestdata(t, "key-pkcs1.pem")
	signer := mustSigner(t)
	cases := []struct {
		name string
		cfg  sysuser.Config
		want error
	}{
		{"empty", sysuser.Config{}, sysuser.ErrInvalidConfig},
		{"no app token", sysuser.Config{Environment: "sod", PrivateKey: key}, sysuser.ErrInvalidConfig},
		{"no key", sysuser.Config{Environment: "sod", ApplicationToken: "a"}, sysuser.ErrInvalidConfig},
		{"both keys", sysuser.Config{Environment: "sod", ApplicationToken: "a", PrivateKey: key, Signer: signer}, sysuser.ErrInvalidConfig},
		{"bad key", sysuser.Config{Environment: "sod", ApplicationToken: "a", PrivateKey: []byte("nope")}, sysuser.ErrInvalidKey},
		{"no place", sysuser.Config{ApplicationToken: "a", Signer: signer}, sysuser.ErrInvalidConfig},
		{"unknown environment", sysuser.Config{Environment: "prod", ApplicationToken: "a", Signer: signer}, sysuser.ErrInvalidConfig},
		{"relative URL", sysuser.Config{LoginURL: "/login", ApplicationToken: "a", Signer: signer}, sysuser.ErrInvalidConfig},
		{"plain http to a remote host", sysuser.Config{LoginURL: "http://sod.superoffice.com/login", ApplicationToken: "a", Signer: signer}, sysuser.ErrInvalidConfig},
		{"ftp", sysuser.Config{LoginURL: "ftp://sod.superoffice.com/login", ApplicationToken: "a", Signer: signer}, sysuser.ErrInvalidConfig},
		{"query", sysuser.Config{LoginURL: "https://sod.superoffice.com/login?x=1", ApplicationToken: "a", Signer: signer}, sysuser.ErrInvalidConfig},
		{"unknown protocol", sysuser.Config{Environment: "sod", ApplicationToken: "a", Signer: signer, Protocol: 7}, sysuser.ErrInvalidConfig},
		{"bad certificate", sysuser.Config{Environment: "sod", ApplicationToken: "a", Signer: signer, Certificate: []byte("x")}, sysuser.ErrInvalidConfig},
		// 2^61 ns overflowed the backoff into a panic.
		{"absurd RetryDelay", sysuser.Config{Environment: "sod", ApplicationToken: "a", Signer: signer, RetryDelay: 1 << 61}, sysuser.ErrInvalidConfig},
		{"absurd ExchangeTimeout", sysuser.Config{Environment: "sod", ApplicationToken: "a", Signer: signer, ExchangeTimeout: 1 << 62}, sysuser.ErrInvalidConfig},
		{"absurd TicketLifetime", sysuser.Config{Environment: "sod", ApplicationToken: "a", Signer: signer, TicketLifetime: 1 << 62}, sysuser.ErrInvalidConfig},
	}
	for _, c := range cases {
		client, err := sysuser.NewClient(c.cfg)
		if client != nil || !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, %v; want %v", c.name, client, err, c.want)
		}
	}
	for env, want := range map[string]string{
		"sod": "https://sod.superoffice.com/login", "stage": "https://qaonline.superoffice.com/login",
		"qaonline": "https://qaonline.superoffice.com/login", "online": "https://online.superoffice.com/login", "SOD": "https://sod.superoffice.com/login",
	} {
		c, err := sysuser.NewClient(sysuser.Config{Environment: env, ApplicationToken: "a", Signer: signer})
		if err != nil || sysuser.LoginURLOf(c) != want {
			t.Errorf("%s: %v %v", env, c, err)
		}
	}
	for _, ok := range []string{"http://127.0.0.1:8080/login", "http://localhost/login", "http://[::1]:9/login", "https://example.com/login/"} {
		if _, err := sysuser.NewClient(sysuser.Config{LoginURL: ok, ApplicationToken: "a", Signer: signer}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestExchangeRefusesBadArguments(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	for _, c := range [][2]string{{"", testTenant}, {testUserToken, ""}, {testUserToken, "Cust 1"}, {testUserToken, "Cust\n1"}} {
		if _, err := env.client.Exchange(context.Background(), c[1], c[0]); !errors.Is(err, sysuser.ErrInvalidArgument) {
			t.Errorf("%q: %v", c, err)
		}
	}
	if n := env.fake.ExchangeCount(testTenant); n != 0 {
		t.Fatalf("bad arguments reached the server %d times", n)
	}
}

func TestRedirectToAnotherHostIsRefused(t *testing.T) {
	var hits int
	var mu sync.Mutex
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	defer evil.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	for _, p := range protocols {
		c := mustClient(t, sysuser.Config{LoginURL: redirector.URL, ApplicationToken: testAppToken, Signer: mustSigner(t), Protocol: p})
		if _, err := c.Exchange(context.Background(), testTenant, testUserToken); !errors.Is(err, sysuser.ErrCrossHostRedirect) {
			t.Fatalf("%s: err = %v", p, err)
		}
	}
	if hits != 0 {
		t.Fatalf("the other host received %d requests", hits)
	}
}

func TestClientIsSafeForConcurrentUse(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := env.client.Exchange(context.Background(), testTenant, testUserToken); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := env.fake.JWKSRequestCount(); n != 1 {
		t.Errorf("20 concurrent first exchanges fetched the key set %d times, want 1", n)
	}
}

func TestHMACConfusionNeedsNoSecret(t *testing.T) {
	// Sanity check for the HS256 case above: the forged token is a valid
	// HMAC under the public key bytes, so only the alg check stops it.
	pub := x509.MarshalPKCS1PublicKey(&fakeSigningKey(t).PublicKey)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"a": 1})
	s, _ := tok.SignedString(pub)
	parts := strings.Split(s, ".")
	m := hmac.New(sha256.New, pub)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if base64.RawURLEncoding.EncodeToString(m.Sum(nil)) != parts[2] {
		t.Fatal("forged token is not a valid HMAC")
	}
}

// A login server whose clock is 3 minutes ahead issues tokens whose nbf is
// in the client's future; SuperOffice's own clients allow 5 minutes of skew,
// and so does the Client by default.
func TestLoginServerClockAheadWithinFiveMinutes(t *testing.T) {
	clientClock := newFakeClock()
	for _, ahead := range []time.Duration{3 * time.Minute, 7 * time.Minute} {
		serverClock := func() time.Time { return clientClock.Now().Add(ahead) }
		signer, _ := sysuser.NewSignerFromKey(appKey(t))
		fake, err := sysusertest.NewServer(sysusertest.Options{
			ApplicationToken: testAppToken, PublicKey: signer.Public(), SigningKey: fakeSigningKey(t),
			Clock: serverClock, MaxClockSkew: 10 * time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer fake.Close()
		fake.AddTenant(testTenant, testUserToken)
		client, err := sysuser.NewClient(sysuser.Config{LoginURL: fake.URL, ApplicationToken: testAppToken, Signer: signer, Clock: clientClock.Now})
		if err != nil {
			t.Fatal(err)
		}
		_, err = client.Exchange(context.Background(), testTenant, testUserToken)
		switch {
		case ahead < 5*time.Minute && err != nil:
			t.Errorf("server %s ahead: %v", ahead, err)
		case ahead > 5*time.Minute && !errors.Is(err, jwt.ErrTokenNotValidYet):
			t.Errorf("server %s ahead: err = %v, want not valid yet", ahead, err)
		}
	}
}
