// Package redisstore is a sysuser.TicketStore on Redis, so that the
// replicas of an application share their tenants' system user tickets: the
// fleet makes one exchange per tenant per renewal instead of one per
// replica, and a ticket the WebApi rejects on one replica is dropped by all.
//
//	rdb := redis.NewClient(&redis.Options{
//		Addr:                  "redis:6379",
//		DialTimeout:           time.Second,
//		ReadTimeout:           500 * time.Millisecond,
//		WriteTimeout:          500 * time.Millisecond,
//		ContextTimeoutEnabled: true, // so that a ctx's deadline bounds each command
//	})
//	store, err := redisstore.New(rdb, redisstore.Options{
//		Keys: []redisstore.Key{{ID: "2026-11", Secret: secret}}, // 32 random bytes from your secret store
//	})
//	if err != nil { ... }
//	defer store.Close()
//	client, err := sysuser.NewClient(sysuser.Config{..., Store: store})
//
// Any redis.UniversalClient works: a single node, Sentinel (a failover
// client) or Cluster. A tenant's keys share a hash tag, {tenant}, and so a
// cluster slot.
//
// # What is in Redis
//
// For each tenant, a hash PREFIX{tenant}:ticket holds
//
//   - v: the result (the ticket, the verified JWT and its claims, as JSON),
//     encrypted with AES-256-GCM under the first of Options.Keys, with a
//     random nonce and the tenant id as associated data, prefixed by the
//     key's id;
//   - h: the key id and an HMAC-SHA256 of the ticket, under a key derived
//     from that encryption key, for CompareAndDelete;
//   - r: when the exchange finished (ReceivedAt, Unix microseconds), in the
//     clear, so that an unleased Put never replaces a newer ticket;
//   - x: when the entry stops being usable (Unix milliseconds), which is
//     also the key's expiry.
//
// PREFIX{tenant}:lease holds the random value of the tenant's exchange
// lease while a replica holds it. Nothing in Redis, its dump files or the
// invalidation channel reveals a ticket to someone without the keys.
//
// # Keys and rotation
//
// Every replica must have the key that encrypted an entry to read it. To
// rotate: add the new key last on every replica; once all run with it,
// move it first (it encrypts from then on); after a ticket lifetime (6
// hours), drop the old key. An entry no key opens (a wrong or missing key,
// a tampered value, another tenant's value) is a miss, logged at Warn: the
// Client exchanges anew and overwrites it.
//
// # Failures
//
// Every method returns within its ctx and Options.Timeout (with the
// redis.Options above: ContextTimeoutEnabled makes go-redis honour a
// deadline during a command, not only while waiting for a connection).
// After Redis fails a call, the store's calls fail at once with
// ErrUnavailable for a second, then try Redis again, so an outage costs a
// caller at most one Timeout a second. The Client logs a store error at
// Warn and carries on without the store: Redis being down costs
// exchanges, never a caller's ticket.
//
// # Invalidation
//
// CompareAndDelete publishes, on the channel PREFIX + "invalidations", the
// tenant and the key id and HMAC of the ticket it deleted, never the
// ticket. Subscribe, which sysuser.NewClient calls, listens there and hands
// a Client the invalidated ticket so that it drops its copy at once. Since
// only the HMAC travels, the store keeps the tickets it returned or stored
// in memory (at most a few per tenant, each until its expiry) and matches
// the HMAC against them: every ticket a Client holds went through its
// store's Get or Put. Pub/sub delivery is best effort; a replica that
// misses a message drops its copy at its next 401, as without a store.
package redisstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/redis/go-redis/v9"
)

// DefaultPrefix starts the names of the store's Redis keys and channel
// when Options.Prefix is empty.
const DefaultPrefix = "sysuser:"

// DefaultTimeout bounds each store method when Options.Timeout is zero.
const DefaultTimeout = time.Second

