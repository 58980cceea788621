package sysusertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// StatePath is where the fake answers SuperOffice's state API, below its
// root: GET {Root}/api/state/{contextIdentifier}, without credentials.
const StatePath = "/api/state"

// StateValidity is how far after the fake's clock the state API's
// ValidUntil lies, unless SetState names a time. The fake's own choice:
// SuperOffice does not say how long its answers hold.
const StateValidity = 5 * time.Minute

// MsgWrongSubdomain is SuperOffice's documented error description of a 421
// Misdirected Request: a WebApi request reached a host other than the
// tenant's (or the unnumbered login host, which is for authentication
// only).
const MsgWrongSubdomain = "Wrong subdomain used to access tenant"

// running reports whether the tenant's APIs answer: in Running and
// OnlineMaintenance, as SuperOffice's IsRunning says.
func (t *tenant) running() bool {
	return strings.EqualFold(t.state, "Running") || strings.EqualFold(t.state, "OnlineMaintenance")
}

// stateAnswer is the state API's JSON, its fields in the documented order.
type stateAnswer struct {
	ContextIdentifier string
	Endpoint          *string
	State             string
	IsRunning         bool
	ValidUntil        string
	Api               *string
}

// validUntilLayout writes ValidUntil as SuperOffice's example does: UTC,
// seven fractional digits, "Z" ("2020-10-05T09:52:01.9342965Z").
const validUntilLayout = "2006-01-02T15:04:05.0000000Z"

// serveState answers SuperOffice's state API for the tenant the path names
// (in any case): its state, whether it runs, its Endpoint and Api on its
// current numbered host (Api without a trailing slash, as documented), and
// ValidUntil. Every answer for an added tenant counts as a lookup (see
// StateLookupCount). For a tenant never added it answers State "Unknown",
// which SuperOffice documents as "the customer tenant is unknown", with
// null Endpoint and Api: the fake's own guess at the rest of that answer.
func (s *Server) serveState(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	ctxID := r.URL.Path[len(StatePath)+1:]
	if ctxID == "" || strings.Contains(ctxID, "/") {
		http.NotFound(w, r)
		return
	}
	now := s.opts.Clock()
	a := stateAnswer{ContextIdentifier: ctxID, State: "Unknown", ValidUntil: now.Add(StateValidity).UTC().Format(validUntilLayout)}
	s.mu.Lock()
	if t := s.tenants[strings.ToLower(ctxID)]; t != nil {
		t.stateLookups++
		endpoint := s.tenantOrigin(t) + "/" + t.name
		api := endpoint + "/api"
		a.ContextIdentifier, a.Endpoint, a.Api = t.name, &endpoint, &api
		a.State, a.IsRunning = t.state, t.running()
		if !t.validUntil.IsZero() {
			a.ValidUntil = t.validUntil.UTC().Format(validUntilLayout)
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(a)
}

// SetState sets the tenant's state as the state API reports it, by
// SuperOffice's name such as "Suspended", "OfflineMaintenance" or
// "Running" (any other name is reported as given), and its ValidUntil; a
// zero validUntil means StateValidity after each lookup. While the state is
// neither Running nor OnlineMaintenance, exchanges for the tenant are
// refused with MsgTenantNotRunning and its WebApi answers 503: the fake's
// own behaviour, as SuperOffice documents neither. Tickets issued before
// stay valid for when it runs again. The tenant must have been added.
func (s *Server) SetState(contextIdentifier, state string, validUntil time.Time) error {
	if state == "" {
		return fmt.Errorf("sysusertest: SetState(%q): the state is empty", contextIdentifier)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(contextIdentifier)]
	if t == nil {
		return fmt.Errorf("sysusertest: tenant %q was not added", contextIdentifier)
	}
	t.state, t.validUntil = state, validUntil
	return nil
}

// MoveTenant moves the tenant's WebApi to the next numbered host (from
// sod2 to sod3 and back, or between the numbered ports of an address) and
// returns its new WebApi base URL, as WebAPIURL does. From then on the old
// host answers the tenant's WebApi requests with 421 Misdirected Request
// and MsgWrongSubdomain, the state API names the new Endpoint and Api, and
// new tokens carry the new webapi_url and netserver_url. Tickets stay
// valid. The tenant must have been added.
func (s *Server) MoveTenant(contextIdentifier string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(contextIdentifier)]
	if t == nil {
		return "", fmt.Errorf("sysusertest: tenant %q was not added", contextIdentifier)
	}
	t.host = t.host%(len(s.hosts)-1) + 1
	return s.tenantOrigin(t) + "/" + t.name + "/api/", nil
}

// StateLookupCount returns how many times the state API answered for the
// tenant.
func (s *Server) StateLookupCount(contextIdentifier string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[strings.ToLower(contextIdentifier)]; t != nil {
		return t.stateLookups
	}
	return 0
}

// MisdirectedRequestCount returns how many of the tenant's WebApi requests
// reached a host other than its current one (the login host, or the one
// it was moved from) and were answered with 421. WebAPICallCount counts
// them too.
func (s *Server) MisdirectedRequestCount(contextIdentifier string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[strings.ToLower(contextIdentifier)]; t != nil {
		return t.misdirected
	}
	return 0
}

// webAPIError answers a WebApi request with status and a JSON error. The
// body's shape is the fake's own: SuperOffice documents only that a 421
// carries the text MsgWrongSubdomain.
func webAPIError(w http.ResponseWriter, status int, description string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"Error": http.StatusText(status), "ErrorDescription": description})
}
