package redisstore_test

import (
	"context"
	"encoding/base64"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/redisstore"
	"github.com/redis/go-redis/v9"
)

// Each replica of an application makes its Client with the same Redis and
// the same keys; the fleet then makes one exchange per tenant per renewal.
func Example() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  os.Getenv("REDIS_ADDR"),
		DialTimeout:           time.Second,
		ReadTimeout:           500 * time.Millisecond,
		WriteTimeout:          500 * time.Millisecond,
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close()
	// 32 random bytes, such as `openssl rand -base64 32`, from your secret store.
	secret, err := base64.StdEncoding.DecodeString(os.Getenv("TICKET_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	store, err := redisstore.New(rdb, redisstore.Options{
		Keys: []redisstore.Key{{ID: "2026-11", Secret: secret}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	key, err := os.ReadFile("private.xml")
	if err != nil {
		log.Fatal(err)
	}
	client, err := sysuser.NewClient(sysuser.Config{
		Environment:      "sod",
		ApplicationToken: os.Getenv("SO_APP_TOKEN"),
		PrivateKey:       key,
		Store:            store,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	// Every replica's handle for the tenant now shares one ticket.
	ctx := context.Background()
	tenant := client.Tenant("Cust12345", os.Getenv("SO_SYSTEM_USER_TOKEN"))
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
	log.Println(resp.Status)
}
