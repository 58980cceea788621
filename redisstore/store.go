package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/redis/go-redis/v9"
)

// defaultPrefix starts the names of the store's Redis keys and channel
// when Options.Prefix is empty.
const defaultPrefix = "sysuser:"

// defaultTimeout bounds each store method when Options.Timeout is zero.
const defaultTimeout = time.Second

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

// Options configure a Store.
type Options struct {
	// Keys encrypt and decrypt the stored tickets: the first encrypts, all
	// decrypt (see Rotation in the package doc). At least one is required.
	Keys []Key
	// Prefix starts every key and channel name the store uses. Empty means
	// "sysuser:". It must not contain '{' or '}'.
	Prefix string
	// Timeout bounds each store method, on top of its ctx. Zero means one
	// second; negative is refused.
	Timeout time.Duration
	// Logger receives warnings about entries that cannot be read, broken
	// leases taken over and invalidation messages refused (never a ticket
	// or a key). Nil means no logging.
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
	closed    atomic.Bool // set under mu, read without it
}

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
		s.prefix = defaultPrefix
	}
	if strings.ContainsAny(s.prefix, "{}") {
		return nil, errors.New("redisstore: Options.Prefix must not contain '{' or '}' (the tenant is the keys' hash tag)")
	}
	if s.timeout == 0 {
		s.timeout = defaultTimeout
	}
	if s.timeout < 0 {
		return nil, errors.New("redisstore: Options.Timeout must not be negative")
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
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
		kk, err := newKey(k)
		if err != nil {
			return nil, fmt.Errorf("redisstore: Options.Keys[%d] (%s): %w", i, k.ID, err)
		}
		s.keys = append(s.keys, kk)
		s.byID[k.ID] = kk
	}
	return s, nil
}

// ticketKey and leaseKey name a tenant's keys; {tenant} is their hash tag.
func (s *Store) ticketKey(tenant string) string { return s.prefix + "{" + tenant + "}:ticket" }
func (s *Store) leaseKey(tenant string) string  { return s.prefix + "{" + tenant + "}:lease" }

// checkOpen fails a method called after Close.
func (s *Store) checkOpen(op, tenant string) error {
	if s.closed.Load() {
		return fmt.Errorf("redisstore: %s for %s: the Store is closed: %w", op, tenant, net.ErrClosed)
	}
	return nil
}

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
	if err := s.checkOpen("get", contextIdentifier); err != nil {
		return nil, time.Time{}, err
	}
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
	if err := s.checkOpen("lock", contextIdentifier); err != nil {
		return "", err
	}
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
	if err := s.checkOpen("put", contextIdentifier); err != nil {
		return err
	}
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
	if err := s.checkOpen("unlock", contextIdentifier); err != nil {
		return err
	}
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
	if err := s.checkOpen("compare-and-delete", contextIdentifier); err != nil {
		return false, err
	}
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

// Close stops the invalidation subscription, if any, drops every function
// Subscribe registered, and waits for the listening goroutine. It does not
// close the Redis client. Close the Clients using the store first: after
// Close, Get, Lock, Put, Unlock and CompareAndDelete return an error
// matching net.ErrClosed, and Subscribe registers nothing. Close is safe
// to call more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil
	}
	s.closed.Store(true)
	if s.cancel != nil {
		s.cancel()
	}
	s.cancel, s.subs, s.seen, s.nonces = nil, nil, nil, nil
	s.mu.Unlock()
	s.listeners.Wait()
	return nil
}
