package sysuser_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

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
	env.fake.SetTokenFunc(func(claims map[string]any) string {
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
	env.fake.SetTokenFunc(func(claims map[string]any) string {
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