// ErrUnavailable is returned, wrapped, by the store's methods for a
// second after Redis failed one of them: during an outage each caller pays
// at most one Options.Timeout a second, the others an error at once. The
// first call after the pause tries Redis again.
var ErrUnavailable = errors.New("redisstore: Redis failed a moment ago; not asking it again yet")

// pauseAfterFailure is how long the store fails fast after Redis failed.
const pauseAfterFailure = time.Second

// ErrLeaseLost is returned by Put when the lease it was given is no longer
// held (it expired, and another replica may have taken over): the ticket
// was not stored.
var ErrLeaseLost = errors.New("redisstore: the exchange lease is no longer held; ticket not stored")

// A Key encrypts or decrypts stored tickets. fmt and log/slog show its ID,
// never its Secret.
type Key struct {
	// ID names the key in every value it encrypts, so that any replica
	// holding the key can pick it: 1 to 64 letters, digits, '-', '_' or
	// '.', such as "2026-11".
	ID string
	// Secret is the AES-256 key: 32 random bytes, from your secret store.
	Secret []byte
}

// Format prints the key's id and hides its secret, with every verb.
func (k Key) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "redisstore.Key{ID: %q, Secret: [%d bytes]}", k.ID, len(k.Secret))
}

// LogValue gives log/slog the key's id only.
func (k Key) LogValue() slog.Value { return slog.GroupValue(slog.String("id", k.ID)) }

// Options configure a Store.
type Options struct {
	// Keys encrypt and decrypt the stored tickets: the first encrypts, all
	// decrypt (see Rotation in the package doc). At least one is required.
	Keys []Key
	// Prefix starts every key and channel name the store uses. Empty means
	// DefaultPrefix. It must not contain '{' or '}'.
	Prefix string
	// Timeout bounds each store method, on top of its ctx. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Logger receives warnings about entries that do not decrypt and about
	// the invalidation subscription. Nil means slog.Default().
	Logger *slog.Logger
}

// Store is a sysuser.TicketStore on Redis. Make one with New, share it by
// all the Clients of a process (each replica has its own), and Close it
// after them. Its methods are safe for concurrent use.
type Store struct {
	rdb     redis.UniversalClient
	keys    []*key // keys[0] encrypts
	byID    map[string]*key
	prefix  string
	channel string
	timeout time.Duration
	log     *slog.Logger
	paused  atomic.Int64 // Unix nanoseconds until which calls fail fast

	mu     sync.Mutex
	subs   []func(contextIdentifier, ticket string)
	seen   map[string][]seenTicket // by tenant, only while subscribed
	cancel context.CancelFunc      // stops the subscription; nil before Subscribe
	done   chan struct{}           // closed when the subscription goroutine ends
	closed bool
}

// key is a Key made ready: its AEAD and its HMAC key.
type key struct {
	id   string
	aead cipher.AEAD
	mac  []byte
}

// seenTicket is a ticket the store handed out or stored, kept to resolve
// invalidation messages, which carry only its HMAC.
type seenTicket struct {
	ticket  string
	expires time.Time
}

// maxSeen bounds the tickets remembered per tenant: a Client holds one at a
// time, and a renewal overlaps two.
const maxSeen = 4

var _ sysuser.TicketStore = (*Store)(nil)

