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
//     random nonce, prefixed by the key's id; the associated data is the
//     tenant id and the r and x below, so that a value cannot be moved to
//     another tenant nor written back with another expiry;
//   - h: the key id and an HMAC-SHA256 of the ticket, under a key derived
//     from that encryption key, for CompareAndDelete;
//   - r: when the exchange finished (ReceivedAt, Unix microseconds), so
//     that an unleased Put never replaces a newer ticket;
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
// a tampered value, another tenant's value, a changed expiry), and one
// that is malformed (a field that is not a number, a key of another Redis
// type), is a miss for that tenant, logged at Warn: the Client exchanges
// anew and overwrites it. A malformed entry never pauses the store.
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
// ticket, with a time, a random nonce and an HMAC of the message under a
// key derived from the store's key. Subscribe, which sysuser.NewClient
// calls, listens there and hands a Client the invalidated ticket so that it
// drops its copy at once; it ignores messages that do not authenticate,
// are more than 2 minutes from its clock, or repeat a nonce it saw. Since
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

// A Key encrypts or decrypts stored tickets. fmt, log/slog and
// encoding/json show its ID, never its Secret, for a Key printed or
// marshalled itself or reached through exported fields, slices or maps (as
// in Options). fmt cannot call Key's methods when a Key sits in an
// unexported field of a struct it prints: keep keys out of such fields.
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

// MarshalJSON writes the key's id and the size of its secret, never the
// secret, so that json.Marshal and slog's JSON handler of a Key or of
// Options show no key material.
func (k Key) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}{k.ID, fmt.Sprintf("[%d bytes]", len(k.Secret))})
}

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

	mu        sync.Mutex
	subs      map[uint64]func(contextIdentifier, ticket string)
	nextSub   uint64
	seen      map[string][]seenTicket // by tenant, only while subscribed
	nonces    map[string]time.Time    // invalidation nonces seen, until they leave the window
	cancel    context.CancelFunc      // stops the listener; nil while no one is subscribed
	listeners sync.WaitGroup
	closed    bool
}

// key is a Key made ready: its AEAD, its HMAC key for tickets, and its
// HMAC key for invalidation messages.
type key struct {
	id     string
	aead   cipher.AEAD
	mac    []byte
	msgMAC []byte
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
		msgMAC, err := hkdf.Key(sha256.New, k.Secret, nil, "sysuser redisstore invalidation hmac v2", 32)
		if err != nil {
			return nil, fmt.Errorf("redisstore: Options.Keys[%d] (%s): deriving the HMAC key: %w", i, k.ID, err)
		}
		kk := &key{id: k.ID, aead: aead, mac: mac, msgMAC: msgMAC}
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
// when there is none or when it cannot be read (logged at Warn): a value
// that does not decrypt, a field that is not a number, or a key of another
// Redis type is a miss for that tenant, and never pauses the store.
func (s *Store) Get(ctx context.Context, contextIdentifier string) (*sysuser.SystemUserResult, time.Time, error) {
	bctx, cancel, err := s.begin(ctx, "get", contextIdentifier)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer cancel()
	vals, err := s.rdb.HMGet(bctx, s.ticketKey(contextIdentifier), "v", "x", "r").Result()
	if isWrongType(err) {
		s.warnUnreadable(ctx, contextIdentifier, "the key is not a hash")
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, s.fail(ctx, "get", contextIdentifier, err)
	}
	blob, ok1 := vals[0].(string)
	xs, ok2 := vals[1].(string)
	rs, ok3 := vals[2].(string)
	if !ok1 && !ok2 && !ok3 {
		return nil, time.Time{}, nil
	}
	x, err1 := strconv.ParseInt(xs, 10, 64)
	r, err2 := strconv.ParseInt(rs, 10, 64)
	if !ok1 || !ok2 || !ok3 || err1 != nil || err2 != nil {
		s.warnUnreadable(ctx, contextIdentifier, "a field is missing or not a number")
		return nil, time.Time{}, nil
	}
	res, why := s.open(contextIdentifier, blob, x, r)
	if res == nil {
		s.warnUnreadable(ctx, contextIdentifier, why)
		return nil, time.Time{}, nil
	}
	expires := time.UnixMilli(x)
	s.remember(contextIdentifier, res.Ticket, expires)
	return res, expires, nil
}

// isWrongType reports whether Redis refused a command because a key holds
// another type than the command works on (someone wrote it by hand).
func isWrongType(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE")
}

func (s *Store) warnUnreadable(ctx context.Context, tenant, why string) {
	s.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: ignoring a stored ticket that cannot be read; the Client exchanges anew",
		slog.String("tenant", tenant), slog.String("reason", why))
}

