package sysuser_test

import (
	"context"
	"errors"
	"testing"

	"github.com/go-superoffice/sysuser"
)

func TestInvalidateIsCompareAndSwap(t *testing.T) {
	clock := newFakeClock()
	env := newTestEnv(t, clock.Now, nil)
	t1 := mustTicket(t, env.client, testTenant)
	if env.client.Tenant(testTenant, testUserToken).Invalidate(context.Background(), "7T:some-other-ticket") {
		t.Fatal("invalidated with the wrong ticket")
	}
	if mustTicket(t, env.client, testTenant) != t1 {
		t.Fatal("wrong-ticket Invalidate dropped the ticket")
	}
	if !env.client.Tenant(testTenant, testUserToken).Invalidate(context.Background(), t1) {
		t.Fatal("Invalidate with the current ticket did nothing")
	}
	t2 := mustTicket(t, env.client, testTenant)
	if t2 == t1 || env.fake.ExchangeCount(testTenant) != 2 {
		t.Fatal("no new exchange after Invalidate")
	}
	if env.client.Tenant(testTenant, testUserToken).Invalidate(context.Background(), t1) {
		t.Fatal("a stale ticket invalidated its replacement")
	}
	if mustTicket(t, env.client, testTenant) != t2 {
		t.Fatal("ticket changed")
	}
}

func TestTicketRefusesBadArgumentsWithoutState(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	for _, c := range []struct{ name, tenant, token string }{
		{name: "empty token", tenant: testTenant, token: ""},
		{name: "empty tenant", tenant: "", token: testUserToken},
		{name: "space in tenant", tenant: "Cust 1", token: testUserToken},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := env.client.Tenant(c.tenant, c.token).Ticket(context.Background()); !errors.Is(err, sysuser.ErrInvalidArgument) {
				t.Errorf("%q, %q: %v", c.tenant, c.token, err)
			}
		})
	}
	if env.fake.ExchangeCount(testTenant) != 0 || sysuser.TenantCount(env.client) != 0 {
		t.Fatal("bad arguments reached the service or the store")
	}
	u, err := env.client.Tenant(testTenant, testUserToken).WebAPIURL(context.Background())
	if err != nil || u != env.fake.WebAPIURL(testTenant) {
		t.Fatalf("WebAPIURL = %q, %v", u, err)
	}
}

func TestReapprovalNewestTokenWins(t *testing.T) {
	ctx := context.Background()
	t.Run("a kept handle renews with the new token", func(t *testing.T) {
		env := newTestEnv(t, nil, nil)
		defer env.client.Close()
		old := env.client.Tenant(testTenant, testUserToken)
		res, err := old.Ticket(ctx)
		if err != nil {
			t.Fatal(err)
		}
		env.fake.AddTenant(testTenant, "re-approved-token") // the administrator approved again
		fresh := env.client.Tenant(testTenant, "re-approved-token")
		old.Invalidate(ctx, res.Ticket)
		if _, err := old.Ticket(ctx); err != nil {
			t.Fatalf("old handle after re-approval: %v", err)
		}
		if _, err := fresh.Ticket(ctx); err != nil {
			t.Fatalf("new handle: %v", err)
		}
		if n := env.fake.ExchangeCount(testTenant); n != 2 {
			t.Fatalf("%d exchanges, want 2", n)
		}
	})
	t.Run("a refusal the old token earned is not served to the new one", func(t *testing.T) {
		env := newTestEnv(t, nil, nil)
		defer env.client.Close()
		env.fake.AddTenant(testTenant, "re-approved-token")
		old := env.client.Tenant(testTenant, testUserToken)
		var ae *sysuser.AuthenticationError
		if _, err := old.Ticket(ctx); !errors.As(err, &ae) {
			t.Fatalf("old token: %v, want a refusal", err)
		}
		fresh := env.client.Tenant(testTenant, "re-approved-token")
		if _, err := fresh.Ticket(ctx); err != nil {
			t.Fatalf("new token after the old one's refusal: %v", err)
		}
		if n := env.fake.ExchangeCount(testTenant); n != 2 {
			t.Fatalf("%d exchanges, want 2", n)
		}
	})
	t.Run("the same token again keeps the refusal", func(t *testing.T) {
		env := newTestEnv(t, nil, nil)
		defer env.client.Close()
		env.fake.Refuse(testTenant, "no")
		env.client.Tenant(testTenant, testUserToken).Ticket(ctx)
		env.client.Tenant(testTenant, testUserToken).Ticket(ctx)
		if n := env.fake.ExchangeCount(testTenant); n != 1 {
			t.Fatalf("%d exchanges, want 1", n)
		}
	})
}
