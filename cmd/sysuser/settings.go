package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-superoffice/sysuser"
)

// settings are the values shared by the subcommands, from flags or SO_*
// variables, named as in examples/ticket.
type settings struct {
	env, loginURL      string
	appToken, keyFile  string
	token, tenant      string
	protocol, certFile string
	caFile             string
	timeout            time.Duration
}

// addPlace registers where SuperOffice is: -env, -login-url, -cert, -ca and
// -timeout.
func (s *settings) addPlace(fs *flag.FlagSet, c *cli) {
	fs.StringVar(&s.env, "env", c.getenv("SO_ENVIRONMENT"), "SuperOffice environment: sod, stage (qaonline) or online (SO_ENVIRONMENT)")
	fs.StringVar(&s.env, "environment", c.getenv("SO_ENVIRONMENT"), "the same as -env")
	fs.StringVar(&s.loginURL, "login-url", c.getenv("SO_LOGIN_URL"), "login service base URL, such as https://sod.superoffice.com/login or a fake's; overrides -env, but -env as a flag overrides SO_LOGIN_URL (SO_LOGIN_URL)")
	fs.StringVar(&s.certFile, "cert", "", "PEM `file` of SuperOffice's signing certificate (SuperOfficeFederatedLogin.crt) to pin instead of its key set")
	fs.StringVar(&s.caFile, "ca", "", "PEM `file` of extra CA certificates to trust for TLS (a fake's ca.pem, a TLS-inspecting proxy's CA); SSL_CERT_FILE replaces the system's instead")
	fs.DurationVar(&s.timeout, "timeout", 30*time.Second, "bound on each network step")
}

// addApp registers the application's credentials: -app-token and -key.
func (s *settings) addApp(fs *flag.FlagSet, c *cli) {
	fs.StringVar(&s.appToken, "app-token", c.getenv("SO_APP_TOKEN"), "application token (SO_APP_TOKEN; prefer the variable: flags show in ps)")
	s.addKey(fs, c)
}

func (s *settings) addKey(fs *flag.FlagSet, c *cli) {
	fs.StringVar(&s.keyFile, "key", c.getenv("SO_PRIVATE_KEY_FILE"), "private key `file`, .NET XML or PEM (SO_PRIVATE_KEY_FILE)")
}

func (s *settings) addToken(fs *flag.FlagSet, c *cli) {
	fs.StringVar(&s.token, "token", c.getenv("SO_SYSTEM_USER_TOKEN"), "system user token (SO_SYSTEM_USER_TOKEN; prefer the variable: flags show in ps)")
}

// addTenant registers the tenant: -token, -tenant and -protocol.
func (s *settings) addTenant(fs *flag.FlagSet, c *cli) {
	s.addToken(fs, c)
	fs.StringVar(&s.tenant, "tenant", c.getenv("SO_CONTEXT_IDENTIFIER"), "tenant id such as Cust12345 (SO_CONTEXT_IDENTIFIER)")
	fs.StringVar(&s.protocol, "protocol", "soap", "soap or rest")
}

// preferFlags makes a place given as a flag win over one from the
// environment: -env given on the command line ignores SO_LOGIN_URL, unless
// -login-url is given too. Call it after parsing.
func (s *settings) preferFlags(fs *flag.FlagSet) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if (set["env"] || set["environment"]) && !set["login-url"] {
		s.loginURL = ""
	}
}

// environments maps SO_ENVIRONMENT's values to login URLs, as
// sysuser.Config.Environment does.
var environments = map[string]string{
	"sod":      "https://sod.superoffice.com/login",
	"stage":    "https://qaonline.superoffice.com/login",
	"qaonline": "https://qaonline.superoffice.com/login",
	"online":   "https://online.superoffice.com/login",
}

// errNoPlace means neither -env nor -login-url is set.
var errNoPlace = errors.New("no SuperOffice to talk to: set SO_ENVIRONMENT (or -env) to sod, stage or online, or SO_LOGIN_URL (or -login-url)")

// login returns the login service URL, without a trailing slash, and where
// it came from.
func (s *settings) login() (u *url.URL, from string, err error) {
	raw, from := s.loginURL, "-login-url or SO_LOGIN_URL"
	if raw == "" {
		if s.env == "" {
			return nil, "", errNoPlace
		}
		var ok bool
		if raw, ok = environments[strings.ToLower(s.env)]; !ok {
			return nil, "", fmt.Errorf("SO_ENVIRONMENT (or -env) %q: want sod, stage (qaonline) or online", clean(s.env, 40))
		}
		from = "-env or SO_ENVIRONMENT: " + strings.ToLower(s.env)
	}
	u, err = url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
		return nil, "", fmt.Errorf("SO_LOGIN_URL (or -login-url) %q is not a base URL such as https://sod.superoffice.com/login", clean(raw, 80))
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, "", fmt.Errorf("SO_LOGIN_URL (or -login-url) is plain http to %s: the application token would travel in clear; use https (http is only for a loopback host)", u.Host)
	}
	return u, from, nil
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// protocolValue returns the protocol, or a usage error.
func (s *settings) protocolValue() (sysuser.Protocol, error) {
	switch strings.ToLower(s.protocol) {
	case "", "soap":
		return sysuser.SOAP, nil
	case "rest":
		return sysuser.REST, nil
	}
	return 0, usagef("-protocol %q: want soap or rest", clean(s.protocol, 20))
}

// rootCAs returns the system's roots plus -ca's certificates, or nil
// without -ca.
func (s *settings) rootCAs() (*x509.CertPool, error) {
	if s.caFile == "" {
		return nil, nil
	}
	data, err := os.ReadFile(s.caFile)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("-ca %s holds no PEM certificate", s.caFile)
	}
	return pool, nil
}

// httpClient returns the client for the sysuser package: nil (its own
// default) unless -ca asks for more roots.
func (s *settings) httpClient() (*http.Client, error) {
	pool, err := s.rootCAs()
	if err != nil || pool == nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 2 * s.timeout}, nil
}

// maxKeyFileBytes bounds what readKey reads: a key file is a few KiB.
const maxKeyFileBytes = 1 << 20

// readKey reads a key file.
func readKey(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("%s is larger than 1 MiB: not a key file", file)
	}
	return data, nil
}

// parseTime reads a time as -at and -now take it: RFC 3339 with or without
// seconds (2026-11-23T12:34Z, 2026-11-23T13:34:56+01:00), or SuperOffice's
// own yyyyMMddHHmm, which is UTC.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if len(s) == 12 {
		if t, err := time.Parse("200601021504", s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time such as 2026-11-23T12:34Z, 2026-11-23T12:34:56+01:00 or 202611231234 (UTC)", clean(s, 40))
}
