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
// type), is a miss for that tenant, logged at Warn to Options.Logger: the
// Client exchanges anew and overwrites it. A malformed entry never pauses
// the store.
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
