package otelsysuser_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/otelsysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
	"github.com/golang-jwt/jwt/v5"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

const (
	appToken  = "app-token-5e4d3c2b1a"
	tenantID  = "Cust12345"
	userToken = "SuperOffice DevNet Go OIDC-2p9Xk4Rw"
	// webAPIClaim is SuperOffice's claim with the tenant's WebApi base.
	webAPIClaim = "http://schemes.superoffice.net/identity/webapi_url"
)

var (
	keysOnce         sync.Once
	appKey, fakeKey  *rsa.PrivateKey
	errKeyGeneration error
)

// keys returns the application's key and the fake's signing key, made
// once per test run.
func keys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	keysOnce.Do(func() {
		if appKey, errKeyGeneration = rsa.GenerateKey(rand.Reader, 2048); errKeyGeneration == nil {
			fakeKey, errKeyGeneration = rsa.GenerateKey(rand.Reader, 2048)
		}
	})
	if errKeyGeneration != nil {
		t.Fatal(errKeyGeneration)
	}
	return appKey, fakeKey
}

// world is a small SuperOffice: sysusertest for the login service, behind
// a front that also serves the state API (its answers shaped as
// SuperOffice's docs show them) and can take the key set down, and two
// WebApi hosts the tenant moves between.
type world struct {
	t     testing.TB
	fake  *sysusertest.Server
	front *httptest.Server
	hosts [2]*httptest.Server

	mu       sync.Mutex
	current  int
	state    string
	running  bool
	jwksDown bool
	revoked  map[string]bool // tickets the WebApi answers 401 to
}

func newWorld(t testing.TB) *world {
	app, signing := keys(t)
	w := &world{t: t, state: "Running", running: true, revoked: map[string]bool{}}
	fake, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: appToken, PublicKey: &app.PublicKey, SigningKey: signing})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	fake.AddTenant(tenantID, userToken)
	w.fake = fake
	for i := range w.hosts {
		w.hosts[i] = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { w.serveHost(i, rw, r) }))
		t.Cleanup(w.hosts[i].Close)
	}
	w.front = httptest.NewServer(http.HandlerFunc(w.serveFront))
	t.Cleanup(w.front.Close)
	fake.SetTokenFunc(func(claims map[string]any) (string, error) {
		ctx, _ := claims["http://schemes.superoffice.net/identity/ctx"].(string)
		claims[webAPIClaim] = w.base(w.where(), ctx)
		return fake.Sign(claims)
	})
	return w
}

// config is a Config for the world, with obs.
func (w *world) config(obs *sysuser.Observer) sysuser.Config {
	app, _ := keys(w.t)
	signer, err := sysuser.NewSigner(app)
	if err != nil {
		w.t.Fatal(err)
	}
	return sysuser.Config{LoginURL: w.front.URL + "/login", ApplicationToken: appToken, Signer: signer,
		Observer: obs, RetryDelay: time.Millisecond}
}

func (w *world) client(cfg sysuser.Config) *sysuser.Client {
	c, err := sysuser.NewClient(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { c.Close() })
	return c
}

func (w *world) where() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.current
}

func (w *world) base(host int, tenant string) string {
	return w.hosts[host].URL + "/" + tenant + "/api/"
}

func (w *world) set(f func(w *world)) {
	w.mu.Lock()
	f(w)
	w.mu.Unlock()
}

func (w *world) serveFront(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	jwksDown := w.jwksDown
	w.mu.Unlock()
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/state/"):
		w.serveState(rw, r)
	case jwksDown && strings.EqualFold(r.URL.Path, sysusertest.JWKSPath):
		http.Error(rw, "down", http.StatusServiceUnavailable)
	default:
		forward(rw, r, w.fake.Root)
	}
}

// serveState answers as SuperOffice's state API does (its documented
// fields: ContextIdentifier, Endpoint, State, IsRunning, ValidUntil, Api).
func (w *world) serveState(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	cur, state, running := w.current, w.state, w.running
	w.mu.Unlock()
	tenant := strings.TrimPrefix(r.URL.Path, "/api/state/")
	rw.Header().Set("Content-Type", "application/json")
	json.NewEncoder(rw).Encode(map[string]any{
		"ContextIdentifier": tenant,
		"Endpoint":          w.hosts[cur].URL + "/" + tenant,
		"State":             state,
		"IsRunning":         running,
		"ValidUntil":        time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano),
		"Api":               w.hosts[cur].URL + "/" + tenant + "/api",
	})
}

