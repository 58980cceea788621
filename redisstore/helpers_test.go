package redisstore_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/redisstore"
	"github.com/go-superoffice/sysuser/sysusertest"
	"github.com/redis/go-redis/v9"
)

const (
	testAppToken = "app-token-redisstore-5e4d3c"
	testTenant   = "Cust12345"
	testToken    = "SuperOffice DevNet Go redisstore-Qw7Er9"
)

// requireRedis skips t when the tests cannot run a redis-server: under
// -short, or when none is installed (outside CI, where that fails).
func requireRedis(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: this test runs a redis-server")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed (CI installs it: apt-get install -y redis-server)")
		}
		t.Skip("redis-server is not installed: apt-get install -y redis-server")
	}
}

// redisServer is a redis-server the test started on a free loopback port,
// with its files in a temporary directory. It is killed at cleanup.
type redisServer struct {
	t    testing.TB
	port int
	dir  string
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// startRedis starts a redis-server with no persistence; extra arguments
// are added to its command line.
func startRedis(t testing.TB, extra ...string) *redisServer {
	t.Helper()
	requireRedis(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &redisServer{t: t, port: port, dir: t.TempDir()}
	r.args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--appendonly", "no", "--logfile", "redis.log"}, extra...)
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// start runs redis-server and waits until it answers PING.
func (r *redisServer) start() {
	r.t.Helper()
	cmd := exec.Command("redis-server", r.args...)
	cmd.Dir = r.dir
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server: %v", err)
	}
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(r.Addr()) {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			r.t.Fatalf("redis-server on %s never answered PING; its log:\n%s", r.Addr(), log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills redis-server (SIGKILL: nothing is saved) and waits for it.
func (r *redisServer) stop() {
	r.mu.Lock()
	cmd := r.cmd
	r.cmd = nil
	r.mu.Unlock()
	if cmd != nil {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
}

// ping reports whether a Redis server answers PING at addr.
func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// newRedisClient returns a go-redis client for addr with the timeouts the
// package doc recommends, closed at cleanup.
func newRedisClient(t testing.TB, addr string) *redis.Client {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  addr,
		DialTimeout:           500 * time.Millisecond,
		ReadTimeout:           500 * time.Millisecond,
		WriteTimeout:          500 * time.Millisecond,
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// testKey is a fixed store key, so that worker processes share it.
func testKey(id string) redisstore.Key {
	s := sha256.Sum256([]byte("redisstore test key " + id))
	return redisstore.Key{ID: id, Secret: s[:]}
}

// newStore returns a Store on rdb with keys (testKey("k1") when none),
// logging to log, closed at cleanup.
func newStore(t testing.TB, rdb redis.UniversalClient, log *slog.Logger, keys ...redisstore.Key) *redisstore.Store {
	t.Helper()
	if len(keys) == 0 {
		keys = []redisstore.Key{testKey("k1")}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := redisstore.New(rdb, redisstore.Options{Keys: keys, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var (
	keysOnce          sync.Once
	appKey, fakeKey   *rsa.PrivateKey
	appKeyPEM         []byte
	errGeneratingKeys error
)

// testKeys returns the application's key (and its PEM) and the fake's
// signing key, generated once per test binary.
func testKeys(t testing.TB) (*rsa.PrivateKey, []byte, *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		if appKey, errGeneratingKeys = rsa.GenerateKey(rand.Reader, 2048); errGeneratingKeys != nil {
			return
		}
		appKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(appKey)})
		fakeKey, errGeneratingKeys = rsa.GenerateKey(rand.Reader, 2048)
	})
	if errGeneratingKeys != nil {
		t.Fatal(errGeneratingKeys)
	}
	return appKey, appKeyPEM, fakeKey
}

// newFake starts a sysusertest server knowing the test application and
// the given tenants (testTenant when none), each with testToken.
func newFake(t testing.TB, clock func() time.Time, tenants ...string) *sysusertest.Server {
	t.Helper()
	app, _, signing := testKeys(t)
	fake, err := sysusertest.NewServer(sysusertest.Options{
		ApplicationToken: testAppToken,
		PublicKey:        &app.PublicKey,
		SigningKey:       signing,
		Clock:            clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	if len(tenants) == 0 {
		tenants = []string{testTenant}
	}
	for _, tn := range tenants {
		fake.AddTenant(tn, testToken)
	}
	return fake
}

// newClient returns a sysuser Client for login with store, closed at
// cleanup. mutate may change the Config first.
func newClient(t testing.TB, login string, store sysuser.TicketStore, log *slog.Logger, mutate func(*sysuser.Config)) *sysuser.Client {
	t.Helper()
	_, keyPEM, _ := testKeys(t)
	cfg := sysuser.Config{LoginURL: login, ApplicationToken: testAppToken, PrivateKey: keyPEM, Logger: log}
	if store != nil {
		cfg.Store = store
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := sysuser.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// logRecorder is a slog.Handler that keeps every record's message and
// attributes as text, for tests to look for.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.mu.Lock()
	h.lines = append(h.lines, b.String())
	h.mu.Unlock()
	return nil
}

// count returns how many records contain all of the given strings.
func (h *logRecorder) count(subs ...string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
next:
	for _, l := range h.lines {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		n++
	}
	return n
}

func (h *logRecorder) all() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.lines, "\n")
}

func (h *logRecorder) logger() *slog.Logger { return slog.New(h) }

// eventually polls cond until it holds, failing after 10 seconds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fingerprint names a ticket in test output without printing it.
func fingerprint(ticket string) string {
	s := sha256.Sum256([]byte(ticket))
	return hex.EncodeToString(s[:6])
}

// result returns a SystemUserResult such as an exchange yields.
func result(tenant, ticket string, received time.Time) *sysuser.SystemUserResult {
	return &sysuser.SystemUserResult{
		Ticket:            ticket,
		WebAPIURL:         "https://sod.superoffice.com/" + tenant + "/api/",
		ContextIdentifier: tenant,
		Serial:            "1234",
		AssociateID:       "5",
		IsAdministrator:   true,
		IssuedAt:          received.Add(-time.Second).Truncate(time.Second),
		ExpiresAt:         received.Add(5 * time.Minute).Truncate(time.Second),
		ReceivedAt:        received,
		Token:             "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
		Claims: map[string]any{
			sysuser.ClaimNamespace + "ticket": ticket,
			sysuser.ClaimNamespace + "ctx":    tenant,
			"exp":                             float64(received.Add(5 * time.Minute).Unix()),
			"aud":                             []any{"spn:1234"},
		},
	}
}
