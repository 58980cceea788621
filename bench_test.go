package sysuser_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

// BenchmarkTicketCached is the hot path: a fresh ticket through a Tenant
// handle the application keeps. Run with -cpu 1,2 to see how it scales.
func BenchmarkTicketCached(b *testing.B) {
	env := newTestEnv(b, nil, nil)
	ctx := context.Background()
	tenant := env.client.Tenant(testTenant, testUserToken)
	if _, err := tenant.Ticket(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := tenant.Ticket(ctx)
			if err != nil || res == nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTicketByName makes a handle per call, as code that keeps no
// handle does: a lookup of the tenant by name and a small allocation on
// top of the cached path.
func BenchmarkTicketByName(b *testing.B) {
	env := newTestEnv(b, nil, nil)
	ctx := context.Background()
	if _, err := env.client.Tenant(testTenant, testUserToken).Ticket(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := env.client.Tenant(testTenant, testUserToken).Ticket(ctx)
			if err != nil || res == nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTicketCachedManyTenants reads 64 cached tenants through their
// handles, each goroutine walking them in its own order.
func BenchmarkTicketCachedManyTenants(b *testing.B) {
	env := newTestEnv(b, nil, nil)
	ctx := context.Background()
	const n = 64
	tenants := make([]*sysuser.Tenant, n)
	for i := range tenants {
		id := fmt.Sprintf("Cust%d", 1000+i)
		env.fake.AddTenant(id, "tok")
		tenants[i] = env.client.Tenant(id, "tok")
		if _, err := tenants[i].Ticket(ctx); err != nil {
			b.Fatal(err)
		}
	}
	var seed atomic.Int32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7))
		for pb.Next() {
			i++
			if _, err := tenants[i%n].Ticket(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWebAPIRoundTrip compares a request to a loopback server through
// a bare http.Transport with the same request through sysuser's Transport
// over that same http.Transport (cached ticket). The difference is the
// transport's overhead.
func BenchmarkWebAPIRoundTrip(b *testing.B) {
	env := newTestEnv(b, nil, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	// The tenant's WebApi is srv: the transport sends credentials nowhere else.
	env.fake.SetTokenFunc(func(claims map[string]any) (string, error) {
		claims["http://schemes.superoffice.net/identity/webapi_url"] = srv.URL + "/Cust12345/api/"
		return env.fake.Sign(claims)
	})
	if _, err := env.client.Tenant(testTenant, testUserToken).Ticket(context.Background()); err != nil {
		b.Fatal(err)
	}
	base := &http.Transport{MaxIdleConnsPerHost: 64}
	defer base.CloseIdleConnections()
	run := func(b *testing.B, rt http.RoundTripper) {
		client := &http.Client{Transport: rt}
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/Cust12345/api/v1/Contact/2", nil)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, base) })
	b.Run("sysuser", func(b *testing.B) { run(b, env.client.Tenant(testTenant, testUserToken).Transport(base)) })
}

// BenchmarkSign measures Signer.Sign next to bare rsa.SignPKCS1v15 of the
// same text with the same (precomputed) key: the difference is what the
// library adds to the RSA cost. The verify figure gives the floor of an
// exchange: two signatures (ours, the login service's) and two
// verifications.
func BenchmarkSign(b *testing.B) {
	key := appKey(b)
	key.Precompute()
	signer, err := sysuser.NewSigner(key)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 12, 34, 0, 0, time.UTC)
	b.Run("rsa.SignPKCS1v15", func(b *testing.B) {
		b.ReportAllocs()
		msg := []byte(testUserToken + ".202611231234")
		for b.Loop() {
			sum := sha256.Sum256(msg)
			if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rsa.VerifyPKCS1v15", func(b *testing.B) {
		b.ReportAllocs()
		sum := sha256.Sum256([]byte(testUserToken + ".202611231234"))
		sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		for b.Loop() {
			if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Signer.SignAt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := signer.SignAt(testUserToken, at); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkExchange is a whole exchange against sysusertest on loopback:
// sign, post, the fake's verify and sign, then JWT verification. The fake
// runs in the same process, so its RSA signing counts too.
func BenchmarkExchange(b *testing.B) {
	for _, p := range protocols {
		b.Run(p.String(), func(b *testing.B) {
			env := newTestEnv(b, nil, func(c *sysuser.Config) { c.Protocol = p })
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := env.client.Exchange(ctx, testTenant, testUserToken); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCacheMemory measures the heap a Client keeps per cached tenant
// with 10,000 tenants, each from a real exchange. It takes a while (20,000
// RSA signatures): run it alone with -benchtime=1x.
func BenchmarkCacheMemory(b *testing.B) {
	const tenants = 10000
	for b.Loop() {
		perTenant := cacheBytesPerTenant(b, tenants)
		b.ReportMetric(perTenant, "B/tenant")
	}
}

func cacheBytesPerTenant(b *testing.B, tenants int) float64 {
	signer := mustSigner(b)
	fake, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: testAppToken, PublicKey: signer.Public(), SigningKey: fakeSigningKey(b)})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, tenants)
	for i := range ids {
		ids[i] = fmt.Sprintf("Cust%d", 10000+i)
		fake.AddTenant(ids[i], "tok-"+ids[i])
	}
	client := mustClient(b, sysuser.Config{LoginURL: fake.URL, ApplicationToken: testAppToken, Signer: signer})
	var wg sync.WaitGroup
	work := make(chan string)
	for w := 0; w < 2*runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if _, err := client.Tenant(id, "tok-"+id).Ticket(context.Background()); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	fake.Close()
	fake = nil
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()

	withClient := heapInUse()
	client.Close() // stops the renewal timers, which hold the entries too
	client = nil
	without := heapInUse()
	return float64(withClient-without) / float64(tenants)
}

func heapInUse() uint64 {
	var m runtime.MemStats
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkUsedStateRecordFull is one callback's record of its state when
// the record is full of unexpired states (a flood): an eviction, not a scan.
func BenchmarkUsedStateRecordFull(b *testing.B) {
	v, err := sysuser.NewApprovalVerifier(sysuser.ApprovalConfig{Environment: sysuser.SOD, ClientID: "c"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { v.Close() })
	ob, err := sysuser.NewOnboarding(sysuser.OnboardingConfig{Verifier: v, ClientSecret: "s",
		RedirectURL: "https://app.example/cb", StateKey: testStateKey,
		OnApproval: func(http.ResponseWriter, *http.Request, *sysuser.Approval) error { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := range sysuser.MaxOnce {
		sysuser.RecordUsedState(ob, fmt.Sprint("flood-", i), now.Add(10*time.Minute), now)
	}
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprint("state-", i)
	}
	i := 0
	for b.Loop() {
		if !sysuser.RecordUsedState(ob, keys[i%len(keys)]+fmt.Sprint(i/len(keys)), now.Add(10*time.Minute), now) {
			b.Fatal("a new state was refused")
		}
		i++
	}
}