// lockScript takes a lease: SET NX PX, or, when the lease key is broken
// (no expiry, more time left than a lease is given, or not a string),
// takes it over. It returns 1 (taken), 2 (taken over) or 0 (held).
//
// KEYS: lease. ARGV: value, ttl (ms).
var lockScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
local t = redis.call('PTTL', KEYS[1])
if t == -1 or t > tonumber(ARGV[2]) or redis.call('TYPE', KEYS[1]).ok ~= 'string' then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
`)

// Lock takes the tenant's exchange lease for ttl (SET NX PX with a random
// value), returning the value, or "" when another replica holds it. A
// lease key with no expiry, with more time left than ttl, or of another
// Redis type is broken (a holder cannot have set it so: every replica asks
// the same ttl unless their ExchangeTimeouts differ): Lock takes it over
// and logs a warning.
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
	n, err := lockScript.Run(bctx, s.rdb, []string{s.leaseKey(contextIdentifier)}, lease, max(ttl.Milliseconds(), 1)).Int()
	if err != nil {
		return "", s.fail(ctx, "lock", contextIdentifier, err)
	}
	switch n {
	case 0:
		return "", nil
	case 2:
		s.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: took over a broken exchange lease (no expiry, longer than asked, or not a string)",
			slog.String("tenant", contextIdentifier), slog.Duration("ttl", ttl))
	}
	return lease, nil
}

// putScript stores a ticket: under a lease only while the lease key holds
// it, without one only if the stored entry, if any, is older. A key of
// another type, or an r that is not a number, is overwritten.
//
// KEYS: ticket, lease. ARGV: lease, v, h, r, x (Unix ms).
var putScript = redis.NewScript(`
if ARGV[1] ~= '' then
  if redis.call('TYPE', KEYS[2]).ok ~= 'string' or redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
elseif redis.call('TYPE', KEYS[1]).ok == 'hash' then
  local r = tonumber(redis.call('HGET', KEYS[1], 'r'))
  if r and r >= tonumber(ARGV[4]) then return 2 end
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
	x, r := expires.UnixMilli(), res.ReceivedAt.UnixMicro()
	blob, err := s.seal(contextIdentifier, res, x, r)
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
		lease, blob, h, r, x).Int()
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
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
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
// candidates (the ticket's HMAC under each key), and publishes that
// candidate's invalidation message (made and authenticated by the caller).
//
// KEYS: ticket. ARGV: channel, then pairs of candidate h and message.
var deleteScript = redis.NewScript(`
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return 0 end
local h = redis.call('HGET', KEYS[1], 'h')
if not h then return 0 end
for i = 2, #ARGV - 1, 2 do
  if ARGV[i] == h then
    redis.call('DEL', KEYS[1])
    redis.call('PUBLISH', ARGV[1], ARGV[i + 1])
    return 1
  end
end
return 0
`)

