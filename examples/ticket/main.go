// Command ticket exchanges a system user token for a ticket against real
// SuperOffice and prints the (redacted) ticket and the tenant's WebApi URL.
//
// Configure it with environment variables (preferred for secrets) or flags:
//
//	SO_ENVIRONMENT         -env       sod, stage or online
//	SO_APP_TOKEN           -app-token the application token (client secret)
//	SO_PRIVATE_KEY_FILE    -key       the application's private key, .NET XML or PEM
//	SO_SYSTEM_USER_TOKEN   -token     the tenant's system user token
//	SO_CONTEXT_IDENTIFIER  -tenant    the tenant id, e.g. Cust12345
//
// Optional: -protocol rest, -cert FILE to pin SuperOffice's certificate.
//
//	go run ./examples/ticket -env sod -key private.xml -tenant Cust12345
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-superoffice/sysuser"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ticket:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("ticket", flag.ContinueOnError)
	env := fs.String("env", os.Getenv("SO_ENVIRONMENT"), "SuperOffice environment: sod, stage or online (SO_ENVIRONMENT)")
	appToken := fs.String("app-token", os.Getenv("SO_APP_TOKEN"), "application token (SO_APP_TOKEN; prefer the variable: flags show in ps)")
	keyFile := fs.String("key", os.Getenv("SO_PRIVATE_KEY_FILE"), "private key file, .NET XML or PEM (SO_PRIVATE_KEY_FILE)")
	token := fs.String("token", os.Getenv("SO_SYSTEM_USER_TOKEN"), "system user token (SO_SYSTEM_USER_TOKEN)")
	tenant := fs.String("tenant", os.Getenv("SO_CONTEXT_IDENTIFIER"), "tenant id such as Cust12345 (SO_CONTEXT_IDENTIFIER)")
	protocol := fs.String("protocol", "soap", "soap or rest")
	certFile := fs.String("cert", "", "optional PEM certificate that pins SuperOffice's signing key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var missing []string
	for _, m := range []struct{ val, name string }{
		{*env, "SO_ENVIRONMENT (or -env): sod, stage or online"},
		{*appToken, "SO_APP_TOKEN (or -app-token): your application's client secret"},
		{*keyFile, "SO_PRIVATE_KEY_FILE (or -key): path to your application's private key"},
		{*token, "SO_SYSTEM_USER_TOKEN (or -token): the system user token the tenant's approval gave you"},
		{*tenant, "SO_CONTEXT_IDENTIFIER (or -tenant): the tenant id, e.g. Cust12345"},
	} {
		if m.val == "" {
			missing = append(missing, "  missing "+m.name)
		}
	}
	if len(missing) > 0 {
		return errors.New("not configured:\n" + strings.Join(missing, "\n"))
	}
	key, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	cfg := sysuser.Config{Environment: sysuser.Environment(*env), ApplicationToken: *appToken, PrivateKey: key}
	switch strings.ToLower(*protocol) {
	case "soap":
	case "rest":
		cfg.Protocol = sysuser.REST
	default:
		return fmt.Errorf("-protocol %q: want soap or rest", *protocol)
	}
	if *certFile != "" {
		if cfg.Certificate, err = os.ReadFile(*certFile); err != nil {
			return err
		}
	}
	client, err := sysuser.NewClient(cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := client.Exchange(ctx, *tenant, *token)
	if err != nil {
		return err
	}
	fmt.Println("tenant:    ", res.ContextIdentifier)
	fmt.Println("ticket:    ", redactedTicket(res.Ticket))
	fmt.Println("WebApi URL:", res.WebAPIURL)
	fmt.Println("NetServer: ", res.NetServerURL)
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
