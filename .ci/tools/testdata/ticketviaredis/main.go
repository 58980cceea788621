// Command ticketviaredis is an application as a user writes one, built by
// .ci/install-check against the modules installed from the module proxy: it
// gets a ticket from a running `sysuser fake` with its tickets shared
// through redisstore on a real Redis, as two replicas, and calls the fake
// WebApi with it.
//
//	ticketviaredis -settings FILE -redis HOST:PORT
//
// FILE is what `sysuser fake --json` printed.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/redisstore"
	"github.com/redis/go-redis/v9"
)

// settings is the part of `sysuser fake --json` this program reads.
type settings struct {
	LoginURL         string `json:"login_url"`
	ApplicationToken string `json:"application_token"`
	PrivateKeyPEM    string `json:"private_key_pem"`
	Tenants          []struct {
		ContextIdentifier string `json:"context_identifier"`
		SystemUserToken   string `json:"system_user_token"`
	} `json:"tenants"`
}

func main() {
	settingsFile := flag.String("settings", "", "`file` holding the output of sysuser fake --json")
	redisAddr := flag.String("redis", "", "the Redis server's `host:port`")
	flag.Parse()
	if err := run(*settingsFile, *redisAddr); err != nil {
		fmt.Fprintln(os.Stderr, "ticketviaredis:", err)
		os.Exit(1)
	}
}

func run(settingsFile, redisAddr string) error {
	data, err := os.ReadFile(settingsFile)
	if err != nil {
		return err
	}
	var s settings
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("%s: %w", settingsFile, err)
	}
	if len(s.Tenants) == 0 {
		return errors.New("the fake has no tenant")
	}
	key, err := os.ReadFile(s.PrivateKeyPEM)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	rdb := redis.NewClient(&redis.Options{Addr: redisAddr, DialTimeout: time.Second, ContextTimeoutEnabled: true})
	defer rdb.Close()
	secret := make([]byte, 32)
	rand.Read(secret)
	const prefix = "installcheck:"
	replica := func() (*sysuser.Client, *redisstore.Store, error) {
		store, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Keys: []redisstore.Key{{ID: "ci", Secret: secret}}})
		if err != nil {
			return nil, nil, err
		}
		client, err := sysuser.NewClient(sysuser.Config{
			LoginURL:         s.LoginURL,
			ApplicationToken: s.ApplicationToken,
			PrivateKey:       key,
			Store:            store,
		})
		if err != nil {
			store.Close()
			return nil, nil, err
		}
		return client, store, nil
	}
	tenantID, token := s.Tenants[0].ContextIdentifier, s.Tenants[0].SystemUserToken

	first, firstStore, err := replica()
	if err != nil {
		return err
	}
	defer firstStore.Close()
	defer first.Close()
	res, err := first.Tenant(tenantID, token).Ticket(ctx)
	if err != nil {
		return fmt.Errorf("first replica: %w", err)
	}
	if !strings.HasPrefix(res.Ticket, "7T:") {
		return fmt.Errorf("first replica: ticket %s does not start with 7T:", redactedTicket(res.Ticket))
	}
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return errors.New("the ticket was not stored in Redis")
	}
	fmt.Printf("first replica: ticket %s for %s, stored in Redis as %s\n", redactedTicket(res.Ticket), tenantID, strings.Join(keys, ", "))

	second, secondStore, err := replica()
	if err != nil {
		return err
	}
	defer secondStore.Close()
	defer second.Close()
	tenant := second.Tenant(tenantID, token)
	again, err := tenant.Ticket(ctx)
	if err != nil {
		return fmt.Errorf("second replica: %w", err)
	}
	if again.Ticket != res.Ticket {
		return fmt.Errorf("second replica: got ticket %s, not the first replica's %s from Redis", redactedTicket(again.Ticket), redactedTicket(res.Ticket))
	}
	fmt.Println("second replica: the same ticket, read from Redis")

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, again.WebAPIURL+"v1/User/currentPrincipal", nil)
	if err != nil {
		return err
	}
	resp, err := tenant.HTTPClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", req.URL, resp.Status)
	}
	var echo struct{ ContextIdentifier, Path string }
	if err := json.Unmarshal(body, &echo); err != nil || echo.ContextIdentifier != tenantID {
		return fmt.Errorf("GET %s: unexpected answer %q", req.URL, body)
	}
	fmt.Printf("WebApi: GET %s answered %s\n", req.URL, resp.Status)
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
