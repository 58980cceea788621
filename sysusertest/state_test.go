package sysusertest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

// docsStateAnswer is the state API's answer as SuperOffice's "Check tenant
// status" page gives it (superoffice-docs, docs/en/apps/tenant-status/check-status).
const docsStateAnswer = `{"ContextIdentifier":"Cust12345","Endpoint":"https://online.superoffice.com/Cust12345","State":"Running","IsRunning":true,"ValidUntil":"2020-10-05T09:52:01.9342965Z","Api":"https://online.superoffice.com/Cust12345/api"}`

// lookUpState asks the fake's state API for ctx at path (below Root) and
// returns the status, the raw JSON object and its keys in the order sent.
func lookUpState(t *testing.T, s *sysusertest.Server, path string) (int, map[string]any, []string) {
	t.Helper()
	resp, err := http.Get(s.Root + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("state answer %s: %v", body, err)
	}
	return resp.StatusCode, m, keyOrder(t, body)
}

// keyOrder returns the keys of a JSON object in the order they appear.
func keyOrder(t *testing.T, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.Token() // {
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// The state API answers, without credentials and at any case of its path,
// with the documented fields and types, in the documented order: Api
// without a trailing slash, Endpoint and Api on the tenant's numbered host,
// ValidUntil as .NET writes it. Lookups are counted per tenant.
func TestStateAPIAnswersTheDocumentedJSON(t *testing.T) {
	now := time.Date(2026, 3, 4, 10, 20, 30, 123456700, time.FixedZone("CET", 3600))
	s := newFake(t, fixedClock(now))
	s.AddTenant("Cust12345", "token")

	var docs map[string]any
	if err := json.Unmarshal([]byte(docsStateAnswer), &docs); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/state/Cust12345", "/API/State/cust12345"} {
		t.Run("GET "+path, func(t *testing.T) {
			code, got, order := lookUpState(t, s, path)
			if code != http.StatusOK {
				t.Fatalf("GET %s: %d", path, code)
			}
			if want := keyOrder(t, []byte(docsStateAnswer)); !reflect.DeepEqual(order, want) {
				t.Errorf("GET %s: fields %v, want the documented %v", path, order, want)
			}
			for k, v := range docs {
				if reflect.TypeOf(got[k]) != reflect.TypeOf(v) {
					t.Errorf("GET %s: %s is %T (%v), the docs' is %T", path, k, got[k], got[k], v)
				}
			}
			webapi := s.WebAPIURL("Cust12345") // https?://host/Cust12345/api/
			want := map[string]any{
				"ContextIdentifier": "Cust12345",
				"Endpoint":          strings.TrimSuffix(webapi, "/api/"),
				"State":             "Running",
				"IsRunning":         true,
				"ValidUntil":        "2026-03-04T09:25:30.1234567Z",
				"Api":               strings.TrimSuffix(webapi, "/"),
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("GET %s:\n got %v\nwant %v", path, got, want)
			}
			if u, _ := url.Parse(got["Endpoint"].(string)); u == nil || s.Root == u.Scheme+"://"+u.Host {
				t.Errorf("Endpoint %v is on the login host %s, want a numbered one", got["Endpoint"], s.Root)
			}
		})
	}
	if n := s.StateLookupCount("CUST12345"); n != 2 {
		t.Errorf("StateLookupCount = %d, want 2", n)
	}
	if n := s.StateLookupCount("Cust1"); n != 0 {
		t.Errorf("StateLookupCount(Cust1) = %d, want 0", n)
	}

	// A client that reads the answer as the library does gets it all.
	resp, err := http.Get(s.Root + "/api/state/Cust12345")
	if err != nil {
		t.Fatal(err)
	}
	var st sysuser.TenantStatus
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.State != "Running" || !st.IsRunning || st.API+"/" != s.WebAPIURL("Cust12345") || !st.ValidUntil.Equal(now.Add(sysusertest.StateValidity)) {
		t.Errorf("as sysuser.TenantStatus: %+v, %v", st, err)
	}

	// Not GET: 405. No tenant in the path: 404.
	resp, err = http.Post(s.Root+"/api/state/Cust12345", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
	if code, _, _ := lookUpState(t, s, "/api/state/"); code != http.StatusNotFound {
		t.Errorf("GET /api/state/: %d, want 404", code)
	}
}

// A tenant the fake does not know: State "Unknown" (SuperOffice: "the
// customer tenant is unknown"), not running, no endpoint.
func TestStateAPIOfAnUnknownTenant(t *testing.T) {
	s := newFake(t, nil)
	code, got, _ := lookUpState(t, s, "/api/state/Cust99999")
	if code != http.StatusOK || got["State"] != "Unknown" || got["IsRunning"] != false || got["Endpoint"] != nil || got["Api"] != nil || got["ContextIdentifier"] != "Cust99999" {
		t.Errorf("unknown tenant: %d %v", code, got)
	}
}

// A move: the old host then answers 421 with the documented text, the new
// one answers with the same ticket, the state API names the new host, and
// new tokens carry the new webapi_url and netserver_url. Moving again goes
// back.
func TestMoveTenant(t *testing.T) {
	s := newFake(t, nil)
	claims := exchange(t, s, time.Now())
	ticket := claims["http://schemes.superoffice.net/identity/ticket"].(string)
	old := s.WebAPIURL("Cust1")
	if claims["http://schemes.superoffice.net/identity/webapi_url"] != old {
		t.Fatalf("webapi_url %v, WebAPIURL %s", claims["http://schemes.superoffice.net/identity/webapi_url"], old)
	}
	moved, err := s.MoveTenant("cust1")
	if err != nil {
		t.Fatal(err)
	}
	if moved != s.WebAPIURL("Cust1") || moved == old || !strings.HasSuffix(moved, "/Cust1/api/") {
		t.Fatalf("MoveTenant = %q, WebAPIURL %q, before %q", moved, s.WebAPIURL("Cust1"), old)
	}
	oldOrigin, newOrigin := strings.TrimSuffix(old, "/Cust1/api/"), strings.TrimSuffix(moved, "/Cust1/api/")
	if oldOrigin == s.Root || newOrigin == s.Root {
		t.Fatalf("a WebApi origin is the login host %s", s.Root)
	}
	if code, body := webAPIGet(t, old, ticket); code != http.StatusMisdirectedRequest || !strings.Contains(body, wrongSubdomain) {
		t.Errorf("old host: %d %s, want 421 with %q", code, body, wrongSubdomain)
	}
	if code, body := webAPIGet(t, moved, ticket); code != http.StatusOK {
		t.Errorf("new host, same ticket: %d %s", code, body)
	}
	_, st, _ := lookUpState(t, s, "/api/state/Cust1")
	if st["Endpoint"] != newOrigin+"/Cust1" || st["Api"] != newOrigin+"/Cust1/api" {
		t.Errorf("state after the move: %v, want on %s", st, newOrigin)
	}
	claims = exchange(t, s, time.Now())
	if claims["http://schemes.superoffice.net/identity/webapi_url"] != moved ||
		claims["http://schemes.superoffice.net/identity/netserver_url"] != newOrigin+"/Cust1/Remote/Services88/" {
		t.Errorf("token after the move: webapi_url %v, netserver_url %v", claims["http://schemes.superoffice.net/identity/webapi_url"], claims["http://schemes.superoffice.net/identity/netserver_url"])
	}
	idToken, err := s.IDToken("Cust1", "client", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, c := unverifiedClaims(t, idToken); c["http://schemes.superoffice.net/identity/webapi_url"] != moved {
		t.Errorf("approval id_token webapi_url %v, want %s", c["http://schemes.superoffice.net/identity/webapi_url"], moved)
	}
	// Another tenant stays where it was.
	s.AddTenant("Cust2", "t2")
	if !strings.HasPrefix(s.WebAPIURL("Cust2"), oldOrigin+"/") {
		t.Errorf("a new tenant's WebApi %s, want on the first numbered host %s", s.WebAPIURL("Cust2"), oldOrigin)
	}
	if back, _ := s.MoveTenant("Cust1"); back != old {
		t.Errorf("second move: %s, want back to %s", back, old)
	}
	if _, err := s.MoveTenant("Cust404"); err == nil {
		t.Error("MoveTenant of an unknown tenant: no error")
	}
}

// A tenant that is not running: exchanges are refused, the WebApi answers
// 503, the state API says so with the given ValidUntil; counters keep
// counting. Back to Running, the old ticket works again.
func TestSetState(t *testing.T) {
	now := time.Now()
	s := newFake(t, fixedClock(now))
	ticket := exchange(t, s, now)["http://schemes.superoffice.net/identity/ticket"].(string)
	until := time.Date(2030, 1, 2, 3, 4, 5, 600000000, time.UTC)
	if err := s.SetState("cust1", "Suspended", until); err != nil {
		t.Fatal(err)
	}
	_, st, _ := lookUpState(t, s, "/api/state/Cust1")
	if st["State"] != "Suspended" || st["IsRunning"] != false || st["ValidUntil"] != "2030-01-02T03:04:05.6000000Z" {
		t.Errorf("state: %v", st)
	}
	ok, _, msg := rest(t, s, "app", "Cust1", sign(t, "tok. with dots", now))
	if ok || msg != sysusertest.MsgTenantNotRunning {
		t.Errorf("exchange of a suspended tenant: ok %v, %q", ok, msg)
	}
	if code, body := webAPIGet(t, s.WebAPIURL("Cust1"), ticket); code != http.StatusServiceUnavailable {
		t.Errorf("WebApi of a suspended tenant: %d %s, want 503", code, body)
	}
	if e, w := s.ExchangeCount("Cust1"), s.WebAPICallCount("Cust1"); e != 2 || w != 1 {
		t.Errorf("ExchangeCount %d, WebAPICallCount %d; want 2 and 1", e, w)
	}

	// OnlineMaintenance runs; OfflineMaintenance does not.
	for state, running := range map[string]bool{"OnlineMaintenance": true, "OfflineMaintenance": false, "Running": true, "Deleted": false} {
		t.Run(state, func(t *testing.T) {
			if err := s.SetState("Cust1", state, time.Time{}); err != nil {
				t.Fatal(err)
			}
			_, st, _ := lookUpState(t, s, "/api/state/Cust1")
			code, _ := webAPIGet(t, s.WebAPIURL("Cust1"), ticket)
			if st["State"] != state || st["IsRunning"] != running || (code == http.StatusOK) != running ||
				st["ValidUntil"] != now.Add(sysusertest.StateValidity).UTC().Format("2006-01-02T15:04:05.0000000Z") {
				t.Errorf("%s: state %v, WebApi %d", state, st, code)
			}
		})
	}
	if err := s.SetState("Cust1", "Running", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if code, body := webAPIGet(t, s.WebAPIURL("Cust1"), ticket); code != http.StatusOK {
		t.Errorf("running again, the old ticket: %d %s", code, body)
	}
	if ok, _, msg := rest(t, s, "app", "Cust1", sign(t, "tok. with dots", now)); !ok {
		t.Errorf("running again, exchange refused: %s", msg)
	}
	if err := s.SetState("Cust404", "Running", time.Time{}); err == nil {
		t.Error("SetState of an unknown tenant: no error")
	}
	if err := s.SetState("Cust1", "", time.Time{}); err == nil {
		t.Error("SetState with no state: no error")
	}
}
