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

var exchangeCommand = &command{
	name:     "exchange",
	synopsis: "exchange the system user token for a ticket and print it, redacted",
	usage: `  sysuser exchange [flags]

Exchanges the tenant's system user token for a ticket (one exchange: it
creates a credentials record in the tenant's database) and prints the
tenant, its WebApi URL and the verified token's claims, the ticket redacted
unless --show-ticket (--show-token adds the JWT itself). On a refusal it
says the likely cause and the fix.

The application token and the system user token come from $SO_APP_TOKEN
and $SO_SYSTEM_USER_TOKEN or from files (-app-token-file, -token-file):
other users of this machine see command-line flags in ps.

` + exchangeJSONHelp + `
  export SO_APP_TOKEN SO_SYSTEM_USER_TOKEN   # set from your secret store
  sysuser exchange -env sod -key private.xml -tenant Cust12345
  sysuser exchange -env sod -key private.xml -tenant Cust12345 \
      -app-token-file app-token.txt -token-file Cust12345.token --json
`,
	flags: func(c *cli) (*flag.FlagSet, func([]string) error) {
		fs := flag.NewFlagSet("exchange", flag.ContinueOnError)
		var s settings
		s.addPlace(fs, c)
		s.addApp(fs, c)
		s.addTenant(fs, c)
		showTicket := fs.Bool("show-ticket", false, "print the ticket (a credential for hours) instead of redacting it")
		showToken := fs.Bool("show-token", false, "also print the JWT SuperOffice returned (it carries the ticket), as sysuser verify reads it")
		asJSON := fs.Bool("json", false, "print one JSON object")
		return fs, func(args []string) error {
			if err := noArgs(fs, args); err != nil {
				return err
			}
			if err := s.resolve(fs); err != nil {
				return err
			}
			client, err := s.client()
			if err != nil {
				return err
			}
			defer client.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 2*s.timeout)
			defer cancel()
			res, err := client.Exchange(ctx, s.tenant, s.token)
			if err != nil {
				fmt.Fprintf(c.stderr, "sysuser exchange: tenant %s: %s\n", clean(s.tenant, 64), explain(err, s.appToken, s.token))
				return exitError(exitFail)
			}
			ticket := redactedTicket(res.Ticket)
			if *showTicket {
				ticket = res.Ticket
			}
			claims := claimsForOutput(res.Claims, !*showTicket, true)
			if *asJSON {
				out := exchangeOutput{
					Tenant:       res.ContextIdentifier,
					Ticket:       ticket,
					WebAPIURL:    res.WebAPIURL,
					NetServerURL: res.NetServerURL,
					IssuedAt:     res.IssuedAt.UTC().Format(time.RFC3339),
					ExpiresAt:    res.ExpiresAt.UTC().Format(time.RFC3339),
					Claims:       claims,
				}
				if *showToken {
					out.JWT = res.Token
				}
				return writeJSON(c.stdout, out)
			}
			w := c.stdout
			fmt.Fprintf(w, "tenant      %s\n", res.ContextIdentifier)
			fmt.Fprintf(w, "ticket      %s\n", ticket)
			fmt.Fprintf(w, "WebApi URL  %s\n", res.WebAPIURL)
			fmt.Fprintf(w, "NetServer   %s\n", res.NetServerURL)
			fmt.Fprintf(w, "token       issued %s, expires %s\n", res.IssuedAt.UTC().Format(time.RFC3339), res.ExpiresAt.UTC().Format(time.RFC3339))
			printClaims(w, claims)
			if *showToken {
				fmt.Fprintf(w, "JWT         %s\n", res.Token)
			}
			return nil
		}
	},
}

// exchangeOutput is the object exchange --json prints, one line. Its
// fields are stable; new ones may be added.
type exchangeOutput struct {
	Tenant       string         `json:"tenant"`        // the ctx claim, such as Cust12345
	Ticket       string         `json:"ticket"`        // "7T:…[redacted]" unless --show-ticket
	WebAPIURL    string         `json:"webapi_url"`    // the tenant's WebApi base, ending in /
	NetServerURL string         `json:"netserver_url"` // the netserver_url claim
	IssuedAt     string         `json:"issued_at"`     // the token's iat, RFC 3339 UTC
	ExpiresAt    string         `json:"expires_at"`    // the token's exp, RFC 3339 UTC
	Claims       map[string]any `json:"claims"`        // every claim, by its full name; ticket redacted as above
	JWT          string         `json:"jwt,omitempty"` // the JWT itself, only with --show-token
}

const exchangeJSONHelp = `With --json it prints one line, an object with these fields (stable; new
ones may be added):
  tenant         the tenant id (ctx claim), such as Cust12345
  ticket         "7T:…[redacted]", or the ticket with --show-ticket
  webapi_url     the tenant's WebApi base URL, ending in /
  netserver_url  the netserver_url claim
  issued_at      the token's iat, RFC 3339 in UTC
  expires_at     the token's exp, RFC 3339 in UTC
  claims         every claim by its full name (ticket redacted as above)
  jwt            the JWT, only with --show-token
`

// missingSetting names a required setting that is not set.
type missingSetting struct{ name, what string }

// missing lists the required settings that are not set, in order.
func (s *settings) missing() []missingSetting {
	var out []missingSetting
	for _, m := range []struct {
		val string
		missingSetting
	}{
		{s.appToken, missingSetting{"SO_APP_TOKEN (or -app-token)", "your application's client secret"}},
		{s.keyFile, missingSetting{"SO_PRIVATE_KEY_FILE (or -key)", "path to your application's private key"}},
		{s.token, missingSetting{"SO_SYSTEM_USER_TOKEN (or -token)", "the system user token the tenant's approval gave you"}},
		{s.tenant, missingSetting{"SO_CONTEXT_IDENTIFIER (or -tenant)", "the tenant id, e.g. Cust12345"}},
	} {
		if m.val == "" {
			out = append(out, m.missingSetting)
		}
	}
	return out
}

// client makes a sysuser.Client from the settings, or says what is missing
// (a usage error).
func (s *settings) client() (*sysuser.Client, error) {
	var missing []string
	for _, m := range s.missing() {
		missing = append(missing, "  missing "+m.name+": "+m.what)
	}
	u, _, err := s.login()
	if errors.Is(err, errNoPlace) {
		missing = append([]string{"  missing SO_ENVIRONMENT (or -env) sod, stage or online, or SO_LOGIN_URL (or -login-url)"}, missing...)
	} else if err != nil {
		return nil, usagef("%v", err)
	}
	if len(missing) > 0 {
		return nil, usagef("not configured:\n%s", strings.Join(missing, "\n"))
	}
	proto, err := s.protocolValue()
	if err != nil {
		return nil, err
	}
	key, err := readKey(s.keyFile)
	if err != nil {
		return nil, err
	}
	cfg := sysuser.Config{LoginURL: u.String(), ApplicationToken: s.appToken, PrivateKey: key, Protocol: proto, ExchangeTimeout: 2 * s.timeout}
	if s.certFile != "" {
		if cfg.Certificate, err = os.ReadFile(s.certFile); err != nil {
			return nil, err
		}
	}
	if cfg.HTTPClient, err = s.httpClient(); err != nil {
		return nil, err
	}
	return sysuser.NewClient(cfg)
}
