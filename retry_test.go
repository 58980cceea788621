package sysuser_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
)

// faulty answers the first len(faults) exchange requests with the given
// fault, then forwards to the fake. It records when each request came.
type faulty struct {
	mu     sync.Mutex
	faults []func(w http.ResponseWriter)
	times  []time.Time
}

func (f *faulty) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.times)
}

func startFaulty(t *testing.T, env *testEnv, faults ...func(w http.ResponseWriter)) (*faulty, string) {
	f := &faulty{faults: faults}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			forward(t, w, r, env.fake.Root)
			return
		}
		f.mu.Lock()
		n := len(f.times)
		f.times = append(f.times, time.Now())
		f.mu.Unlock()
		if n < len(f.faults) {
			f.faults[n](w)
			return
		}
		forward(t, w, r, env.fake.Root)
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL + "/login"
}

func status(code int, header ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
	}
}

func TestRetriesTransientFailures(t *testing.T) {
	cases := []struct {
		name     string
		faults   []func(http.ResponseWriter)
		requests int
		ok       bool
		status   int
	}{
		{name: "503 then success", faults: []func(http.ResponseWriter){status(503), status(503)}, requests: 3, ok: true},
		{name: "502 and 504", faults: []func(http.ResponseWriter){status(502), status(504)}, requests: 3, ok: true},
		{name: "three 503s exhaust the attempts", faults: []func(http.ResponseWriter){status(503), status(503), status(503)}, requests: 3, ok: false, status: 503},
		{name: "429 with a short Retry-After", faults: []func(http.ResponseWriter){status(429, "Retry-After", "0")}, requests: 2, ok: true},
		{name: "429 with a long Retry-After is not waited out", faults: []func(http.ResponseWriter){status(429, "Retry-After", "120")}, requests: 1, ok: false, status: 429},
		{name: "429 with a Retry-After that overflows a Duration is not waited out", faults: []func(http.ResponseWriter){status(429, "Retry-After", "9223372037")}, requests: 1, ok: false, status: 429},
		{name: "503 with a Retry-After beyond int64 is not waited out", faults: []func(http.ResponseWriter){status(503, "Retry-After", "99999999999999999999")}, requests: 1, ok: false, status: 503},
		{name: "503 with a Retry-After date in year 9999 is not waited out", faults: []func(http.ResponseWriter){status(503, "Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT")}, requests: 1, ok: false, status: 503},
		{name: "500 is final", faults: []func(http.ResponseWriter){status(500)}, requests: 1, ok: false, status: 500},
		{name: "400 is final", faults: []func(http.ResponseWriter){status(400)}, requests: 1, ok: false, status: 400},
		{name: "401 is final", faults: []func(http.ResponseWriter){status(401)}, requests: 1, ok: false, status: 401},
	}
	for _, p := range protocols {
		for _, c := range cases {
			t.Run(p.String()+"/"+c.name, func(t *testing.T) {
				env := newTestEnv(t, nil, nil)
				f, login := startFaulty(t, env, c.faults...)
				cfg := env.cfg
				cfg.LoginURL, cfg.Protocol, cfg.RetryDelay = login, p, 5*time.Millisecond
				_, err := mustClient(t, cfg).Exchange(context.Background(), testTenant, testUserToken)
				if got := f.requests(); got != c.requests {
					t.Errorf("%d requests, want %d", got, c.requests)
				}
				if c.ok {
					if err != nil {
						t.Fatalf("err = %v", err)
					}
					return
				}
				var he *sysuser.HTTPError
				if !errors.As(err, &he) || he.StatusCode != c.status {
					t.Fatalf("err = %v, want HTTP %d", err, c.status)
				}
			})
		}
	}
}

func TestRetryAfterSecondsIsHonoured(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	f, login := startFaulty(t, env, status(503, "Retry-After", "1"))
	cfg := env.cfg
	cfg.LoginURL, cfg.RetryDelay = login, time.Millisecond
	if _, err := mustClient(t, cfg).Exchange(context.Background(), testTenant, testUserToken); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if gap := f.times[1].Sub(f.times[0]); gap < time.Second {
		t.Fatalf("second attempt %s after the first, before Retry-After: 1", gap)
	}
}

