package sysuser_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/go-superoffice/sysuser"
)

// A service that exchanges and onboards against one SuperOffice fetches its
// key set once: the Client, the ApprovalVerifier and the Onboarding built on
// it share one cache.
func TestKeySetSharedByClientVerifierAndOnboarding(t *testing.T) {
	f := newCodeFlow(t, false) // its Client and verifier: the real clock, the default HTTP client
	if _, err := f.env.client.Exchange(context.Background(), testTenant, testUserToken); err != nil {
		t.Fatal(err)
	}
	authorize, cookies := f.start(t)
	cb, err := f.env.fake.Authorize(authorize, true, testTenant)
	if err != nil {
		t.Fatal(err)
	}
	if code := f.callback(t, cb, cookies); code != http.StatusOK {
		t.Fatalf("callback answered %d: %v", code, f.lastFailure())
	}
	idToken, err := f.env.fake.Approve(testTenant, testClientID, "n-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier.Verify(context.Background(), idToken, "n-1"); err != nil {
		t.Fatal(err)
	}
	if n := f.env.fake.JWKSRequests(); n != 1 {
		t.Fatalf("an exchange, an onboarding and a verification fetched the key set %d times, want 1", n)
	}
}

// Only users of the same HTTP client share a key set: another client may
// reach SuperOffice another way (a proxy, other TLS roots).
func TestKeySetSharedPerHTTPClient(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	t.Cleanup(func() { env.client.Close() })
	mine, theirs := &http.Client{}, &http.Client{}
	var open []*sysuser.Client // all stay open until the end
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	exchange := func(t *testing.T, hc *http.Client) {
		t.Helper()
		cfg := env.cfg
		cfg.HTTPClient = hc
		c := mustClient(t, cfg)
		open = append(open, c)
		if _, err := c.Exchange(context.Background(), testTenant, testUserToken); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		client *http.Client
		want   int
	}{
		{name: "first user of a client", client: mine, want: 1},
		{name: "same client", client: mine, want: 1},
		{name: "another client", client: theirs, want: 2},
		{name: "the default client", client: nil, want: 3},
		{name: "the default client again", client: nil, want: 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			exchange(t, c.client)
			if n := env.fake.JWKSRequests(); n != c.want {
				t.Fatalf("%d key set fetches, want %d", n, c.want)
			}
		})
	}
}

// A key set lives while one of its users is open: one user's Close leaves
// it to the others, and the last Close drops it, so a later user fetches
// anew.
func TestKeySetReleasedByClose(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	env.client.Close() // not a user here
	verify := func(v *sysuser.ApprovalVerifier) {
		t.Helper()
		idToken, err := env.fake.Approve(testTenant, testClientID, "n")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), idToken, "n"); err != nil {
			t.Fatal(err)
		}
	}
	exchange := func(c *sysuser.Client) {
		t.Helper()
		if _, err := c.Exchange(context.Background(), testTenant, testUserToken); err != nil {
			t.Fatal(err)
		}
	}
	newClient := func() *sysuser.Client {
		c, err := sysuser.NewClient(env.cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	wantFetches := func(want int) {
		t.Helper()
		if n := env.fake.JWKSRequests(); n != want {
			t.Fatalf("%d key set fetches, want %d", n, want)
		}
	}

	sets := sysuser.KeySetCount() // those of other tests' open Clients
	a := newClient()
	v, err := sysuser.NewApprovalVerifier(sysuser.ApprovalConfig{LoginURL: env.fake.URL, ClientID: testClientID})
	if err != nil {
		t.Fatal(err)
	}
	exchange(a)
	wantFetches(1)
	a.Close()
	verify(v) // the verifier still holds the set a fetched
	wantFetches(1)
	b := newClient()
	exchange(b)
	wantFetches(1)
	if n := sysuser.KeySetCount(); n != sets+1 {
		t.Fatalf("%d key sets with a Client and a verifier of one SuperOffice open, want %d", n, sets+1)
	}
	v.Close()
	b.Close()
	v.Close() // a second Close releases nothing more
	if n := sysuser.KeySetCount(); n != sets {
		t.Fatalf("%d key sets after every user closed, want %d", n, sets)
	}

	c := newClient() // every user closed: the set was dropped
	defer c.Close()
	exchange(c)
	wantFetches(2)
}

// With a Clock, a Client keeps a key set of its own: its refetch interval
// runs on that clock, which others do not share.
func TestKeySetNotSharedWithAClock(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	t.Cleanup(func() { env.client.Close() })
	exchanges := 0
	for range 2 {
		c := mustClient(t, env.cfg)
		t.Cleanup(func() { c.Close() })
		if _, err := c.Exchange(context.Background(), testTenant, testUserToken); err != nil {
			t.Fatal(err)
		}
		exchanges++
	}
	if n := env.fake.JWKSRequests(); n != exchanges {
		t.Fatalf("%d key set fetches for %d Clients with a Clock, want one each", n, exchanges)
	}
}
