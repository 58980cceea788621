package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/golang-jwt/jwt/v5"
)

var signCommand = &command{
	name:     "sign",
	synopsis: "print the signed system user token (TOKEN.yyyyMMddHHmm.signature)",
	usage: `  sysuser sign [--token-file FILE] --key FILE [--at TIME]

Signs the system user token with the application's private key for the UTC
minute of --at (default: now), as SuperOffice specifies:
  TOKEN.yyyyMMddHHmm.base64(RSA-SHA256(TOKEN.yyyyMMddHHmm))
RSA PKCS#1 v1.5 signatures are deterministic: the output is byte-for-byte
comparable with any other implementation's for the same token, key and
minute. The signed token is a credential for a few minutes: handle it as one.

The system user token comes from $SO_SYSTEM_USER_TOKEN or -token-file;
-token works too, but other users of this machine see flags in ps.

  export SO_SYSTEM_USER_TOKEN   # set from your secret store
  sysuser sign --key private.xml --at 2026-11-23T12:34Z
  sysuser sign --token-file Cust12345.token --key private.xml
`,
	flags: func(c *cli) (*flag.FlagSet, func([]string) error) {
		fs := flag.NewFlagSet("sign", flag.ContinueOnError)
		var s settings
		s.addToken(fs, c)
		s.addKey(fs, c)
		at := fs.String("at", "", "the `time` to sign for: 2026-11-23T12:34Z, RFC 3339 or yyyyMMddHHmm (UTC); default now")
		return fs, func(args []string) error {
			if err := noArgs(fs, args); err != nil {
				return err
			}
			if err := s.resolve(fs); err != nil {
				return err
			}
			if s.token == "" {
				return usagef("missing SO_SYSTEM_USER_TOKEN (or -token)")
			}
			if s.keyFile == "" {
				return usagef("missing SO_PRIVATE_KEY_FILE (or -key)")
			}
			t := time.Now()
			if *at != "" {
				var err error
				if t, err = parseTime(*at); err != nil {
					return usagef("-at: %v", err)
				}
			}
			data, err := readKey(s.keyFile)
			if err != nil {
				return err
			}
			key, err := sysuser.ParsePrivateKey(data)
			if err != nil {
				return fmt.Errorf("%s: %w", s.keyFile, err)
			}
			signer, err := sysuser.NewSigner(key)
			if err != nil {
				return fmt.Errorf("%s: %w", s.keyFile, err)
			}
			signed, err := signer.SignAt(s.token, t)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(c.stdout, signed)
			return err
		}
	},
}

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

