package redisstore_test

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/redisstore"
	"github.com/redis/go-redis/v9"
)

func TestNewRefusesBadOptions(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	secret := make([]byte, 32)
	for name, opts := range map[string]redisstore.Options{
		"no keys":         {},
		"short secret":    {Keys: []redisstore.Key{{ID: "a", Secret: secret[:16]}}},
		"empty id":        {Keys: []redisstore.Key{{Secret: secret}}},
		"id with a space": {Keys: []redisstore.Key{{ID: "a b", Secret: secret}}},
		"id twice":        {Keys: []redisstore.Key{{ID: "a", Secret: secret}, {ID: "a", Secret: secret}}},
		"prefix with {":   {Keys: []redisstore.Key{{ID: "a", Secret: secret}}, Prefix: "x{"},
		"negative":        {Keys: []redisstore.Key{{ID: "a", Secret: secret}}, Timeout: -1},
	} {
		if _, err := redisstore.New(rdb, opts); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := redisstore.New(nil, redisstore.Options{Keys: []redisstore.Key{{ID: "a", Secret: secret}}}); err == nil {
		t.Error("New accepted a nil client")
	}
}

func TestKeyNeverPrintsItsSecret(t *testing.T) {
	k := redisstore.Key{ID: "2026-11", Secret: []byte("0123456789abcdef0123456789ABCDEF")}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("key", "key", k)
	for _, out := range []string{fmt.Sprint(k), fmt.Sprintf("%+v %#v %s %x %q", k, k, k, k, k), fmt.Sprint([]redisstore.Key{k}),
		fmt.Sprintf("%+v", redisstore.Options{Keys: []redisstore.Key{k}}), logged.String()} {
		if strings.Contains(out, "0123456789") || strings.Contains(out, "30313233") {
			t.Errorf("the secret shows in %q", out)
		}
		if !strings.Contains(out, "2026-11") {
			t.Errorf("the id is missing from %q", out)
		}
	}
}

func TestStoreRoundTrip(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r.Addr())
	s := newStore(t, rdb, nil)
	ctx := context.Background()
	if res, _, err := s.Get(ctx, testTenant); res != nil || err != nil {
		t.Fatalf("Get on an empty store = %v, %v", res, err)
	}
	now := time.Now()
	want := result(testTenant, "7T:round-trip", now)
	expires := now.Add(time.Hour)
	if err := s.Put(ctx, testTenant, "", want, expires); err != nil {
		t.Fatal(err)
	}
	got, gotExpires, err := s.Get(ctx, testTenant)
	if err != nil || got == nil {
		t.Fatalf("Get = %v, %v", got, err)
	}
	if !gotExpires.Equal(expires.Truncate(time.Millisecond)) {
		t.Errorf("expires = %v, want %v", gotExpires, expires)
	}
	if !got.ReceivedAt.Equal(want.ReceivedAt) || !got.IssuedAt.Equal(want.IssuedAt) {
		t.Errorf("times did not round-trip: %v %v", got.ReceivedAt, got.IssuedAt)
	}
	got.ReceivedAt, got.IssuedAt, got.ExpiresAt = want.ReceivedAt, want.IssuedAt, want.ExpiresAt
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get = %#v\nwant %#v", *got, *want)
	}
	ttl := rdb.PTTL(ctx, "sysuser:{"+testTenant+"}:ticket").Val()
	if ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("the entry's TTL is %v, want about an hour", ttl)
	}
}

