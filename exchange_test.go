package sysuser_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

func TestExchangeSOAPAndRESTGiveTheSameResult(t *testing.T) {
	clock := newFakeClock()
	var results []*sysuser.SystemUserResult
	for _, p := range protocols {
		for _, pinned := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s pinned=%v", p, pinned), func(t *testing.T) {
				env := newTestEnv(t, clock.Now, func(c *sysuser.Config) { c.Protocol = p })
				if pinned {
					cfg := env.cfg
					cfg.Certificate = env.fake.SigningCertificate()
					env.client = mustClient(t, cfg)
				}
				res, err := env.client.Exchange(context.Background(), testTenant, testUserToken)
				if err != nil {
					t.Fatalf("%s (pinned %v): %v", p, pinned, err)
				}
				if !strings.HasPrefix(res.Ticket, "7T:") || len(res.Ticket) < 20 {
					t.Errorf("%s: a ticket of %d bytes, not 7T:...", p, len(res.Ticket))
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
			})
		}
	}
	if t.Failed() {
		return
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

func TestExchangeRefusals(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.String(), func(t *testing.T) {
			clock := newFakeClock()
			env := newTestEnv(t, clock.Now, func(c *sysuser.Config) { c.Protocol = p })
			otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
			otherSigner, _ := sysuser.NewSigner(otherKey)
			env.fake.AddTenant("Cust999", "refused-token")
			env.fake.Refuse("Cust999", "The application is no longer approved (Revoked)")

			cases := []struct {
				name, tenant, token string
				cfg                 func(*sysuser.Config)
				want                string
			}{
				{name: "wrong application token", tenant: testTenant, token: testUserToken, cfg: func(c *sysuser.Config) { c.ApplicationToken = "wrong" }, want: sysusertest.MsgInvalidApplicationToken},
				{name: "wrong key", tenant: testTenant, token: testUserToken, cfg: func(c *sysuser.Config) { c.Signer = otherSigner }, want: sysusertest.MsgInvalidSignature},
				{name: "clock 10 minutes fast", tenant: testTenant, token: testUserToken, cfg: func(c *sysuser.Config) {
					c.Clock = func() time.Time { return clock.Now().Add(10 * time.Minute) }
				}, want: sysusertest.MsgInvalidTimestamp},
				{name: "unknown tenant", tenant: "Cust404", token: testUserToken, want: sysusertest.MsgUnknownSystemUserToken},
				{name: "wrong system user token", tenant: testTenant, token: "not-the-token", want: sysusertest.MsgUnknownSystemUserToken},
				{name: "tenant refuses", tenant: "Cust999", token: "refused-token", want: "The application is no longer approved (Revoked)"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					cfg := env.cfg
					if c.cfg != nil {
						c.cfg(&cfg)
					}
					client := mustClient(t, cfg)
					_, err := client.Exchange(context.Background(), c.tenant, c.token)
					var ae *sysuser.AuthenticationError
					if !errors.As(err, &ae) || ae.Message != c.want || ae.ContextIdentifier != c.tenant {
						t.Errorf("err = %v, want AuthenticationError %q", err, c.want)
						return
					}
					var he *sysuser.HTTPError
					if errors.Is(err, sysuser.ErrInvalidToken) || errors.As(err, &he) {
						t.Errorf("refusal also matches another error kind: %v", err)
					}
					if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), cfg.ApplicationToken) {
						t.Errorf("message %q", err)
					}
				})
			}
		})
	}
}

func TestExchangeHTTPErrorsAndFaults(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.String(), func(t *testing.T) {
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
		})
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
		t.Run(p.String(), func(t *testing.T) {
			c := mustClient(t, sysuser.Config{LoginURL: hang.URL, ApplicationToken: testAppToken, Signer: mustSigner(t), Protocol: p})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			_, err := c.Exchange(ctx, testTenant, testUserToken)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s: err = %v, want DeadlineExceeded", p, err)
			}
		})
	}

}

func TestExchangeRefusesBadArguments(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	for _, c := range []struct{ name, tenant, token string }{
		{name: "empty token", tenant: testTenant, token: ""},
		{name: "empty tenant", tenant: "", token: testUserToken},
		{name: "space in tenant", tenant: "Cust 1", token: testUserToken},
		{name: "line break in tenant", tenant: "Cust\n1", token: testUserToken},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := env.client.Exchange(context.Background(), c.tenant, c.token); !errors.Is(err, sysuser.ErrInvalidArgument) {
				t.Errorf("%q, %q: %v", c.tenant, c.token, err)
			}
		})
	}
	if n := env.fake.ExchangeCount(testTenant); n != 0 {
		t.Fatalf("bad arguments reached the server %d times", n)
	}
}
