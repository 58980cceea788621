package sysuser_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

// The quickstart: a Client for the application, a Tenant handle for each
// tenant that approved it, and the WebApi through the handle's HTTP client.
// A fake SuperOffice from sysusertest stands in for the real one here; real
// code sets Config.Environment instead of LoginURL.
func Example() {
	key, err := os.ReadFile("testdata/key.xml") // the key SuperOffice handed out
	if err != nil {
		log.Fatal(err)
	}
	rsaKey, err := sysuser.ParsePrivateKey(key)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := sysuser.NewSigner(rsaKey)
	if err != nil {
		log.Fatal(err)
	}
	fake, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "my-app-token", PublicKey: signer.Public()})
	if err != nil {
		log.Fatal(err)
	}
	defer fake.Close()
	fake.AddTenant("Cust12345", "MyApp-8k8Q7DmBgo")

	client, err := sysuser.NewClient(sysuser.Config{
		LoginURL:         fake.URL, // real code: Environment: sysuser.Online
		ApplicationToken: "my-app-token",
		PrivateKey:       key,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// One handle per tenant, kept while the application runs.
	ctx := context.Background()
	tenant := client.Tenant("Cust12345", "MyApp-8k8Q7DmBgo")
	res, err := tenant.Ticket(ctx) // cached and renewed; call it as often as needed
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ContextIdentifier, strings.HasPrefix(res.Ticket, "7T:"))

	// The handle's HTTP client adds the ticket and the application token.
	base, err := tenant.WebAPIURL(ctx)
	if err != nil {
		log.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"v1/Contact/2", nil)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := tenant.HTTPClient().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(resp.Status, " ", string(body))
	// Output:
	// Cust12345 true
	// 200 OK {"ContextIdentifier":"Cust12345","Method":"GET","Path":"v1/Contact/2"}
}

func ExampleParsePrivateKey() {
	data, err := os.ReadFile("testdata/key.xml") // .NET XML, as SuperOffice hands it out
	if err != nil {
		log.Fatal(err)
	}
	key, err := sysuser.ParsePrivateKey(data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("RSA", key.N.BitLen(), "bits")

	_, err = sysuser.ParsePrivateKey([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	fmt.Println(errors.Is(err, sysuser.ErrInvalidKey))
	// Output:
	// RSA 2048 bits
	// true
}

func ExampleSigner_SignAt() {
	data, err := os.ReadFile("testdata/key-pkcs1.pem")
	if err != nil {
		log.Fatal(err)
	}
	rsaKey, err := sysuser.ParsePrivateKey(data)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := sysuser.NewSigner(rsaKey)
	if err != nil {
		log.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 13, 34, 0, 0, time.FixedZone("CET", 3600))
	signed, err := signer.SignAt("SuperOffice DevNet Node OIDC-8k8Q7DmBgo", at)
	if err != nil {
		log.Fatal(err)
	}
	parts := strings.Split(signed, ".")
	fmt.Println(strings.Join(parts[:2], "."))
	fmt.Println(len(parts[2]), "characters of base64 signature")
	// Output:
	// SuperOffice DevNet Node OIDC-8k8Q7DmBgo.202611231234
	// 344 characters of base64 signature
}

// Exchange is the one-shot, uncached call, for tools and diagnostics;
// applications use a Tenant handle.
func ExampleClient_Exchange() {
	key, err := os.ReadFile("testdata/key.xml")
	if err != nil {
		log.Fatal(err)
	}
	rsaKey, err := sysuser.ParsePrivateKey(key)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := sysuser.NewSigner(rsaKey)
	if err != nil {
		log.Fatal(err)
	}
	fake, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "my-app-token", PublicKey: signer.Public()})
	if err != nil {
		log.Fatal(err)
	}
	defer fake.Close()
	fake.AddTenant("Cust12345", "MyApp-8k8Q7DmBgo")
	client, err := sysuser.NewClient(sysuser.Config{LoginURL: fake.URL, ApplicationToken: "my-app-token", Signer: signer})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	res, err := client.Exchange(context.Background(), "Cust12345", "MyApp-8k8Q7DmBgo")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ContextIdentifier, strings.HasPrefix(res.Ticket, "7T:"))
	fmt.Println(strings.HasSuffix(res.WebAPIURL, "/Cust12345/api/"))
	// Output:
	// Cust12345 true
	// true
}