func TestLockIsALease(t *testing.T) {
	r := startRedis(t)
	a := newStore(t, newRedisClient(t, r.Addr()), nil)
	b := newStore(t, newRedisClient(t, r.Addr()), nil)
	ctx := context.Background()
	la, err := a.Lock(ctx, testTenant, 300*time.Millisecond)
	if err != nil || la == "" {
		t.Fatalf("Lock = %q, %v", la, err)
	}
	if lb, err := b.Lock(ctx, testTenant, time.Minute); lb != "" || err != nil {
		t.Fatalf("a second Lock = %q, %v; want \"\" while the first holds", lb, err)
	}
	if lo, err := b.Lock(ctx, "Cust99999", time.Minute); lo == "" || err != nil {
		t.Fatalf("Lock of another tenant = %q, %v", lo, err)
	}
	// Unlock with a value that is not the lease leaves the lease alone.
	if err := b.Unlock(ctx, testTenant, "not-the-lease"); err != nil {
		t.Fatal(err)
	}
	if lb, _ := b.Lock(ctx, testTenant, time.Minute); lb != "" {
		t.Fatal("Unlock with another value released the lease")
	}
	if err := a.Unlock(ctx, testTenant, la); err != nil {
		t.Fatal(err)
	}
	lb, err := b.Lock(ctx, testTenant, 300*time.Millisecond)
	if err != nil || lb == "" || lb == la {
		t.Fatalf("Lock after Unlock = %q, %v", lb, err)
	}
	// A lease whose holder died expires.
	time.Sleep(400 * time.Millisecond)
	if la2, _ := a.Lock(ctx, testTenant, time.Minute); la2 == "" {
		t.Fatal("the lease did not expire")
	}
	if _, err := a.Lock(ctx, testTenant, 0); err == nil {
		t.Error("Lock accepted a zero ttl")
	}
}

