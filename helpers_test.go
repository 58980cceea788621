package sysuser_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

const (
	testAppToken  = "app-token-9f8e7d6c5b4a"
	testTenant    = "Cust12345"
	testUserToken = "SuperOffice DevNet Go OIDC-8k8Q7DmBgo"
)

// readTestdata reads a file below testdata/.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// appKey is the application key in testdata, made with openssl.
func appKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	block, _ := pem.Decode(readTestdata(t, "key-pkcs1.pem"))
	k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	fakeKeyOnce sync.Once
	fakeKeyVal  *rsa.PrivateKey
)

// fakeSigningKey is a key generated once per test run, for the fake's JWTs.
func fakeSigningKey(t testing.TB) *rsa.PrivateKey {
	fakeKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		fakeKeyVal = k
	})
	return fakeKeyVal
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type testEnv struct {
	fake   *sysusertest.Server
	client *sysuser.Client
	signer *sysuser.Signer
	cfg    sysuser.Config
}

// newTestEnv starts a fake with one tenant and a Client for it. mutate may
// change the Config before the Client is made. Both are closed when the
// test ends.
func newTestEnv(t testing.TB, clock func() time.Time, mutate func(*sysuser.Config)) *testEnv {
	t.Helper()
	signer, err := sysuser.NewSigner(appKey(t))
	if err != nil {
		t.Fatal(err)
	}
	fake, err := sysusertest.NewServer(sysusertest.Options{
		ApplicationToken: testAppToken,
		PublicKey:        signer.Public(),
		SigningKey:       fakeSigningKey(t),
		Clock:            clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	fake.AddTenant(testTenant, testUserToken)
	cfg := sysuser.Config{LoginURL: fake.URL, ApplicationToken: testAppToken, Signer: signer, Clock: clock}
	if mutate != nil {
		mutate(&cfg)
	}
	client, err := sysuser.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := client.Close(); err != nil {
			t.Error(err)
		}
	})
	return &testEnv{fake: fake, client: client, signer: signer, cfg: cfg}
}

// withLogin returns cfg pointed at another login URL.
func withLogin(cfg sysuser.Config, login string) sysuser.Config {
	cfg.LoginURL = login
	return cfg
}

var protocols = []sysuser.Protocol{sysuser.SOAP, sysuser.REST}

// mustClient makes a Client from cfg and closes it when the test ends.
func mustClient(t testing.TB, cfg sysuser.Config) *sysuser.Client {
	t.Helper()
	c, err := sysuser.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func mustSigner(t testing.TB) *sysuser.Signer {
	t.Helper()
	s, err := sysuser.NewSigner(appKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// forward relays r to root, for tests that put something between the client
// and the fake.
func forward(t testing.TB, w http.ResponseWriter, r *http.Request, root string) {
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, root+r.URL.RequestURI(), r.Body)
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// eventually polls cond until it holds, for background work to land. It
// waits for an event; it asserts nothing about how long that takes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustTicket(t *testing.T, c *sysuser.Client, tenant string) string {
	t.Helper()
	res, err := c.Tenant(tenant, testUserToken).Ticket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res.Ticket
}

// lockedBuffer is a bytes.Buffer safe for the Client's goroutines.
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

// assertNoKeyMaterial fails if out holds any private component of key in
// decimal, hex or base64.
func assertNoKeyMaterial(t *testing.T, out string, key *rsa.PrivateKey) {
	t.Helper()
	for name, v := range map[string][]byte{"D": key.D.Bytes(), "P": key.Primes[0].Bytes(), "Q": key.Primes[1].Bytes()} {
		for _, enc := range []string{
			fmt.Sprint(new(big.Int).SetBytes(v))[:24],
			fmt.Sprintf("%x", v)[:24],
			base64.StdEncoding.EncodeToString(v)[:24],
		} {
			if strings.Contains(out, enc) {
				t.Fatalf("output contains key component %s: %q", name, out)
			}
		}
	}
}

// signClaims signs claims as the fake signs its tokens; a failure fails t.
// It uses t.Errorf, not t.Fatal, as the fake's token funcs run on its
// server's goroutines.
func signClaims(t testing.TB, fake *sysusertest.Server, claims map[string]any) string {
	t.Helper()
	token, err := fake.Sign(claims)
	if err != nil {
		t.Errorf("signing claims: %v", err)
	}
	return token
}
