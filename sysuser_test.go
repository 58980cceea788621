package sysuser_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

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

func TestCloseReleasesConnectionsAndTimers(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	settle := func() int {
		var n int
		for i := 0; i < 50; i++ {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
			n = runtime.NumGoroutine()
		}
		return n
	}
	before := settle()
	for i := 0; i < 5; i++ {
		c := mustClient(t, env.cfg) // the default HTTP client, made by the Client
		if _, err := c.Tenant(testTenant, testUserToken).Ticket(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Tenant(testTenant, testUserToken).Ticket(context.Background()); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Ticket after Close: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Fatal("second Close:", err)
		}
	}
	// The fake's own connection handlers end with the client's connections.
	if after := settle(); after > before+2 {
		t.Fatalf("%d goroutines before five Clients, %d after they were closed", before, after)
	}
}
