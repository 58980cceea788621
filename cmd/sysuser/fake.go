package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

var fakeCommand = &command{
	name:     "fake",
	synopsis: "run a fake SuperOffice (sysusertest) for clients in any language, until interrupted",
	usage: `  sysuser fake [--addr HOST:PORT] [--tenant CTX=TOKEN ...] [--tenants FILE]
               [--key FILE] [--app-token T] [--dir DIR] [--tls] [--json]

Runs package sysusertest's fake login service (PartnerSystemUserService over
SOAP with its WSDL and REST, the key set, OpenID Connect metadata) and fake
WebApi at --addr, and prints the settings a client needs: login URL, WSDL
URL, application token, private key files (PEM and .NET XML), each tenant's
system user token and WebApi URL, and with --tls the CA file. It runs until
SIGINT (Ctrl-C) or SIGTERM.

Tenants come from --tenant (repeatable) and from --tenants FILE, whose lines
are "Cust12345 the system user token" (the token is the rest of the line;
blank lines and lines starting with # are skipped). Without either, one
tenant Cust12345 with a generated token.

The application key pair is generated unless --key gives the private key;
either way the key is written to DIR as app-key.pem (PKCS#8) and app-key.xml
(.NET XML), mode 0600, next to superoffice.crt (the fake's signing
certificate, for pinning) and, with --tls, ca.pem: a CA made for this run,
which issued the server's certificate for --addr's host (for a loopback or
unspecified host: localhost, 127.0.0.1 and ::1). Files of those names
in DIR are replaced. Without --dir, DIR is a new temporary directory,
removed when the fake stops.

  sysuser fake --addr 127.0.0.1:8089 --tenant "Cust12345=My App-token" --tls --dir ./fake
`,
	flags: func(c *cli) (*flag.FlagSet, func([]string) error) {
		fs := flag.NewFlagSet("fake", flag.ContinueOnError)
		addr := fs.String("addr", "127.0.0.1:8089", "`host:port` to listen on (port 0: any free port)")
		var tenants tenantFlags
		fs.Var(&tenants, "tenant", "a tenant, as `CTX=TOKEN` (repeatable)")
		tenantsFile := fs.String("tenants", "", "`file` of tenants, one \"Cust12345 token with spaces\" a line")
		keyFile := fs.String("key", "", "the application's private key `file` (.NET XML or PEM); default a new 2048-bit key")
		appToken := fs.String("app-token", "", "the application token the fake expects; default a generated one")
		dir := fs.String("dir", "", "`directory` for the key, certificate and CA files; default a temporary one")
		useTLS := fs.Bool("tls", false, "serve HTTPS with a certificate from a CA made for this run (written to DIR/ca.pem)")
		asJSON := fs.Bool("json", false, "print the settings as one line of JSON")
		return fs, func(args []string) error {
			if err := noArgs(fs, args); err != nil {
				return err
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
			return runFake(c, fakeConfig{
				addr: *addr, tenants: tenants, keyFile: *keyFile, appToken: *appToken,
				dir: *dir, tls: *useTLS, json: *asJSON,
			})
		}
	},
}

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
	addr, keyFile, appToken, dir string
	tenants                      []tenantPair
	tls, json                    bool
}

// fakeSettings is what fake prints: everything a client needs.
type fakeSettings struct {
	LoginURL         string       `json:"login_url"`
	WSDLURL          string       `json:"wsdl_url"`
	SOAPEndpoint     string       `json:"soap_endpoint"`
	RESTEndpoint     string       `json:"rest_endpoint"`
	JWKSURL          string       `json:"jwks_url"`
	ApplicationToken string       `json:"application_token"`
	PrivateKeyPEM    string       `json:"private_key_pem"`
	PrivateKeyXML    string       `json:"private_key_xml"`
	CertificateFile  string       `json:"certificate_file"`
	CAFile           string       `json:"ca_file,omitempty"`
	Tenants          []fakeTenant `json:"tenants"`
}

