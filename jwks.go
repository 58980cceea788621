package sysuser

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// maxKidBytes bounds a key id: SuperOffice's are 40 hex digits (a SHA-1
// thumbprint).
const maxKidBytes = 256

// keySource finds the public key that signed a token.
type keySource interface {
	// publicKey returns the key for kid ("" when the token names none).
	// Errors that are not about the token itself (a failed fetch, a
	// cancelled ctx) are of type *keyFetchError.
	publicKey(ctx context.Context, kid string) (*rsa.PublicKey, error)
}

// keyFetchError is a failure to obtain keys, as opposed to a token naming a
// key that does not exist. It is reported as itself, not as ErrInvalidToken.
type keyFetchError struct{ err error }

func (e *keyFetchError) Error() string {
	return "sysuser: fetching SuperOffice's signing keys: " + e.err.Error()
}
func (e *keyFetchError) Unwrap() error        { return e.err }
func (e *keyFetchError) Is(target error) bool { return target == ErrKeySetUnavailable }

// newKeySource returns the pinned certificate's key when cert is set, and
// otherwise the JWKS below loginURL, fetched with userHTTP (the caller's
// configured client, nil for none) or, without one, with own (the client
// made for the caller). release gives up the source; call it once, on
// Close.
//
// With the real clock (clock nil), the key set is the process's shared one
// for that URL and client (see keySets), so that Clients and
// ApprovalVerifiers talking to one SuperOffice fetch and cache its keys
// once. With a Clock the source is the caller's own: its refetch interval
// follows that clock, which others do not share.
func newKeySource(cert []byte, loginURL string, userHTTP, own *http.Client, clock func() time.Time) (src keySource, release func(), err error) {
	if len(cert) > 0 {
		pub, err := ParsePublicKey(cert)
		if err != nil {
			return nil, nil, err
		}
		return pinnedKey{key: pub}, func() {}, nil
	}
	url := loginURL + jwksPath
	if clock != nil {
		return newJWKSSource(url, own, clock), func() {}, nil
	}
	s, release := keySets.acquire(url, userHTTP)
	return s, release, nil
}

// keySets is the process's registry of shared key sets.
var keySets = keySetRegistry{sets: map[keySetID]*sharedKeySet{}}

// keySetRegistry holds one JWKS cache per key-set URL and HTTP client,
// shared by every Client and ApprovalVerifier of the process that uses the
// real clock, and counts its users: the last to release it removes it.
type keySetRegistry struct {
	mu   sync.Mutex
	sets map[keySetID]*sharedKeySet
}

// keySetID names a shared key set: its URL and the HTTP client the users
// configured (nil for the package's default client).
type keySetID struct {
	url    string
	client *http.Client
}

// sharedKeySet is one entry of the registry.
type sharedKeySet struct {
	src  *jwksSource
	refs int
}

// acquire returns the shared source for url fetched with userHTTP (nil for
// the default client), making it on first use, and the function that
// releases it, which does so once however often it is called.
func (r *keySetRegistry) acquire(url string, userHTTP *http.Client) (*jwksSource, func()) {
	id := keySetID{url: url, client: userHTTP}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.sets[id]
	if e == nil {
		e = &sharedKeySet{src: newJWKSSource(url, safeHTTPClient(userHTTP), time.Now)}
		r.sets[id] = e
	}
	e.refs++
	var once sync.Once
	return e.src, func() { once.Do(func() { r.release(id, e) }) }
}

// release drops one user of the entry e, removing it with the last. With
// the default client it also closes that client's idle connections, as a
// Client's Close closes those of the client it made: key sets are fetched
// rarely, so a remaining user loses little by connecting anew.
func (r *keySetRegistry) release(id keySetID, e *sharedKeySet) {
	r.mu.Lock()
	e.refs--
	if e.refs == 0 && r.sets[id] == e {
		delete(r.sets, id)
	}
	r.mu.Unlock()
	if id.client == nil {
		e.src.client.CloseIdleConnections()
	}
}

// len reports how many key sets the registry holds.
func (r *keySetRegistry) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sets)
}

// pinnedKey is a key source with one key, from a certificate the user
// configured. The token's kid is not consulted.
type pinnedKey struct{ key *rsa.PublicKey }

func (p pinnedKey) publicKey(context.Context, string) (*rsa.PublicKey, error) { return p.key, nil }

// jwksSource fetches SuperOffice's JSON Web Key Set, caches the keys and
// fetches again when a token names a kid it does not know, at most once per
// minInterval. Fetches are shared: concurrent callers wait for one request,
// each giving up on its own ctx. A failed fetch keeps the last good keys.
type jwksSource struct {
	url         string
	client      *http.Client
	now         func() time.Time
	minInterval time.Duration
	timeout     time.Duration

	mu          sync.Mutex
	keys        map[string]*rsa.PublicKey
	rejected    map[string]string // kid → why the key was refused
	lastAttempt time.Time
	lastErr     error
	inflight    *jwksFetch
}

type jwksFetch struct {
	done chan struct{}
}

func newJWKSSource(url string, client *http.Client, now func() time.Time) *jwksSource {
	return &jwksSource{url: url, client: client, now: now, minInterval: 10 * time.Second, timeout: 30 * time.Second}
}

