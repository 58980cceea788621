package sysuser_test

import (
	"context"
	"sync"
	"testing"
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
	if n := env.fake.JWKSRequests(); n != 1 {
		t.Errorf("20 concurrent first exchanges fetched the key set %d times, want 1", n)
	}
}
