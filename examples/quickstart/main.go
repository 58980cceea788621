// Command quickstart runs the library's main job against sysusertest, a
// fake SuperOffice started in-process, so it needs no account:
//
//	go run ./examples/quickstart
//
// It makes an application key, registers a tenant with the fake, exchanges
// the tenant's system user token for a ticket, and calls the tenant's
// WebApi with it.
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

func main() {
	log.SetFlags(0)
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	// The application's key pair. A real application loads the private key
	// SuperOffice handed it (.NET XML or PEM) with sysuser.ParsePrivateKey
	// (or sets Config.PrivateKey to its bytes).
	appKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	signer, err := sysuser.NewSigner(appKey)
	if err != nil {
		return err
	}

	const appToken = "quickstart-application-token"
	fake, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: appToken, PublicKey: signer.Public()})
	if err != nil {
		return err
	}
	defer fake.Close()
	fake.AddTenant("Cust12345", "Quickstart App-8k8Q7DmBgo")

	client, err := sysuser.NewClient(sysuser.Config{
		LoginURL:         fake.URL, // real use: Environment: sysuser.SOD, sysuser.Stage or sysuser.Online
		ApplicationToken: appToken,
		Signer:           signer,
	})
	if err != nil {
		return err
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Ticket exchanges once and then serves the cached ticket, renewing it
	// in the background; call it as often as you like.
	// One handle per tenant, kept while the application runs: tenant first,
	// then the system user token its administrator's approval gave you.
	tenant := client.Tenant("Cust12345", "Quickstart App-8k8Q7DmBgo")
	res, err := tenant.Ticket(ctx)
	if err != nil {
		return err
	}
	fmt.Println("login service:", fake.URL)
	fmt.Println("tenant:       ", res.ContextIdentifier)
	fmt.Println("ticket:       ", redactedTicket(res.Ticket))
	fmt.Println("WebApi URL:   ", res.WebAPIURL)

	// An *http.Client that adds "Authorization: SOTicket <ticket>" and
	// "SO-AppToken: <application token>" to every request.
	webapi := tenant.HTTPClient()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, res.WebAPIURL+"v1/Contact/2", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := webapi.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return err
	}
	fmt.Printf("GET %sv1/Contact/2 -> %s %s", res.WebAPIURL, resp.Status, body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("WebApi answered %s", resp.Status)
	}
	fmt.Printf("exchanges with the login service: %d\n", fake.ExchangeCount("Cust12345"))
	return nil
}

// redactedTicket returns a form of a ticket that is safe to print: its type
// prefix (such as "7T:") and a marker, never the ticket, which is a
// credential.
func redactedTicket(ticket string) string {
	if i := strings.IndexByte(ticket, ':'); i > 0 && i <= 4 {
		return ticket[:i+1] + "…[redacted]"
	}
	return "[redacted]"
}
