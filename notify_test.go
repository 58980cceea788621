package sysuser_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/golang-jwt/jwt/v5"
)

// notice builds a state-change notification as SuperOffice's docs show it,
// its token signed by the fake's key with the login origin as issuer
// (SuperOffice's sample checks ValidIssuer "https://sod.superoffice.com").
// mutate may change the token's claims.
func (w *world) notice(change int, iat time.Time, mutate func(jwt.MapClaims)) []byte {
	claims := jwt.MapClaims{
		"iss": w.front.URL,
		"iat": iat.Unix(),
		"nbf": iat.Add(-time.Minute).Unix(),
		"exp": iat.Add(5 * time.Minute).Unix(),
		"http://schemes.superoffice.net/identity/ctx": testTenant,
	}
	if mutate != nil {
		mutate(claims)
	}
	body, _ := json.Marshal(map[string]any{
		"ChangeType": change, "ContextIdentifier": testTenant,
		"VersionName": "Release 8.4 R08", "FileVersion": "8.4.12.1234",
		"Token": signClaims(w.t, w.env.fake, claims),
	})
	return body
}

type received struct {
	mu  sync.Mutex
	got []sysuser.StateChange
}

func (r *received) add(_ context.Context, n sysuser.StateChange) {
	r.mu.Lock()
	r.got = append(r.got, n)
	r.mu.Unlock()
}

func (r *received) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func post(t *testing.T, h http.Handler, method string, body []byte) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, "/superoffice/state", bytes.NewReader(body)))
	return rec.Code
}

