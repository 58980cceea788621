package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
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
	clientID           string
	protocol, certFile string
	caFile             string
	timeout            time.Duration

	appTokenFile, tokenFile string
	fromEnv                 []envBinding
}

// envBinding is a flag whose value, when the flag is not given, comes from
// an environment variable.
type envBinding struct {
	flag, env string
	p         *string
	value     string // the variable's value when the flags were made
}

// envString registers a string flag that falls back to the variable env.
// Its default is empty, so help never prints a value from the environment:
// the help says only whether the variable is set, and shows the value of a
// variable that holds no secret.
func (s *settings) envString(fs *flag.FlagSet, c *cli, p *string, name, env, usage string, secret bool) {
	v := c.getenv(env)
	switch {
	case v == "":
		usage += fmt.Sprintf(" (default $%s, not set)", env)
	case secret:
		usage += fmt.Sprintf(" (default $%s, which is set; its value is never shown)", env)
	default:
		usage += fmt.Sprintf(" (default $%s: %s)", env, clean(v, 80))
	}
	fs.StringVar(p, name, "", usage)
	s.fromEnv = append(s.fromEnv, envBinding{flag: name, env: env, p: p, value: v})
}

// addPlace registers where SuperOffice is: -env, -login-url, -cert, -ca and
// -timeout.
func (s *settings) addPlace(fs *flag.FlagSet, c *cli) {
	s.envString(fs, c, &s.env, "env", "SO_ENVIRONMENT", "SuperOffice environment: sod, stage (qaonline) or online", false)
	fs.Func("environment", "the same as -env", func(v string) error { s.env = v; return nil })
	s.envString(fs, c, &s.loginURL, "login-url", "SO_LOGIN_URL", "login service base URL, such as https://sod.superoffice.com/login or a fake's; overrides -env, but -env as a flag overrides SO_LOGIN_URL", false)
	fs.StringVar(&s.certFile, "cert", "", "PEM `file` of SuperOffice's signing certificate (SuperOfficeFederatedLogin.crt) to pin instead of its key set")
	fs.StringVar(&s.caFile, "ca", "", "PEM `file` of extra CA certificates to trust for TLS (a fake's ca.pem, a TLS-inspecting proxy's CA); SSL_CERT_FILE replaces the system's instead")
	s.timeout = 30 * time.Second
	fs.Var((*positiveDuration)(&s.timeout), "timeout", "bound on each network step, such as 10s or 2m (default 30s)")
}

// positiveDuration is a flag.Value that refuses zero and negative
// durations, so that -timeout -5s is a usage error.
type positiveDuration time.Duration

func (d *positiveDuration) String() string { return time.Duration(*d).String() }

func (d *positiveDuration) Set(v string) error {
	t, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want a duration such as 10s or 2m")
	}
	if t <= 0 {
		return fmt.Errorf("want a positive duration such as 10s or 2m, not %s", v)
	}
	*d = positiveDuration(t)
	return nil
}

// addApp registers the application's credentials: -app-token,
// -app-token-file and -key.
func (s *settings) addApp(fs *flag.FlagSet, c *cli) {
	s.envString(fs, c, &s.appToken, "app-token", "SO_APP_TOKEN", "application token (client secret); prefer $SO_APP_TOKEN or -app-token-file: other users see flags in ps", true)
	fs.StringVar(&s.appTokenFile, "app-token-file", "", "read the application token from `file` (its first line)")
	s.addKey(fs, c)
}

func (s *settings) addKey(fs *flag.FlagSet, c *cli) {
	s.envString(fs, c, &s.keyFile, "key", "SO_PRIVATE_KEY_FILE", "private key `file`, .NET XML or PEM", false)
}

func (s *settings) addToken(fs *flag.FlagSet, c *cli) {
	s.envString(fs, c, &s.token, "token", "SO_SYSTEM_USER_TOKEN", "system user token; prefer $SO_SYSTEM_USER_TOKEN or -token-file: other users see flags in ps", true)
	fs.StringVar(&s.tokenFile, "token-file", "", "read the system user token from `file` (its first line, spaces kept)")
}

// addTenant registers the tenant: -token, -token-file, -tenant and
// -protocol.
func (s *settings) addTenant(fs *flag.FlagSet, c *cli) {
	s.addToken(fs, c)
	s.envString(fs, c, &s.tenant, "tenant", "SO_CONTEXT_IDENTIFIER", "tenant id such as Cust12345", false)
	fs.StringVar(&s.protocol, "protocol", "soap", "soap or rest")
}

// resolve completes the settings after parsing: a flag not given takes its
// variable's value; -env given on the command line ignores SO_LOGIN_URL,
// unless -login-url is given too; -app-token-file and -token-file are
// read. Errors are usage errors or name the file.
func (s *settings) resolve(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, b := range s.fromEnv {
		if !set[b.flag] && !(b.flag == "env" && set["environment"]) {
			*b.p = b.value
		}
	}
	if (set["env"] || set["environment"]) && !set["login-url"] {
		s.loginURL = ""
	}
	for _, f := range []struct {
		file, flag, other string
		p                 *string
	}{
		{s.appTokenFile, "-app-token-file", "app-token", &s.appToken},
		{s.tokenFile, "-token-file", "token", &s.token},
	} {
		if f.file == "" {
			continue
		}
		if set[f.other] {
			return usagef("give -%s or %s, not both", f.other, f.flag)
		}
		v, err := readSecretLine(f.file)
		if err != nil {
			return fmt.Errorf("%s: %w", f.flag, err)
		}
		*f.p = v
	}
	return nil
}

// readSecretLine reads a secret from the first line of a file, without
// its line end. The error names the file, never its content.
func readSecretLine(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("%s", pathErrorText(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTokenBytes+1))
	if err != nil {
		return "", fmt.Errorf("%s: %s", name, pathErrorText(err))
	}
	if len(data) > maxTokenBytes {
		return "", fmt.Errorf("%s is larger than %d KiB: not a token file", name, maxTokenBytes>>10)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("%s is empty: want the token on its first line", name)
	}
	return line, nil
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

// pathErrorText says what an *fs.PathError says without its operation
// ("f.key: no such file or directory", not "open f.key: ...").
func pathErrorText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}

// maxKeyFileBytes bounds what readKey reads: a key file is a few KiB.
const maxKeyFileBytes = 1 << 20

// readKey reads a key file.
func readKey(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, errors.New(pathErrorText(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %s", file, pathErrorText(err))
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("%s is larger than 1 MiB: not a key file", file)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s is empty: want the application's RSA private key, .NET XML or PEM", file)
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