// serveHost is a WebApi host: 421 when the tenant lives elsewhere, 401 to
// a revoked ticket or without the application token, else an echo.
func (w *world) serveHost(i int, rw http.ResponseWriter, r *http.Request) {
	ticket := strings.TrimPrefix(r.Header.Get("Authorization"), "SOTicket ")
	w.mu.Lock()
	cur, revoked := w.current, w.revoked[ticket]
	w.mu.Unlock()
	switch {
	case i != cur:
		http.Error(rw, `{"Error":"Wrong subdomain used to access tenant"}`, http.StatusMisdirectedRequest)
	case revoked || !strings.HasPrefix(ticket, "7T:") || r.Header.Get("SO-AppToken") != appToken:
		http.Error(rw, "unauthorized", http.StatusUnauthorized)
	default:
		fmt.Fprintf(rw, "host %d: %s %s", i, r.Method, r.URL.Path)
	}
}

// forward relays r to root.
func forward(rw http.ResponseWriter, r *http.Request, root string) {
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, root+r.URL.RequestURI(), r.Body)
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		rw.WriteHeader(http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		rw.Header()[k] = v
	}
	rw.WriteHeader(resp.StatusCode)
	io.Copy(rw, resp.Body)
}

// notice is a state-change notification as SuperOffice's docs show it,
// its token signed by the fake's key and issued by the login origin.
func (w *world) notice(change int, iat time.Time, issuer string) []byte {
	if issuer == "" {
		issuer = w.front.URL
	}
	claims := jwt.MapClaims{"iss": issuer, "iat": iat.Unix(), "nbf": iat.Add(-time.Minute).Unix(), "exp": iat.Add(5 * time.Minute).Unix(),
		"http://schemes.superoffice.net/identity/ctx": tenantID}
	body, _ := json.Marshal(map[string]any{"ChangeType": change, "ContextIdentifier": tenantID,
		"VersionName": "Release 8.4 R08", "FileVersion": "8.4.12.1234", "Token": signClaims(w.t, w.fake, claims)})
	return body
}

// telemetry is an in-memory MeterProvider and TracerProvider.
type telemetry struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	obs    *sysuser.Observer
}

func newTelemetry(t testing.TB, opts ...otelsysuser.Option) *telemetry {
	tel := &telemetry{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	t.Cleanup(func() { mp.Shutdown(context.Background()); tel.tp.Shutdown(context.Background()) })
	obs, err := otelsysuser.NewObserver(append([]otelsysuser.Option{otelsysuser.WithMeterProvider(mp), otelsysuser.WithTracerProvider(tel.tp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	tel.obs = obs
	return tel
}

// metrics collects the metrics, by name.
func (tel *telemetry) metrics(t testing.TB) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelsysuser.ScopeName {
			t.Errorf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// attrs renders an attribute set as k=v pairs, sorted, for comparison.
func attrs(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, ",")
}

// points returns an int64 sum's points, or a histogram's counts, by their
// attributes.
func points(t testing.TB, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out[attrs(p.Attributes)] = p.Value
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out[attrs(p.Attributes)] = int64(p.Count)
		}
	default:
		t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
	}
	return out
}

// wantPoints checks a metric's points exactly.
func wantPoints(t testing.TB, ms map[string]metricdata.Metrics, name string, want map[string]int64) {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		if len(want) == 0 {
			return
		}
		t.Errorf("%s: not recorded", name)
		return
	}
	got := points(t, m)
	// A sum whose only points are zero is as good as none.
	for k, v := range got {
		if v == 0 && want[k] == 0 {
			delete(got, k)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %v\nwant %v", name, got, want)
	}
}

// spansNamed returns the ended spans called name.
func (tel *telemetry) spansNamed(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range tel.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func spanAttr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// eventually polls cond until it holds, for background work to land.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// signClaims signs claims as the fake signs its tokens; a failure fails t.
// It uses t.Errorf, not t.Fatal, as the fake's token funcs run on its
// server's goroutines.
func signClaims(t testing.TB, fake *sysusertest.Server, claims map[string]any) string {
	t.Helper()
	token, err := fake.Sign(claims)
	if err != nil {
		t.Errorf("signing claims: %v", err)
	}
	return token
}
