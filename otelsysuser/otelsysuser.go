// Package otelsysuser records what a sysuser.Client does as OpenTelemetry
// metrics and traces: exchanges (by outcome and protocol, with their
// duration and retries), renewed tickets, cached tenants and tenants by
// SuperOffice state, the WebApi transport's 401 and 421 retries, ticket
// store failures and state-change notifications; and a span per exchange
// and per state lookup, a child of the caller's span.
//
//	obs, err := otelsysuser.NewObserver(
//		otelsysuser.WithMeterProvider(meterProvider),
//		otelsysuser.WithTracerProvider(tracerProvider))
//	...
//	client, err := sysuser.NewClient(sysuser.Config{..., Observer: obs})
//
// The cached Ticket path records nothing: the Client calls the Observer
// only when it exchanges, looks a state up, retries, fails or is notified.
// Attributes never hold a secret (no ticket, token or key); tenant ids
// appear only with WithTenantIDs. The instruments are listed in
// docs/observability.md.
package otelsysuser

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/go-superoffice/sysuser"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the meter and tracer.
const ScopeName = "github.com/go-superoffice/sysuser/otelsysuser"

// Attribute keys. Values are bounded sets, listed with each.
const (
	// keyOutcome: ok, refused, invalid_token, key_set_unavailable,
	// timeout, canceled, not_running, invalid_argument, transport.
	keyOutcome  = attribute.Key("sysuser.outcome")
	keyProtocol = attribute.Key("sysuser.protocol") // soap, rest
	keyRenewal  = attribute.Key("sysuser.renewal")
	keyAttempts = attribute.Key("sysuser.exchange.attempts")
	keyAttempt  = attribute.Key("sysuser.exchange.attempt")
	keyWait     = attribute.Key("sysuser.retry.wait") // seconds
	keySource   = attribute.Key("sysuser.ticket.source")
	keyState    = attribute.Key("sysuser.tenant.state")
	keyTenant   = attribute.Key("sysuser.tenant.id")
	keyStoreOp  = attribute.Key("sysuser.store.operation")
	keyChange   = attribute.Key("sysuser.notification.change")
	keyVerdict  = attribute.Key("sysuser.notification.verdict")
	keyStatus   = attribute.Key("http.response.status_code")
	keyErrMsg   = attribute.Key("error.message")
)

// otherTenant stands for the tenants past WithTenantIDs' limit, and
// otherValue for a state or change this package does not know.
const (
	otherTenant = "_other"
	otherValue  = "_other"
)

// An Option configures NewObserver.
type Option func(*config)

type config struct {
	mp      metric.MeterProvider
	tp      trace.TracerProvider
	tenants int
}

// WithMeterProvider records metrics with mp instead of the global
// MeterProvider (otel.GetMeterProvider).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithTracerProvider records spans with tp instead of the global
// TracerProvider (otel.GetTracerProvider).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithTenantIDs adds the tenant's context identifier (such as "Cust12345")
// as the attribute sysuser.tenant.id: on every span, and on the metrics of
// the first limit tenants seen; the others' metrics carry "_other", so a
// fleet of thousands of tenants does not become thousands of time series.
// Without it, no attribute names a tenant. A limit of zero or less adds
// the attribute to spans only.
func WithTenantIDs(limit int) Option {
	return func(c *config) { c.tenants = max(limit, 0) + 1 }
}