func ExampleAuthenticationError() {
	key, err := os.ReadFile("testdata/key.xml")
	if err != nil {
		log.Fatal(err)
	}
	rsaKey, err := sysuser.ParsePrivateKey(key)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := sysuser.NewSigner(rsaKey)
	if err != nil {
		log.Fatal(err)
	}
	fake, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "my-app-token", PublicKey: signer.Public()})
	if err != nil {
		log.Fatal(err)
	}
	defer fake.Close()
	fake.AddTenant("Cust12345", "MyApp-8k8Q7DmBgo")
	client, err := sysuser.NewClient(sysuser.Config{LoginURL: fake.URL, ApplicationToken: "my-app-token", Signer: signer})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	tenant := client.Tenant("Cust12345", "a-token-the-tenant-never-issued")
	_, err = tenant.Ticket(context.Background())
	var refused *sysuser.AuthenticationError
	if errors.As(err, &refused) {
		fmt.Printf("%s refused: %s\n", refused.ContextIdentifier, refused.Message)
	}
	// Output:
	// Cust12345 refused: The system user token is not valid for this customer
}

func ExampleTenant_Ticket() {
	key, err := os.ReadFile("testdata/key.xml")
	if err != nil {
		log.Fatal(err)
	}
	rsaKey, err := sysuser.ParsePrivateKey(key)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := sysuser.NewSigner(rsaKey)
	if err != nil {
		log.Fatal(err)
	}
	fake, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "my-app-token", PublicKey: signer.Public()})
	if err != nil {
		log.Fatal(err)
	}
	defer fake.Close()
	fake.AddTenant("Cust12345", "MyApp-8k8Q7DmBgo")
	client, err := sysuser.NewClient(sysuser.Config{LoginURL: fake.URL, ApplicationToken: "my-app-token", Signer: signer})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// One handle per tenant, kept for as long as the application runs.
	tenant := client.Tenant("Cust12345", "MyApp-8k8Q7DmBgo")
	for range 3 {
		res, err := tenant.Ticket(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(res.ContextIdentifier, strings.HasPrefix(res.Ticket, "7T:"))
	}
	fmt.Println("exchanges:", fake.ExchangeCount("Cust12345"))
	// Output:
	// Cust12345 true
	// Cust12345 true
	// Cust12345 true
	// exchanges: 1
}

