package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-superoffice/sysuser"
)

var stateCommand = &command{
	name:     "state",
	synopsis: "print a tenant's state from SuperOffice's state API: running, where it lives, until when",
	usage: `  sysuser state [flags] CTX

Asks SuperOffice's state API (GET https://{env}.superoffice.com/api/state/CTX,
the login URL's origin; no credentials) where the tenant CTX lives now and
whether it runs, and prints its State (such as Running, OfflineMaintenance,
Suspended), IsRunning, Endpoint, Api (its WebApi base) and ValidUntil (when
to ask again). It exits 0 whatever the state; 1 when the state could not be
had.

With --json it prints one line, an object with these fields (stable; new
ones may be added):
  tenant        the ContextIdentifier the API answered for
  state         the State name, as sent (an unknown one kept as it is)
  state_number  its documented number, or -1 for a state not documented
  is_running    IsRunning
  endpoint      Endpoint, such as https://sod2.superoffice.com/Cust12345
  api           Api, the WebApi base without a trailing slash
  valid_until   ValidUntil, RFC 3339 in UTC ("" when absent)
  url           the state API URL asked

  sysuser state -env sod Cust12345
  sysuser state --login-url https://127.0.0.1:8089/login --ca ./fake/ca.pem --json Cust12345
`,
	flags: func(c *cli) (*flag.FlagSet, func([]string) error) {
		fs := flag.NewFlagSet("state", flag.ContinueOnError)
		var s settings
		s.addPlace(fs, c)
		s.envString(fs, c, &s.tenant, "tenant", "SO_CONTEXT_IDENTIFIER", "tenant id such as Cust12345, when not given as the argument", false)
		asJSON := fs.Bool("json", false, "print one JSON object")
		return fs, func(args []string) error {
			pos, err := parseArgs(fs, args)
			if err != nil {
				return err
			}
			if err := s.resolve(fs); err != nil {
				return err
			}
			switch {
			case len(pos) > 1:
				return usagef("unexpected argument %q", clean(pos[1], 40))
			case len(pos) == 1:
				s.tenant = pos[0]
			case s.tenant == "":
				return usagef("give the tenant id, such as: sysuser state -env sod Cust12345")
			}
			if !validTenantID(s.tenant) {
				return usagef("%q is not a tenant id such as Cust12345", clean(s.tenant, 40))
			}
			u, _, err := s.login()
			if err != nil {
				return usagef("%v", err)
			}
			hc, err := s.plainClient()
			if err != nil {
				return err
			}
			defer hc.CloseIdleConnections()
			ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
			defer cancel()
			st, stateURL, err := fetchState(ctx, hc, u, s.tenant)
			if err != nil {
				return err
			}
			out := stateOutputOf(st, stateURL)
			if *asJSON {
				return writeJSON(c.stdout, out)
			}
			printState(c.stdout, out)
			return nil
		}
	},
}

// stateOutput is the object state --json prints. Its fields are stable;
// new ones may be added.
type stateOutput struct {
	Tenant      string `json:"tenant"`
	State       string `json:"state"`
	StateNumber int    `json:"state_number"`
	IsRunning   bool   `json:"is_running"`
	Endpoint    string `json:"endpoint"`
	API         string `json:"api"`
	ValidUntil  string `json:"valid_until"`
	URL         string `json:"url"`
}

func stateOutputOf(st *sysuser.TenantStatus, stateURL string) stateOutput {
	out := stateOutput{
		Tenant: st.ContextIdentifier, State: string(st.State), StateNumber: st.State.Number(),
		IsRunning: st.IsRunning, Endpoint: st.Endpoint, API: st.API, URL: stateURL,
	}
	if !st.ValidUntil.IsZero() {
		out.ValidUntil = st.ValidUntil.UTC().Format(time.RFC3339)
	}
	return out
}

func printState(w io.Writer, o stateOutput) {
	state := clean(o.State, 40)
	if o.StateNumber >= 0 {
		state += fmt.Sprintf(" (%d)", o.StateNumber)
	} else {
		state += " (a state this tool does not know)"
	}
	running := "no"
	if o.IsRunning {
		running = "yes"
	}
	until := o.ValidUntil
	if t, err := time.Parse(time.RFC3339, until); err == nil {
		if d := time.Until(t).Round(time.Second); d >= 0 {
			until += fmt.Sprintf(" (in %v)", d)
		} else {
			until += fmt.Sprintf(" (%v ago)", -d)
		}
	} else {
		until = "(not given)"
	}
	fmt.Fprintf(w, "tenant       %s\n", clean(o.Tenant, 64))
	fmt.Fprintf(w, "state        %s\n", state)
	fmt.Fprintf(w, "running      %s\n", running)
	fmt.Fprintf(w, "endpoint     %s\n", clean(o.Endpoint, 200))
	fmt.Fprintf(w, "api          %s\n", clean(o.API, 200))
	fmt.Fprintf(w, "valid until  %s\n", until)
	fmt.Fprintf(w, "asked        %s\n", o.URL)
}

