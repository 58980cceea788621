package sysuser_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
)

// thief is a server that records whether it ever saw a credential.
type thief struct {
	*httptest.Server
	requests, credentials atomic.Int32
}

func newThief(t *testing.T) *thief {
	th := &thief{}
	th.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		th.requests.Add(1)
		if r.Header.Get("Authorization") != "" || r.Header.Get("SO-AppToken") != "" {
			th.credentials.Add(1)
		}
	}))
	t.Cleanup(th.Close)
	return th
}

func TestTransportSendsCredentialsOnlyToTheTenantsWebAPI(t *testing.T) {
	th := newThief(t)

	// The tenant's WebApi redirects one path to the thief.
	var webapiCredentials atomic.Int32
	webapi := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" && r.Header.Get("SO-AppToken") == testAppToken {
			webapiCredentials.Add(1)
		}
		if r.URL.Path == "/Cust12345/api/v1/away" {
			http.Redirect(w, r, th.URL+"/collect", http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(webapi.Close)

	env := newTestEnv(t, nil, nil)
	env.fake.SetTokenFunc(func(claims map[string]any) (string, error) {
		claims["http://schemes.superoffice.net/identity/webapi_url"] = webapi.URL + "/Cust12345/api/"
		return env.fake.Sign(claims)
	})
	hc := env.client.Tenant(testTenant, testUserToken).HTTPClient()

	// To the tenant's WebApi: credentials sent.
	resp, err := hc.Get(webapi.URL + "/Cust12345/api/v1/Contact/2")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("request to the tenant's WebApi: %v %v", resp, err)
	}
	resp.Body.Close()
	if webapiCredentials.Load() != 1 {
		t.Fatal("the tenant's WebApi did not get the credentials")
	}

	// A caller's URL mistake: another host, or the right host on another
	// port or scheme. Nothing is sent.
	for _, u := range []string{
		th.URL + "/Cust12345/api/v1/Contact/2",
		"https://" + webapi.Listener.Addr().String() + "/Cust12345/api/v1/Contact/2",
	} {
		_, err := hc.Get(u)
		if !errors.Is(err, sysuser.ErrNotWebAPI) {
			t.Errorf("GET %s: err = %v, want ErrNotWebAPI", u, err)
		}
	}

	// A redirect away from the WebApi is not followed with credentials.
	_, err = hc.Get(webapi.URL + "/Cust12345/api/v1/away")
	if !errors.Is(err, sysuser.ErrNotWebAPI) {
		t.Errorf("redirect to another origin: err = %v, want ErrNotWebAPI", err)
	}
	if th.requests.Load() != 0 || th.credentials.Load() != 0 {
		t.Fatalf("the thief received %d requests, %d with credentials", th.requests.Load(), th.credentials.Load())
	}
	if hc.Timeout == 0 {
		t.Fatal("WebAPIClient has no overall timeout")
	}
}