// New returns a Store on rdb. The Store does not own rdb: close rdb
// yourself, after the Store.
func New(rdb redis.UniversalClient, opts Options) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("redisstore: the Redis client is nil")
	}
	if len(opts.Keys) == 0 {
		return nil, errors.New("redisstore: Options.Keys is empty (want at least one 32-byte key)")
	}
	s := &Store{rdb: rdb, byID: map[string]*key{}, prefix: opts.Prefix, timeout: opts.Timeout, log: opts.Logger}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if strings.ContainsAny(s.prefix, "{}") {
		return nil, errors.New("redisstore: Options.Prefix must not contain '{' or '}' (the tenant is the keys' hash tag)")
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.timeout < 0 {
		return nil, errors.New("redisstore: Options.Timeout must not be negative")
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.channel = s.prefix + "invalidations"
	for i, k := range opts.Keys {
		if !validKeyID(k.ID) {
			return nil, fmt.Errorf("redisstore: Options.Keys[%d]: the id must be 1 to 64 letters, digits, '-', '_' or '.'", i)
		}
		if len(k.Secret) != 32 {
			return nil, fmt.Errorf("redisstore: Options.Keys[%d] (%s): the secret is %d bytes, want 32", i, k.ID, len(k.Secret))
		}
		if s.byID[k.ID] != nil {
			return nil, fmt.Errorf("redisstore: Options.Keys[%d]: id %s appears twice", i, k.ID)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("redisstore: Options.Keys[%d] (%s): %w", i, k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("redisstore: Options.Keys[%d] (%s): %w", i, k.ID, err)
		}
		mac, err := hkdf.Key(sha256.New, k.Secret, nil, "sysuser redisstore ticket hmac v1", 32)
		if err != nil {
			return nil, fmt.Errorf("redisstore: Options.Keys[%d] (%s): deriving the HMAC key: %w", i, k.ID, err)
		}
		kk := &key{id: k.ID, aead: aead, mac: mac}
		s.keys = append(s.keys, kk)
		s.byID[k.ID] = kk
	}
	return s, nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// ticketKey and leaseKey name a tenant's keys; {tenant} is their hash tag.
func (s *Store) ticketKey(tenant string) string { return s.prefix + "{" + tenant + "}:ticket" }
func (s *Store) leaseKey(tenant string) string  { return s.prefix + "{" + tenant + "}:lease" }

// begin starts a call to Redis: it fails at once while the store pauses
// after a failure, and otherwise applies Options.Timeout to ctx.
func (s *Store) begin(ctx context.Context, op, tenant string) (context.Context, context.CancelFunc, error) {
	if time.Now().UnixNano() < s.paused.Load() {
		return nil, nil, fmt.Errorf("redisstore: %s for %s: %w", op, tenant, ErrUnavailable)
	}
	bctx, cancel := context.WithTimeout(ctx, s.timeout)
	return bctx, cancel, nil
}

// fail wraps a Redis error and, unless the caller's ctx ended first,
// pauses the store. go-redis errors name the command and the server's
// message, never the arguments, so no ticket or key can appear.
func (s *Store) fail(ctx context.Context, op, tenant string, err error) error {
	if ctx.Err() == nil {
		s.paused.Store(time.Now().Add(pauseAfterFailure).UnixNano())
	}
	return fmt.Errorf("redisstore: %s for %s: %w", op, tenant, err)
}

// Get returns the tenant's stored result and its expiry, or a nil result
// when there is none or when it does not decrypt (logged at Warn).
func (s *Store) Get(ctx context.Context, contextIdentifier string) (*sysuser.SystemUserResult, time.Time, error) {
	bctx, cancel, err := s.begin(ctx, "get", contextIdentifier)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer cancel()
	vals, err := s.rdb.HMGet(bctx, s.ticketKey(contextIdentifier), "v", "x").Result()
	if err != nil {
		return nil, time.Time{}, s.fail(ctx, "get", contextIdentifier, err)
	}
	blob, ok1 := vals[0].(string)
	xs, ok2 := vals[1].(string)
	if !ok1 || !ok2 {
		return nil, time.Time{}, nil
	}
	x, err := strconv.ParseInt(xs, 10, 64)
	if err != nil {
		s.warnUnreadable(ctx, contextIdentifier, "its expiry is not a number")
		return nil, time.Time{}, nil
	}
	res, why := s.open(contextIdentifier, blob)
	if res == nil {
		s.warnUnreadable(ctx, contextIdentifier, why)
		return nil, time.Time{}, nil
	}
	expires := time.UnixMilli(x)
	s.remember(contextIdentifier, res.Ticket, expires)
	return res, expires, nil
}

func (s *Store) warnUnreadable(ctx context.Context, tenant, why string) {
	s.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: ignoring a stored ticket that cannot be read; the Client exchanges anew",
		slog.String("tenant", tenant), slog.String("reason", why))
}

// Lock takes the tenant's exchange lease for ttl (SET NX PX with a random
// value), returning the value, or "" when another replica holds it.
func (s *Store) Lock(ctx context.Context, contextIdentifier string, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", fmt.Errorf("redisstore: lock for %s: ttl %s is not positive", contextIdentifier, ttl)
	}
	var b [16]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		return "", fmt.Errorf("redisstore: lock for %s: %w", contextIdentifier, err)
	}
	lease := hex.EncodeToString(b[:])
	bctx, cancel, err := s.begin(ctx, "lock", contextIdentifier)
	if err != nil {
		return "", err
	}
	defer cancel()
	ok, err := s.rdb.SetNX(bctx, s.leaseKey(contextIdentifier), lease, ttl).Result()
	if err != nil {
		return "", s.fail(ctx, "lock", contextIdentifier, err)
	}
	if !ok {
		return "", nil
	}
	return lease, nil
}

