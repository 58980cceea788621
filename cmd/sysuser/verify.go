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
	"strings"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/golang-jwt/jwt/v5"
)

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
