package sysusertest

import (
	"encoding/json"
	"net/http"
	"strings"
)

// serveWebAPI is a fake tenant WebApi below /{tenant}/api/ (the path's case
// does not matter, as with IIS) on the tenant's numbered host (host, an
// index in s.hosts). Another host, and the login host for any tenant,
// answers 421 with MsgWrongSubdomain, as SuperOffice does since 2023-11-17;
// a tenant that is not running (see SetState) answers 503, the fake's own
// choice. Otherwise it accepts a request only with
// "Authorization: SOTicket <ticket>" naming a ticket the fake issued for that
// tenant, not revoked and used less than TicketLifetime ago, and
// "SO-AppToken: <application token>"; each request it accepts renews the
// ticket for another TicketLifetime (SuperOffice's sliding expiration). It
// answers 401 otherwise, and otherwise echoes what it was asked as JSON.
func (s *Server) serveWebAPI(w http.ResponseWriter, r *http.Request, host int) {
	rest := strings.TrimPrefix(r.URL.Path, "/")
	i := strings.Index(strings.ToLower(rest), "/api/")
	if i < 0 {
		http.NotFound(w, r)
		return
	}
	tenantID, path := rest[:i], rest[i+len("/api/"):]
	if tenantID == "" || strings.Contains(tenantID, "/") {
		http.NotFound(w, r)
		return
	}
	scheme, ticket, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	now := s.opts.Clock()
	s.mu.Lock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t != nil {
		t.webapiCalls++
	}
	if host == 0 || (t != nil && t.host != host) {
		if t != nil {
			t.misdirected++
		}
		s.mu.Unlock()
		webAPIError(w, http.StatusMisdirectedRequest, MsgWrongSubdomain)
		return
	}
	if t != nil && !t.running() {
		s.mu.Unlock()
		webAPIError(w, http.StatusServiceUnavailable, MsgTenantNotRunning)
		return
	}
	info, known := s.tickets[ticket]
	authorized := t != nil && strings.EqualFold(scheme, "SOTicket") && known && !info.revoked &&
		info.tenant == strings.ToLower(tenantID) && now.Sub(info.lastUsed) < s.opts.TicketLifetime &&
		r.Header.Get("SO-AppToken") == s.opts.ApplicationToken
	if authorized && now.After(info.lastUsed) {
		info.lastUsed = now // sliding expiration
		s.tickets[ticket] = info
	}
	s.mu.Unlock()
	if !authorized {
		w.Header().Set("WWW-Authenticate", `SOTicket realm="SuperOffice"`)
		http.Error(w, `{"Error":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]string{
		"ContextIdentifier": tenantID,
		"Method":            r.Method,
		"Path":              path,
	})
}

// RevokeTicket makes the fake WebApi answer 401 to ticket from now on, as
// SuperOffice does once a ticket is no longer valid.
func (s *Server) RevokeTicket(ticket string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if info, ok := s.tickets[ticket]; ok {
		info.revoked = true
		s.tickets[ticket] = info
	}
}

// WebAPICallCount returns how many requests the fake WebApi received for
// the tenant on any host, whatever it answered (401, 421 and 503 included).
func (s *Server) WebAPICallCount(contextIdentifier string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[strings.ToLower(contextIdentifier)]; t != nil {
		return t.webapiCalls
	}
	return 0
}

// issuedTickets returns how many tickets the fake has issued in all.
func (s *Server) issuedTickets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tickets)
}
