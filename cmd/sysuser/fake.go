package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

var fakeCommand = &command{
	name:     "fake",
	synopsis: "run a fake SuperOffice (sysusertest) for clients in any language, until interrupted",
	usage: `  sysuser fake [--addr HOST:PORT] [--host NAME] [--tls] [--tenant CTX=TOKEN ...]
               [--tenants FILE] [--key FILE] [--app-token-file FILE] [--dir DIR]
               [--clock-offset D] [--control HOST:PORT] [--json]

Runs package sysusertest's fake SuperOffice at --addr: the login service
(PartnerSystemUserService over SOAP with its WSDL and REST, the key set,
OpenID Connect metadata), the state API (/api/state/CTX) and the WebApi on
numbered hosts, as SuperOffice Online has them (sod.superoffice.com for
logins, sod2. and sod3. for tenants' WebApis). It prints the settings a
client needs and runs until SIGINT (Ctrl-C) or SIGTERM.

Hosts. URLs, metadata and tokens name --host, else --addr's host. A name
such as sod.superoffice.com gets numbered hosts sod2.superoffice.com and
sod3.superoffice.com on the same listener: make the three resolve to the
listener (the printed hosts line for /etc/hosts). An IP address or
localhost gets the numbered hosts as listeners on further ports. A
wildcard --addr (0.0.0.0:8089, :8089) prints 127.0.0.1 or localhost.

TLS. With --tls it makes a CA for this run, which issues the certificate for
every host it serves (and localhost, 127.0.0.1, ::1), writes it to DIR/ca.pem
and prints the variables that make clients trust it: SSL_CERT_FILE (Go,
OpenSSL, Python's ssl; it replaces the system's roots, fine for talking to
the fake), REQUESTS_CA_BUNDLE (Python requests, zeep), NODE_EXTRA_CA_CERTS
(Node), CURL_CA_BUNDLE (curl). sysuser's own commands take -ca FILE.

Tenants come from --tenant (repeatable) and from --tenants FILE, whose lines
are "Cust12345 the system user token" (the token is the rest of the line;
blank lines and lines starting with # are skipped). Without either, one
tenant Cust12345 with a generated token. Prefer --tenants and
--app-token-file to flags: other users of this machine see flags in ps.

Files. The application key pair is generated unless --key gives the private
key; either way it is written to DIR as app-key.pem (PKCS#8) and app-key.xml
(.NET XML), mode 0600, next to superoffice.crt (the fake's current signing
certificate, for pinning) and with --tls ca.pem. Files of those names in DIR
are replaced (by rename: never written through a link; a name that is a link
or not a regular file is refused). Without --dir, DIR is a new temporary
directory, removed when the fake stops.

A world that moves. --clock-offset runs the fake's clock ahead (10m) or
behind (-10m) this machine's: timestamps, token lifetimes and ValidUntil
follow it (its HTTP Date header stays the real time, as sysusertest's
does). The control endpoint, plain HTTP on --control (default a free port
on 127.0.0.1) below a random path printed as control_url, changes the
fake while it runs; each answers one line of JSON, 400 with a reason:
  POST CONTROL/rotate-key                     sign with a new key from now on (the key
                                              set publishes both; superoffice.crt is rewritten)
  POST CONTROL/clock?offset=10m               set the clock offset
  POST CONTROL/move?tenant=CTX                move the tenant to the other numbered host
                                              (its old host then answers 421)
  POST CONTROL/state?tenant=CTX&state=Suspended[&valid_until=RFC3339]
                                              set the state the state API reports; not
                                              running: exchanges refused, WebApi 503
  POST CONTROL/notify?tenant=CTX&url=URL&change=Suspend
                                              post a signed state-change notification to URL
                                              (change: Upgrade, BackupRestored, Suspend,
                                              Resume, Delete or 0-4)
  GET  CONTROL/                               the settings, as --json prints them

` + fakeJSONHelp + `
  sysuser fake --addr 127.0.0.1:8089 --tenants tenants.txt --tls --dir ./fake
  sysuser fake --addr localhost:0 --tls --json
  sudo sysuser fake --addr 127.0.0.1:443 --host sod.superoffice.com --tls   # with the hosts line
`,
	flags: func(c *cli) (*flag.FlagSet, func([]string) error) {
		fs := flag.NewFlagSet("fake", flag.ContinueOnError)
		addr := fs.String("addr", "127.0.0.1:8089", "`host:port` to listen on (port 0: any free port)")
		host := fs.String("host", "", "the host `name` URLs carry, when not --addr's host (listen on 127.0.0.1:443, serve sod.superoffice.com)")
		var tenants tenantFlags
		fs.Var(&tenants, "tenant", "a tenant, as `CTX=TOKEN` (repeatable)")
		tenantsFile := fs.String("tenants", "", "`file` of tenants, one \"Cust12345 token with spaces\" a line")
		keyFile := fs.String("key", "", "the application's private key `file` (.NET XML or PEM); default a new 2048-bit key")
		appToken := fs.String("app-token", "", "the application token the fake expects; default a generated one")
		appTokenFile := fs.String("app-token-file", "", "read the application token from `file` (its first line)")
		dir := fs.String("dir", "", "`directory` for the key, certificate and CA files; default a temporary one")
		useTLS := fs.Bool("tls", false, "serve HTTPS with certificates from a CA made for this run (written to DIR/ca.pem)")
		var offset time.Duration
		fs.Var((*signedDuration)(&offset), "clock-offset", "run the fake's clock this `duration` ahead of this machine's (negative: behind), such as 10m")
		control := fs.String("control", "127.0.0.1:0", "`host:port` of the control endpoint (plain HTTP: keep it on loopback); \"off\" for none")
		asJSON := fs.Bool("json", false, "print the settings as one line of JSON")
		return fs, func(args []string) error {
			if err := noArgs(fs, args); err != nil {
				return err
			}
			if *appTokenFile != "" {
				if *appToken != "" {
					return usagef("give -app-token or -app-token-file, not both")
				}
				v, err := readSecretLine(*appTokenFile)
				if err != nil {
					return fmt.Errorf("-app-token-file: %w", err)
				}
				*appToken = v
			}
			if *tenantsFile != "" {
				more, err := readTenants(*tenantsFile)
				if err != nil {
					return err
				}
				tenants = append(tenants, more...)
			}
			if len(tenants) == 0 {
				tenants = tenantFlags{{"Cust12345", "sysuser fake-" + randomHex(8)}}
			}
			if _, _, err := net.SplitHostPort(*addr); err != nil {
				return usagef("-addr %q: want host:port, such as 127.0.0.1:8089", clean(*addr, 60))
			}
			if *control != "off" {
				if h, _, err := net.SplitHostPort(*control); err != nil || !isLoopback(h) {
					return usagef("-control %q: want a loopback host:port, such as 127.0.0.1:0, or off", clean(*control, 60))
				}
			}
			return runFake(c, fakeConfig{
				addr: *addr, host: *host, tenants: tenants, keyFile: *keyFile, appToken: *appToken,
				dir: *dir, tls: *useTLS, json: *asJSON, offset: offset, control: *control,
			})
		}
	},
}

