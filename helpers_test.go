package sysuser_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
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
// change the Config before the Client is made.
func newTestEnv(t testing.TB, clock func() time.Time, mutate func(*sysuser.Config)) *testEnv {
	t.Helper()
	signer, err := sysuser.NewSignerFromKey(appKey(t))
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
	return &testEnv{fake: fake, client: client, signer: signer, cfg: cfg}
}

// withLogin returns cfg pointed at another login URL.
func withLogin(cfg sysuser.Config, login string) sysuser.Config {
	cfg.LoginURL = login
	return cfg
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
