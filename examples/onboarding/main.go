// Command onboarding walks the whole path against sysusertest, a fake
// SuperOffice started in-process, so it needs no account:
//
//	go run ./examples/onboarding
//
// A tenant administrator approves the application; SuperID posts an
// id_token to the application's redirect URL; the application verifies it
// and stores the tenant's system user token; later it gets a ticket with
// that token and calls the tenant's WebApi.
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

const (
	clientID = "onboarding-client-id"
	appToken = "onboarding-application-token"
)

// tokenStore is where an application keeps each tenant's system user token
// (a database table, encrypted, in real life).
type tokenStore struct {
	mu     sync.Mutex
	tokens map[string]string
}

func (s *tokenStore) put(tenant, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tenant] = token
}

func (s *tokenStore) get(tenant string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[tenant]
}

func main() {
	log.SetFlags(0)
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	appKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	signer, err := sysuser.NewSignerFromKey(appKey)
	if err != nil {
		return err
	}
	fake, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: appToken, PublicKey: signer.Public()})
	if err != nil {
		return err
	}
	defer fake.Close()
	fake.AddTenant("Cust12345", "Onboarding App-Zk3q 8k8Q7DmBgo")

	// 1. The application's redirect URL.
	store := &tokenStore{tokens: map[string]string{}}
	ob, err := sysuser.NewOnboarding(sysuser.OnboardingConfig{
		LoginURL: fake.URL, ClientID: clientID, ClientSecret: "onboarding-client-secret",
		StateKey: []byte("an example key, 32 bytes or more: keep real ones secret"), RedirectURL: "http://127.0.0.1/callback",
		LegacySkipNonceCheck: true, // this walk posts an id_token directly
		OnApproval: func(w http.ResponseWriter, r *http.Request, a *sysuser.Approval) error {
			store.put(a.ContextIdentifier, a.SystemUserToken)
			fmt.Printf("approved by %s for %s; system user token stored\n", a.Email, a.ContextIdentifier)
			fmt.Fprintln(w, "Thank you: the application is installed.")
			return nil
		},
	})
	if err != nil {
		return err
	}
	redirect := httptest.NewServer(ob)
	defer redirect.Close()

	// 2. The administrator clicks "I approve": SuperID posts the id_token.
	idToken, err := fake.Approve("Cust12345", clientID, "")
	if err != nil {
		return err
	}
	resp, err := http.Post(redirect.URL, "application/x-www-form-urlencoded", strings.NewReader(url.Values{"id_token": {idToken}}.Encode()))
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("redirect URL answered %s", resp.Status)
	}
	fmt.Printf("redirect URL answered %s: %s", resp.Status, page)

	// 3. Later, server to server: a ticket and a WebApi call.
	client, err := sysuser.NewClient(sysuser.Config{LoginURL: fake.URL, ApplicationToken: appToken, Signer: signer})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	token := store.get("Cust12345")
	res, err := client.Tenant("Cust12345", token).Ticket(ctx)
	if err != nil {
		return err
	}
	fmt.Println("ticket:", sysuser.RedactTicket(res.Ticket))
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, res.WebAPIURL+"v1/Contact/2", nil)
	resp, err = client.Tenant("Cust12345", token).HTTPClient().Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	fmt.Printf("GET v1/Contact/2 -> %s %s", resp.Status, body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("WebApi answered %s", resp.Status)
	}
	return nil
}