var verifyCommand = &command{
	name:     "verify",
	synopsis: "verify a SuperOffice JWT (system user token or id_token) and print its claims",
	usage: `  sysuser verify [flags] [TOKEN | FILE | -]

Verifies a JWT SuperOffice issued and prints its claims. The token comes from
the argument (a file of that name, else the token itself; prefer a file or
standard input: arguments show in ps), from -file, or from standard input
("-", or no argument). Keys come from the key set of -env/-login-url
(LOGIN_URL/.well-known/jwks) or from the certificate -cert pins.

  - A system user token (iss "SuperOffice AS", what an exchange returns) is
    checked as sysuser's Client.Verify does: RS256, SuperOffice's key, issuer,
    audience spn:<serial>, lifetime with 5 minutes' leeway, ticket and tenant
    present. That needs no application credentials: verify builds a Client
    with a placeholder application token and a throwaway key, which it never
    uses (no exchange is made).
  - An id_token (iss https://<env>.superoffice.com) is checked as
    ApprovalVerifier.Verify does with SkipSystemUserCheck (a sign-in's
    id_token verifies too); it needs -client-id (SO_CLIENT_ID),
    its audience, and -nonce when the token carries one you must match.

-now verifies at another time, for a token saved earlier. The ticket and
system_token claims are redacted unless --show-ticket / --show-system-token.

With --json it prints one line for a valid token, an object with these
fields (stable; new ones may be added): valid (true), kind ("system user
token" or "id_token"), alg, kid, issuer, tenant, webapi_url (system user
tokens), verified_at (RFC 3339 UTC), keys (the key set URL or "certificate
FILE"), claims (by full name, redacted as above). A token that is not valid
prints nothing on standard output and exits 1.

  sysuser verify -env sod -file token.jwt
  sysuser verify -cert SuperOfficeFederatedLogin.crt -now 2026-11-23T12:34Z < token.jwt
`,
	flags: func(c *cli) (*flag.FlagSet, func([]string) error) {
		fs := flag.NewFlagSet("verify", flag.ContinueOnError)
		var s settings
		s.addPlace(fs, c)
		file := fs.String("file", "", "read the token from `file`")
		s.envString(fs, c, &s.clientID, "client-id", "SO_CLIENT_ID", "the application's client id, an id_token's audience", false)
		clientID := &s.clientID
		nonce := fs.String("nonce", "", "the nonce an id_token must carry")
		issuer := fs.String("issuer", "", "an id_token's expected issuer; default the scheme and host of the login URL")
		now := fs.String("now", "", "verify at this `time` instead of now: 2026-11-23T12:34Z, RFC 3339 or yyyyMMddHHmm (UTC)")
		showTicket := fs.Bool("show-ticket", false, "print the ticket claim instead of redacting it")
		showSystemToken := fs.Bool("show-system-token", false, "print an id_token's system_token claim instead of redacting it")
		asJSON := fs.Bool("json", false, "print one JSON object")
		return fs, func(args []string) error {
			pos, err := parseArgs(fs, args)
			if err != nil {
				return err
			}
			if err := s.resolve(fs); err != nil {
				return err
			}
			if len(pos) > 1 {
				return usagef("unexpected argument %q", clean(pos[1], 40))
			}
			if len(pos) == 1 && *file != "" {
				return usagef("give the token as an argument or with -file, not both")
			}
			u, _, placeErr := s.login()
			if placeErr != nil && !(errors.Is(placeErr, errNoPlace) && s.certFile != "") {
				if errors.Is(placeErr, errNoPlace) {
					return usagef("no keys to verify with: set SO_ENVIRONMENT (or -env), SO_LOGIN_URL (or -login-url), or -cert FILE")
				}
				return usagef("%v", placeErr)
			}
			raw, err := readToken(c, pos, *file)
			if err != nil {
				return err
			}
			var at time.Time
			if *now != "" {
				if at, err = parseTime(*now); err != nil {
					return usagef("-now: %v", err)
				}
			}
			header, payload, err := peekJWT(raw)
			if err != nil {
				fmt.Fprintf(c.stderr, "sysuser verify: invalid: %v\n", err)
				return exitError(exitFail)
			}
			var cert []byte
			if s.certFile != "" {
				if cert, err = os.ReadFile(s.certFile); err != nil {
					return err
				}
			}
			hc, err := s.httpClient()
			if err != nil {
				return err
			}
			var clock func() time.Time
			if !at.IsZero() {
				clock = func() time.Time { return at }
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*s.timeout)
			defer cancel()
			iss, _ := payload["iss"].(string)
			wantIss := *issuer
			if wantIss == "" && u != nil {
				wantIss = u.Scheme + "://" + u.Host
			}
			kind, err := tokenKind(iss, wantIss)
			if err != nil {
				fmt.Fprintf(c.stderr, "sysuser verify: %s\n", err)
				return exitError(exitFail)
			}
			alg, _ := header["alg"].(string)
			kid, _ := header["kid"].(string)
			out := verifyOutput{Kind: kind, Alg: alg, Kid: kid, Issuer: iss}
			var claims map[string]any
			if kind == "system user token" {
				loginURL := "https://sysuser.invalid/login" // never contacted: -cert pins the key
				if u != nil {
					loginURL = u.String()
				}
				client, err := verifyClient(loginURL, cert, hc, clock)
				if err != nil {
					return err
				}
				defer client.Close()
				res, err := client.Verify(ctx, raw)
				if err != nil {
					fmt.Fprintf(c.stderr, "sysuser verify: %s\n", verifyFailure(kind, err, *now != ""))
					return exitError(exitFail)
				}
				claims = claimsForOutput(res.Claims, !*showTicket, !*showSystemToken)
				out.Tenant, out.WebAPIURL = res.ContextIdentifier, res.WebAPIURL
			} else {
				if *clientID == "" {
					return usagef("this is not a system user token (iss %q): verifying it as an id_token needs SO_CLIENT_ID (or -client-id), its audience", clean(iss, 80))
				}
				if u == nil && *issuer == "" {
					return usagef("an id_token's issuer comes from -env or -login-url; with -cert alone, give -issuer")
				}
				cfg := sysuser.ApprovalConfig{ClientID: *clientID, Certificate: cert, HTTPClient: hc, Clock: clock, Issuer: *issuer,
					SkipSystemUserCheck: true, SkipNonceCheck: *nonce == ""}
				if u != nil {
					cfg.LoginURL = u.String()
				}
				v, err := sysuser.NewApprovalVerifier(cfg)
				if err != nil {
					return usagef("%v", err)
				}
				a, err := v.Verify(ctx, raw, *nonce)
				if err != nil {
					fmt.Fprintf(c.stderr, "sysuser verify: %s\n", verifyFailure(kind, err, *now != ""))
					return exitError(exitFail)
				}
				claims = claimsForOutput(a.Claims, !*showTicket, !*showSystemToken)
				out.Tenant = a.ContextIdentifier
			}
			verifiedAt := time.Now()
			if !at.IsZero() {
				verifiedAt = at
			}
			out.Valid = true
			out.VerifiedAt = verifiedAt.UTC().Format(time.RFC3339)
			if s.certFile != "" {
				out.Keys = "certificate " + s.certFile
			} else {
				out.Keys = u.String() + "/.well-known/jwks"
			}
			out.Claims = claims
			if *asJSON {
				return writeJSON(c.stdout, out)
			}
			w := c.stdout
			fmt.Fprintf(w, "valid %s (alg %s, kid %s), verified at %s with %s\n", out.Kind, clean(out.Alg, 20), clean(out.Kid, 64), out.VerifiedAt, out.Keys)
			printClaims(w, claims)
			return nil
		}
	},
}