// A holder whose lease expired cannot overwrite the ticket of the replica
// that took over; an unleased Put never replaces a newer ticket.
func TestFencingExpiredHolderCannotOverwrite(t *testing.T) {
	r := startRedis(t)
	stalled := newStore(t, newRedisClient(t, r.Addr()), nil)
	other := newStore(t, newRedisClient(t, r.Addr()), nil)
	ctx := context.Background()
	old, err := stalled.Lock(ctx, testTenant, 200*time.Millisecond)
	if err != nil || old == "" {
		t.Fatal(old, err)
	}
	time.Sleep(300 * time.Millisecond) // the holder stalls past its lease
	lease, err := other.Lock(ctx, testTenant, time.Minute)
	if err != nil || lease == "" {
		t.Fatal("the expired lease could not be taken over", err)
	}
	now := time.Now()
	if err := other.Put(ctx, testTenant, lease, result(testTenant, "7T:newer", now), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	err = stalled.Put(ctx, testTenant, old, result(testTenant, "7T:stalled", now.Add(time.Second)), now.Add(time.Hour))
	if !errors.Is(err, redisstore.ErrLeaseLost) {
		t.Fatalf("Put under an expired lease = %v, want ErrLeaseLost", err)
	}
	if strings.Contains(err.Error(), "7T:") || strings.Contains(err.Error(), old) {
		t.Errorf("the error carries a secret: %v", err)
	}
	if err := stalled.Unlock(ctx, testTenant, old); err != nil {
		t.Fatal(err)
	}
	if l, _ := stalled.Lock(ctx, testTenant, time.Minute); l != "" {
		t.Fatal("the stalled holder's Unlock released the new holder's lease")
	}
	if got, _, _ := stalled.Get(ctx, testTenant); got == nil || got.Ticket != "7T:newer" {
		t.Fatalf("after the stalled Put, Get = %v", got)
	}
	// Put without a lease: not over a newer entry, but over an older one.
	if err := stalled.Put(ctx, testTenant, "", result(testTenant, "7T:older", now.Add(-time.Minute)), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := stalled.Get(ctx, testTenant); got.Ticket != "7T:newer" {
		t.Fatal("an unleased Put replaced a newer ticket")
	}
	if err := stalled.Put(ctx, testTenant, "", result(testTenant, "7T:later", now.Add(time.Minute)), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := stalled.Get(ctx, testTenant); got.Ticket != "7T:later" {
		t.Fatal("an unleased Put of a later ticket was not stored")
	}
}

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

// A value that does not decrypt is a miss, never an error or a crash.
func TestUnreadableValuesAreMisses(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r.Addr())
	var logs logRecorder
	writer := newStore(t, rdb, nil)
	ctx := context.Background()
	now := time.Now()
	if err := writer.Put(ctx, testTenant, "", result(testTenant, "7T:secret", now), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	wrongKey := newStore(t, rdb, logs.logger(), testKey("k2"))
	sameIDOtherSecret := newStore(t, rdb, logs.logger(), redisstore.Key{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)})
	for name, s := range map[string]*redisstore.Store{"unknown key id": wrongKey, "same id, other secret": sameIDOtherSecret} {
		if res, _, err := s.Get(ctx, testTenant); res != nil || err != nil {
			t.Errorf("%s: Get = %v, %v; want a miss", name, res, err)
		}
	}
	if logs.count("WARN", "cannot be read", "tenant="+testTenant) != 2 {
		t.Errorf("want two warnings, got:\n%s", logs.all())
	}
	if strings.Contains(logs.all(), "secret") && strings.Contains(logs.all(), "7T:") {
		t.Errorf("a log carries the ticket:\n%s", logs.all())
	}

	key := "sysuser:{" + testTenant + "}:ticket"
	blob := rdb.HGet(ctx, key, "v").Val()
	// Another tenant's value: the tenant is the associated data.
	other := "sysuser:{Cust99999}:ticket"
	all := rdb.HGetAll(ctx, key).Val()
	rdb.HSet(ctx, other, all)
	if res, _, err := writer.Get(ctx, "Cust99999"); res != nil || err != nil {
		t.Errorf("another tenant's value: Get = %v, %v; want a miss", res, err)
	}
	// Tampering with any byte.
	for _, i := range []int{0, 1, 4, len(blob) / 2, len(blob) - 1} {
		b := []byte(blob)
		b[i] ^= 0x20
		rdb.HSet(ctx, key, "v", string(b))
		if res, _, err := writer.Get(ctx, testTenant); res != nil || err != nil {
			t.Errorf("byte %d flipped: Get = %v, %v; want a miss", i, res, err)
		}
	}
	for _, v := range []string{"", "\x01", "\x01\x02k1", "garbage"} {
		rdb.HSet(ctx, key, "v", v)
		if res, _, err := writer.Get(ctx, testTenant); res != nil || err != nil {
			t.Errorf("value %q: Get = %v, %v; want a miss", v, res, err)
		}
	}
}

// Keys rotate: during the rotation every replica has both keys, and each
// reads and deletes what the other wrote.
func TestKeyRotation(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r.Addr())
	ctx := context.Background()
	oldOnly := newStore(t, rdb, nil, testKey("old"))
	before := newStore(t, rdb, nil, testKey("old"), testKey("new"))
	after := newStore(t, rdb, nil, testKey("new"), testKey("old"))
	now := time.Now()
	if err := oldOnly.Put(ctx, testTenant, "", result(testTenant, "7T:one", now), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*redisstore.Store{before, after} {
		if got, _, err := s.Get(ctx, testTenant); err != nil || got == nil || got.Ticket != "7T:one" {
			t.Fatalf("Get = %v, %v", got, err)
		}
	}
	if err := after.Put(ctx, testTenant, "", result(testTenant, "7T:two", now.Add(time.Second)), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := before.Get(ctx, testTenant); got == nil || got.Ticket != "7T:two" {
		t.Fatalf("a replica still encrypting with the old key cannot read the new one: %v", got)
	}
	if got, _, _ := oldOnly.Get(ctx, testTenant); got != nil {
		t.Fatal("a replica without the new key read its value")
	}
	if ok, err := before.CompareAndDelete(ctx, testTenant, "7T:two"); !ok || err != nil {
		t.Fatalf("CompareAndDelete across keys = %v, %v", ok, err)
	}
}

// Nothing in Redis, its keys, values or dump file, shows the ticket, the
// JWT or any part of them.
func TestTicketNotInRedisData(t *testing.T) {
	r := startRedis(t, "--rdbcompression", "no")
	rdb := newRedisClient(t, r.Addr())
	fake := newFake(t, nil)
	client := newClient(t, fake.URL, newStore(t, rdb, nil), nil, nil)
	ctx := context.Background()
	res, err := client.Tenant(testTenant, testToken).Ticket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ticket == "" || res.Token == "" {
		t.Fatal("no ticket")
	}
	secrets := []string{res.Ticket, res.Token, strings.SplitN(res.Ticket, ":", 2)[1], strings.Split(res.Token, ".")[1], testToken, testAppToken}
	var data bytes.Buffer
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("nothing in Redis: the store stored nothing")
	}
	for _, k := range keys {
		data.WriteString(k)
		dump, err := rdb.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		data.WriteString(dump)
		switch rdb.Type(ctx, k).Val() {
		case "hash":
			for f, v := range rdb.HGetAll(ctx, k).Val() {
				data.WriteString(f + v)
			}
		case "string":
			data.WriteString(rdb.Get(ctx, k).Val())
		}
	}
	if err := rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rdbFile, err := os.ReadFile(filepath.Join(r.dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(rdbFile, []byte("{"+testTenant+"}:ticket")) {
		t.Fatal("the dump does not hold the entry: the check below would prove nothing")
	}
	for _, s := range secrets {
		if bytes.Contains(data.Bytes(), []byte(s)) {
			t.Errorf("Redis's data holds a secret (%d bytes)", len(s))
		}
		if bytes.Contains(rdbFile, []byte(s)) {
			t.Errorf("the RDB dump holds a secret (%d bytes)", len(s))
		}
	}
}

// A replica with the wrong key sees a miss and exchanges, without an error.
func TestWrongKeyIsAMissAndANewExchange(t *testing.T) {
	r := startRedis(t)
	fake := newFake(t, nil)
	ctx := context.Background()
	a := newClient(t, fake.URL, newStore(t, newRedisClient(t, r.Addr()), nil, testKey("k1")), nil, nil)
	var logs logRecorder
	b := newClient(t, fake.URL, newStore(t, newRedisClient(t, r.Addr()), logs.logger(), testKey("other")), logs.logger(), nil)
	ra, err := a.Tenant(testTenant, testToken).Ticket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.Tenant(testTenant, testToken).Ticket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := fake.ExchangeCount(testTenant); n != 2 || ra.Ticket == rb.Ticket {
		t.Fatalf("exchanges = %d (same ticket: %v), want 2 distinct", n, ra.Ticket == rb.Ticket)
	}
	if logs.count("WARN", "cannot be read") == 0 {
		t.Errorf("no warning about the unreadable entry:\n%s", logs.all())
	}
}

// With Redis gone or hanging, store methods fail fast and the Client
// exchanges on its own: no caller sees an error.
func TestRedisDownOrHangingNeverFailsACaller(t *testing.T) {
	requireRedis(t)
	hang, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	var conns sync.WaitGroup
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				buf := make([]byte, 1024)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	down, _ := net.Listen("tcp", "127.0.0.1:0")
	downAddr := down.Addr().String()
	down.Close() // nothing listens there

	fake := newFake(t, nil)
	for name, addr := range map[string]string{"down": downAddr, "hanging": hang.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			rdb := newRedisClient(t, addr)
			s, err := redisstore.New(rdb, redisstore.Options{Keys: []redisstore.Key{testKey("k1")}, Timeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			start := time.Now()
			if _, _, err := s.Get(ctx, testTenant); err == nil {
				t.Fatal("Get succeeded without Redis")
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Get took %v to fail", d)
			}
			start = time.Now()
			if _, err := s.Lock(ctx, testTenant, time.Minute); !errors.Is(err, redisstore.ErrUnavailable) {
				t.Errorf("Lock right after a failure = %v, want ErrUnavailable", err)
			}
			if d := time.Since(start); d > 50*time.Millisecond {
				t.Errorf("Lock right after a failure took %v", d)
			}
			var logs logRecorder
			start = time.Now()
			client := newClient(t, fake.URL, s, logs.logger(), nil) // subscribes
			if d := time.Since(start); d > 200*time.Millisecond {
				t.Errorf("NewClient waited %v for Redis", d)
			}
			start = time.Now()
			res, err := client.Tenant(testTenant, testToken).Ticket(ctx)
			if err != nil || res.Ticket == "" {
				t.Fatalf("Ticket = %v, %v", res, err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Ticket took %v", d)
			}
			if logs.count("WARN", "ticket store get failed", "tenant="+testTenant) == 0 {
				t.Errorf("no warning logged:\n%s", logs.all())
			}
			if strings.Contains(logs.all(), res.Ticket) {
				t.Error("a log record carries the ticket")
			}
		})
	}
}

// A Redis Cluster (here one node owning every slot) refuses scripts whose
// keys are in different slots: the hash tag keeps a tenant's in one.
func TestClusterClient(t *testing.T) {
	r := startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	ctx := context.Background()
	plain := newRedisClient(t, r.Addr())
	if err := plain.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", "0", "16383").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the cluster is up", func() bool {
		info, _ := plain.ClusterInfo(ctx).Result()
		return strings.Contains(info, "cluster_state:ok")
	})
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{r.Addr()}, ContextTimeoutEnabled: true, ReadTimeout: 500 * time.Millisecond})
	defer cc.Close()
	s := newStore(t, cc, nil)
	now := time.Now()
	lease, err := s.Lock(ctx, testTenant, time.Minute)
	if err != nil || lease == "" {
		t.Fatal(lease, err)
	}
	if err := s.Put(ctx, testTenant, lease, result(testTenant, "7T:cluster", now), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(ctx, testTenant, lease); err != nil {
		t.Fatal(err)
	}
	calls := make(chan string, 1)
	s.Subscribe(func(_, ticket string) { calls <- ticket })
	if got, _, err := s.Get(ctx, testTenant); err != nil || got == nil || got.Ticket != "7T:cluster" {
		t.Fatalf("Get = %v, %v", got, err)
	}
	eventually(t, "the subscriber listens", func() bool {
		n, _ := plain.PubSubNumSub(ctx, "sysuser:invalidations").Result()
		return n["sysuser:invalidations"] == 1
	})
	if ok, err := s.CompareAndDelete(ctx, testTenant, "7T:cluster"); !ok || err != nil {
		t.Fatalf("CompareAndDelete = %v, %v", ok, err)
	}
	select {
	case got := <-calls:
		if got != "7T:cluster" {
			t.Fatal("wrong ticket invalidated")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no invalidation through the cluster")
	}
	var _ sysuser.TicketStore = s
}

// missOnce is a store whose first Get misses, as when another replica
// stores its ticket and unlocks between a replica's Get and its Lock.
type missOnce struct {
	*redisstore.Store
	missed atomic.Bool
}

func (m *missOnce) Get(ctx context.Context, tenant string) (*sysuser.SystemUserResult, time.Time, error) {
	if m.missed.CompareAndSwap(false, true) {
		return nil, time.Time{}, nil
	}
	return m.Store.Get(ctx, tenant)
}

// The replica that gets the lease looks once more before exchanging: the
// previous holder may have stored its ticket and unlocked in between.
func TestLeaseTakerLooksAgainBeforeExchanging(t *testing.T) {
	r := startRedis(t)
	fake := newFake(t, nil)
	ctx := context.Background()
	first := newClient(t, fake.URL, newStore(t, newRedisClient(t, r.Addr()), nil), nil, nil)
	want, err := first.Tenant(testTenant, testToken).Ticket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	late := &missOnce{Store: newStore(t, newRedisClient(t, r.Addr()), nil)}
	second := newClient(t, fake.URL, late, nil, nil)
	got, err := second.Tenant(testTenant, testToken).Ticket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !late.missed.Load() || got.Ticket != want.Ticket || fake.ExchangeCount(testTenant) != 1 {
		t.Fatalf("the second replica exchanged (%d exchanges) instead of adopting the stored ticket", fake.ExchangeCount(testTenant))
	}
}

// A malformed entry (a key of another type, a field that is not a number)
// is a miss for its tenant, and never pauses the store for the others.
func TestMalformedEntriesAreMissesForTheirTenantOnly(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r.Addr())
	var logs logRecorder
	s := newStore(t, rdb, logs.logger())
	ctx := context.Background()
	now := time.Now()
	ticketKey := func(tenant string) string { return "sysuser:{" + tenant + "}:ticket" }
	leaseKey := func(tenant string) string { return "sysuser:{" + tenant + "}:lease" }

	cases := []struct {
		name  string
		plant func(tenant string)
	}{
		{name: "ticket key is a string", plant: func(tenant string) { rdb.Set(ctx, ticketKey(tenant), "x", time.Hour) }},
		{name: "ticket key is a list", plant: func(tenant string) { rdb.RPush(ctx, ticketKey(tenant), "x") }},
		{name: "expiry not a number", plant: func(tenant string) {
			s.Put(ctx, tenant, "", result(tenant, "7T:a", now), now.Add(time.Hour))
			rdb.HSet(ctx, ticketKey(tenant), "x", "soon")
		}},
		{name: "receipt time not a number", plant: func(tenant string) {
			s.Put(ctx, tenant, "", result(tenant, "7T:a", now), now.Add(time.Hour))
			rdb.HSet(ctx, ticketKey(tenant), "r", "yesterday")
		}},
		{name: "lease key is a hash", plant: func(tenant string) { rdb.HSet(ctx, leaseKey(tenant), "a", "b") }},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tenant := fmt.Sprintf("Cust%d", 500+i)
			c.plant(tenant)
			if res, _, err := s.Get(ctx, tenant); res != nil || err != nil {
				t.Fatalf("Get = %v, %v; want a miss", res, err)
			}
			if ok, err := s.CompareAndDelete(ctx, tenant, "7T:a"); err != nil {
				t.Fatalf("CompareAndDelete = %v, %v", ok, err)
			}
			lease, err := s.Lock(ctx, tenant, time.Minute)
			if err != nil || lease == "" {
				t.Fatalf("Lock = %q, %v", lease, err)
			}
			if err := s.Put(ctx, tenant, lease, result(tenant, "7T:b", now), now.Add(time.Hour)); err != nil {
				t.Fatalf("Put over it: %v", err)
			}
			if err := s.Unlock(ctx, tenant, lease); err != nil {
				t.Fatalf("Unlock: %v", err)
			}
			if res, _, err := s.Get(ctx, tenant); err != nil || res == nil || res.Ticket != "7T:b" {
				t.Fatalf("after the Put: Get = %v, %v", res, err)
			}
			// An unleased Put over a planted entry.
			c.plant(tenant)
			if err := s.Put(ctx, tenant, "", result(tenant, "7T:c", now.Add(time.Second)), now.Add(time.Hour)); err != nil {
				t.Fatalf("unleased Put over it: %v", err)
			}
			// The store did not pause: another tenant is served at once.
			if err := s.Put(ctx, testTenant, "", result(testTenant, "7T:other", now), now.Add(time.Hour)); err != nil {
				t.Fatalf("another tenant after a malformed entry: %v", err)
			}
			if _, _, err := s.Get(ctx, testTenant); errors.Is(err, redisstore.ErrUnavailable) || err != nil {
				t.Fatalf("another tenant after a malformed entry: %v", err)
			}
		})
	}
}

// The expiry and the receipt time are authenticated: an old value written
// back with a later expiry, or with its fields changed, is a miss.
func TestExpiryAndReceiptTimeAreAuthenticated(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r.Addr())
	s := newStore(t, rdb, nil)
	ctx := context.Background()
	key := "sysuser:{" + testTenant + "}:ticket"
	now := time.Now()
	if err := s.Put(ctx, testTenant, "", result(testTenant, "7T:old", now.Add(-time.Hour)), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	old := rdb.HGetAll(ctx, key).Val()
	if res, _, err := s.Get(ctx, testTenant); res == nil || err != nil {
		t.Fatalf("the genuine entry: %v, %v", res, err)
	}
	later := fmt.Sprint(now.Add(6 * time.Hour).UnixMilli())
	for name, change := range map[string]map[string]string{
		"later expiry":       {"x": later},
		"later receipt time": {"r": fmt.Sprint(now.UnixMicro())},
		"both":               {"x": later, "r": fmt.Sprint(now.UnixMicro())},
	} {
		rdb.Del(ctx, key)
		fields := map[string]any{}
		for k, v := range old {
			fields[k] = v
		}
		for k, v := range change {
			fields[k] = v
		}
		rdb.HSet(ctx, key, fields)
		if res, _, err := s.Get(ctx, testTenant); res != nil || err != nil {
			t.Errorf("%s: Get = %v, %v; want a miss", name, res, err)
		}
	}
}

// A lease with no expiry, or with more time left than a lease is given, is
// broken: Lock takes it over, with the ttl it asked. A lease another
// replica holds within its ttl is respected.
func TestBrokenLeaseIsTakenOver(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r.Addr())
	var logs logRecorder
	s := newStore(t, rdb, logs.logger())
	ctx := context.Background()
	key := "sysuser:{" + testTenant + "}:lease"
	for name, plant := range map[string]func(){
		"no expiry":     func() { rdb.Set(ctx, key, "stuck", 0) },
		"absurd expiry": func() { rdb.Set(ctx, key, "stuck", 24*time.Hour) },
		"not a string":  func() { rdb.Del(ctx, key); rdb.SAdd(ctx, key, "stuck") },
	} {
		rdb.Del(ctx, key)
		plant()
		lease, err := s.Lock(ctx, testTenant, time.Minute)
		if err != nil || lease == "" {
			t.Errorf("%s: Lock = %q, %v; want the lease taken over", name, lease, err)
			continue
		}
		if ttl := rdb.PTTL(ctx, key).Val(); ttl <= 0 || ttl > time.Minute {
			t.Errorf("%s: the lease taken over has ttl %s", name, ttl)
		}
	}
	if logs.count("WARN", "took over", "tenant="+testTenant) != 3 {
		t.Errorf("want three warnings:\n%s", logs.all())
	}
	rdb.Del(ctx, key)
	held, _ := s.Lock(ctx, testTenant, time.Minute)
	if again, err := s.Lock(ctx, testTenant, time.Minute); again != "" || err != nil || held == "" {
		t.Fatalf("a held lease: Lock = %q, %v", again, err)
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
	none := func(what string) {
		t.Helper()
		select {
		case c := <-calls:
			t.Fatalf("%s dropped %q", what, c)
		case <-time.After(200 * time.Millisecond):
		}
	}

	publish("v1 k1:" + sum + " " + testTenant)
	none("an unauthenticated old-format message")
	forged := message(now, "aaaaaaaaaaaaaaaaaaaaaaaa", testTenant)
	publish(forged[:len(forged)-4] + "0000")
	none("a message with a wrong MAC")
	publish(message(now.Add(-10*time.Minute), "bbbbbbbbbbbbbbbbbbbbbbbb", testTenant))
	none("a stale message")
	huge := strings.Repeat("x", 1<<20)
	publish(message(now, "cccccccccccccccccccccccc", huge))
	none("a message with a 1 MiB tenant")
	if strings.Contains(logs.all(), strings.Repeat("x", 200)) {
		t.Fatal("a log carries the unbounded tenant")
	}

	genuine := message(now, "dddddddddddddddddddddddd", testTenant)
	publish(genuine)
	select {
	case c := <-calls:
		if c != testTenant+" 7T:live" {
			t.Fatalf("the genuine message dropped %q", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the genuine message dropped nothing")
	}
	// The ticket is known again (a Get), and the same message is replayed.
	s.Get(ctx, testTenant)
	publish(genuine)
	none("a replayed message")
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

// json.Marshal and slog's JSON handler of a Key, Options or a map holding
// them show the id, never the secret.
func TestKeyAndOptionsJSONHideTheSecret(t *testing.T) {
	k := redisstore.Key{ID: "2026-11", Secret: []byte("0123456789abcdef0123456789ABCDEF")}
	opts := redisstore.Options{Keys: []redisstore.Key{k}, Prefix: "p:"}
	var outs []string
	for _, v := range []any{k, &k, opts, &opts, map[string]any{"opts": opts}, struct{ Opts *redisstore.Options }{&opts}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("v", "v", v)
		outs = append(outs, string(b), logged.String())
	}
	for _, out := range outs {
		if strings.Contains(out, "0123456789") || strings.Contains(out, "MDEyMzQ1") || !strings.Contains(out, "2026-11") {
			t.Errorf("%s", out)
		}
	}
}