// signedDuration is a flag.Value for a duration that may be negative.
type signedDuration time.Duration

func (d *signedDuration) String() string { return time.Duration(*d).String() }

func (d *signedDuration) Set(v string) error {
	t, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want a duration such as 10m or -90s")
	}
	if t > 100*365*24*time.Hour || t < -100*365*24*time.Hour {
		return fmt.Errorf("want an offset within a century")
	}
	*d = signedDuration(t)
	return nil
}

const fakeJSONHelp = `With --json it prints one line, an object with these fields (stable; new
ones may be added):
  login_url          the login service base URL (for SO_LOGIN_URL)
  wsdl_url           the WSDL, with the fake's own SOAP address in it
  soap_endpoint      PartnerSystemUserService.svc
  rest_endpoint      the REST Authenticate URL
  jwks_url           the key set
  issuer             the OpenID issuer and state API origin (the login host's root)
  state_url          the state API, ending in /: append the tenant id
  application_token  the application token the fake expects
  private_key_pem    the application's private key file, PKCS#8 PEM
  private_key_xml    the same key as .NET XML
  certificate_file   the fake's current signing certificate (PEM), for pinning
  key_id             the current signing key's kid
  ca_file            with --tls: the CA's certificate (PEM)
  ca_env             with --tls: variables naming ca_file for clients:
                     SSL_CERT_FILE, REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS, CURL_CA_BUNDLE
  host_names         for a named --host/--addr: the names that must resolve to
                     the listener (the login host and the numbered hosts)
  hosts_line         for a named host: the /etc/hosts line that does it
  clock_offset       the fake's clock offset, such as "10m0s" ("0s": none)
  control_url        the control endpoint ("" with --control off)
  tenants            a list of: context_identifier, system_user_token,
                     webapi_url (on its current numbered host), state_url
`