// NewObserver returns a sysuser.Observer that records a Client's work with
// OpenTelemetry; set it as sysuser.Config.Observer. Make one per Client:
// its count of tenants by state follows that Client's tenants.
func NewObserver(opts ...Option) (*sysuser.Observer, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.mp == nil {
		cfg.mp = otel.GetMeterProvider()
	}
	if cfg.tp == nil {
		cfg.tp = otel.GetTracerProvider()
	}
	r := &recorder{tracer: cfg.tp.Tracer(ScopeName), states: map[string]string{}}
	if cfg.tenants > 0 {
		r.tenantIDs = true
		r.tenantLimit = cfg.tenants - 1
		r.admitted = map[string]bool{}
	}
	if err := r.instruments(cfg.mp.Meter(ScopeName)); err != nil {
		return nil, err
	}
	return &sysuser.Observer{
		ExchangeStart:  r.exchangeStart,
		ExchangeRetry:  r.exchangeRetry,
		ExchangeDone:   r.exchangeDone,
		NewTicket:      r.newTicket,
		StatusStart:    r.statusStart,
		StatusDone:     r.statusDone,
		TransportRetry: r.transportRetry,
		StoreError:     r.storeError,
		TenantCache:    r.tenantCache,
		Notification:   r.notification,
	}, nil
}

// recorder holds the instruments and what the observable ones report.
type recorder struct {
	tracer trace.Tracer

	exchanges        metric.Int64Counter
	exchangeDuration metric.Float64Histogram
	exchangeRetries  metric.Int64Counter
	renewed          metric.Int64Counter
	cached           metric.Int64UpDownCounter
	lookupDuration   metric.Float64Histogram
	transportRetries metric.Int64Counter
	storeErrors      metric.Int64Counter
	storeFallbacks   metric.Int64Counter
	notifications    metric.Int64Counter

	mu          sync.Mutex
	states      map[string]string // tenant → its last known state
	tenantIDs   bool
	tenantLimit int
	admitted    map[string]bool // tenants whose id the metrics carry
}

// durationBuckets are the histograms' bounds, in seconds: an exchange
// takes from tens of milliseconds to its one-minute timeout.
var durationBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

func (r *recorder) instruments(m metric.Meter) error {
	var err error
	try := func(e error) {
		err = errors.Join(err, e)
	}
	var e error
	r.exchanges, e = m.Int64Counter("sysuser.exchanges", metric.WithUnit("{exchange}"),
		metric.WithDescription("Exchanges of a system user token for a ticket, by outcome."))
	try(e)
	r.exchangeDuration, e = m.Float64Histogram("sysuser.exchange.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of exchanges, all attempts and waits included."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	try(e)
	r.exchangeRetries, e = m.Int64Counter("sysuser.exchange.retries", metric.WithUnit("{retry}"),
		metric.WithDescription("Exchange attempts that failed transiently and were tried again."))
	try(e)
	r.renewed, e = m.Int64Counter("sysuser.tickets.renewed", metric.WithUnit("{ticket}"),
		metric.WithDescription("Tickets renewed in the background, by an exchange or from the shared store."))
	try(e)
	r.cached, e = m.Int64UpDownCounter("sysuser.tenants.cached", metric.WithUnit("{tenant}"),
		metric.WithDescription("Tenants in the Client's cache."))
	try(e)
	_, e = m.Int64ObservableUpDownCounter("sysuser.tenants", metric.WithUnit("{tenant}"),
		metric.WithDescription("Cached tenants by their last known SuperOffice state."),
		metric.WithInt64Callback(r.observeStates))
	try(e)
	r.lookupDuration, e = m.Float64Histogram("sysuser.state.lookup.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of state API lookups."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	try(e)
	r.transportRetries, e = m.Int64Counter("sysuser.transport.retries", metric.WithUnit("{request}"),
		metric.WithDescription("WebApi requests sent again: after a 401 with a new ticket, after a 421 to the tenant's new host."))
	try(e)
	r.storeErrors, e = m.Int64Counter("sysuser.store.errors", metric.WithUnit("{error}"),
		metric.WithDescription("Failed calls to the shared ticket store."))
	try(e)
	r.storeFallbacks, e = m.Int64Counter("sysuser.store.fallbacks", metric.WithUnit("{exchange}"),
		metric.WithDescription("Exchanges made without the shared ticket store because it failed."))
	try(e)
	r.notifications, e = m.Int64Counter("sysuser.notifications", metric.WithUnit("{notification}"),
		metric.WithDescription("State-change notifications received, by change and verdict."))
	try(e)
	return err
}

// tenant returns the tenant attribute for metrics, if tenant ids are on.
func (r *recorder) tenant(attrs []attribute.KeyValue, id string) []attribute.KeyValue {
	if !r.tenantIDs || id == "" {
		return attrs
	}
	r.mu.Lock()
	ok := r.admitted[id]
	if !ok && len(r.admitted) < r.tenantLimit {
		r.admitted[id], ok = true, true
	}
	r.mu.Unlock()
	if !ok {
		id = otherTenant
	}
	return append(attrs, keyTenant.String(id))
}

// spanTenant returns the span attributes naming the tenant, if tenant ids
// are on.
func (r *recorder) spanTenant(id string) []attribute.KeyValue {
	if !r.tenantIDs {
		return nil
	}
	return []attribute.KeyValue{keyTenant.String(id)}
}

func protocol(p sysuser.Protocol) attribute.KeyValue {
	if p == sysuser.REST {
		return keyProtocol.String("rest")
	}
	return keyProtocol.String("soap")
}

// outcome classifies an exchange's or lookup's error.
func outcome(err error) string {
	var ae *sysuser.AuthenticationError
	var ne net.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ae):
		return "refused"
	case errors.Is(err, sysuser.ErrKeySetUnavailable):
		return "key_set_unavailable"
	case errors.Is(err, sysuser.ErrInvalidToken):
		return "invalid_token"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, sysuser.ErrTenantNotRunning):
		return "not_running"
	case errors.Is(err, sysuser.ErrInvalidArgument):
		return "invalid_argument"
	}
	return "transport"
}