type fakeTenant struct {
	ContextIdentifier string `json:"context_identifier"`
	SystemUserToken   string `json:"system_user_token"`
	WebAPIURL         string `json:"webapi_url"`
}

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
		return err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	out := fakeSettings{
		ApplicationToken: cfg.appToken,
		PrivateKeyPEM:    filepath.Join(dir, "app-key.pem"),
		PrivateKeyXML:    filepath.Join(dir, "app-key.xml"),
		CertificateFile:  filepath.Join(dir, "superoffice.crt"),
	}
	pemData, err := pkcs8PEM(key)
	if err != nil {
		return err
	}
	xmlData, err := dotNetXML(key)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{out.PrivateKeyPEM, pemData}, {out.PrivateKeyXML, xmlData}} {
		if err := writeSecretFile(f.name, f.data, true); err != nil {
			return err
		}
	}
	opts := sysusertest.Options{Addr: cfg.addr, ApplicationToken: cfg.appToken, PublicKey: &key.PublicKey}
	if cfg.tls {
		host, _, err := net.SplitHostPort(cfg.addr)
		if err != nil {
			return usagef("-addr %q: %v", clean(cfg.addr, 60), err)
		}
		caPEM, serverCert, err := makeCA(host)
		if err != nil {
			return err
		}
		out.CAFile = filepath.Join(dir, "ca.pem")
		if err := os.WriteFile(out.CAFile, caPEM, 0o644); err != nil {
			return err
		}
		opts.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}
	}
	srv, err := sysusertest.NewServer(opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := os.WriteFile(out.CertificateFile, srv.Certificate(), 0o644); err != nil {
		return err
	}
	out.LoginURL = srv.URL
	out.SOAPEndpoint = srv.Root + sysusertest.SOAPPath
	out.WSDLURL = out.SOAPEndpoint + "?wsdl"
	out.RESTEndpoint = srv.Root + sysusertest.RESTPath
	out.JWKSURL = srv.Root + sysusertest.JWKSPath
	for _, t := range cfg.tenants {
		srv.AddTenant(t.ctx, t.token)
		out.Tenants = append(out.Tenants, fakeTenant{ContextIdentifier: t.ctx, SystemUserToken: t.token, WebAPIURL: srv.WebAPIURL(t.ctx)})
	}

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
	p("application token", s.ApplicationToken)
	p("private key (PEM)", s.PrivateKeyPEM)
	p("private key (XML)", s.PrivateKeyXML)
	p("certificate", s.CertificateFile+" (the fake's signing certificate, for pinning)")
	if s.CAFile != "" {
		p("CA file", s.CAFile)
	}
	for _, t := range s.Tenants {
		p("tenant", t.ContextIdentifier)
		p("  system user token", t.SystemUserToken)
		p("  WebApi URL", t.WebAPIURL)
	}
	if len(s.Tenants) > 0 {
		t := s.Tenants[0]
		fmt.Fprintf(w, "\nFor sysuser doctor and exchange (tenant %s):\n  export SO_LOGIN_URL=%s SO_APP_TOKEN=%s SO_PRIVATE_KEY_FILE=%s SO_CONTEXT_IDENTIFIER=%s SO_SYSTEM_USER_TOKEN=%s\n",
			t.ContextIdentifier, shellQuote(s.LoginURL), shellQuote(s.ApplicationToken), shellQuote(s.PrivateKeyPEM), shellQuote(t.ContextIdentifier), shellQuote(t.SystemUserToken))
		if s.CAFile != "" {
			fmt.Fprintf(w, "  and pass -ca %s\n", shellQuote(s.CAFile))
		}
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

// makeCA makes a CA for this run and a server certificate it issues for
// host (and, for a loopback or unspecified host, for localhost, 127.0.0.1
// and ::1). It returns the CA certificate in PEM and the server's
// certificate and key.
func makeCA(host string) ([]byte, tls.Certificate, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{Organization: []string{"sysuser fake"}, CommonName: "sysuser fake CA " + now.UTC().Format(time.RFC3339)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{Organization: []string{"sysuser fake"}, CommonName: host},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	ip := net.ParseIP(host)
	switch {
	case host == "" || (ip != nil && ip.IsUnspecified()) || isLoopback(host):
		leafTmpl.Subject.CommonName = "localhost"
		leafTmpl.DNSNames = []string{"localhost"}
		leafTmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		if ip != nil && ip.IsLoopback() && !ip.Equal(net.IPv4(127, 0, 0, 1)) && !ip.Equal(net.IPv6loopback) {
			leafTmpl.IPAddresses = append(leafTmpl.IPAddresses, ip)
		}
	case ip != nil:
		leafTmpl.IPAddresses = []net.IP{ip}
	default:
		leafTmpl.DNSNames = []string{host}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}, nil
}

func randomSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n.Add(n, big.NewInt(1))
}
