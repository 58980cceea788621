package sysusertest

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
)

// serveJWKS publishes the fake's signing key as SuperOffice does at
// /login/.well-known/jwks.
func (s *Server) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	s.jwksHits++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"keys": []any{s.JWK()}})
}

// JWK returns the fake's public key as a JSON Web Key (kty RSA, use sig,
// alg RS256, kid, x5t, x5c, n, e).
func (s *Server) JWK() map[string]any {
	pub := s.key.PublicKey
	thumb := sha1.Sum(s.certDER)
	return map[string]any{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"kid": s.kid,
		"x5t": base64.RawURLEncoding.EncodeToString(thumb[:]),
		"x5c": []string{base64.StdEncoding.EncodeToString(s.certDER)},
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// JWKSRequests returns how many times the key set was fetched.
func (s *Server) JWKSRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jwksHits
}
