package redisstore_test

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser/redisstore"
)

func TestCompareAndDeletePublishesTheHMACNotTheTicket(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r.Addr())
	a := newStore(t, rdb, nil)
	b := newStore(t, newRedisClient(t, r.Addr()), nil)
	ctx := context.Background()

	type call struct{ tenant, ticket string }
	calls := make(chan call, 10)
	a.Subscribe(func(tenant, ticket string) { calls <- call{tenant, ticket} })
	spy := rdb.Subscribe(ctx, "sysuser:invalidations")
	defer spy.Close()
	if _, err := spy.Receive(ctx); err != nil { // the subscription confirmation
		t.Fatal(err)
	}
	eventually(t, "both subscribers listen", func() bool {
		n, _ := rdb.PubSubNumSub(ctx, "sysuser:invalidations").Result()
		return n["sysuser:invalidations"] == 2
	})

	now := time.Now()
	if err := a.Put(ctx, testTenant, "", result(testTenant, "7T:first", now), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.CompareAndDelete(ctx, testTenant, "7T:other"); ok || err != nil {
		t.Fatalf("CompareAndDelete of another ticket = %v, %v", ok, err)
	}
	if got, _, _ := b.Get(ctx, testTenant); got == nil {
		t.Fatal("CompareAndDelete of another ticket deleted the entry")
	}
	if ok, err := b.CompareAndDelete(ctx, testTenant, "7T:first"); !ok || err != nil {
		t.Fatalf("CompareAndDelete = %v, %v", ok, err)
	}
	if got, _, _ := b.Get(ctx, testTenant); got != nil {
		t.Fatal("the entry survived CompareAndDelete")
	}
	if ok, _ := b.CompareAndDelete(ctx, testTenant, "7T:first"); ok {
		t.Fatal("a second CompareAndDelete reported a delete")
	}
	select {
	case c := <-calls:
		if c != (call{testTenant, "7T:first"}) {
			t.Fatalf("Subscribe's function got %v", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no invalidation reached the subscriber")
	}
	msg, err := spy.ReceiveMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(msg.Payload, "first") || !strings.Contains(msg.Payload, testTenant) || !strings.HasPrefix(msg.Payload, "v2 k1 ") {
		t.Fatalf("the message is %q; want the tenant and the key id and HMAC, not the ticket", msg.Payload)
	}
	select {
	case c := <-calls:
		t.Fatalf("a second call: %v", c)
	case <-time.After(100 * time.Millisecond):
	}
}

// Invalidation messages are authenticated and used once: a forged, stale,
// replayed or old-format message drops nothing, and an oversized tenant is
// logged bounded.
func TestInvalidationMessagesAreAuthenticated(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r.Addr())
	var logs logRecorder
	s := newStore(t, rdb, logs.logger())
	ctx := context.Background()
	calls := make(chan string, 10)
	stop := s.Subscribe(func(tenant, ticket string) { calls <- tenant + " " + ticket })
	defer stop()
	eventually(t, "the store listens", func() bool {
		n, _ := rdb.PubSubNumSub(ctx, "sysuser:invalidations").Result()
		return n["sysuser:invalidations"] == 1
	})
	now := time.Now()
	if err := s.Put(ctx, testTenant, "", result(testTenant, "7T:live", now), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Messages made as the store makes them, with the key a test knows.
	secret := testKey("k1").Secret
	msgKey, _ := hkdf.Key(sha256.New, secret, nil, "sysuser redisstore invalidation hmac v2", 32)
	ticketKey, _ := hkdf.Key(sha256.New, secret, nil, "sysuser redisstore ticket hmac v1", 32)
	mac := func(k []byte, parts ...string) string {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(strings.Join(parts, "\x00")))
		return hex.EncodeToString(m.Sum(nil))
	}
	sum := mac(ticketKey, testTenant, "7T:live")
	message := func(at time.Time, nonce, tenant string) string {
		body := fmt.Sprintf("v2 k1 %d %s %s %s", at.UnixMilli(), nonce, tenant, sum)
		m := hmac.New(sha256.New, msgKey)
		m.Write([]byte(body))
		return body + " " + hex.EncodeToString(m.Sum(nil))
	}
	publish := func(payload string) { rdb.Publish(ctx, "sysuser:invalidations", payload) }
	none := func(t *testing.T) {
		t.Helper()
		select {
		case c := <-calls:
			t.Fatalf("dropped %q", c)
		case <-time.After(200 * time.Millisecond):
		}
	}

	forged := message(now, "aaaaaaaaaaaaaaaaaaaaaaaa", testTenant)
	refused := []struct {
		name    string
		payload string
	}{
		{name: "unauthenticated old format", payload: "v1 k1:" + sum + " " + testTenant},
		{name: "wrong MAC", payload: forged[:len(forged)-4] + "0000"},
		{name: "stale", payload: message(now.Add(-10*time.Minute), "bbbbbbbbbbbbbbbbbbbbbbbb", testTenant)},
		{name: "1 MiB tenant", payload: message(now, "cccccccccccccccccccccccc", strings.Repeat("x", 1<<20))},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			publish(c.payload)
			none(t)
		})
	}
	if strings.Contains(logs.all(), strings.Repeat("x", 200)) {
		t.Fatal("a log carries the unbounded tenant")
	}

	dropsLive := func(t *testing.T) {
		t.Helper()
		select {
		case c := <-calls:
			if c != testTenant+" 7T:live" {
				t.Fatalf("dropped %q", c)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("dropped nothing")
		}
	}
	t.Run("genuine", func(t *testing.T) {
		publish(message(now, "dddddddddddddddddddddddd", testTenant))
		dropsLive(t)
	})
	t.Run("replayed", func(t *testing.T) {
		genuine := message(now, "eeeeeeeeeeeeeeeeeeeeeeee", testTenant)
		if res, _, err := s.Get(ctx, testTenant); res == nil || err != nil { // the store knows the ticket (again)
			t.Fatalf("Get = %v, %v", res, err)
		}
		publish(genuine)
		dropsLive(t)
		if res, _, err := s.Get(ctx, testTenant); res == nil || err != nil { // and once more
			t.Fatalf("Get = %v, %v", res, err)
		}
		publish(genuine)
		none(t)
	})
}

// Client.Close stops the store's callback: five NewClient/Close rounds on
// one store leave no callback and no listener.
func TestClientsCloseTheirSubscriptions(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r.Addr())
	s := newStore(t, rdb, nil)
	fake := newFake(t, nil, testTenant)
	ctx := context.Background()
	for range 5 {
		c := newClient(t, fake.URL, s, nil, nil)
		if n := redisstore.Subscribers(s); n != 1 {
			t.Fatalf("%d callbacks with one Client open", n)
		}
		c.Close()
	}
	if n := redisstore.Subscribers(s); n != 0 {
		t.Fatalf("%d callbacks left after five NewClient/Close rounds", n)
	}
	eventually(t, "the listener ends", func() bool {
		n, _ := rdb.PubSubNumSub(ctx, "sysuser:invalidations").Result()
		return n["sysuser:invalidations"] == 0
	})
	stop := s.Subscribe(func(string, string) {})
	if !stop() || stop() {
		t.Fatal("stop reports true once, then false")
	}
}