// CompareAndDelete deletes the tenant's entry if its ticket is ticket,
// comparing HMACs in one script, and then publishes the invalidation (the
// tenant and the ticket's HMAC, authenticated) to the other replicas. It
// reports whether it deleted.
func (s *Store) CompareAndDelete(ctx context.Context, contextIdentifier, ticket string) (bool, error) {
	if ticket == "" {
		return false, nil
	}
	args := make([]any, 0, 1+2*len(s.keys))
	args = append(args, s.channel)
	now := time.Now()
	for _, k := range s.keys {
		sum := k.sum(contextIdentifier, ticket)
		args = append(args, k.id+":"+sum, k.invalidation(contextIdentifier, sum, now))
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

// Invalidation messages are
//
//	v2 <key id> <Unix ms> <nonce> <tenant> <ticket HMAC> <message HMAC>
//
// the last an HMAC-SHA256, under a key derived from the key named, of all
// before it. A replica accepts a message whose HMAC verifies, whose time is
// within invalidationWindow of its clock, and whose nonce it has not seen.
const (
	invalidationWindow = 2 * time.Minute
	maxNonces          = 1 << 16 // nonces remembered at once; past it, messages are dropped
	maxTenantBytes     = 128     // as sysuser refuses longer context identifiers
)

// invalidation makes the message announcing that the tenant's ticket with
// HMAC sum was deleted.
func (k *key) invalidation(tenant, sum string, now time.Time) string {
	var nonce [12]byte
	rand.Read(nonce[:])
	body := fmt.Sprintf("v2 %s %d %s %s %s", k.id, now.UnixMilli(), hex.EncodeToString(nonce[:]), tenant, sum)
	return body + " " + k.messageMAC(body)
}

func (k *key) messageMAC(body string) string {
	m := hmac.New(sha256.New, k.msgMAC)
	io.WriteString(m, body)
	return hex.EncodeToString(m.Sum(nil))
}

// sum is the hex HMAC-SHA256 of a tenant's ticket under k.
func (k *key) sum(tenant, ticket string) string {
	m := hmac.New(sha256.New, k.mac)
	io.WriteString(m, tenant)
	m.Write([]byte{0})
	io.WriteString(m, ticket)
	return hex.EncodeToString(m.Sum(nil))
}

// Stored values are: version byte 2, the key id's length (one byte), the
// key id, the GCM nonce, and the sealed JSON of the result. The associated
// data binds every field that decides whether a Client adopts the value:
// the tenant, the expiry x and the receipt time r (see additionalData).
// Version 1 values (without x and r bound) are misses.
const blobVersion = 2

// additionalData is what a value's AEAD authenticates besides the result:
// the tenant, x (Unix ms) and r (Unix µs), so that a value cannot be moved
// to another tenant nor written back with a later expiry.
func additionalData(tenant string, x, r int64) []byte {
	return fmt.Appendf(nil, "%s\x00%d\x00%d", tenant, x, r)
}

// seal encrypts res under the first key, binding the tenant, x and r.
func (s *Store) seal(tenant string, res *sysuser.SystemUserResult, x, r int64) (string, error) {
	plain, err := json.Marshal(storedResult(res))
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
	out = k.aead.Seal(out, nonce, plain, additionalData(tenant, x, r))
	return string(out), nil
}

// open decrypts a stored value with its x and r, or says why it cannot.
func (s *Store) open(tenant, blob string, x, r int64) (*sysuser.SystemUserResult, string) {
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
	plain, err := k.aead.Open(nil, b[:ns], b[ns:], additionalData(tenant, x, r))
	if err != nil {
		return nil, "does not decrypt with key " + strconv.Quote(id) + " for this tenant, expiry and receipt time (wrong key, tampered, or another tenant's value)"
	}
	var st stored
	if err := json.Unmarshal(plain, &st); err != nil || st.Ticket == "" {
		return nil, "decrypts to no result"
	}
	res := st.result()
	if res.ReceivedAt.UnixMicro() != r {
		return nil, "its receipt time differs from the one sealed"
	}
	return res, ""
}

// stored is the JSON of a result inside a sealed value. It is the store's
// own type: sysuser.SystemUserResult's JSON is redacted.
type stored struct {
	Ticket            string         `json:"ticket"`
	WebAPIURL         string         `json:"webapi_url"`
	NetServerURL      string         `json:"netserver_url"`
	ContextIdentifier string         `json:"ctx"`
	Serial            string         `json:"serial"`
	AssociateID       string         `json:"associate_id"`
	Email             string         `json:"email"`
	UPN               string         `json:"upn"`
	IdentityProvider  string         `json:"identity_provider"`
	TenantID          string         `json:"tenant_id"`
	IsAdministrator   bool           `json:"is_administrator"`
	CompanyName       string         `json:"company_name"`
	CompanyID         string         `json:"company_id"`
	FirstName         string         `json:"first_name"`
	LastName          string         `json:"last_name"`
	IssuedAt          time.Time      `json:"iat"`
	ExpiresAt         time.Time      `json:"exp"`
	ReceivedAt        time.Time      `json:"received_at"`
	Token             string         `json:"token"`
	Claims            map[string]any `json:"claims"`
}

func storedResult(r *sysuser.SystemUserResult) stored {
	return stored{r.Ticket, r.WebAPIURL, r.NetServerURL, r.ContextIdentifier, r.Serial, r.AssociateID, r.Email, r.UPN,
		r.IdentityProvider, r.TenantID, r.IsAdministrator, r.CompanyName, r.CompanyID, r.FirstName, r.LastName,
		r.IssuedAt, r.ExpiresAt, r.ReceivedAt, r.Token, r.Claims}
}

func (st stored) result() *sysuser.SystemUserResult {
	return &sysuser.SystemUserResult{Ticket: st.Ticket, WebAPIURL: st.WebAPIURL, NetServerURL: st.NetServerURL,
		ContextIdentifier: st.ContextIdentifier, Serial: st.Serial, AssociateID: st.AssociateID, Email: st.Email,
		UPN: st.UPN, IdentityProvider: st.IdentityProvider, TenantID: st.TenantID, IsAdministrator: st.IsAdministrator,
		CompanyName: st.CompanyName, CompanyID: st.CompanyID, FirstName: st.FirstName, LastName: st.LastName,
		IssuedAt: st.IssuedAt, ExpiresAt: st.ExpiresAt, ReceivedAt: st.ReceivedAt, Token: st.Token, Claims: st.Claims}
}

// Subscribe makes the store call fn(tenant, ticket) when another replica
// (or this one) deleted that tenant's ticket with CompareAndDelete, for a
// ticket this store returned from Get or stored with Put. sysuser.NewClient
// calls it, and Client.Close calls the stop it returns (see
// sysuser.TicketStore). While anyone is subscribed, a goroutine listens on
// the invalidation channel; the last stop, or Close, ends it. fn runs on
// that goroutine and must be quick.
func (s *Store) Subscribe(fn func(contextIdentifier, ticket string)) (stop func() bool) {
	if fn == nil {
		return func() bool { return false }
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return func() bool { return false }
	}
	if s.subs == nil {
		s.subs = map[uint64]func(string, string){}
	}
	id := s.nextSub
	s.nextSub++
	s.subs[id] = fn
	if s.cancel == nil {
		s.seen, s.nonces = map[string][]seenTicket{}, map[string]time.Time{}
		ctx, cancel := context.WithCancel(context.Background())
		s.cancel = cancel
		s.listeners.Add(1)
		go s.listen(ctx)
	}
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.subs[id]; !ok {
			return false
		}
		delete(s.subs, id)
		if len(s.subs) == 0 && s.cancel != nil {
			s.cancel()
			s.cancel, s.seen, s.nonces = nil, nil, nil
		}
		return true
	}
}

// listen subscribes, off the caller's goroutine (sysuser.NewClient must
// not wait for Redis), and delivers invalidation messages until ctx ends.
// go-redis's channel reconnects and resubscribes by itself after Redis
// comes back; messages published meanwhile are lost.
func (s *Store) listen(ctx context.Context) {
	defer s.listeners.Done()
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
			s.deliver(ctx, m.Payload, time.Now())
		}
	}
}