// state returns a state's name if SuperOffice documents it, else "_other".
func state(s sysuser.State) string {
	if s.Number() < 0 {
		return otherValue
	}
	return string(s)
}

func (r *recorder) exchangeStart(ctx context.Context, e sysuser.Event) context.Context {
	ctx, _ = r.tracer.Start(ctx, "sysuser.exchange", trace.WithAttributes(
		append(r.spanTenant(e.Tenant), protocol(e.Protocol), keyRenewal.Bool(e.Renewal))...))
	return ctx
}

func (r *recorder) exchangeRetry(ctx context.Context, e sysuser.Event) {
	attrs := []attribute.KeyValue{protocol(e.Protocol)}
	if e.StatusCode != 0 {
		attrs = append(attrs, keyStatus.Int(e.StatusCode))
	}
	r.exchangeRetries.Add(ctx, 1, metric.WithAttributes(r.tenant(attrs, e.Tenant)...))
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		ev := []attribute.KeyValue{keyAttempt.Int(e.Attempt), keyWait.Float64(e.Wait.Seconds())}
		if e.StatusCode != 0 {
			ev = append(ev, keyStatus.Int(e.StatusCode))
		}
		if e.Err != nil {
			ev = append(ev, keyErrMsg.String(e.Err.Error()))
		}
		span.AddEvent("retry", trace.WithAttributes(ev...))
	}
}

func (r *recorder) exchangeDone(ctx context.Context, e sysuser.Event) {
	out := outcome(e.Err)
	attrs := r.tenant([]attribute.KeyValue{protocol(e.Protocol), keyOutcome.String(out)}, e.Tenant)
	r.exchangeDuration.Record(ctx, e.Duration.Seconds(), metric.WithAttributes(attrs...))
	r.exchanges.Add(ctx, 1, metric.WithAttributes(append(attrs, keyRenewal.Bool(e.Renewal))...))
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(keyOutcome.String(out), keyAttempts.Int(e.Attempt))
	endSpan(span, e.Err)
}