func TestTransportRefusesAPlainHTTPWebAPIURLOffLoopback(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	env.fake.SetTokenFunc(func(claims map[string]any) (string, error) {
		claims["http://schemes.superoffice.net/identity/webapi_url"] = "http://sod.superoffice.com/Cust12345/api/"
		return env.fake.Sign(claims)
	})
	req, _ := http.NewRequest(http.MethodGet, "http://sod.superoffice.com/Cust12345/api/v1/Contact/2", nil)
	_, err := env.client.Tenant(testTenant, testUserToken).Transport(roundTripFunc(func(*http.Request) (*http.Response, error) {
		t.Fatal("a request was sent to a plain-http WebApi")
		return nil, nil
	})).RoundTrip(req)
	if !errors.Is(err, sysuser.ErrNotWebAPI) {
		t.Fatalf("err = %v, want ErrNotWebAPI", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransportFollowsAMoveInTheMiddleOfTraffic(t *testing.T) {
	w := newWorld(t, nil)
	tenant := w.client.Tenant(testTenant, testUserToken)
	hc := tenant.HTTPClient()
	cached, err := tenant.WebAPIURL(context.Background()) // an application keeps its base
	if err != nil || cached != w.base(0) {
		t.Fatalf("WebAPIURL = %q, %v; want %q", cached, err, w.base(0))
	}
	var wg sync.WaitGroup
	var failed atomic.Int32
	start := make(chan struct{})
	for g := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range 10 {
				if g == 0 && i == 3 {
					w.move(1) // SuperOffice rebalances mid-traffic
				}
				body := fmt.Sprintf("g%d-%d", g, i)
				resp, err := hc.Post(cached+"v1/Contact?x=1", "text/plain", strings.NewReader(body))
				if err != nil {
					failed.Add(1)
					t.Errorf("request: %v", err)
					continue
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.HasSuffix(string(got), " POST /Cust12345/api/v1/Contact?x=1 "+body) {
					failed.Add(1)
					t.Errorf("answer %d %q", resp.StatusCode, got)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of 1000 requests failed", failed.Load())
	}
	if n := w.lookups.Load(); n != 1 {
		t.Fatalf("%d state lookups for one move, want 1", n)
	}
	if w.served.Load() != 1000 {
		t.Fatalf("hosts served %d requests, want 1000", w.served.Load())
	}
	// After the move the handle hands out the new base; the kept base still
	// works and goes straight to the new host.
	if now, _ := tenant.WebAPIURL(context.Background()); now != w.base(1) {
		t.Fatalf("WebAPIURL after the move = %q, want %q", now, w.base(1))
	}
	before := w.calls[0].Load()
	resp, err := hc.Get(cached + "v1/Contact/2")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("kept base: %v %v", resp, err)
	}
	resp.Body.Close()
	if w.calls[0].Load() != before {
		t.Fatal("a request on the kept base went to the old host again")
	}
	if n := w.env.fake.ExchangeCount(testTenant); n != 1 {
		t.Fatalf("%d exchanges, want 1 (a move keeps the ticket)", n)
	}
}

func TestTransport421Edges(t *testing.T) {
	t.Run("a body that cannot be replayed gets the 421, the next request the new host", func(t *testing.T) {
		w := newWorld(t, nil)
		tenant := w.client.Tenant(testTenant, testUserToken)
		hc := tenant.HTTPClient()
		if _, err := tenant.Ticket(context.Background()); err != nil {
			t.Fatal(err)
		}
		w.move(1)
		req, _ := http.NewRequest("POST", w.base(0)+"v1/Contact", io.NopCloser(strings.NewReader("once")))
		resp, err := hc.Do(req)
		if err != nil || resp.StatusCode != http.StatusMisdirectedRequest {
			t.Fatalf("unreplayable body: %v %v, want the 421", resp, err)
		}
		resp.Body.Close()
		resp, err = hc.Get(w.base(0) + "v1/Contact/2")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("next request: %v %v", resp, err)
		}
		resp.Body.Close()
		if w.lookups.Load() != 1 || w.calls[0].Load() != 1 {
			t.Fatalf("%d lookups and %d requests to the old host, want 1 and 1", w.lookups.Load(), w.calls[0].Load())
		}
	})
	t.Run("a 421 where the state names no other host is an error", func(t *testing.T) {
		w := newWorld(t, nil)
		hc := w.client.Tenant(testTenant, testUserToken).HTTPClient()
		// Host 0 refuses, but the state API still names host 0.
		w.hosts[0].Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			http.Error(rw, "Wrong subdomain used to access tenant", http.StatusMisdirectedRequest)
		})
		_, err := hc.Get(w.base(0) + "v1/Contact/2")
		if !errors.Is(err, sysuser.ErrNotWebAPI) || !strings.Contains(err.Error(), "421") || !strings.Contains(err.Error(), "names no other host") {
			t.Fatalf("err = %v, want ErrNotWebAPI saying the state names no other host", err)
		}
	})
	t.Run("a 421 from a tenant that stopped running", func(t *testing.T) {
		w := newWorld(t, nil)
		hc := w.client.Tenant(testTenant, testUserToken).HTTPClient()
		if resp, err := hc.Get(w.base(0) + "v1/Contact/2"); err != nil {
			t.Fatal(err)
		} else {
			resp.Body.Close()
		}
		w.move(1)
		w.setState("MigrationPending", false, time.Now().Add(time.Hour))
		_, err := hc.Get(w.base(0) + "v1/Contact/2")
		if !errors.Is(err, sysuser.ErrTenantNotRunning) {
			t.Fatalf("err = %v, want ErrTenantNotRunning", err)
		}
	})
	t.Run("credentials never go to a host the state did not name", func(t *testing.T) {
		w := newWorld(t, nil)
		th := newThief(t)
		hc := w.client.Tenant(testTenant, testUserToken).HTTPClient()
		w.move(1)
		for _, u := range []string{th.URL + "/Cust12345/api/v1/Contact/2", w.base(0) + "v1/Contact/2", th.URL + "/x"} {
			if resp, err := hc.Get(u); err == nil {
				resp.Body.Close()
			}
		}
		if th.requests.Load() != 0 {
			t.Fatalf("the thief got %d requests", th.requests.Load())
		}
	})
	t.Run("a state lookup that fails leaves the 421", func(t *testing.T) {
		w := newWorld(t, nil)
		hc := w.client.Tenant(testTenant, testUserToken).HTTPClient()
		if resp, err := hc.Get(w.base(0) + "v1/Contact/2"); err == nil {
			resp.Body.Close()
		}
		w.move(1)
		w.mu.Lock()
		w.stateCode = http.StatusInternalServerError
		w.mu.Unlock()
		resp, err := hc.Get(w.base(0) + "v1/Contact/2")
		if err != nil || resp.StatusCode != http.StatusMisdirectedRequest {
			t.Fatalf("%v %v, want the 421", resp, err)
		}
		resp.Body.Close()
	})
}

func TestTransport503ConsultsTheState(t *testing.T) {
	w := newWorld(t, nil)
	hc := w.client.Tenant(testTenant, testUserToken).HTTPClient()
	if resp, err := hc.Get(w.base(0) + "v1/Contact/2"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	lookups := w.lookups.Load()
	// A 503 from a running tenant is handed back as it is.
	w.hosts[0].Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		http.Error(rw, "busy", http.StatusServiceUnavailable)
	})
	resp, err := hc.Get(w.base(0) + "v1/Contact/2")
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%v %v, want the 503", resp, err)
	}
	resp.Body.Close()
	if w.lookups.Load() != lookups+1 {
		t.Fatalf("%d lookups after a 503, want one more", w.lookups.Load())
	}
	// Suspended, in a world where nothing was looked up yet: the caller
	// learns it, and later calls do not reach the WebApi.
	w = newWorld(t, nil)
	hc = w.client.Tenant(testTenant, testUserToken).HTTPClient()
	if resp, err := hc.Get(w.base(0) + "v1/Contact/2"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	w.setState("Suspended", false, time.Now().Add(time.Hour))
	for range 3 {
		_, err = hc.Get(w.base(0) + "v1/Contact/2")
		var nr *sysuser.TenantNotRunningError
		if !errors.As(err, &nr) || nr.Status.State != "Suspended" {
			t.Fatalf("err = %v, want a TenantNotRunningError", err)
		}
	}
	if w.calls[0].Load() != 2 || w.lookups.Load() != 1 {
		t.Fatalf("%d WebApi calls and %d lookups, want 2 and 1", w.calls[0].Load(), w.lookups.Load())
	}
}

