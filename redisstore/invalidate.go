package redisstore

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// seenTicket is a ticket the store handed out or stored, kept to resolve
// invalidation messages, which carry only its HMAC.
type seenTicket struct {
	ticket  string
	expires time.Time
}

// maxSeen bounds the tickets remembered per tenant: a Client holds one at a
// time, and a renewal overlaps two.
const maxSeen = 4

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

// Subscribe makes the store call fn(tenant, ticket) when another replica
// (or this one) deleted that tenant's ticket with CompareAndDelete, for a
// ticket this store returned from Get or stored with Put. sysuser.NewClient
// calls it, and Client.Close calls the stop it returns (see
// sysuser.TicketStore). While anyone is subscribed, a goroutine listens on
// the invalidation channel; the last stop, or Close, ends it. fn runs on
// that goroutine and must be quick. After Close, or for a nil fn, Subscribe
// registers nothing, and its stop reports false.
func (s *Store) Subscribe(fn func(contextIdentifier, ticket string)) (stop func() bool) {
	if fn == nil {
		return func() bool { return false }
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
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