// putScript stores a ticket: under a lease only while the lease key holds
// it, without one only if the stored entry, if any, is older.
//
// KEYS: ticket, lease. ARGV: lease, v, h, r, x (Unix ms).
var putScript = redis.NewScript(`
if ARGV[1] ~= '' then
  if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
else
  local r = redis.call('HGET', KEYS[1], 'r')
  if r and tonumber(r) >= tonumber(ARGV[4]) then return 2 end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'h', ARGV[3], 'r', ARGV[4], 'x', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
return 1
`)

// Put stores res as the tenant's entry until expires. With a lease, only
// while that lease is held (else ErrLeaseLost); with an empty lease, only
// if the tenant has no entry from a later exchange (else nothing happens).
func (s *Store) Put(ctx context.Context, contextIdentifier, lease string, res *sysuser.SystemUserResult, expires time.Time) error {
	if res == nil || res.Ticket == "" {
		return fmt.Errorf("redisstore: put for %s: no ticket", contextIdentifier)
	}
	s.remember(contextIdentifier, res.Ticket, expires)
	if !time.Now().Before(expires) {
		return nil // already expired: nothing worth storing
	}
	blob, err := s.seal(contextIdentifier, res)
	if err != nil {
		return fmt.Errorf("redisstore: put for %s: %w", contextIdentifier, err)
	}
	k := s.keys[0]
	h := k.id + ":" + k.sum(contextIdentifier, res.Ticket)
	bctx, cancel, err := s.begin(ctx, "put", contextIdentifier)
	if err != nil {
		return err
	}
	defer cancel()
	n, err := putScript.Run(bctx, s.rdb, []string{s.ticketKey(contextIdentifier), s.leaseKey(contextIdentifier)},
		lease, blob, h, res.ReceivedAt.UnixMicro(), expires.UnixMilli()).Int()
	if err != nil {
		return s.fail(ctx, "put", contextIdentifier, err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: put for %s: %w", contextIdentifier, ErrLeaseLost)
	}
	return nil
}

// unlockScript deletes the lease key if it still holds the lease.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Unlock releases the tenant's lease if it is still lease.
func (s *Store) Unlock(ctx context.Context, contextIdentifier, lease string) error {
	if lease == "" {
		return nil
	}
	bctx, cancel, err := s.begin(ctx, "unlock", contextIdentifier)
	if err != nil {
		return err
	}
	defer cancel()
	if err := unlockScript.Run(bctx, s.rdb, []string{s.leaseKey(contextIdentifier)}, lease).Err(); err != nil {
		return s.fail(ctx, "unlock", contextIdentifier, err)
	}
	return nil
}

// deleteScript deletes the ticket entry if its h field is one of the
// candidates (the ticket's HMAC under each key), and publishes the tenant
// and that h on the invalidation channel.
//
// KEYS: ticket. ARGV: channel, tenant, candidates...
var deleteScript = redis.NewScript(`
local h = redis.call('HGET', KEYS[1], 'h')
if not h then return 0 end
for i = 3, #ARGV do
  if ARGV[i] == h then
    redis.call('DEL', KEYS[1])
    redis.call('PUBLISH', ARGV[1], 'v1 ' .. h .. ' ' .. ARGV[2])
    return 1
  end
end
return 0
`)

// CompareAndDelete deletes the tenant's entry if its ticket is ticket,
// comparing HMACs in one script, and then publishes the invalidation (the
// tenant and the ticket's HMAC) to the other replicas. It reports whether
// it deleted.
func (s *Store) CompareAndDelete(ctx context.Context, contextIdentifier, ticket string) (bool, error) {
	if ticket == "" {
		return false, nil
	}
	args := make([]any, 0, 2+len(s.keys))
	args = append(args, s.channel, contextIdentifier)
	for _, k := range s.keys {
		args = append(args, k.id+":"+k.sum(contextIdentifier, ticket))
	}
	bctx, cancel, err := s.begin(ctx, "compare-and-delete", contextIdentifier)
	if err != nil {
		return false, err
	}
	defer cancel()
	n, err := deleteScript.Run(bctx, s.rdb, []string{s.ticketKey(contextIdentifier)}, args...).Int()
	if err != nil {
		return false, s.fail(ctx, "compare-and-delete", contextIdentifier, err)
	}
	return n == 1, nil
}

// sum is the hex HMAC-SHA256 of a tenant's ticket under k.
func (k *key) sum(tenant, ticket string) string {
	m := hmac.New(sha256.New, k.mac)
	io.WriteString(m, tenant)
	m.Write([]byte{0})
	io.WriteString(m, ticket)
	return hex.EncodeToString(m.Sum(nil))
}

// Stored values are: version byte 1, the key id's length (one byte), the
// key id, the GCM nonce, and the sealed JSON of the result.
const blobVersion = 1

// seal encrypts res under the first key, with the tenant as associated
// data.
func (s *Store) seal(tenant string, res *sysuser.SystemUserResult) (string, error) {
	plain, err := json.Marshal(res)
	if err != nil {
		return "", errors.New("encoding the result failed") // without the cause: it could quote a claim
	}
	k := s.keys[0]
	ns := k.aead.NonceSize()
	out := make([]byte, 0, 2+len(k.id)+ns+len(plain)+k.aead.Overhead())
	out = append(out, blobVersion, byte(len(k.id)))
	out = append(out, k.id...)
	nonce := out[len(out) : len(out)+ns]
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return "", fmt.Errorf("making a nonce: %w", err)
	}
	out = out[:len(out)+ns]
	out = k.aead.Seal(out, nonce, plain, []byte(tenant))
	return string(out), nil
}

