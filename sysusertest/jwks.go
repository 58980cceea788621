package sysusertest

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
)

// serveJWKS publishes the fake's signing keys as SuperOffice does at
// /login/.well-known/jwks: the current key first (SuperOffice's Python
// sample takes keys[0]), then the earlier ones, newest first.
func (s *Server) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	s.jwksHits++
	keys := make([]any, 0, len(s.keys))
	for i := len(s.keys) - 1; i >= 0; i-- {
		keys = append(keys, s.keys[i].jwk())
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"keys": keys})
}

// JWK returns the fake's current public key as a JSON Web Key (kty RSA,
// use sig, alg RS256, kid, x5t, x5c, n, e).
func (s *Server) JWK() map[string]any { return s.current().jwk() }

func (k *signingKey) jwk() map[string]any {
	pub := k.key.PublicKey
	thumb := sha1.Sum(k.certDER)
	return map[string]any{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"kid": k.kid,
		"x5t": base64.RawURLEncoding.EncodeToString(thumb[:]),
		"x5c": []string{base64.StdEncoding.EncodeToString(k.certDER)},
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// JWKSRequestCount returns how many times the key set was fetched.
func (s *Server) JWKSRequestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jwksHits
}