func TestTransportFollowsTheFakesMove(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	defer env.client.Close()
	tenant := env.client.Tenant(testTenant, testUserToken)
	hc := tenant.HTTPClient()
	old, err := tenant.WebAPIURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	moved, err := env.fake.MoveTenant(testTenant)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		resp, err := hc.Get(old + "v1/Contact/2")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("after the move: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	if now, _ := tenant.WebAPIURL(context.Background()); now != moved {
		t.Fatalf("WebAPIURL = %q, want %q", now, moved)
	}
	if l, m := env.fake.StateLookupCount(testTenant), env.fake.MisdirectedRequestCount(testTenant); l != 1 || m != 1 {
		t.Fatalf("%d state lookups and %d 421s, want 1 and 1", l, m)
	}

	// Suspended in the fake (in a world with no state looked up in the last
	// 10 s, which a 503 would trust): the transport says so.
	env = newTestEnv(t, nil, nil)
	defer env.client.Close()
	tenant = env.client.Tenant(testTenant, testUserToken)
	base, err := tenant.WebAPIURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := env.fake.SetState(testTenant, "Suspended", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.HTTPClient().Get(base + "v1/Contact/2"); !errors.Is(err, sysuser.ErrTenantNotRunning) {
		t.Fatalf("suspended: %v", err)
	}
}

func TestTransportAddsCredentialsAndRetriesOnceAfter401(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	hc := env.client.Tenant(testTenant, testUserToken).HTTPClient()
	url := env.fake.WebAPIURL(testTenant) + "v1/Contact/2"

	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer caller-set")
	resp, err := hc.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	if req.Header.Get("Authorization") != "Bearer caller-set" || req.Header.Get("SO-AppToken") != "" {
		t.Fatal("the caller's request was modified")
	}
	t1 := mustTicket(t, env.client, testTenant)

	// SuperOffice stops accepting the ticket: a burst of requests sees 401,
	// the ticket is invalidated once and each request is retried once.
	env.fake.RevokeTicket(t1)
	calls := env.fake.WebAPICallCount(testTenant)
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"x":1}`)) // GetBody is set
			resp, err := hc.Do(r)
			if err == nil {
				if resp.StatusCode == 200 {
					ok.Add(1)
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 20 {
		t.Fatalf("%d of 20 requests succeeded after the 401", ok.Load())
	}
	if n := env.fake.ExchangeCount(testTenant); n != 2 {
		t.Fatalf("a burst of 401s caused %d exchanges in all, want 2", n)
	}
	if got := env.fake.WebAPICallCount(testTenant) - calls; got > 40 || got < 21 {
		t.Fatalf("%d WebApi calls for 20 requests; each may be retried once at most", got)
	}
	if mustTicket(t, env.client, testTenant) == t1 {
		t.Fatal("revoked ticket still cached")
	}

	// A body that cannot be replayed: the 401 comes back, nothing retried.
	env.fake.RevokeTicket(mustTicket(t, env.client, testTenant))
	body := &trackedBody{Reader: strings.NewReader("data")}
	r, _ := http.NewRequest(http.MethodPost, url, body)
	r.GetBody = nil
	before := env.fake.WebAPICallCount(testTenant)
	resp, err = hc.Do(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unreplayable body: %v %v", resp, err)
	}
	resp.Body.Close()
	if env.fake.WebAPICallCount(testTenant)-before != 1 || !body.closed.Load() {
		t.Fatal("unreplayable request was retried or its body not closed")
	}
}

type trackedBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackedBody) Close() error { b.closed.Store(true); return nil }

func TestTransportClosesBodyWhenNoTicket(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	env.fake.Refuse(testTenant, "Revoked")
	body := &trackedBody{Reader: strings.NewReader("data")}
	req, _ := http.NewRequest(http.MethodPost, env.fake.WebAPIURL(testTenant)+"v1/Contact", body)
	_, err := env.client.Tenant(testTenant, testUserToken).Transport(nil).RoundTrip(req)
	var ae *sysuser.AuthenticationError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v", err)
	}
	if !body.closed.Load() {
		t.Fatal("request body not closed on the error path")
	}
	if env.fake.WebAPICallCount(testTenant) != 0 {
		t.Fatal("request sent without a ticket")
	}
}