// tenantPair is one tenant of the fake.
type tenantPair struct{ ctx, token string }

// tenantFlags collects -tenant CTX=TOKEN flags.
type tenantFlags []tenantPair

func (t *tenantFlags) String() string { return "" }

func (t *tenantFlags) Set(v string) error {
	ctx, token, ok := strings.Cut(v, "=")
	ctx = strings.TrimSpace(ctx)
	if !ok || ctx == "" || token == "" || strings.ContainsAny(ctx, " \t") {
		return fmt.Errorf("want CTX=TOKEN, such as Cust12345=MyApp-token")
	}
	*t = append(*t, tenantPair{ctx, token})
	return nil
}

// readTenants reads a --tenants file.
func readTenants(name string) ([]tenantPair, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []tenantPair
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ctx, token, _ := strings.Cut(strings.ReplaceAll(line, "\t", " "), " ")
		token = strings.TrimSpace(token)
		if token == "" {
			return nil, usagef("%s:%d: want \"Cust12345 the system user token\"", name, n)
		}
		out = append(out, tenantPair{ctx, token})
	}
	return out, sc.Err()
}

type fakeConfig struct {
	addr, host, keyFile, appToken, dir string
	control                            string
	tenants                            []tenantPair
	tls, json                          bool
	offset                             time.Duration
}

// fakeSettings is what fake prints: everything a client needs.
type fakeSettings struct {
	LoginURL         string            `json:"login_url"`
	WSDLURL          string            `json:"wsdl_url"`
	SOAPEndpoint     string            `json:"soap_endpoint"`
	RESTEndpoint     string            `json:"rest_endpoint"`
	JWKSURL          string            `json:"jwks_url"`
	Issuer           string            `json:"issuer"`
	StateURL         string            `json:"state_url"`
	ApplicationToken string            `json:"application_token"`
	PrivateKeyPEM    string            `json:"private_key_pem"`
	PrivateKeyXML    string            `json:"private_key_xml"`
	CertificateFile  string            `json:"certificate_file"`
	KeyID            string            `json:"key_id"`
	CAFile           string            `json:"ca_file,omitempty"`
	CAEnv            map[string]string `json:"ca_env,omitempty"`
	HostNames        []string          `json:"host_names,omitempty"`
	HostsLine        string            `json:"hosts_line,omitempty"`
	ClockOffset      string            `json:"clock_offset"`
	ControlURL       string            `json:"control_url"`
	Tenants          []fakeTenant      `json:"tenants"`
}

type fakeTenant struct {
	ContextIdentifier string `json:"context_identifier"`
	SystemUserToken   string `json:"system_user_token"`
	WebAPIURL         string `json:"webapi_url"`
	StateURL          string `json:"state_url"`
}