// maxStateBytes bounds the state API's answer, as the login service's.
const maxStateBytes = 64 << 10

// errNoState wraps the failures of fetchState that are the answer's, not
// the network's.
var errNoState = errors.New("the state API gave no state")

// fetchState asks the state API at login's origin for tenant's state. It
// sends no credentials and follows no redirect.
func fetchState(ctx context.Context, hc *http.Client, login *url.URL, tenant string) (*sysuser.TenantStatus, string, error) {
	stateURL := (&url.URL{Scheme: login.Scheme, Host: login.Host, Path: "/api/state/" + tenant}).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, stateURL, nil)
	if err != nil {
		return nil, stateURL, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, stateURL, fmt.Errorf("%s: %s", stateURL, explainNet(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStateBytes+1))
	if err != nil {
		return nil, stateURL, fmt.Errorf("%s: reading the answer: %s", stateURL, explainNet(err))
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, stateURL, fmt.Errorf("%w: %s answered HTTP 404 — fix: check the tenant id and the environment (-env, -login-url): the tenant is not known there", errNoState, stateURL)
	case resp.StatusCode != http.StatusOK:
		return nil, stateURL, fmt.Errorf("%w: %s answered HTTP %s — fix: check the login URL's origin is SuperOffice's (such as https://sod.superoffice.com); try again later", errNoState, stateURL, clean(resp.Status, 60))
	case len(body) > maxStateBytes:
		return nil, stateURL, fmt.Errorf("%w: %s answered more than %d KiB — fix: check the login URL's origin is SuperOffice's", errNoState, stateURL, maxStateBytes>>10)
	}
	var st sysuser.TenantStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, stateURL, fmt.Errorf("%w: %s answered something that is not the state API's JSON (%s) — fix: check the login URL's origin is SuperOffice's; a proxy may be answering", errNoState, stateURL, clean(err.Error(), 80))
	}
	if st.State == "" && st.ContextIdentifier == "" {
		return nil, stateURL, fmt.Errorf("%w: %s answered JSON without ContextIdentifier or State — fix: check the login URL's origin is SuperOffice's", errNoState, stateURL)
	}
	return &st, stateURL, nil
}

// plainClient is an HTTP client for requests that carry no credentials:
// -ca's roots, -timeout, no redirects.
func (s *settings) plainClient() (*http.Client, error) {
	pool, err := s.rootCAs()
	if err != nil {
		return nil, fmt.Errorf("-ca: %s — fix: give a PEM file of CA certificates", clean(err.Error(), maxShown))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{
		Transport:     tr,
		Timeout:       s.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// validTenantID reports whether id can be a tenant id in a URL path:
// letters, digits, '-' and '_', as SuperOffice's Cust12345 are.
func validTenantID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	return strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) < 0
}

// stateAdvice says what to do about a tenant that is not running, by its
// state.
func stateAdvice(st *sysuser.TenantStatus) string {
	until := "its ValidUntil"
	if !st.ValidUntil.IsZero() {
		until = st.ValidUntil.UTC().Format(time.RFC3339)
	}
	wait := fmt.Sprintf("wait until %s and ask again (sysuser state %s); the library pauses this tenant's exchanges until then", until, clean(st.ContextIdentifier, 64))
	switch st.State {
	case "Suspended":
		return "the tenant is suspended and its APIs are unavailable; nothing the application can fix: contact the tenant (or SuperOffice) to have it resumed"
	case "Deleted", "Deleting", "DeleteFailed":
		return "the tenant is deleted or being deleted: stop using it (remove it from the application's tenants); contact the tenant if that is unexpected"
	case "ProvisioningFailed":
		return "the tenant's provisioning failed: contact SuperOffice's support"
	case "Unknown":
		return "SuperOffice does not know this tenant here: check SO_CONTEXT_IDENTIFIER (or -tenant) and the environment (-env, -login-url)"
	case "MigrationPending":
		return wait + "; a migration can take days or weeks"
	}
	return wait
}