// endSpan ends span, with an error status when err is not nil. The
// Client's errors carry no secret.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func (r *recorder) newTicket(ctx context.Context, e sysuser.Event) {
	if !e.Renewal {
		return
	}
	source := "exchange"
	if e.Adopted {
		source = "store"
	}
	r.renewed.Add(ctx, 1, metric.WithAttributes(r.tenant([]attribute.KeyValue{keySource.String(source)}, e.Tenant)...))
}

func (r *recorder) statusStart(ctx context.Context, e sysuser.Event) context.Context {
	ctx, _ = r.tracer.Start(ctx, "sysuser.state.lookup", trace.WithAttributes(r.spanTenant(e.Tenant)...))
	return ctx
}

func (r *recorder) statusDone(ctx context.Context, e sysuser.Event) {
	out := outcome(e.Err)
	attrs := []attribute.KeyValue{keyOutcome.String(out)}
	if e.Err == nil {
		attrs = append(attrs, keyState.String(state(e.State)))
		r.setState(e.Tenant, state(e.State))
	}
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attrs...)
	r.lookupDuration.Record(ctx, e.Duration.Seconds(), metric.WithAttributes(r.tenant(attrs, e.Tenant)...))
	endSpan(span, e.Err)
}

func (r *recorder) transportRetry(ctx context.Context, e sysuser.Event) {
	r.transportRetries.Add(ctx, 1, metric.WithAttributes(r.tenant([]attribute.KeyValue{keyStatus.Int(e.StatusCode)}, e.Tenant)...))
}

func (r *recorder) storeError(ctx context.Context, e sysuser.Event) {
	attrs := metric.WithAttributes(r.tenant([]attribute.KeyValue{keyStoreOp.String(e.Op)}, e.Tenant)...)
	r.storeErrors.Add(ctx, 1, attrs)
	if e.Fallback {
		r.storeFallbacks.Add(ctx, 1, attrs)
	}
}

func (r *recorder) tenantCache(ctx context.Context, e sysuser.Event) {
	if e.Cached {
		r.cached.Add(ctx, 1)
		return
	}
	r.cached.Add(ctx, -1)
	r.mu.Lock()
	delete(r.states, e.Tenant)
	r.mu.Unlock()
}

// changeStates are the states that the Client puts a tenant in on a
// verified notification (see sysuser.Client.StateChangeHandler).
var changeStates = map[string]string{"Suspend": "Suspended", "Delete": "Deleted", "Resume": "Running"}

// changes are SuperOffice's documented ChangeType names.
var changes = map[string]bool{"Upgrade": true, "BackupRestored": true, "Suspend": true, "Resume": true, "Delete": true}

func (r *recorder) notification(ctx context.Context, e sysuser.Event) {
	var verdict string
	switch {
	case e.StatusCode == 200 && e.Applied:
		verdict = "applied"
	case e.StatusCode == 200:
		verdict = "stale"
	case e.StatusCode == 503:
		verdict = "unavailable"
	default:
		verdict = "refused"
	}
	attrs := []attribute.KeyValue{keyVerdict.String(verdict)}
	if e.Change != "" {
		change := e.Change
		if !changes[change] {
			change = otherValue
		}
		attrs = append(attrs, keyChange.String(change))
	}
	r.notifications.Add(ctx, 1, metric.WithAttributes(r.tenant(attrs, e.Tenant)...))
	if s, ok := changeStates[e.Change]; ok && e.Applied {
		r.setState(e.Tenant, s)
	}
}

// setState records a tenant's last known state.
func (r *recorder) setState(tenant, s string) {
	r.mu.Lock()
	r.states[tenant] = s
	r.mu.Unlock()
}

// observeStates reports the cached tenants by their last known state.
func (r *recorder) observeStates(_ context.Context, o metric.Int64Observer) error {
	r.mu.Lock()
	counts := map[string]int64{}
	for _, s := range r.states {
		counts[s]++
	}
	r.mu.Unlock()
	for s, n := range counts {
		o.Observe(n, metric.WithAttributes(keyState.String(s)))
	}
	return nil
}