// caVariables are the environment variables that make common clients trust
// a CA file.
var caVariables = []string{"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "CURL_CA_BUNDLE"}

// fakeRun is a running fake and what the control endpoint changes.
type fakeRun struct {
	srv    *sysusertest.Server
	offset atomic.Int64 // the clock offset, in nanoseconds

	mu  sync.Mutex // guards out and the certificate file
	out fakeSettings
}

func (f *fakeRun) now() time.Time { return time.Now().Add(time.Duration(f.offset.Load())) }

func runFake(c *cli, cfg fakeConfig) error {
	var key *rsa.PrivateKey
	var err error
	if cfg.keyFile != "" {
		data, err := readKey(cfg.keyFile)
		if err != nil {
			return err
		}
		if key, err = sysuser.ParsePrivateKey(data); err != nil {
			return fmt.Errorf("%s: %w", cfg.keyFile, err)
		}
	} else if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return err
	}
	if cfg.appToken == "" {
		cfg.appToken = "fake-app-token-" + randomHex(16)
	}
	dir := cfg.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "sysuser-fake-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return errors.New(pathErrorText(err))
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	f := &fakeRun{}
	f.offset.Store(int64(cfg.offset))
	out := fakeSettings{
		ApplicationToken: cfg.appToken,
		PrivateKeyPEM:    filepath.Join(dir, "app-key.pem"),
		PrivateKeyXML:    filepath.Join(dir, "app-key.xml"),
		CertificateFile:  filepath.Join(dir, "superoffice.crt"),
		ClockOffset:      cfg.offset.String(),
	}
	pemData, err := pkcs8PEM(key)
	if err != nil {
		return err
	}
	xmlData, err := dotNetXML(key)
	if err != nil {
		return err
	}
	for _, fl := range []struct {
		name string
		data []byte
	}{{out.PrivateKeyPEM, pemData}, {out.PrivateKeyXML, xmlData}} {
		if err := writeSecretFile(fl.name, fl.data, true); err != nil {
			return err
		}
	}
	opts := sysusertest.Options{Addr: cfg.addr, Host: cfg.host, ApplicationToken: cfg.appToken, PublicKey: &key.PublicKey, Clock: f.now}
	if cfg.tls {
		opts.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	srv, err := sysusertest.NewServer(opts)
	if err != nil {
		return fmt.Errorf("%s — fix: choose another --addr (a free port, or one this user may bind: ports under 1024 need root)", clean(strings.ReplaceAll(err.Error(), "sysusertest: ", ""), 300))
	}
	defer srv.Close()
	f.srv = srv
	if err := writeFileSafely(out.CertificateFile, srv.SigningCertificate(), 0o644, true); err != nil {
		return err
	}
	if cfg.tls {
		out.CAFile = filepath.Join(dir, "ca.pem")
		if err := writeFileSafely(out.CAFile, srv.CACertificate(), 0o644, true); err != nil {
			return err
		}
		out.CAEnv = map[string]string{}
		for _, v := range caVariables {
			out.CAEnv[v] = out.CAFile
		}
	}
	out.LoginURL = srv.URL
	out.Issuer = srv.Root
	out.StateURL = srv.Root + sysusertest.StatePath + "/"
	out.SOAPEndpoint = srv.Root + sysusertest.SOAPPath
	out.WSDLURL = out.SOAPEndpoint + "?wsdl"
	out.RESTEndpoint = srv.Root + sysusertest.RESTPath
	out.JWKSURL = srv.Root + sysusertest.JWKSPath
	out.KeyID = srv.KeyID()
	if u, err := url.Parse(srv.Root); err == nil && net.ParseIP(u.Hostname()) == nil && !strings.EqualFold(u.Hostname(), "localhost") {
		// sysusertest's numbered hosts of a name: sod2. and sod3. beside sod.
		name := u.Hostname()
		first, rest, _ := strings.Cut(name, ".")
		if rest != "" {
			rest = "." + rest
		}
		out.HostNames = []string{name, first + "2" + rest, first + "3" + rest}
		listenHost, _, _ := net.SplitHostPort(cfg.addr)
		ip := net.ParseIP(listenHost)
		if ip == nil || ip.IsUnspecified() {
			ip = net.IPv4(127, 0, 0, 1)
		}
		out.HostsLine = ip.String() + " " + strings.Join(out.HostNames, " ")
	}
	for _, t := range cfg.tenants {
		srv.AddTenant(t.ctx, t.token)
		out.Tenants = append(out.Tenants, fakeTenant{ContextIdentifier: t.ctx, SystemUserToken: t.token, WebAPIURL: srv.WebAPIURL(t.ctx), StateURL: out.StateURL + t.ctx})
	}
	if cfg.control != "off" {
		stop, controlURL, err := f.serveControl(cfg.control)
		if err != nil {
			return err
		}
		defer stop()
		out.ControlURL = controlURL
	}
	f.out = out

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.json {
		if err := writeJSON(c.stdout, out); err != nil {
			return err
		}
	} else {
		printFakeSettings(c.stdout, out)
	}
	fmt.Fprintf(c.stderr, "sysuser fake: serving at %s; Ctrl-C (SIGINT) or SIGTERM stops it\n", srv.Root)
	<-ctx.Done()
	fmt.Fprintln(c.stderr, "sysuser fake: stopped")
	return nil
}

func printFakeSettings(w io.Writer, s fakeSettings) {
	p := func(name, value string) { fmt.Fprintf(w, "%-19s %s\n", name, value) }
	p("login URL", s.LoginURL)
	p("WSDL URL", s.WSDLURL)
	p("SOAP endpoint", s.SOAPEndpoint)
	p("REST endpoint", s.RESTEndpoint)
	p("JWKS URL", s.JWKSURL)
	p("state API", s.StateURL+"CTX")
	p("application token", s.ApplicationToken)
	p("private key (PEM)", s.PrivateKeyPEM)
	p("private key (XML)", s.PrivateKeyXML)
	p("certificate", s.CertificateFile+" (the fake's signing certificate, for pinning; kid "+s.KeyID+")")
	if s.CAFile != "" {
		p("CA file", s.CAFile)
	}
	if s.ClockOffset != "0s" {
		p("clock offset", s.ClockOffset+" (the fake's clock against this machine's)")
	}
	if s.ControlURL != "" {
		p("control URL", s.ControlURL+" (POST rotate-key, clock?offset=, move?tenant=, state?tenant=&state=, notify?tenant=&url=&change=)")
	}
	for _, t := range s.Tenants {
		p("tenant", t.ContextIdentifier)
		p("  system user token", t.SystemUserToken)
		p("  WebApi URL", t.WebAPIURL)
	}
	if s.HostsLine != "" {
		fmt.Fprintf(w, "\nThese names must resolve to the fake; as root, add this line to /etc/hosts\n(and remove it afterwards, or sod.superoffice.com stays the fake's):\n  %s\n", s.HostsLine)
	}
	if len(s.Tenants) > 0 {
		t := s.Tenants[0]
		fmt.Fprintf(w, "\nFor sysuser doctor and exchange (tenant %s):\n  export SO_LOGIN_URL=%s SO_APP_TOKEN=%s SO_PRIVATE_KEY_FILE=%s SO_CONTEXT_IDENTIFIER=%s SO_SYSTEM_USER_TOKEN=%s\n",
			t.ContextIdentifier, shellQuote(s.LoginURL), shellQuote(s.ApplicationToken), shellQuote(s.PrivateKeyPEM), shellQuote(t.ContextIdentifier), shellQuote(t.SystemUserToken))
		if s.CAFile != "" {
			fmt.Fprintf(w, "  and pass -ca %s\n", shellQuote(s.CAFile))
		}
	}
	if s.CAFile != "" {
		var vars []string
		for _, v := range caVariables {
			vars = append(vars, v+"="+shellQuote(s.CAEnv[v]))
		}
		fmt.Fprintf(w, "\nFor other clients (Python requests and zeep, Node, curl, OpenSSL) to trust the fake's CA:\n  export %s\n", strings.Join(vars, " "))
	}
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
