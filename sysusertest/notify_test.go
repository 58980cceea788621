package sysusertest_test

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/go-superoffice/sysuser/sysusertest"
)

// docsNotification is the notification SuperOffice posts to a State Change
// URL, as its "Tenant status notifications" page shows it (the token
// abbreviated there too).
const docsNotification = `{"ChangeType":0,"ContextIdentifier":"Cust12345","VersionName":"Release 8.4 R08","FileVersion":"8.4.12.1234","Token":"<JWT>"}`

// receiver is an application's State Change URL: it keeps what it got and
// answers with status.
type receiver struct {
	mu     sync.Mutex
	bodies [][]byte
	reqs   []*http.Request
}

func newReceiver(t *testing.T, status int) (*receiver, string) {
	rc := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies, rc.reqs = append(rc.bodies, b), append(rc.reqs, r)
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return rc, srv.URL + "/superoffice/state-change"
}

func (rc *receiver) last(t *testing.T) (*http.Request, map[string]any, []byte) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bodies) == 0 {
		t.Fatal("no notification received")
	}
	b := rc.bodies[len(rc.bodies)-1]
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("notification body %s: %v", b, err)
	}
	return rc.reqs[len(rc.reqs)-1], m, b
}

// jwksKey fetches the fake's key set as a client would and returns the
// public key of kid.
func jwksKey(t *testing.T, s *sysusertest.Server, kid string) *rsa.PublicKey {
	t.Helper()
	resp, err := http.Get(s.Root + "/login/.well-known/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kid, N, E string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.Kid == kid {
			n, _ := base64.RawURLEncoding.DecodeString(k.N)
			e, _ := base64.RawURLEncoding.DecodeString(k.E)
			return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		}
	}
	t.Fatalf("kid %s is not in the key set", kid)
	return nil
}

// A notification is the documented JSON, POSTed, and its token verifies
// with the fake's published key, carries the login origin as issuer (as
// SuperOffice's C# sample validates "https://sod.superoffice.com") and the
// tenant. Fresh Suspend, Resume and Delete change the tenant's state; an
// older one replayed changes nothing.
func TestNotify(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	s := newFake(t, fixedClock(now))
	s.AddTenant("Cust12345", "token")
	rc, hook := newReceiver(t, http.StatusAccepted)
	ctx := context.Background()

	status, err := s.Notify(ctx, "Cust12345", hook, sysusertest.Notification{ChangeType: sysusertest.ChangeUpgrade, VersionName: "Release 8.4 R08", FileVersion: "8.4.12.1234"})
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("Notify = %d, %v; want 202", status, err)
	}
	req, got, raw := rc.last(t)
	if req.Method != http.MethodPost || req.URL.Path != "/superoffice/state-change" || req.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("request %s %s, Content-Type %q", req.Method, req.URL.Path, req.Header.Get("Content-Type"))
	}
	var docs map[string]any
	if err := json.Unmarshal([]byte(docsNotification), &docs); err != nil {
		t.Fatal(err)
	}
	if order, want := keyOrder(t, raw), keyOrder(t, []byte(docsNotification)); !reflect.DeepEqual(order, want) {
		t.Errorf("fields %v, want the documented %v", order, want)
	}
	for k, v := range docs {
		if k != "Token" && got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}

	tokenString, _ := got["Token"].(string)
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(tokenString, claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		return jwksKey(t, s, kid), nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(s.Root), jwt.WithIssuedAt(), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("the notification's token does not verify with the fake's key set: %v", err)
	}
	if tok.Header["kid"] != s.KeyID() {
		t.Errorf("kid %v, want the current %s", tok.Header["kid"], s.KeyID())
	}
	if u, err := url.Parse(s.Root); err != nil || u.Path != "" {
		t.Errorf("issuer %s is not a bare origin like https://sod.superoffice.com", s.Root)
	}
	iat, nbf, exp := claims["iat"].(float64), claims["nbf"].(float64), claims["exp"].(float64)
	if int64(iat) != now.Unix() || iat-nbf != 60 || exp-iat != 300 || claims["http://schemes.superoffice.net/identity/ctx"] != "Cust12345" {
		t.Errorf("claims %v", claims)
	}
	state := func() string {
		_, st, _ := lookUpState(t, s, "/api/state/Cust12345")
		return st["State"].(string)
	}
	if st := state(); st != "Running" {
		t.Errorf("after Upgrade: %s, want Running", st)
	}

	// Suspend, then Resume, then an older Suspend replayed, then Delete.
	steps := []struct {
		n    sysusertest.Notification
		want string
	}{
		{n: sysusertest.Notification{ChangeType: sysusertest.ChangeSuspend}, want: "Suspended"},
		{n: sysusertest.Notification{ChangeType: sysusertest.ChangeResume}, want: "Running"},
		{n: sysusertest.Notification{ChangeType: sysusertest.ChangeSuspend, IssuedAt: now.Add(-time.Hour)}, want: "Running"},
		{n: sysusertest.Notification{ChangeType: sysusertest.ChangeBackupRestored}, want: "Running"},
		{n: sysusertest.Notification{ChangeType: sysusertest.ChangeDelete}, want: "Deleted"},
	}
	for i, step := range steps {
		if _, err := s.Notify(ctx, "Cust12345", hook, step.n); err != nil {
			t.Fatal(err)
		}
		_, got, _ := rc.last(t)
		if got["ChangeType"] != float64(step.n.ChangeType) || got["VersionName"] == "" || got["FileVersion"] == "" {
			t.Errorf("step %d: sent %v", i, got)
		}
		_, c := unverifiedClaims(t, got["Token"].(string))
		wantIAT := now
		if !step.n.IssuedAt.IsZero() {
			wantIAT = step.n.IssuedAt
		}
		if c["iat"] != float64(wantIAT.Unix()) {
			t.Errorf("step %d: iat %v, want %d", i, c["iat"], wantIAT.Unix())
		}
		if st := state(); st != step.want {
			t.Errorf("step %d (ChangeType %d): state %s, want %s", i, step.n.ChangeType, st, step.want)
		}
	}

	// After a rotation, notifications are signed with the new key.
	if err := s.RotateKey(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Notify(ctx, "Cust12345", hook, sysusertest.Notification{ChangeType: sysusertest.ChangeUpgrade}); err != nil {
		t.Fatal(err)
	}
	_, got, _ = rc.last(t)
	if h, _ := unverifiedClaims(t, got["Token"].(string)); h["kid"] != s.KeyID() {
		t.Errorf("after RotateKey: kid %v, want %s", h["kid"], s.KeyID())
	}

	if _, err := s.Notify(ctx, "Cust404", hook, sysusertest.Notification{}); err == nil {
		t.Error("Notify for an unknown tenant: no error")
	}
	if _, err := s.Notify(ctx, "Cust12345", "http://127.0.0.1:1/nothing-listens", sysusertest.Notification{}); err == nil {
		t.Error("Notify to a closed port: no error")
	}
}