func TestRefusalsAndInvalidTokensAreNotRetried(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	f, login := startFaulty(t, env)
	cfg := env.cfg
	cfg.LoginURL, cfg.RetryDelay = login, time.Millisecond
	c := mustClient(t, cfg)
	env.fake.Refuse(testTenant, "Denied")
	if _, err := c.Exchange(context.Background(), testTenant, testUserToken); err == nil {
		t.Fatal("refusal succeeded")
	}
	env.fake.Refuse(testTenant, "")
	env.fake.SetTokenFunc(func(claims map[string]any) (string, error) { claims["iss"] = "x"; return env.fake.Sign(claims) })
	if _, err := c.Exchange(context.Background(), testTenant, testUserToken); !errors.Is(err, sysuser.ErrInvalidToken) {
		t.Fatal(err)
	}
	if n := f.requests(); n != 2 {
		t.Fatalf("%d requests for a refusal and an invalid token, want 2", n)
	}
}

// TestRetriesConnectionFailures: a listener that accepts and resets, and a
// port nobody listens on.
func TestRetriesConnectionFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepts atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			io.ReadAll(io.LimitReader(conn, 1)) // wait for the request to start
			conn.(*net.TCPConn).SetLinger(0)    // close with RST
			conn.Close()
		}
	}()
	c := mustClient(t, sysuser.Config{LoginURL: "http://" + ln.Addr().String() + "/login", ApplicationToken: testAppToken,
		Signer: mustSigner(t), RetryDelay: time.Millisecond, MaxAttempts: 4})
	_, err = c.Exchange(context.Background(), testTenant, testUserToken)
	if !errors.Is(err, syscall.ECONNRESET) || accepts.Load() != 4 {
		t.Fatalf("reset: %d connections for 4 attempts, err %v", accepts.Load(), err)
	}

	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := closed.Addr().String()
	closed.Close()
	var dials atomic.Int32
	dialer := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		dials.Add(1)
		return dialer.DialContext(ctx, network, a)
	}}}
	c = mustClient(t, sysuser.Config{LoginURL: "http://" + addr + "/login", ApplicationToken: testAppToken, Signer: mustSigner(t),
		RetryDelay: time.Millisecond, HTTPClient: hc})
	_, err = c.Exchange(context.Background(), testTenant, testUserToken)
	if !errors.Is(err, syscall.ECONNREFUSED) || dials.Load() != 3 {
		t.Fatalf("refused: %d dials, err %v", dials.Load(), err)
	}
}

func TestRetriesTimeoutsWithinTheCallersContext(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	slow := func(w http.ResponseWriter) { time.Sleep(300 * time.Millisecond) }
	f, login := startFaulty(t, env, slow, slow)
	cfg := env.cfg
	cfg.LoginURL, cfg.RetryDelay = login, time.Millisecond
	cfg.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond}
	if _, err := mustClient(t, cfg).Exchange(context.Background(), testTenant, testUserToken); err != nil {
		t.Fatalf("after two timeouts: %v", err)
	}
	if n := f.requests(); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}

	// The caller's deadline ends the retries, and is what the error says.
	f2, login2 := startFaulty(t, env, status(503), status(503), status(503))
	cfg.LoginURL, cfg.RetryDelay, cfg.HTTPClient = login2, time.Minute, nil
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := mustClient(t, cfg).Exchange(ctx, testTenant, testUserToken)
	var he *sysuser.HTTPError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &he) || f2.requests() != 1 {
		t.Fatalf("err = %v after %d requests; want DeadlineExceeded and the 503", err, f2.requests())
	}
}

// A body that stalls after the headers is not retried (the server may
// have made a credentials record), and the exchange ends at its timeout.
func TestStalledBodyIsNotRetried(t *testing.T) {
	var attempts atomic.Int32
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "<s:Envelope")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	env := newTestEnv(t, nil, func(c *sysuser.Config) { c.ExchangeTimeout = 300 * time.Millisecond })
	c := mustClient(t, withLogin(env.cfg, srv.URL+"/login"))
	start := time.Now()
	_, err := c.Exchange(context.Background(), testTenant, testUserToken) // no deadline of its own
	if err == nil {
		t.Fatal("a stalled answer succeeded")
	}
	if n := attempts.Load(); n != 1 {
		t.Fatalf("%d attempts, want 1: a read that began is not retried", n)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Exchange returned after %s with ExchangeTimeout 300ms", d)
	}
}