// verifyOutput is the object verify --json prints, one line, for a valid
// token (an invalid one prints nothing on standard output). Its fields are
// stable; new ones may be added.
type verifyOutput struct {
	Valid      bool           `json:"valid"`                // always true
	Kind       string         `json:"kind"`                 // "system user token" or "id_token"
	Alg        string         `json:"alg"`                  // the header's alg: RS256
	Kid        string         `json:"kid"`                  // the header's kid
	Issuer     string         `json:"issuer"`               // the iss claim
	Tenant     string         `json:"tenant"`               // the ctx claim
	WebAPIURL  string         `json:"webapi_url,omitempty"` // a system user token's webapi_url claim
	VerifiedAt string         `json:"verified_at"`          // now or -now, RFC 3339 UTC
	Keys       string         `json:"keys"`                 // the key set URL, or "certificate FILE"
	Claims     map[string]any `json:"claims"`               // every claim; ticket and system_token redacted unless asked
}

// verifyFailure is the line verify prints when a token does not verify:
// "invalid" only when the token itself failed, not when the keys to check
// it could not be had.
func verifyFailure(kind string, err error, atGivenTime bool) string {
	if !errors.Is(err, sysuser.ErrInvalidToken) || errors.Is(err, sysuser.ErrKeySetUnavailable) {
		return "could not verify the " + kind + ": " + explain(err).String()
	}
	msg := clean(strings.ReplaceAll(err.Error(), "sysuser: ", ""), maxShown)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired) || errors.Is(err, jwt.ErrTokenNotValidYet) || errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		if atGivenTime {
			msg += " — fix: -now is outside the token's lifetime (nbf to exp, with 5 minutes' leeway); give a time within it"
		} else {
			msg += " — fix: SuperOffice's tokens live 5 minutes: verify a saved one with -now at a time within its lifetime; if it is fresh, check this machine's clock (sysuser doctor)"
		}
	case errors.Is(err, jwt.ErrTokenSignatureInvalid) || errors.Is(err, jwt.ErrTokenUnverifiable) || strings.Contains(msg, "kid") || strings.Contains(msg, "key"):
		msg += " — fix: it is not signed by the keys of this environment (-env, -login-url) or the certificate -cert pins; check which environment issued it"
	case errors.Is(err, jwt.ErrTokenInvalidAudience) && kind == "id_token":
		msg += " — fix: an id_token's audience is the application's client id: check SO_CLIENT_ID (or -client-id)"
	default:
		if _, fix := explainInvalidToken(err); fix != "" && kind != "id_token" {
			msg += " — fix: " + fix
		}
	}
	return "invalid " + kind + ": " + msg
}

// tokenKind tells from the (unverified) issuer which kind of SuperOffice
// token raw is: "system user token" (iss "SuperOffice AS") or "id_token"
// (iss https://HOST, SuperID's). want is the id_token issuer expected
// here ("" when unknown). Another issuer is not SuperOffice's: that is a
// failure, not a usage error.
func tokenKind(iss, want string) (string, error) {
	switch {
	case iss == "SuperOffice AS":
		return "system user token", nil
	case want != "" && strings.TrimRight(iss, "/") == strings.TrimRight(want, "/"):
		return "id_token", nil
	case want == "" && strings.HasPrefix(iss, "https://"):
		return "id_token", nil
	case want != "":
		return "", fmt.Errorf(`not a token of this SuperOffice environment: its issuer is %q, neither "SuperOffice AS" (a system user token) nor %s (this environment's id_tokens) — fix: verify it against the environment that issued it (-env, -login-url, -issuer)`, clean(iss, 80), want)
	}
	return "", fmt.Errorf(`not a SuperOffice token: its issuer is %q, neither "SuperOffice AS" (a system user token) nor an https:// login origin (an id_token)`, clean(iss, 80))
}

