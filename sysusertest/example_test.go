package sysusertest_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"log"
	"net/http"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

// A test starts a fake SuperOffice, points a Client at it, and checks what
// the fake saw. Here the WebApi stops accepting the ticket, and the
// tenant's HTTP client exchanges for a new one and retries, once.
func ExampleServer() {
	appKey, err := rsa.GenerateKey(rand.Reader, 2048) // the application's key pair
	if err != nil {
		log.Fatal(err)
	}
	fake, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "my-app-token", PublicKey: &appKey.PublicKey})
	if err != nil {
		log.Fatal(err)
	}
	defer fake.Close()
	fake.AddTenant("Cust12345", "MyApp-8k8Q7DmBgo")

	signer, err := sysuser.NewSigner(appKey)
	if err != nil {
		log.Fatal(err)
	}
	client, err := sysuser.NewClient(sysuser.Config{LoginURL: fake.URL, ApplicationToken: "my-app-token", Signer: signer})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ctx := context.Background()
	tenant := client.Tenant("Cust12345", "MyApp-8k8Q7DmBgo")
	get := func() {
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
		resp.Body.Close()
		fmt.Println(resp.Status)
	}

	get()
	res, err := tenant.Ticket(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fake.RevokeTicket(res.Ticket) // the WebApi answers 401 to it from now on
	get()
	fmt.Println("exchanges:", fake.ExchangeCount("Cust12345"))
	fmt.Println("WebApi requests:", fake.WebAPICallCount("Cust12345"))
	// Output:
	// 200 OK
	// 200 OK
	// exchanges: 2
	// WebApi requests: 3
}
