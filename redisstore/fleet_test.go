package redisstore_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/redisstore"
	"github.com/go-superoffice/sysuser/sysusertest"
	"github.com/redis/go-redis/v9"
)

// Environment of a worker process (TestWorkerProcess).
const (
	envWorker          = "REDISSTORE_TEST_WORKER" // "1" in a worker
	envLoginURL        = "REDISSTORE_TEST_LOGIN_URL"
	envAppToken        = "REDISSTORE_TEST_APP_TOKEN"
	envKeyFile         = "REDISSTORE_TEST_KEY_FILE"
	envRedis           = "REDISSTORE_TEST_REDIS"
	envTenant          = "REDISSTORE_TEST_TENANT"
	envToken           = "REDISSTORE_TEST_TOKEN"
	envGoroutines      = "REDISSTORE_TEST_GOROUTINES"
	envExchangeTimeout = "REDISSTORE_TEST_EXCHANGE_TIMEOUT"
)

// TestWorkerProcess is one replica of the multi-process tests, which run
// the test binary again with envWorker set. It makes a Client on the Redis
// store, says "ready", waits for "go" on stdin, asks for the tenant's
// ticket from many goroutines at once, and prints what they got: ticket
// fingerprints, never tickets.
func TestWorkerProcess(t *testing.T) {
	if os.Getenv(envWorker) != "1" {
		t.Skip("a replica the multi-process tests start; it runs only there")
	}
	key, err := os.ReadFile(os.Getenv(envKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	goroutines, _ := strconv.Atoi(os.Getenv(envGoroutines))
	exchangeTimeout, _ := time.ParseDuration(os.Getenv(envExchangeTimeout))
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv(envRedis), DialTimeout: time.Second,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond, ContextTimeoutEnabled: true})
	defer rdb.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store, err := redisstore.New(rdb, redisstore.Options{Keys: []redisstore.Key{testKey("k1")}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	client, err := sysuser.NewClient(sysuser.Config{
		LoginURL:         os.Getenv(envLoginURL),
		ApplicationToken: os.Getenv(envAppToken),
		PrivateKey:       key,
		Store:            store,
		ExchangeTimeout:  exchangeTimeout,
		Logger:           log,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	tenant := client.Tenant(os.Getenv(envTenant), os.Getenv(envToken))
	fmt.Println("WORKER ready")
	if line, _ := bufio.NewReader(os.Stdin).ReadString('\n'); strings.TrimSpace(line) != "go" {
		t.Fatalf("got %q on stdin, want go", line)
	}
	var wg sync.WaitGroup
	results := make([]string, goroutines)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := tenant.Ticket(ctx)
			if err != nil {
				results[i] = "error: " + err.Error()
			} else {
				results[i] = "ticket " + fingerprint(res.Ticket)
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		fmt.Println("WORKER " + r)
	}
	fmt.Println("WORKER done")
}

// worker is a running TestWorkerProcess.
type worker struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stdout lines starting with "WORKER "
	stderr *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fleet is what the workers share: the fake (behind login), the key file
// and Redis.
type fleet struct {
	fake    *sysusertest.Server
	login   string
	keyFile string
	redis   *redisServer
}

func newFleet(t *testing.T) *fleet {
	requireRedis(t)
	_, keyPEM, _ := testKeys(t)
	keyFile := filepath.Join(t.TempDir(), "app-key.pem")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	fake := newFake(t, nil)
	return &fleet{fake: fake, login: fake.URL, keyFile: keyFile, redis: startRedis(t)}
}

// start runs a worker process with that many goroutines and waits until it
// is ready.
func (f *fleet) start(t *testing.T, goroutines int, exchangeTimeout time.Duration) *worker {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWorkerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envWorker+"=1",
		envLoginURL+"="+f.login,
		envAppToken+"="+testAppToken,
		envKeyFile+"="+f.keyFile,
		envRedis+"="+f.redis.Addr(),
		envTenant+"="+testTenant,
		envToken+"="+testToken,
		envGoroutines+"="+strconv.Itoa(goroutines),
		envExchangeTimeout+"="+exchangeTimeout.String(),
	)
	w := &worker{cmd: cmd, lines: make(chan string, goroutines+10), stderr: &lockedBuffer{}}
	cmd.Stderr = w.stderr
	var err error
	if w.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(w.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if l, ok := strings.CutPrefix(sc.Text(), "WORKER "); ok {
				w.lines <- l
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("worker %d stderr:\n%s", cmd.Process.Pid, w.stderr.String())
		}
	})
	if l := w.next(t, 30*time.Second); l != "ready" {
		t.Fatalf("the worker said %q, want ready", l)
	}
	return w
}

// next returns the worker's next line.
func (w *worker) next(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-w.lines:
		if !ok {
			t.Fatalf("the worker exited; its stderr:\n%s", w.stderr.String())
		}
		return l
	case <-time.After(timeout):
		t.Fatalf("the worker said nothing for %v; its stderr:\n%s", timeout, w.stderr.String())
	}
	return ""
}

func (w *worker) goAhead(t *testing.T) {
	if _, err := io.WriteString(w.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
}

// results reads the worker's results up to "done": ticket fingerprints
// and errors.
func (w *worker) results(t *testing.T, timeout time.Duration) (tickets map[string]int, errs []string) {
	t.Helper()
	tickets = map[string]int{}
	for {
		l := w.next(t, timeout)
		switch {
		case l == "done":
			return tickets, errs
		case strings.HasPrefix(l, "ticket "):
			tickets[strings.TrimPrefix(l, "ticket ")]++
		default:
			errs = append(errs, l)
		}
	}
}

// Three processes of 300 goroutines each ask for one cold tenant at once:
// the fleet makes exactly one exchange.
func TestThreeProcessesOneColdTenantOneExchange(t *testing.T) {
	f := newFleet(t)
	var workers []*worker
	for range 3 {
		workers = append(workers, f.start(t, 300, 30*time.Second))
	}
	for _, w := range workers {
		w.goAhead(t)
	}
	all := map[string]int{}
	for i, w := range workers {
		tickets, errs := w.results(t, time.Minute)
		if len(errs) > 0 {
			t.Errorf("worker %d: %d errors, the first: %s", i, len(errs), errs[0])
		}
		for k, n := range tickets {
			all[k] += n
		}
	}
	if n := f.fake.ExchangeCount(testTenant); n != 1 {
		t.Errorf("the fake saw %d exchanges, want 1", n)
	}
	if len(all) != 1 {
		t.Errorf("the callers got %d distinct tickets, want 1: %v", len(all), all)
	}
	for _, n := range all {
		if n != 900 {
			t.Errorf("%d callers got the ticket, want 900", n)
		}
	}
}

// holdingProxy sits in front of the fake and holds the first exchange
// request forever (until its client goes away), so that a lease holder can
// be killed mid-exchange; it forwards everything else.
type holdingProxy struct {
	srv     *httptest.Server
	arrived chan struct{}
	held    atomic.Bool
}

func newHoldingProxy(t *testing.T, fake *sysusertest.Server) *holdingProxy {
	target, _ := url.Parse(fake.Root)
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &holdingProxy{arrived: make(chan struct{}, 1)}
	stop := make(chan struct{})
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isExchange := strings.EqualFold(r.URL.Path, sysusertest.SOAPPath) || strings.EqualFold(r.URL.Path, sysusertest.RESTPath)
		if r.Method == http.MethodPost && isExchange && p.held.CompareAndSwap(false, true) {
			p.arrived <- struct{}{}
			select {
			case <-r.Context().Done():
			case <-stop:
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	t.Cleanup(func() { close(stop) }) // runs first
	return p
}

// The lease holder is killed (SIGKILL) in the middle of its exchange:
// another process has a ticket within the lease time plus a second.
func TestLeaseHolderKilledMidExchange(t *testing.T) {
	f := newFleet(t)
	proxy := newHoldingProxy(t, f.fake)
	f.login = proxy.srv.URL + sysusertest.LoginPath
	const exchangeTimeout = 2 * time.Second
	const lease = exchangeTimeout + 5*time.Second // as the Client takes it

	holder := f.start(t, 1, exchangeTimeout)
	holder.goAhead(t)
	select {
	case <-proxy.arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the first exchange never reached the proxy")
	}
	waiter := f.start(t, 50, exchangeTimeout)
	waiter.goAhead(t)
	time.Sleep(time.Second) // the waiter finds the lease taken and polls

	killed := time.Now()
	if err := holder.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	tickets, errs := waiter.results(t, 2*lease)
	took := time.Since(killed)
	if len(errs) > 0 {
		t.Fatalf("%d callers failed, the first: %s", len(errs), errs[0])
	}
	if len(tickets) != 1 {
		t.Fatalf("the waiter's callers got %d distinct tickets: %v", len(tickets), tickets)
	}
	if took > lease+time.Second {
		t.Errorf("the ticket came %v after the kill; want at most the lease (%v) plus 1 s", took, lease)
	}
	if n := f.fake.ExchangeCount(testTenant); n != 1 {
		t.Errorf("the fake saw %d completed exchanges, want 1 (the killed one never reached it)", n)
	}
	t.Logf("ticket %v after the holder was killed (lease %v)", took.Round(10*time.Millisecond), lease)
}

// Redis is killed and restarted on the same port while callers loop on
// Ticket and Invalidate (which send them to the store): no caller sees an
// error, the Client warns, and the store works again once Redis is back.
func TestRedisRestartMidRun(t *testing.T) {
	r := startRedis(t)
	tenants := []string{"Cust10001", "Cust10002", "Cust10003"}
	fake := newFake(t, nil, tenants...)
	var logs logRecorder
	var replicas []*sysuser.Client
	var stores []*redisstore.Store
	for range 2 {
		store := newStore(t, newRedisClient(t, r.Addr()), nil)
		stores = append(stores, store)
		replicas = append(replicas, newClient(t, fake.URL, store, logs.logger(), nil))
	}

	var calls, failures, duringOutage atomic.Int64
	var phase atomic.Int32 // 1 while Redis is down
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := replicas[g%len(replicas)]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tenant := client.Tenant(tenants[(g+i)%len(tenants)], testToken)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if phase.Load() == 1 {
					duringOutage.Add(1)
				}
				res, err := tenant.Ticket(ctx)
				calls.Add(1)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				} else if i%5 == 0 {
					tenant.Invalidate(ctx, res.Ticket) // the next call goes to the store
				}
				cancel()
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	time.Sleep(time.Second)
	r.stop()
	phase.Store(1)
	time.Sleep(2 * time.Second)
	phase.Store(2)
	r.start()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()

	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d calls failed, the first: %v", n, calls.Load(), firstErr.Load())
	}
	if n := duringOutage.Load(); n < 10 {
		t.Fatalf("only %d calls began while Redis was down: the test proved nothing", n)
	}
	if logs.count("WARN", "ticket store") == 0 {
		t.Error("no warning about the store while Redis was down")
	}
	t.Logf("%d calls, %d begun while Redis was down, %d exchanges", calls.Load(), duringOutage.Load(),
		fake.ExchangeCount(tenants[0])+fake.ExchangeCount(tenants[1])+fake.ExchangeCount(tenants[2]))

	// Back to sharing: a ticket one replica exchanges now is adopted by a
	// new replica without an exchange.
	ctx := context.Background()
	eventually(t, "the store answers again", func() bool {
		_, _, err := stores[0].Get(ctx, tenants[0])
		return err == nil
	})
	tenant := replicas[0].Tenant(tenants[0], testToken)
	res, err := tenant.Ticket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tenant.Invalidate(ctx, res.Ticket)
	res, err = tenant.Ticket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := fake.ExchangeCount(tenants[0])
	fresh := newClient(t, fake.URL, newStore(t, newRedisClient(t, r.Addr()), nil), nil, nil)
	got, err := fresh.Tenant(tenants[0], testToken).Ticket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ticket != res.Ticket || fake.ExchangeCount(tenants[0]) != before {
		t.Fatalf("after the restart a new replica did not adopt the stored ticket (same: %v, exchanges %d → %d)",
			got.Ticket == res.Ticket, before, fake.ExchangeCount(tenants[0]))
	}
}

// A 401 on one replica removes the ticket from Redis: the fleet makes one
// new exchange, and the other replicas drop their stale copy at once.
func TestInvalidationIsShared(t *testing.T) {
	r := startRedis(t)
	fake := newFake(t, nil)
	ctx := context.Background()
	logs := make([]*logRecorder, 3)
	var tenants []*sysuser.Tenant
	for i := range logs {
		logs[i] = &logRecorder{}
		store := newStore(t, newRedisClient(t, r.Addr()), nil)
		client := newClient(t, fake.URL, store, logs[i].logger(), nil)
		tenants = append(tenants, client.Tenant(testTenant, testToken))
	}
	first := ticketsOf(t, ctx, tenants)
	if len(first) != 1 || fake.ExchangeCount(testTenant) != 1 {
		t.Fatalf("%d distinct tickets, %d exchanges; want 1 and 1", len(first), fake.ExchangeCount(testTenant))
	}
	var old string
	for tk := range first {
		old = tk
	}
	spy := newRedisClient(t, r.Addr())
	eventually(t, "the replicas listen for invalidations", func() bool {
		n, _ := spy.PubSubNumSub(ctx, "sysuser:invalidations").Result()
		return n["sysuser:invalidations"] == 3
	})

	// The WebApi rejects the ticket; replica 0's transport gets the 401,
	// invalidates, exchanges once and retries.
	fake.RevokeTicket(old)
	resp, err := tenants[0].HTTPClient().Get(fake.WebAPIURL(testTenant) + "v1/Contact/2")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the retried request got %s", resp.Status)
	}
	for i := 1; i < 3; i++ {
		eventually(t, fmt.Sprintf("replica %d drops the invalidated ticket", i), func() bool {
			return logs[i].count("invalidated by another replica") > 0
		})
	}
	second := ticketsOf(t, ctx, tenants)
	if len(second) != 1 || second[old] > 0 {
		t.Fatalf("after the invalidation the replicas hold %d distinct tickets (the old one: %v)", len(second), second[old] > 0)
	}
	if n := fake.ExchangeCount(testTenant); n != 2 {
		t.Errorf("%d exchanges in all, want 2", n)
	}
}

// ticketsOf asks every replica for its ticket at once and counts them.
func ticketsOf(t *testing.T, ctx context.Context, tenants []*sysuser.Tenant) map[string]int {
	t.Helper()
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for _, tn := range tenants {
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := tn.Ticket(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[res.Ticket]++
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return got
}