// open decrypts a stored value, or says why it cannot.
func (s *Store) open(tenant, blob string) (*sysuser.SystemUserResult, string) {
	b := []byte(blob)
	if len(b) < 2 || b[0] != blobVersion {
		return nil, "unknown format"
	}
	n := int(b[1])
	if len(b) < 2+n {
		return nil, "truncated"
	}
	id := string(b[2 : 2+n])
	k := s.byID[id]
	if k == nil {
		return nil, "encrypted with key id " + strconv.Quote(id) + ", which this replica does not have"
	}
	b = b[2+n:]
	ns := k.aead.NonceSize()
	if len(b) < ns+k.aead.Overhead() {
		return nil, "truncated"
	}
	plain, err := k.aead.Open(nil, b[:ns], b[ns:], []byte(tenant))
	if err != nil {
		return nil, "does not decrypt with key " + strconv.Quote(id) + " for this tenant (wrong key, tampered, or another tenant's value)"
	}
	var res sysuser.SystemUserResult
	if err := json.Unmarshal(plain, &res); err != nil || res.Ticket == "" {
		return nil, "decrypts to no result"
	}
	return &res, ""
}

// Subscribe makes the store call fn(tenant, ticket) when another replica
// (or this one) deleted that tenant's ticket with CompareAndDelete, for a
// ticket this store returned from Get or stored with Put. sysuser.NewClient
// calls it; the first call starts a goroutine listening on the
// invalidation channel, which Close stops. fn runs on that goroutine and
// must be quick.
func (s *Store) Subscribe(fn func(contextIdentifier, ticket string)) {
	if fn == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.subs = append(s.subs, fn)
	if s.cancel != nil {
		return
	}
	s.seen = map[string][]seenTicket{}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go s.listen(ctx)
}