// verifyClient makes a Client that only verifies: Client.Verify needs a
// Client, a Client needs an application token and a key, and verifying uses
// neither. The token is a placeholder and the key a throwaway one; the
// Client never exchanges.
func verifyClient(loginURL string, cert []byte, hc *http.Client, clock func() time.Time) (*sysuser.Client, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	signer, err := sysuser.NewSigner(key)
	if err != nil {
		return nil, err
	}
	return sysuser.NewClient(sysuser.Config{
		LoginURL:         loginURL,
		ApplicationToken: "placeholder: sysuser verify never exchanges",
		Signer:           signer,
		Certificate:      cert,
		HTTPClient:       hc,
		Clock:            clock,
	})
}

// maxTokenBytes bounds a token read from a file or standard input.
const maxTokenBytes = 64 << 10

// readToken reads the JWT from the argument, -file or standard input.
func readToken(c *cli, pos []string, file string) (string, error) {
	var data []byte
	var err error
	switch {
	case file != "":
		data, err = readBounded(file)
	case len(pos) == 1 && pos[0] != "-":
		if _, statErr := os.Stat(pos[0]); statErr == nil {
			data, err = readBounded(pos[0])
		} else {
			data = []byte(pos[0])
		}
	default:
		if isTerminal(c.stdin) {
			return "", usagef("give the token as an argument, with -file, or on standard input")
		}
		data, err = io.ReadAll(io.LimitReader(c.stdin, maxTokenBytes+1))
	}
	if err != nil {
		return "", err
	}
	if len(data) > maxTokenBytes {
		return "", fmt.Errorf("the token is larger than %d KiB", maxTokenBytes>>10)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", usagef("the token is empty")
	}
	return tok, nil
}

func readBounded(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxTokenBytes+1))
}

// peekJWT decodes a JWT's header and payload without verifying anything,
// to tell a system user token from an id_token.
func peekJWT(raw string) (header, payload map[string]any, err error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, nil, errors.New("not a JWT (header.payload.signature)")
	}
	dec := func(s string, v *map[string]any) error {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil {
			return err
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		return d.Decode(v)
	}
	if err := dec(parts[0], &header); err != nil {
		return nil, nil, fmt.Errorf("not a JWT: its header does not decode: %v", err)
	}
	if err := dec(parts[1], &payload); err != nil {
		return nil, nil, fmt.Errorf("not a JWT: its payload does not decode: %v", err)
	}
	return header, payload, nil
}

// claimsForOutput copies claims, redacting the ticket and system_token
// claims as asked.
func claimsForOutput(claims map[string]any, redactTicket, redactSystemToken bool) map[string]any {
	out := make(map[string]any, len(claims))
	for k, v := range claims {
		switch {
		case redactTicket && k == sysuser.ClaimNamespace+"ticket":
			s, _ := v.(string)
			v = redactedTicket(s)
		case redactSystemToken && k == sysuser.ClaimNamespace+"system_token":
			v = "[redacted: --show-system-token prints it]"
		}
		out[k] = v
	}
	return out
}

// printClaims prints claims sorted by the names it shows: SuperOffice's by
// their last part.
func printClaims(w io.Writer, claims map[string]any) {
	short := make(map[string]string, len(claims))
	names := make([]string, 0, len(claims))
	for k := range claims {
		n := strings.TrimPrefix(k, sysuser.ClaimNamespace)
		short[n] = k
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "claims (%s... shown by their last part):\n", sysuser.ClaimNamespace)
	for _, n := range names {
		v := claims[short[n]]
		s := fmt.Sprint(v)
		if i, ok := number(v); ok {
			s = fmt.Sprint(i)
			switch n {
			case "iat", "nbf", "exp", "auth_time":
				s += " (" + time.Unix(i, 0).UTC().Format(time.RFC3339) + ")"
			}
		}
		fmt.Fprintf(w, "  %-18s %s\n", n, clean(s, 400))
	}
}

func number(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		return int64(n), n == float64(int64(n))
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case int64:
		return n, true
	}
	return 0, false
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