// What to do when the handle fails: a refusal is final for the token, a
// tenant that is not running comes back by itself, anything else is worth
// a retry later.
func ExampleTenant_Ticket_refused() {
	key, err := os.ReadFile("testdata/key.xml")
	if err != nil {
		log.Fatal(err)
	}
	rsaKey, err := sysuser.ParsePrivateKey(key)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := sysuser.NewSigner(rsaKey)
	if err != nil {
		log.Fatal(err)
	}
	fake, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "my-app-token", PublicKey: signer.Public()})
	if err != nil {
		log.Fatal(err)
	}
	defer fake.Close()
	fake.AddTenant("Cust12345", "MyApp-8k8Q7DmBgo")
	fake.AddTenant("Cust67890", "MyApp-Zm9vYmFy")
	client, err := sysuser.NewClient(sysuser.Config{LoginURL: fake.URL, ApplicationToken: "my-app-token", Signer: signer})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// Cust12345's administrator withdrew the approval, so SuperOffice
	// refuses its token; Cust67890 was suspended, and SuperOffice said so
	// at the application's State Change URL.
	fake.Refuse("Cust12345", "The system user token is not valid for this customer")
	now := time.Now()
	token, err := fake.Sign(map[string]any{"iss": fake.Root, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	if err != nil {
		log.Fatal(err)
	}
	suspend := httptest.NewRequest(http.MethodPost, "/superoffice/state",
		strings.NewReader(`{"ChangeType":2,"ContextIdentifier":"Cust67890","Token":"`+token+`"}`))
	rec := httptest.NewRecorder()
	client.StateChangeHandler(nil).ServeHTTP(rec, suspend)
	if rec.Code != http.StatusOK {
		log.Fatalf("notification refused: %d %s", rec.Code, rec.Body)
	}

	for _, tenant := range []*sysuser.Tenant{
		client.Tenant("Cust12345", "MyApp-8k8Q7DmBgo"),
		client.Tenant("Cust67890", "MyApp-Zm9vYmFy"),
	} {
		_, err := tenant.Ticket(context.Background())
		var refused *sysuser.AuthenticationError
		switch {
		case err == nil:
			fmt.Println(tenant.ContextIdentifier(), "ok")
		case errors.As(err, &refused):
			// Final for this token: retrying will not help. Ask the
			// tenant's administrator to approve the application again.
			fmt.Println(tenant.ContextIdentifier(), "refused:", refused.Message)
		case errors.Is(err, sysuser.ErrTenantNotRunning):
			// SuperOffice's doing, not the application's: skip the tenant
			// for now. The handle fails fast, with no exchange, until
			// SuperOffice says the tenant runs again.
			fmt.Println(tenant.ContextIdentifier(), "is not running; try later")
		default:
			// The network, SuperOffice's availability, an answer that did
			// not verify (sysuser.ErrInvalidToken): log it and try later.
			fmt.Println(tenant.ContextIdentifier(), "failed:", err)
		}
	}
	fmt.Println("exchanges for Cust67890:", fake.ExchangeCount("Cust67890"))
	// Output:
	// Cust12345 refused: The system user token is not valid for this customer
	// Cust67890 is not running; try later
	// exchanges for Cust67890: 0
}

func ExampleTenant_HTTPClient() {
	key, err := os.ReadFile("testdata/key.xml")
	if err != nil {
		log.Fatal(err)
	}
	rsaKey, err := sysuser.ParsePrivateKey(key)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := sysuser.NewSigner(rsaKey)
	if err != nil {
		log.Fatal(err)
	}
	fake, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "my-app-token", PublicKey: signer.Public()})
	if err != nil {
		log.Fatal(err)
	}
	defer fake.Close()
	fake.AddTenant("Cust12345", "MyApp-8k8Q7DmBgo")
	client, err := sysuser.NewClient(sysuser.Config{LoginURL: fake.URL, ApplicationToken: "my-app-token", Signer: signer})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ctx := context.Background()
	tenant := client.Tenant("Cust12345", "MyApp-8k8Q7DmBgo")
	base, err := tenant.WebAPIURL(ctx)
	if err != nil {
		log.Fatal(err)
	}
	webapi := tenant.HTTPClient()
	for range 3 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"v1/Contact/2", nil)
		if err != nil {
			log.Fatal(err)
		}
		resp, err := webapi.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(resp.Status)
	}
	// The credentials go to the tenant's WebApi only.
	_, err = webapi.Get("https://example.com/collect")
	fmt.Println(errors.Is(err, sysuser.ErrNotWebAPI))
	fmt.Println("exchanges:", fake.ExchangeCount("Cust12345"))
	// Output:
	// 200 OK
	// 200 OK
	// 200 OK
	// true
	// exchanges: 1
}