// listen subscribes, off the caller's goroutine (sysuser.NewClient must
// not wait for Redis), and delivers invalidation messages until Close.
// go-redis's channel reconnects and resubscribes by itself after Redis
// comes back; messages published meanwhile are lost.
func (s *Store) listen(ctx context.Context) {
	defer close(s.done)
	ps := s.rdb.Subscribe(ctx, s.channel)
	defer ps.Close()
	msgs := ps.Channel(redis.WithChannelHealthCheckInterval(10 * time.Second))
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-prune.C:
			s.prune(time.Now())
		case m, ok := <-msgs:
			if !ok {
				return
			}
			s.deliver(ctx, m.Payload)
		}
	}
}

// deliver handles one message: "v1 <key id>:<hmac> <tenant>".
func (s *Store) deliver(ctx context.Context, payload string) {
	rest, ok := strings.CutPrefix(payload, "v1 ")
	h, tenant, ok2 := strings.Cut(rest, " ")
	id, sum, ok3 := strings.Cut(h, ":")
	if !ok || !ok2 || !ok3 {
		s.log.LogAttrs(ctx, slog.LevelDebug, "redisstore: ignoring an invalidation message in an unknown format")
		return
	}
	k := s.byID[id]
	if k == nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: an invalidation names a key this replica does not have",
			slog.String("tenant", tenant), slog.String("key_id", id))
		return
	}
	var tickets []string
	s.mu.Lock()
	kept := s.seen[tenant][:0]
	for _, st := range s.seen[tenant] {
		if hmac.Equal([]byte(k.sum(tenant, st.ticket)), []byte(sum)) {
			tickets = append(tickets, st.ticket)
		} else {
			kept = append(kept, st)
		}
	}
	if len(kept) == 0 {
		delete(s.seen, tenant)
	} else {
		s.seen[tenant] = kept
	}
	subs := s.subs
	s.mu.Unlock()
	for _, t := range tickets {
		for _, fn := range subs {
			fn(tenant, t)
		}
	}
}

// remember keeps a ticket the store saw, while someone is subscribed.
func (s *Store) remember(tenant, ticket string, expires time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		return
	}
	list := s.seen[tenant]
	for i, st := range list {
		if st.ticket == ticket {
			if expires.After(st.expires) {
				list[i].expires = expires
			}
			return
		}
	}
	if len(list) >= maxSeen {
		list = append(list[:0], list[1:]...) // drop the oldest
	}
	s.seen[tenant] = append(list, seenTicket{ticket: ticket, expires: expires})
}

// prune forgets the remembered tickets past their expiry.
func (s *Store) prune(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tenant, list := range s.seen {
		kept := list[:0]
		for _, st := range list {
			if now.Before(st.expires) {
				kept = append(kept, st)
			}
		}
		if len(kept) == 0 {
			delete(s.seen, tenant)
		} else {
			s.seen[tenant] = kept
		}
	}
}

// Close stops the invalidation subscription, if any, and waits for its
// goroutine. It does not close the Redis client. Close the Clients using
// the store first; the store's other methods still work after Close.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	cancel, done := s.cancel, s.done
	s.subs, s.seen = nil, nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}
