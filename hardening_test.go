package sysuser_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
)

// A login server's huge refusal text is cut to about 512 bytes, without
// control characters, in the error, in the negative cache and in the log.
func TestServerTextIsBounded(t *testing.T) {
	msg := "Denied\r\n\u202e\t" + strings.Repeat("x", 40<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><AuthenticationResponse xmlns="http://www.superoffice.com/superid/partnersystemuser/0.1"><IsSuccessful>false</IsSuccessful><ErrorMessage>`+msg+`</ErrorMessage></AuthenticationResponse></s:Body></s:Envelope>`)
	}))
	defer srv.Close()
	var logs lockedBuffer
	env := newTestEnv(t, nil, nil)
	cfg := withLogin(env.cfg, srv.URL+"/login")
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	c := mustClient(t, cfg)
	tenant := c.Tenant(testTenant, testUserToken)
	for i := 0; i < 2; i++ { // the exchange, then the negative cache
		_, err := tenant.Ticket(context.Background())
		var ae *sysuser.AuthenticationError
		if !errors.As(err, &ae) {
			t.Fatalf("err = %v", err)
		}
		if len(ae.Message) > 512 || strings.ContainsAny(ae.Message, "\r\n\t\u202e") || !strings.HasPrefix(ae.Message, "Denied") {
			t.Fatalf("refusal message of %d bytes: %.80q", len(ae.Message), ae.Message)
		}
		if len(err.Error()) > 700 {
			t.Fatalf("error of %d bytes", len(err.Error()))
		}
	}
	if n := len(logs.String()); n > 2048 {
		t.Fatalf("%d bytes logged for one refusal", n)
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

// keyWithExponent makes an RSA key with public exponent e.
func keyWithExponent(t *testing.T, bits, e int) *rsa.PrivateKey {
	t.Helper()
	E := big.NewInt(int64(e))
	one := big.NewInt(1)
	prime := func() *big.Int {
		for {
			p, err := rand.Prime(rand.Reader, bits/2)
			if err != nil {
				t.Fatal(err)
			}
			if new(big.Int).GCD(nil, nil, E, new(big.Int).Sub(p, one)).Cmp(one) == 0 {
				return p
			}
		}
	}
	p, q := prime(), prime()
	phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: e}, D: new(big.Int).ModInverse(E, phi), Primes: []*big.Int{p, q}}
	k.Precompute()
	if err := k.Validate(); err != nil {
		t.Fatal(err)
	}
	return k
}

// Application keys: SuperOffice's own sample partner keys are 1024 bits
// with e = 65537, so such a key is accepted with a warning; an exponent
// other than 65537 is refused.
func TestApplicationKeyPolicy(t *testing.T) {
	env := newTestEnv(t, nil, nil)
	for _, c := range []struct {
		name    string
		key     *rsa.PrivateKey
		refused bool
		warned  bool
	}{
		{"1024 bits, e=65537", keyWithExponent(t, 1024, 65537), false, true},
		{"2048 bits, e=3", keyWithExponent(t, 2048, 3), true, false},
		{"2048 bits, e=65537", appKey(t), false, false},
	} {
		signer, err := sysuser.NewSigner(c.key)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var logs lockedBuffer
		cfg := env.cfg
		cfg.Signer = signer
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		_, err = sysuser.NewClient(cfg)
		if c.refused != errors.Is(err, sysuser.ErrInvalidKey) {
			t.Errorf("%s: NewClient: %v", c.name, err)
		}
		if c.warned != strings.Contains(logs.String(), "level=WARN") {
			t.Errorf("%s: logged %q", c.name, logs.String())
		}
	}
}

// Keys that verify SuperOffice's tokens are RSA 2048 to 4096 bits with
// e = 65537; others are refused, pinned or published.
func TestVerificationKeyPolicy(t *testing.T) {
	for _, c := range []struct {
		name string
		key  *rsa.PrivateKey
	}{
		{"e=3", keyWithExponent(t, 2048, 3)},
		{"e=2^31-1", keyWithExponent(t, 2048, 1<<31-1)},
	} {
		pemKey := publicPEM(t, &c.key.PublicKey)
		if _, err := sysuser.ParsePublicKey(pemKey); !errors.Is(err, sysuser.ErrInvalidConfig) || !strings.Contains(err.Error(), "exponent") {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func publicPEM(t *testing.T, pub *rsa.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
