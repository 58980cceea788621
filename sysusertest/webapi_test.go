package sysusertest_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/go-superoffice/sysuser/sysusertest"
)

// The documented text of a 421, from SuperOffice's "Check tenant status"
// page.
const wrongSubdomain = "Wrong subdomain used to access tenant"

// webAPIGet calls the WebApi at base+"v1/Contact/2" with the ticket and
// returns the status and body.
func webAPIGet(t *testing.T, base, ticket string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"v1/Contact/2", nil)
	req.Header.Set("Authorization", "SOTicket "+ticket)
	req.Header.Set("SO-AppToken", "app")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWebAPIAcceptsOnlyItsTickets(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newFake(t, clock)
	s.AddTenant("Cust2", "t2")
	_, token, _ := rest(t, s, "app", "Cust1", sign(t, "tok. with dots", now))
	claims := jwt.MapClaims{}
	jwt.NewParser().ParseUnverified(token, claims)
	ticket := claims["http://schemes.superoffice.net/identity/ticket"].(string)
	call := func(t *testing.T, tenant, auth, app string) int {
		req, _ := http.NewRequest(http.MethodGet, s.WebAPIURL(tenant)+"v1/Contact/2", nil)
		req.Header.Set("Authorization", auth)
		req.Header.Set("SO-AppToken", app)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		name, tenant, auth, app string
		want                    int
	}{
		{name: "its ticket", tenant: "Cust1", auth: "SOTicket " + ticket, app: "app", want: 200},
		{name: "wrong application token", tenant: "Cust1", auth: "SOTicket " + ticket, app: "wrong", want: 401},
		{name: "Bearer", tenant: "Cust1", auth: "Bearer " + ticket, app: "app", want: 401},
		{name: "another tenant's WebApi", tenant: "Cust2", auth: "SOTicket " + ticket, app: "app", want: 401},
		{name: "a made-up ticket", tenant: "Cust1", auth: "SOTicket 7T:made-up", app: "app", want: 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := call(t, c.tenant, c.auth, c.app); got != c.want {
				t.Errorf("%+v: %d", c, got)
			}
		})
	}
	mu.Lock()
	now = now.Add(6 * time.Hour)
	mu.Unlock()
	if call(t, "Cust1", "SOTicket "+ticket, "app") != 401 {
		t.Error("ticket accepted past its lifetime")
	}
	if s.WebAPICallCount("Cust1") != 5 {
		t.Errorf("WebAPICallCount = %d", s.WebAPICallCount("Cust1"))
	}
}

// SuperOffice: a ticket is good for 6 hours with a sliding expiration that
// resets each time it is used.
func TestWebAPITicketExpirySlides(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 8, 0, 0, 0, time.UTC)
	now := t0
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	at := func(d time.Duration) { mu.Lock(); now = t0.Add(d); mu.Unlock() }
	s := newFake(t, clock)
	ticket := exchange(t, s, t0)["http://schemes.superoffice.net/identity/ticket"].(string)
	call := func(appToken ...string) int {
		req, _ := http.NewRequest(http.MethodGet, s.WebAPIURL("Cust1")+"v1/User/currentPrincipal", nil)
		req.Header.Set("Authorization", "SOTicket "+ticket)
		req.Header.Set("SO-AppToken", append(appToken, "app")[0])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Steps in order: each one's idle time counts from the one before.
	for _, step := range []struct {
		at   time.Duration
		want int
	}{
		{at: 0, want: 200},
		{at: 5 * time.Hour, want: 200},                 // 5h idle
		{at: 10*time.Hour + 59*time.Minute, want: 200}, // 5h59m idle, 10h59m after issue
		{at: 17 * time.Hour, want: 401},                // 6h01m idle
	} {
		at(step.at)
		if got := call(); got != step.want {
			t.Errorf("t0+%v: %d, want %d", step.at, got, step.want)
		}
	}

	// A refused request does not renew the ticket; idle for TicketLifetime
	// exactly, it is refused.
	at(0)
	s = newFake(t, clock)
	ticket = exchange(t, s, t0)["http://schemes.superoffice.net/identity/ticket"].(string)
	at(5 * time.Hour)
	if got := call("wrong-app-token"); got != 401 {
		t.Errorf("wrong application token: %d, want 401", got)
	}
	at(6 * time.Hour)
	if got := call(); got != 401 {
		t.Errorf("6h after issue, a refused request in between: %d, want 401", got)
	}
}

// The unnumbered login host is for authentication only: a WebApi request
// there answers 421 with the documented text, even with a good ticket;
// the tenant's numbered host answers it.
func TestLoginHostAnswersWebAPIRequestsWith421(t *testing.T) {
	s := newFake(t, nil)
	ticket := exchange(t, s, time.Now())["http://schemes.superoffice.net/identity/ticket"].(string)
	for _, path := range []string{"/Cust1/api/", "/cust1/API/", "/Cust404/api/"} {
		t.Run("login host "+path, func(t *testing.T) {
			code, body := webAPIGet(t, s.Root+path, ticket)
			if code != http.StatusMisdirectedRequest || !strings.Contains(body, wrongSubdomain) {
				t.Errorf("login host %s: %d %s, want 421 with %q", path, code, body, wrongSubdomain)
			}
		})
	}
	if code, body := webAPIGet(t, s.WebAPIURL("Cust1"), ticket); code != http.StatusOK {
		t.Errorf("numbered host: %d %s", code, body)
	}
	// The numbered host serves the WebApi only.
	if resp, _ := get(t, strings.TrimSuffix(s.WebAPIURL("Cust1"), "/Cust1/api/")+sysusertest.JWKSPath); resp.StatusCode != http.StatusNotFound {
		t.Errorf("key set on the numbered host: %d, want 404", resp.StatusCode)
	}
	if got := s.MisdirectedRequestCount("Cust1"); got != 2 {
		t.Errorf("MisdirectedRequestCount = %d, want 2", got)
	}
	if got := s.WebAPICallCount("Cust1"); got != 3 {
		t.Errorf("WebAPICallCount = %d, want 3", got)
	}
}