func TestStateChangeSuspendThenResume(t *testing.T) {
	w := newWorld(t, nil)
	var got received
	h := w.client.StateChangeHandler(got.add)
	tenant := w.client.Tenant(testTenant, testUserToken)
	ctx := context.Background()
	if _, err := tenant.Ticket(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if code := post(t, h, "POST", w.notice(2, now.Add(-time.Second), nil)); code != 200 {
		t.Fatalf("Suspend: %d", code)
	}
	_, err := tenant.Ticket(ctx)
	var nr *sysuser.TenantNotRunningError
	if !errors.As(err, &nr) || nr.Status.State != "Suspended" {
		t.Fatalf("after Suspend: %v, want a TenantNotRunningError", err)
	}
	if _, err := tenant.HTTPClient().Get(w.base(0) + "v1/Contact/2"); !errors.Is(err, sysuser.ErrTenantNotRunning) {
		t.Fatalf("transport after Suspend: %v", err)
	}
	if code := post(t, h, "POST", w.notice(3, now, nil)); code != 200 {
		t.Fatalf("Resume: %d", code)
	}
	if _, err := tenant.Ticket(ctx); err != nil {
		t.Fatalf("after Resume: %v", err)
	}
	// The Suspend replayed after the Resume changes nothing.
	if code := post(t, h, "POST", w.notice(2, now.Add(-time.Second), nil)); code != 200 {
		t.Fatalf("replayed Suspend: %d", code)
	}
	if _, err := tenant.Ticket(ctx); err != nil {
		t.Fatalf("a replayed older Suspend paused the tenant: %v", err)
	}
	if got.len() != 2 {
		t.Fatalf("onChange saw %d notifications, want 2 (not the replay)", got.len())
	}
	n := got.got[0]
	if n.Change != "Suspend" || n.ContextIdentifier != testTenant || n.VersionName != "Release 8.4 R08" || n.FileVersion != "8.4.12.1234" || n.IssuedAt.Unix() != now.Add(-time.Second).Unix() {
		t.Fatalf("notification %+v", n)
	}
}

func TestStateChangeDeleteBackupRestoredAndUpgrade(t *testing.T) {
	w := newWorld(t, nil)
	var got received
	h := w.client.StateChangeHandler(got.add)
	tenant := w.client.Tenant(testTenant, testUserToken)
	ctx := context.Background()
	first, err := tenant.Ticket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// BackupRestored: the next call exchanges anew.
	if code := post(t, h, "POST", w.notice(1, now.Add(-3*time.Second), nil)); code != 200 {
		t.Fatalf("BackupRestored: %d", code)
	}
	second, err := tenant.Ticket(ctx)
	if err != nil || second.Ticket == first.Ticket || w.env.fake.ExchangeCount(testTenant) != 2 {
		t.Fatalf("after BackupRestored: %v, %d exchanges", err, w.env.fake.ExchangeCount(testTenant))
	}
	// Upgrade: the state is looked up again.
	lookups := w.lookups.Load()
	if code := post(t, h, "POST", w.notice(0, now.Add(-2*time.Second), nil)); code != 200 {
		t.Fatalf("Upgrade: %d", code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.lookups.Load() == lookups && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if w.lookups.Load() != lookups+1 {
		t.Fatalf("Upgrade made %d lookups, want 1", w.lookups.Load()-lookups)
	}
	// Delete pauses as Suspend does.
	if code := post(t, h, "POST", w.notice(4, now.Add(-time.Second), nil)); code != 200 {
		t.Fatalf("Delete: %d", code)
	}
	var nr *sysuser.TenantNotRunningError
	if _, err := tenant.Ticket(ctx); !errors.As(err, &nr) || nr.Status.State != "Deleted" {
		t.Fatalf("after Delete: %v", err)
	}
	// A ChangeType SuperOffice adds later is handed over and does nothing.
	if code := post(t, h, "POST", w.notice(9, now, nil)); code != 200 {
		t.Fatalf("unknown ChangeType: %d", code)
	}
	if last := got.got[len(got.got)-1]; last.Change != "9" {
		t.Fatalf("unknown ChangeType handed over as %q", last.Change)
	}
}

func TestStateChangeForgeriesAreRefusedWithNoEffect(t *testing.T) {
	w := newWorld(t, nil)
	var got received
	h := w.client.StateChangeHandler(got.add)
	tenant := w.client.Tenant(testTenant, testUserToken)
	if _, err := tenant.Ticket(context.Background()); err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now()
	signWith := func(key *rsa.PrivateKey, claims jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		tok.Header["kid"] = w.env.fake.KeyID()
		s, _ := tok.SignedString(key)
		return s
	}
	replaceToken := func(body []byte, token string) []byte {
		var m map[string]any
		json.Unmarshal(body, &m)
		m["Token"] = token
		out, _ := json.Marshal(m)
		return out
	}
	suspend := w.notice(2, now, nil)
	cases := []struct {
		name   string
		method string
		body   []byte
		want   int
	}{
		{name: "GET", method: "GET", body: nil, want: 405},
		{name: "1 MiB body", method: "POST", body: append(suspend[:len(suspend)-1], []byte(`,"Pad":"`+strings.Repeat("x", 1<<20)+`"}`)...), want: 413},
		{name: "not JSON", method: "POST", body: []byte("ChangeType=2"), want: 400},
		{name: "bad tenant", method: "POST", body: bytes.Replace(suspend, []byte(`"Cust12345"`), []byte(`"Cust1/../x\r\n"`), 1), want: 400},
		{name: "no token", method: "POST", body: replaceToken(suspend, ""), want: 401},
		{name: "other key", method: "POST", body: replaceToken(suspend, signWith(other, jwt.MapClaims{"iss": w.front.URL, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})), want: 401},
		{name: "other issuer", method: "POST", body: w.notice(2, now, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), want: 401},
		{name: "SuperOffice AS issuer", method: "POST", body: w.notice(2, now, func(c jwt.MapClaims) { c["iss"] = "SuperOffice AS" }), want: 401},
		{name: "expired", method: "POST", body: w.notice(2, now.Add(-time.Hour), nil), want: 401},
		{name: "no exp", method: "POST", body: w.notice(2, now, func(c jwt.MapClaims) { delete(c, "exp") }), want: 401},
		{name: "ctx mismatch", method: "POST", body: w.notice(2, now, func(c jwt.MapClaims) { c["http://schemes.superoffice.net/identity/ctx"] = "Cust99999" }), want: 403},
		{name: "plain ctx mismatch", method: "POST", body: w.notice(2, now, func(c jwt.MapClaims) { c["ctx"] = "Cust99999" }), want: 403},
		{name: "ChangeType not a number", method: "POST", body: bytes.Replace(suspend, []byte(`"ChangeType":2`), []byte(`"ChangeType":{}`), 1), want: 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if code := post(t, h, tc.method, tc.body); code != tc.want {
				t.Fatalf("status %d, want %d", code, tc.want)
			}
			if _, err := tenant.Ticket(context.Background()); err != nil {
				t.Fatalf("a refused notification had an effect: %v", err)
			}
		})
	}
	if got.len() != 0 {
		t.Fatalf("onChange saw %d refused notifications", got.len())
	}
	if n := w.env.fake.ExchangeCount(testTenant); n != 1 {
		t.Fatalf("%d exchanges, want 1", n)
	}
}

func TestStateChangeWithPinnedCertificate(t *testing.T) {
	w := newWorld(t, nil)
	cfg := w.env.cfg
	cfg.LoginURL = w.front.URL + "/login"
	cfg.Certificate = w.env.fake.SigningCertificate()
	c := mustClient(t, cfg)
	defer c.Close()
	if code := post(t, c.StateChangeHandler(nil), "POST", w.notice(2, time.Now(), nil)); code != 200 {
		t.Fatalf("status %d with the pinned certificate", code)
	}
	if _, err := c.Tenant(testTenant, testUserToken).Ticket(context.Background()); !errors.Is(err, sysuser.ErrTenantNotRunning) {
		t.Fatalf("err = %v", err)
	}
}