// SuperOffice posts state-change notifications to the State Change URL
// registered for the application. The handler verifies each, pauses and
// resumes the tenant's handles, then tells the application.
func ExampleClient_StateChangeHandler() {
	key, err := os.ReadFile("testdata/key.xml")
	if err != nil {
		log.Fatal(err)
	}
	rsaKey, err := sysuser.ParsePrivateKey(key)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := sysuser.NewSigner(rsaKey)
	if err != nil {
		log.Fatal(err)
	}
	fake, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "my-app-token", PublicKey: signer.Public()})
	if err != nil {
		log.Fatal(err)
	}
	defer fake.Close()
	fake.AddTenant("Cust12345", "MyApp-8k8Q7DmBgo")
	client, err := sysuser.NewClient(sysuser.Config{LoginURL: fake.URL, ApplicationToken: "my-app-token", Signer: signer})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// Real code: http.Handle("/superoffice/state", handler).
	handler := client.StateChangeHandler(func(ctx context.Context, c sysuser.StateChange) {
		fmt.Println("notified:", c.ContextIdentifier, c.Change)
	})
	// What SuperOffice would post: the change and a token signed by its key.
	notify := func(changeType int) {
		now := time.Now()
		token, err := fake.Sign(map[string]any{"iss": fake.Root, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
		if err != nil {
			log.Fatal(err)
		}
		body := fmt.Sprintf(`{"ChangeType":%d,"ContextIdentifier":"Cust12345","Token":%q}`, changeType, token)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/superoffice/state", strings.NewReader(body)))
		if rec.Code != http.StatusOK {
			log.Fatalf("notification refused: %d %s", rec.Code, rec.Body)
		}
	}

	tenant := client.Tenant("Cust12345", "MyApp-8k8Q7DmBgo")
	notify(2) // Suspend
	_, err = tenant.Ticket(context.Background())
	fmt.Println("paused:", errors.Is(err, sysuser.ErrTenantNotRunning))
	notify(3) // Resume
	if _, err := tenant.Ticket(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("resumed; exchanges:", fake.ExchangeCount("Cust12345"))
	// Output:
	// notified: Cust12345 Suspend
	// paused: true
	// notified: Cust12345 Resume
	// resumed; exchanges: 1
}

// A tenant's administrator approves the application: Start sends the
// browser to SuperID, SuperID sends it back to the redirect URL, and
// OnApproval receives the tenant and its system user token. Here
// sysusertest's SuperID decides in place of the administrator and
// httptest stands in for the browser.
func ExampleOnboarding() {
	key, err := os.ReadFile("testdata/key.xml")
	if err != nil {
		log.Fatal(err)
	}
	rsaKey, err := sysuser.ParsePrivateKey(key)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := sysuser.NewSigner(rsaKey)
	if err != nil {
		log.Fatal(err)
	}
	fake, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "my-app-token", PublicKey: signer.Public()})
	if err != nil {
		log.Fatal(err)
	}
	defer fake.Close()
	fake.AddTenant("Cust12345", "MyApp-8k8Q7DmBgo")
	const redirect = "https://app.example.com/superoffice/callback"
	if err := fake.RegisterClient("my-client-id", "my-client-secret", redirect); err != nil {
		log.Fatal(err)
	}

	// The verifier says where to talk and whose keys to trust.
	verifier, err := sysuser.NewApprovalVerifier(sysuser.ApprovalConfig{
		LoginURL: fake.URL, // real code: Environment: sysuser.Online
		ClientID: "my-client-id",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer verifier.Close()

	tokens := map[string]string{} // real code: a secret store
	ob, err := sysuser.NewOnboarding(sysuser.OnboardingConfig{
		Verifier:     verifier,
		ClientSecret: "my-client-secret",
		RedirectURL:  redirect,
		StateKey:     []byte("example state key, 32 bytes long"), // real code: 32 random bytes, kept secret, the same on every replica
		OnApproval: func(w http.ResponseWriter, r *http.Request, a *sysuser.Approval) error {
			tokens[a.ContextIdentifier] = a.SystemUserToken
			fmt.Println("approved for", a.ContextIdentifier, "by", a.Email)
			http.Redirect(w, r, "/connected", http.StatusSeeOther)
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer ob.Close()
	// Real code: http.HandleFunc("/connect", ob.Start); http.Handle("/superoffice/callback", ob).

	// The administrator clicks "Connect SuperOffice".
	start := httptest.NewRecorder()
	ob.Start(start, httptest.NewRequest(http.MethodGet, "/connect", nil))
	// ... and approves on SuperID's page.
	cb, err := fake.Authorize("Cust12345", start.Header().Get("Location"))
	if err != nil {
		log.Fatal(err)
	}
	// The browser comes back to the redirect URL, with Start's cookie.
	req, err := cb.Request()
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range start.Result().Cookies() {
		req.AddCookie(c)
	}
	done := httptest.NewRecorder()
	ob.ServeHTTP(done, req)
	fmt.Println(done.Code, done.Header().Get("Location"))
	fmt.Println("token stored:", tokens["Cust12345"] != "")
	// Output:
	// approved for Cust12345 by admin@cust12345.example
	// 303 /connected
	// token stored: true
}
func ExampleTenant_Status() {
	key, err := os.ReadFile("testdata/key.xml")
	if err != nil {
		log.Fatal(err)
	}
	rsaKey, err := sysuser.ParsePrivateKey(key)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := sysuser.NewSigner(rsaKey)
	if err != nil {
		log.Fatal(err)
	}
	fake, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "my-app-token", PublicKey: signer.Public()})
	if err != nil {
		log.Fatal(err)
	}
	defer fake.Close()
	fake.AddTenant("Cust12345", "MyApp-8k8Q7DmBgo")
	client, err := sysuser.NewClient(sysuser.Config{LoginURL: fake.URL, ApplicationToken: "my-app-token", Signer: signer})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ctx := context.Background()
	tenant := client.Tenant("Cust12345", "MyApp-8k8Q7DmBgo")
	// SuperOffice moves the tenant to another host to balance load.
	moved, err := fake.MoveTenant("Cust12345")
	if err != nil {
		log.Fatal(err)
	}
	st, err := tenant.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.State, st.IsRunning)
	base, err := tenant.WebAPIURL(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("follows the move:", base == moved, strings.HasSuffix(base, "/Cust12345/api/"))
	// Output:
	// Running true
	// follows the move: true true
}
