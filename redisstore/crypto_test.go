package redisstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser/redisstore"
)

func TestKeyNeverPrintsItsSecret(t *testing.T) {
	k := redisstore.Key{ID: "2026-11", Secret: []byte("0123456789abcdef0123456789ABCDEF")}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("key", "key", k)
	cases := []struct {
		name string
		out  string
	}{
		{name: "Sprint", out: fmt.Sprint(k)},
		{name: "verbs", out: fmt.Sprintf("%+v %#v %s %x %q", k, k, k, k, k)},
		{name: "slice", out: fmt.Sprint([]redisstore.Key{k})},
		{name: "Options", out: fmt.Sprintf("%+v", redisstore.Options{Keys: []redisstore.Key{k}})},
		{name: "slog text", out: logged.String()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if strings.Contains(c.out, "0123456789") || strings.Contains(c.out, "30313233") {
				t.Errorf("the secret shows in %q", c.out)
			}
			if !strings.Contains(c.out, "2026-11") {
				t.Errorf("the id is missing from %q", c.out)
			}
		})
	}
}

// json.Marshal and slog's JSON handler of a Key, Options or a map holding
// them show the id, never the secret.
func TestKeyAndOptionsJSONHideTheSecret(t *testing.T) {
	k := redisstore.Key{ID: "2026-11", Secret: []byte("0123456789abcdef0123456789ABCDEF")}
	opts := redisstore.Options{Keys: []redisstore.Key{k}, Prefix: "p:"}
	cases := []struct {
		name string
		v    any
	}{
		{name: "Key", v: k},
		{name: "*Key", v: &k},
		{name: "Options", v: opts},
		{name: "*Options", v: &opts},
		{name: "map holding Options", v: map[string]any{"opts": opts}},
		{name: "struct holding *Options", v: struct{ Opts *redisstore.Options }{&opts}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.v)
			if err != nil {
				t.Fatal(err)
			}
			var logged bytes.Buffer
			slog.New(slog.NewJSONHandler(&logged, nil)).Info("v", "v", c.v)
			for _, out := range []string{string(b), logged.String()} {
				if strings.Contains(out, "0123456789") || strings.Contains(out, "MDEyMzQ1") || !strings.Contains(out, "2026-11") {
					t.Errorf("want the id and not the secret: %s", out)
				}
			}
		})
	}
}

// A value that does not decrypt is a miss, never an error or a crash.
func TestUnreadableValuesAreMisses(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r.Addr())
	writer := newStore(t, rdb, nil)
	ctx := context.Background()
	now := time.Now()
	if err := writer.Put(ctx, testTenant, "", result(testTenant, "7T:secret", now), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	readers := []struct {
		name string
		key  redisstore.Key
	}{
		{name: "unknown key id", key: testKey("k2")},
		{name: "same id, other secret", key: redisstore.Key{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)}},
	}
	for _, c := range readers {
		t.Run(c.name, func(t *testing.T) {
			var logs logRecorder
			s := newStore(t, rdb, logs.logger(), c.key)
			if res, _, err := s.Get(ctx, testTenant); res != nil || err != nil {
				t.Fatalf("Get = %v, %v; want a miss", res, err)
			}
			if n := logs.count("WARN", "cannot be read", "tenant="+testTenant); n != 1 {
				t.Errorf("%d warnings, want 1:\n%s", n, logs.all())
			}
			if strings.Contains(logs.all(), "7T:secret") {
				t.Errorf("a log carries the ticket:\n%s", logs.all())
			}
		})
	}

	key := "sysuser:{" + testTenant + "}:ticket"
	blob := rdb.HGet(ctx, key, "v").Val()
	t.Run("another tenant's value", func(t *testing.T) {
		// The tenant is the associated data.
		rdb.HSet(ctx, "sysuser:{Cust99999}:ticket", rdb.HGetAll(ctx, key).Val())
		if res, _, err := writer.Get(ctx, "Cust99999"); res != nil || err != nil {
			t.Errorf("Get = %v, %v; want a miss", res, err)
		}
	})
	flipped := func(i int) string {
		b := []byte(blob)
		b[i] ^= 0x20
		return string(b)
	}
	values := []struct {
		name string
		v    string
	}{
		{name: "version byte flipped", v: flipped(0)},
		{name: "key id length flipped", v: flipped(1)},
		{name: "nonce byte flipped", v: flipped(4)},
		{name: "middle byte flipped", v: flipped(len(blob) / 2)},
		{name: "last byte flipped", v: flipped(len(blob) - 1)},
		{name: "empty", v: ""},
		{name: "version only", v: "\x01"},
		{name: "old version, id only", v: "\x01\x02k1"},
		{name: "garbage", v: "garbage"},
	}
	for _, c := range values {
		t.Run(c.name, func(t *testing.T) {
			rdb.HSet(ctx, key, "v", c.v)
			if res, _, err := writer.Get(ctx, testTenant); res != nil || err != nil {
				t.Errorf("Get = %v, %v; want a miss", res, err)
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
	cases := []struct {
		name   string
		change map[string]string
	}{
		{name: "later expiry", change: map[string]string{"x": later}},
		{name: "later receipt time", change: map[string]string{"r": fmt.Sprint(now.UnixMicro())}},
		{name: "both", change: map[string]string{"x": later, "r": fmt.Sprint(now.UnixMicro())}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rdb.Del(ctx, key)
			fields := map[string]any{}
			for k, v := range old {
				fields[k] = v
			}
			for k, v := range c.change {
				fields[k] = v
			}
			rdb.HSet(ctx, key, fields)
			if res, _, err := s.Get(ctx, testTenant); res != nil || err != nil {
				t.Errorf("Get = %v, %v; want a miss", res, err)
			}
		})
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