func (s *jwksSource) lookup(kid string) (*rsa.PublicKey, bool) {
	if kid == "" {
		if len(s.keys) == 1 {
			for _, k := range s.keys {
				return k, true
			}
		}
		return nil, false
	}
	if k, ok := s.keys[kid]; ok {
		return k, true
	}
	for id, k := range s.keys { // kids are hex thumbprints: compare case-insensitively too
		if strings.EqualFold(id, kid) {
			return k, true
		}
	}
	return nil, false
}

func (s *jwksSource) publicKey(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	s.mu.Lock()
	if k, ok := s.lookup(kid); ok {
		s.mu.Unlock()
		return k, nil
	}
	call := s.inflight
	if call == nil {
		if !s.lastAttempt.IsZero() && s.now().Sub(s.lastAttempt) < s.minInterval {
			var err error
			if s.lastErr != nil {
				// The last fetch failed: that, not the token, is why no key
				// is known.
				err = &keyFetchError{err: s.lastErr}
			} else {
				err = s.unknownKid(kid)
			}
			s.mu.Unlock()
			return nil, err
		}
		call = &jwksFetch{done: make(chan struct{})}
		s.inflight = call
		s.lastAttempt = s.now()
		go s.fetch(context.WithoutCancel(ctx), call)
	}
	s.mu.Unlock()

	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, &keyFetchError{err: ctx.Err()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.lookup(kid); ok {
		return k, nil
	}
	if s.lastErr != nil {
		// The fetch that could have found this kid failed: the key set is
		// unavailable, whether or not older keys are cached.
		return nil, &keyFetchError{err: s.lastErr}
	}
	return nil, s.unknownKid(kid)
}

// unknownKid explains why no key was found. s.mu is held.
func (s *jwksSource) unknownKid(kid string) error {
	if why, ok := s.rejected[kid]; ok {
		return fmt.Errorf("the key %q in SuperOffice's key set was refused: %s", serverText(kid), why)
	}
	if kid == "" {
		return fmt.Errorf("token names no key (kid) and the key set has %d keys", len(s.keys))
	}
	return fmt.Errorf("no key %q in SuperOffice's key set", serverText(kid))
}

// fetch runs one JWKS request and publishes its outcome.
func (s *jwksSource) fetch(ctx context.Context, call *jwksFetch) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	keys, rejected, err := s.get(ctx)
	s.mu.Lock()
	if err == nil {
		s.keys, s.rejected, s.lastErr = keys, rejected, nil
	} else {
		s.lastErr = err
	}
	s.inflight = nil
	s.mu.Unlock()
	close(call.done)
}

func (s *jwksSource) get(ctx context.Context) (map[string]*rsa.PublicKey, map[string]string, error) {
	resp, body, err := send(ctx, s.client, request{method: http.MethodGet, url: s.url, header: [][2]string{{"Accept", "application/json"}}})
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, statusError(resp, body)
	}
	return parseJWKS(body)
}

// jwk is one JSON Web Key; only the members used for RSA are read.
type jwk struct {
	Kty string   `json:"kty"`
	Use string   `json:"use"`
	Alg string   `json:"alg"`
	Kid string   `json:"kid"`
	N   string   `json:"n"`
	E   string   `json:"e"`
	X5c []string `json:"x5c"`
}

// parseJWKS reads a key set. Keys that cannot be used are refused one by
// one, with the reason kept for the error a token naming them will get; a
// set with no usable key at all is an error.
func parseJWKS(body []byte) (map[string]*rsa.PublicKey, map[string]string, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, nil, malformed("key set is not JSON: %v", err)
	}
	keys := make(map[string]*rsa.PublicKey, len(set.Keys))
	rejected := map[string]string{}
	for _, raw := range set.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			continue
		}
		if len(k.Kid) > maxKidBytes {
			continue // no real kid is that long; not worth remembering
		}
		pub, err := k.rsaKey()
		if err != nil {
			rejected[k.Kid] = err.Error()
			continue
		}
		keys[k.Kid] = pub
	}
	if len(keys) == 0 {
		return nil, nil, malformed("key set has no usable RSA signing key (%d refused)", len(rejected))
	}
	return keys, rejected, nil
}

func (k jwk) rsaKey() (*rsa.PublicKey, error) {
	if k.Kty != "RSA" {
		return nil, fmt.Errorf("kty is %q, not RSA", serverText(k.Kty))
	}
	if k.Use != "" && k.Use != "sig" {
		return nil, fmt.Errorf("use is %q, not sig", serverText(k.Use))
	}
	if k.Alg != "" && k.Alg != "RS256" {
		return nil, fmt.Errorf("alg is %q, not RS256", serverText(k.Alg))
	}
	var pub *rsa.PublicKey
	switch {
	case k.N != "" && k.E != "":
		n, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.N, "="))
		e, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.E, "="))
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("n or e is not valid base64url")
		}
		eInt := new(big.Int).SetBytes(e).Int64()
		if eInt < 3 || eInt%2 == 0 {
			return nil, errors.New("e is not a valid RSA exponent")
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(eInt)}
	case len(k.X5c) > 0:
		der, err := base64.StdEncoding.DecodeString(k.X5c[0])
		if err != nil {
			return nil, errors.New("x5c is not valid base64")
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, errors.New("x5c is not a valid certificate")
		}
		var ok bool
		if pub, ok = cert.PublicKey.(*rsa.PublicKey); !ok {
			return nil, errors.New("x5c certificate key is not RSA")
		}
	default:
		return nil, errors.New("neither n and e nor x5c is present")
	}
	if err := checkVerifyKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}
