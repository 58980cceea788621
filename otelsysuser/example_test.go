package otelsysuser_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"log"
	"net/http"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/otelsysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// Wiring a MeterProvider and a TracerProvider into a Client, and tracing
// WebApi requests with otelhttp. A fake SuperOffice (sysusertest) and
// in-memory providers stand in for the real ones; in an application the
// providers have exporters (OTLP, Prometheus, ...), and may be left out to
// use the global ones (otel.SetMeterProvider, otel.SetTracerProvider).
func Example() {
	appKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		log.Fatal(err)
	}
	fake, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "app-token", PublicKey: &appKey.PublicKey})
	if err != nil {
		log.Fatal(err)
	}
	defer fake.Close()
	fake.AddTenant("Cust12345", "system-user-token")

	reader := sdkmetric.NewManualReader()
	meterProvider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tracerProvider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	obs, err := otelsysuser.NewObserver(
		otelsysuser.WithMeterProvider(meterProvider),
		otelsysuser.WithTracerProvider(tracerProvider))
	if err != nil {
		log.Fatal(err)
	}
	signer, err := sysuser.NewSigner(appKey)
	if err != nil {
		log.Fatal(err)
	}
	client, err := sysuser.NewClient(sysuser.Config{
		LoginURL:         fake.URL,
		ApplicationToken: "app-token",
		Signer:           signer,
		Observer:         obs,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	tenant := client.Tenant("Cust12345", "system-user-token")

	// otelhttp outside the tenant's transport: one span per call, which
	// covers the wait for a ticket and the 401 and 421 retries, and never
	// sees the credentials.
	webAPI := &http.Client{Transport: otelhttp.NewTransport(tenant.Transport(nil),
		otelhttp.WithTracerProvider(tracerProvider))}
	resp, err := webAPI.Get(fake.WebAPIURL("Cust12345") + "v1/Contact/2")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("WebApi:", resp.Status)

	names := map[trace.SpanID]string{}
	for _, s := range spans.Ended() {
		names[s.SpanContext().SpanID()] = s.Name()
	}
	for _, s := range spans.Ended() {
		if s.Parent().IsValid() {
			fmt.Printf("span %s, child of %s\n", s.Name(), names[s.Parent().SpanID()])
		} else {
			fmt.Printf("span %s\n", s.Name())
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			fmt.Printf("metric %s (%s)\n", m.Name, m.Unit)
		}
	}
	// Output:
	// WebApi: 200 OK
	// span sysuser.exchange, child of HTTP GET
	// span HTTP GET
	// metric sysuser.exchanges ({exchange})
	// metric sysuser.exchange.duration (s)
	// metric sysuser.tenants.cached ({tenant})
}
