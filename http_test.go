package sysuser_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/go-superoffice/sysuser"
)

// TestHugeResponseIsCapped serves 64 MiB and checks that the client stops
// early, in time and memory.
func TestHugeResponseIsCapped(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.String(), func(t *testing.T) {
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
		})
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
		t.Run(p.String(), func(t *testing.T) {
			c := mustClient(t, sysuser.Config{LoginURL: redirector.URL, ApplicationToken: testAppToken, Signer: mustSigner(t), Protocol: p})
			if _, err := c.Exchange(context.Background(), testTenant, testUserToken); !errors.Is(err, sysuser.ErrCrossHostRedirect) {
				t.Fatalf("%s: err = %v", p, err)
			}
		})
	}
	if hits != 0 {
		t.Fatalf("the other host received %d requests", hits)
	}
}