// deliver handles one invalidation message (see invalidation).
func (s *Store) deliver(ctx context.Context, payload string, now time.Time) {
	f := strings.Split(payload, " ")
	if len(f) != 7 || f[0] != "v2" {
		s.log.LogAttrs(ctx, slog.LevelDebug, "redisstore: ignoring an invalidation message in an unknown format")
		return
	}
	id, ms, nonce, tenant, sum, mac := f[1], f[2], f[3], f[4], f[5], f[6]
	k := s.byID[id]
	if k == nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: an invalidation names a key this replica does not have",
			slog.String("key_id", bounded(id, 64)))
		return
	}
	if !hmac.Equal([]byte(k.messageMAC(payload[:len(payload)-len(mac)-1])), []byte(mac)) {
		s.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: ignoring an invalidation message that is not authentic")
		return
	}
	t, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || now.Sub(time.UnixMilli(t)).Abs() > invalidationWindow || len(tenant) > maxTenantBytes {
		s.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: ignoring an invalidation message from outside the time window",
			slog.String("tenant", bounded(tenant, maxTenantBytes)))
		return
	}
	var tickets []string
	s.mu.Lock()
	if _, replay := s.nonces[nonce]; replay || s.nonces == nil || len(s.nonces) >= maxNonces {
		s.mu.Unlock()
		s.log.LogAttrs(ctx, slog.LevelDebug, "redisstore: ignoring a replayed invalidation message", slog.String("tenant", tenant))
		return
	}
	s.nonces[nonce] = time.UnixMilli(t).Add(invalidationWindow)
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
	subs := make([]func(string, string), 0, len(s.subs))
	for _, fn := range s.subs {
		subs = append(subs, fn)
	}
	s.mu.Unlock()
	for _, t := range tickets {
		for _, fn := range subs {
			fn(tenant, t)
		}
	}
}

// bounded quotes at most n bytes of an untrusted string for a log.
func bounded(v string, n int) string {
	if len(v) > n {
		return strconv.Quote(v[:n]) + "…"
	}
	return strconv.Quote(v)
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

// prune forgets the remembered tickets past their expiry, and the nonces
// past the time window.
func (s *Store) prune(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, until := range s.nonces {
		if !now.Before(until) {
			delete(s.nonces, n)
		}
	}
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

// Close stops the invalidation subscription, if any, drops every function
// Subscribe registered, and waits for the listening goroutine. It does not
// close the Redis client. Close the Clients using the store first; the
// store's other methods still work after Close.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
	s.cancel, s.subs, s.seen, s.nonces = nil, nil, nil, nil
	s.mu.Unlock()
	s.listeners.Wait()
	return nil
}
