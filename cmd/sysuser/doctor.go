package main

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/golang-jwt/jwt/v5"
)

var doctorCommand = &command{
	name:     "doctor",
	synopsis: "check settings, key, network, clock, key set and an exchange, and say what to fix",
	usage: `  sysuser doctor [flags]

Reads the same settings as examples/ticket and checks, one line each:
  settings  what is missing or malformed
  key       the private key parses (.NET XML, PEM PKCS#1 or PKCS#8); its size
            and exponent (warn under 2048 bits or e != 65537)
  dns       the login host resolves
  reach     a TLS connection (plain HTTP only to a loopback host) and an HTTP
            answer from the login service
  clock     this machine's clock against the login server's Date header
            (warn past 1 minute, FAIL past 5: SuperOffice then refuses with
            "The supplied timestamp is invalid")
  jwks      the key set at LOGIN_URL/.well-known/jwks loads (its RSA keys),
            and holds the certificate -cert pins
  exchange  one exchange succeeds (it creates a credentials record in the
            tenant's database); a refusal comes with its likely cause and fix
  state     the tenant's state from the state API (LOGIN ORIGIN/api/state/CTX):
            FAIL when it is not running, with what to do (wait until
            ValidUntil; a suspended tenant: contact the tenant or SuperOffice);
            says when the tenant has moved from the token's webapi_url (the
            library follows moves); warn when the state API cannot be asked
Each line starts with ok, warn, FAIL or skip; a check that needs one that
failed is skipped. Secrets are never printed.

  SO_ENVIRONMENT=sod SO_APP_TOKEN=... SO_PRIVATE_KEY_FILE=private.xml \
  SO_SYSTEM_USER_TOKEN=... SO_CONTEXT_IDENTIFIER=Cust12345 sysuser doctor
`,
	flags: func(c *cli) (*flag.FlagSet, func([]string) error) {
		fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
		var s settings
		s.addPlace(fs, c)
		s.addApp(fs, c)
		s.addTenant(fs, c)
		return fs, func(args []string) error {
			if err := noArgs(fs, args); err != nil {
				return err
			}
			if err := s.resolve(fs); err != nil {
				return err
			}
			if _, err := s.protocolValue(); err != nil {
				return err
			}
			d := &doctor{s: &s, w: c.stdout}
			d.run()
			if d.failed {
				return exitError(exitFail)
			}
			return nil
		}
	},
}

// doctor runs the checks and prints their lines.
type doctor struct {
	s      *settings
	w      io.Writer
	failed bool

	clockOffset *time.Duration // server minus local, when measured
	exchanged   *sysuser.SystemUserResult
}

func (d *doctor) line(status, check, text string) {
	if status == "FAIL" {
		d.failed = true
	}
	fmt.Fprintf(d.w, "%-4s  %-8s  %s\n", status, check, text)
}

func (d *doctor) ok(check, format string, args ...any) {
	d.line("ok", check, fmt.Sprintf(format, args...))
}
func (d *doctor) warn(check, format string, args ...any) {
	d.line("warn", check, fmt.Sprintf(format, args...))
}
func (d *doctor) fail(check, format string, args ...any) {
	d.line("FAIL", check, fmt.Sprintf(format, args...))
}
func (d *doctor) skip(check, why string) { d.line("skip", check, "skipped: "+why) }

// run runs the checks in dependency order: the clock check reads the Date
// of the reach check's answer, so it comes after it.
func (d *doctor) run() {
	settingsOK, u := d.checkSettings()
	signer := d.checkKey()
	var resp *probe
	if u == nil {
		d.skip("dns", "no login URL (see settings)")
		d.skip("reach", "no login URL (see settings)")
	} else if !d.checkDNS(u) {
		d.skip("reach", "the login host does not resolve")
	} else {
		resp = d.checkReach(u)
	}
	if resp == nil {
		d.skip("clock", "no answer from the login server to read its Date from")
		d.skip("jwks", "the login server was not reached")
		d.skip("exchange", "the login server was not reached")
		d.skip("state", "the login server was not reached")
		return
	}
	d.checkClock(resp)
	keysOK := d.checkJWKS(resp)
	switch {
	case !settingsOK:
		d.skip("exchange", "settings are incomplete")
	case signer == nil:
		d.skip("exchange", "the key check failed")
	case !keysOK:
		d.skip("exchange", "no keys to verify SuperOffice's answer with (see jwks)")
	default:
		d.checkExchange(u, signer)
	}
	if d.s.tenant == "" {
		d.skip("state", "no tenant (see settings)")
	} else {
		d.checkState(u)
	}
}

// checkState asks the state API for the tenant's state: FAIL when it is
// not running, a note when it has moved from the WebApi URL the exchange
// gave. A state API that cannot be asked is a warning: the exchange does
// not need it.
func (d *doctor) checkState(u *url.URL) {
	if !validTenantID(d.s.tenant) {
		d.skip("state", "the tenant id is not one a URL can carry (see settings)")
		return
	}
	hc, err := d.s.plainClient()
	if err != nil {
		d.warn("state", "%s", err)
		return
	}
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), d.s.timeout)
	defer cancel()
	st, _, err := fetchState(ctx, hc, u, d.s.tenant)
	if err != nil {
		d.warn("state", "%s", clean(err.Error(), 400))
		return
	}
	desc := fmt.Sprintf("%s is %s", clean(st.ContextIdentifier, 64), clean(string(st.State), 40))
	if !st.ValidUntil.IsZero() {
		desc += ", valid until " + st.ValidUntil.UTC().Format(time.RFC3339)
	}
	desc += ", WebApi " + clean(st.API, 200)
	if !st.IsRunning {
		d.fail("state", "%s: not running — fix: %s", desc, stateAdvice(st))
		return
	}
	if d.exchanged != nil && st.API != "" && strings.TrimRight(d.exchanged.WebAPIURL, "/") != strings.TrimRight(st.API, "/") {
		d.ok("state", "%s; it has moved: the token's webapi_url is %s — the library follows moves (it uses the state's Api and retries a 421 there); nothing to do", desc, clean(d.exchanged.WebAPIURL, 200))
		return
	}
	d.ok("state", "%s", desc)
}

// checkSettings reports missing or malformed settings and returns the
// login URL when there is one.
func (d *doctor) checkSettings() (bool, *url.URL) {
	s := d.s
	var problems []string
	u, from, err := s.login()
	if err != nil {
		problems = append(problems, err.Error())
	}
	for _, m := range s.missing() {
		problems = append(problems, "missing "+m.name)
	}
	if len(problems) > 0 {
		d.fail("settings", "%s — fix: set them as flags or environment variables (sysuser doctor --help)", strings.Join(problems, "; "))
		return false, u
	}
	var odd []string
	for _, m := range []struct{ val, name string }{
		{s.appToken, "SO_APP_TOKEN"}, {s.token, "SO_SYSTEM_USER_TOKEN"}, {s.tenant, "SO_CONTEXT_IDENTIFIER"},
	} {
		if strings.TrimSpace(m.val) != m.val || strings.Trim(m.val, `"'`) != m.val {
			odd = append(odd, m.name)
		}
	}
	proto, _ := s.protocolValue()
	text := fmt.Sprintf("login URL %s (from %s), tenant %s, %s; application token and system user token set", u, from, clean(s.tenant, 64), proto)
	if len(odd) > 0 {
		d.warn("settings", "%s; but %s starts or ends with white space or a quote — fix: SuperOffice compares them exactly; remove what the copy added", text, strings.Join(odd, " and "))
		return true, u
	}
	d.ok("settings", "%s", text)
	return true, u
}

// checkKey reads and judges the private key, returning a Signer for it.
func (d *doctor) checkKey() *sysuser.Signer {
	file := d.s.keyFile
	if file == "" {
		d.skip("key", "no key file (see settings)")
		return nil
	}
	data, err := readKey(file)
	if err != nil {
		d.fail("key", "cannot read the key file: %s — fix: check SO_PRIVATE_KEY_FILE's path and permissions", clean(err.Error(), maxShown))
		return nil
	}
	format := keyFormat(data)
	key, err := sysuser.ParsePrivateKey(data)
	if err != nil {
		fix := "it must be the application's RSA private key, as SuperOffice issued it (.NET XML) or converted to PEM"
		if strings.Contains(err.Error(), "password-protected") {
			fix = "decrypt it once (openssl pkey -in encrypted.pem -out plain.pem) and keep the plain key in a secret store"
		}
		d.fail("key", "%s (%s): %s — fix: %s", file, format, clean(err.Error(), maxShown), fix)
		return nil
	}
	signer, err := sysuser.NewSigner(key)
	if err != nil {
		d.fail("key", "%s (%s): sysuser will not sign with it: %s — fix: ask SuperOffice for a new key pair (RSA 2048 bits or more, e = 65537)", file, format, clean(err.Error(), maxShown))
		return nil
	}
	desc := fmt.Sprintf("%s: %s, RSA %d bits, e = %d", file, format, key.N.BitLen(), key.E)
	var warns []string
	if key.N.BitLen() < 2048 {
		warns = append(warns, "under 2048 bits, weaker than SuperOffice's own keys — fix: ask SuperOffice for a new key pair of 2048 bits or more")
	}
	if key.E != 65537 {
		warns = append(warns, "an unusual public exponent — fix: a key from a mainstream generator uses 65537")
	}
	if fi, err := os.Stat(file); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		warns = append(warns, fmt.Sprintf("the file is readable by others (mode %04o) — fix: chmod 600 %s", fi.Mode().Perm(), file))
	}
	if len(warns) > 0 {
		d.warn("key", "%s; %s", desc, strings.Join(warns, "; "))
	} else {
		d.ok("key", "%s", desc)
	}
	return signer
}

// checkDNS resolves the login host. It reports true when the host resolves
// or a proxy will resolve it.
func (d *doctor) checkDNS(u *url.URL) bool {
	host := u.Hostname()
	if net.ParseIP(host) != nil {
		d.ok("dns", "%s is an IP address: no lookup needed", host)
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.s.timeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err == nil {
		shown := strings.Join(addrs, ", ")
		if len(addrs) > 3 {
			shown = strings.Join(addrs[:3], ", ") + ", …"
		}
		d.ok("dns", "%s resolves to %s", host, shown)
		return true
	}
	if proxy := proxyFor(u); proxy != nil {
		d.warn("dns", "%s does not resolve here (%s), but requests go through the proxy %s, which resolves it", host, clean(err.Error(), maxShown), proxy.Host)
		return true
	}
	d.fail("dns", "%s", explainNet(err))
	return false
}

func proxyFor(u *url.URL) *url.URL {
	p, err := http.ProxyFromEnvironment(&http.Request{URL: u})
	if err != nil {
		return nil
	}
	return p
}

// probe is the login server's answer to the reach check.
type probe struct {
	url        string
	status     int
	header     http.Header
	body       []byte
	start, end time.Time
}

// checkReach fetches the key set URL, which also shows TLS and gives the
// server's Date.
func (d *doctor) checkReach(u *url.URL) *probe {
	target := u.String() + "/.well-known/jwks"
	pool, err := d.s.rootCAs()
	if err != nil {
		d.fail("reach", "-ca: %s — fix: give a PEM file of CA certificates", clean(err.Error(), maxShown))
		return nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	defer tr.CloseIdleConnections()
	hc := &http.Client{
		Transport:     tr,
		Timeout:       d.s.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	p := &probe{url: target, start: time.Now()}
	resp, err := hc.Get(target)
	if err != nil {
		d.fail("reach", "%s: %s", u.Host, explainNet(err))
		return nil
	}
	defer resp.Body.Close()
	p.end = time.Now()
	p.status, p.header = resp.StatusCode, resp.Header
	p.body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		d.fail("reach", "%s: reading the answer: %s", u.Host, explainNet(err))
		return nil
	}
	via := ""
	if proxy := proxyFor(u); proxy != nil {
		via = " through the proxy " + proxy.Host
	}
	elapsed := p.end.Sub(p.start).Round(time.Millisecond)
	if resp.TLS == nil {
		d.ok("reach", "%s://%s%s: plain HTTP (accepted on a loopback host only); HTTP %d in %v", u.Scheme, u.Host, via, resp.StatusCode, elapsed)
		return p
	}
	cert := resp.TLS.PeerCertificates[0]
	name := cert.Subject.CommonName
	if len(cert.DNSNames) > 0 {
		name = cert.DNSNames[0]
	} else if len(cert.IPAddresses) > 0 {
		name = cert.IPAddresses[0].String()
	}
	d.ok("reach", "https://%s%s: %s, certificate for %s issued by %s, valid until %s; HTTP %d in %v",
		u.Host, via, tls.VersionName(resp.TLS.Version), clean(name, 80), clean(cert.Issuer.CommonName, 80),
		cert.NotAfter.UTC().Format("2006-01-02"), resp.StatusCode, elapsed)
	return p
}

// Clock offsets doctor warns and fails at. SuperOffice refuses a signed
// token whose minute is more than 5 minutes from its clock.
const (
	clockWarn = time.Minute
	clockFail = 5 * time.Minute
)

// checkClock compares this machine's clock with the login server's Date.
func (d *doctor) checkClock(p *probe) {
	date := p.header.Get("Date")
	server, err := http.ParseTime(date)
	if err != nil {
		d.warn("clock", "the login server sent no usable Date header, so its clock cannot be compared — fix: make sure this machine's clock is synchronised (NTP)")
		return
	}
	// Date is whole seconds, truncated: its middle is half a second later.
	// The request's middle is the best guess of when the server wrote it.
	local := p.start.Add(p.end.Sub(p.start) / 2)
	off := server.Add(500 * time.Millisecond).Sub(local)
	d.clockOffset = &off
	abs := absDuration(off)
	rel := "ahead of"
	if off > 0 {
		rel = "behind"
	}
	desc := fmt.Sprintf("this machine's clock is %v %s the login server's (its Date header: %s)", abs.Round(time.Second), rel, clean(date, 40))
	why := `SuperOffice refuses a signed token whose timestamp is more than 5 minutes from its clock ("The supplied timestamp is invalid")`
	fix := "synchronise this machine's clock with NTP (timedatectl set-ntp true; w32tm /resync on Windows); if it is synchronised already, the login server's clock is off"
	switch {
	case abs > clockFail:
		d.fail("clock", "%s: %s — fix: %s", desc, why, fix)
	case abs > clockWarn:
		d.warn("clock", "%s: still accepted, but %s — fix: %s", desc, why, fix)
	default:
		d.ok("clock", "this machine's clock is within %v of the login server's (its Date header)", max(abs.Round(time.Second), time.Second))
	}
}

// checkJWKS loads the key set from the probe's answer, and checks the
// pinned certificate against it. It reports whether an exchange's answer
// can be verified.
func (d *doctor) checkJWKS(p *probe) bool {
	var pinned *rsa.PublicKey
	if d.s.certFile != "" {
		data, err := os.ReadFile(d.s.certFile)
		if err == nil {
			pinned, err = sysuser.ParsePublicKey(data)
		}
		if err != nil {
			d.fail("jwks", "-cert %s: %s — fix: give SuperOffice's signing certificate (SuperOfficeFederatedLogin.crt) as PEM, or drop -cert to use the key set", d.s.certFile, clean(err.Error(), maxShown))
			return false
		}
	}
	// With a pinned certificate the exchange does not need the key set:
	// its problems are warnings.
	bad := d.fail
	if pinned != nil {
		bad = d.warn
	}
	if p.status != http.StatusOK {
		bad("jwks", "%s answered HTTP %d — fix: the login URL is wrong: it is the login service's base, such as https://sod.superoffice.com/login", p.url, p.status)
		return pinned != nil
	}
	var set struct {
		Keys []struct {
			Kty, Kid, N, E string
		} `json:"keys"`
	}
	if err := json.Unmarshal(p.body, &set); err != nil {
		bad("jwks", "%s is not a JSON key set (%s) — fix: check the login URL; a proxy or captive portal may be answering", p.url, clean(err.Error(), 80))
		return pinned != nil
	}
	var kids []string
	match := ""
	for _, k := range set.Keys {
		if k.Kty != "RSA" {
			continue
		}
		n, errN := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.N, "="))
		e, errE := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.E, "="))
		if errN != nil || errE != nil || len(n) == 0 || len(e) == 0 {
			continue
		}
		kids = append(kids, clean(k.Kid, 48))
		if pinned != nil && new(big.Int).SetBytes(n).Cmp(pinned.N) == 0 && new(big.Int).SetBytes(e).Int64() == int64(pinned.E) {
			match = clean(k.Kid, 48)
		}
	}
	if len(kids) == 0 {
		bad("jwks", "%s holds no usable RSA key — fix: check the login URL", p.url)
		return pinned != nil
	}
	desc := fmt.Sprintf("%d RSA key(s) at %s (kid %s)", len(kids), p.url, strings.Join(kids, ", "))
	switch {
	case pinned == nil:
		d.ok("jwks", "%s", desc)
	case match != "":
		d.ok("jwks", "%s; the certificate -cert pins is kid %s", desc, match)
	default:
		d.warn("jwks", "%s; the certificate -cert pins is not among them: SuperOffice may have rotated its key — fix: get its current certificate, or drop -cert to use the key set", desc)
	}
	return true
}

// checkExchange makes one exchange.
func (d *doctor) checkExchange(u *url.URL, signer *sysuser.Signer) {
	s := d.s
	proto, _ := s.protocolValue()
	cfg := sysuser.Config{
		LoginURL:         u.String(),
		ApplicationToken: s.appToken,
		Signer:           signer,
		Protocol:         proto,
		MaxAttempts:      1,
		ExchangeTimeout:  2 * s.timeout,
	}
	var err error
	if s.certFile != "" {
		if cfg.Certificate, err = os.ReadFile(s.certFile); err != nil {
			d.fail("exchange", "-cert: %s — fix: give SuperOffice's signing certificate as PEM, or drop -cert", clean(err.Error(), maxShown))
			return
		}
	}
	hc, err := s.httpClient()
	if err != nil {
		d.fail("exchange", "-ca: %s — fix: give a PEM file of CA certificates", clean(err.Error(), maxShown))
		return
	}
	rec := &recorder{}
	cfg.HTTPClient = rec.wrap(hc)
	client, err := sysuser.NewClient(cfg)
	if err != nil {
		d.fail("exchange", "%s", explain(err, s.appToken, s.token))
		return
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*s.timeout)
	defer cancel()
	start := time.Now()
	res, err := client.Exchange(ctx, s.tenant, s.token)
	if err != nil {
		diag := explain(err, s.appToken, s.token)
		var ae *sysuser.AuthenticationError
		switch {
		case errors.As(err, &ae) && strings.Contains(strings.ToLower(ae.Message), "timestamp"):
			d.explainTimestamp(&diag)
		case errors.Is(err, jwt.ErrTokenExpired) || errors.Is(err, jwt.ErrTokenNotValidYet) || errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
			d.explainLifetime(&diag, rec)
		}
		d.fail("exchange", "tenant %s: %s", clean(s.tenant, 64), diag)
		return
	}
	d.exchanged = res
	d.ok("exchange", "tenant %s: ticket %s, WebApi %s, %s in %v (each exchange adds a credentials record in the tenant's database)",
		res.ContextIdentifier, redactedTicket(res.Ticket), res.WebAPIURL, proto, time.Since(start).Round(time.Millisecond))
}

// clockAgree is how far apart two clocks may be for doctor to call them
// the same: the token's iat and the Date header are whole seconds, and
// the exchange takes time.
const clockAgree = 30 * time.Second

// explainTimestamp says whose clock a refused timestamp points at: this
// machine's when the clock check measured it off, the login server's when
// this machine agrees with the server's Date header.
func (d *doctor) explainTimestamp(diag *diagnosis) {
	if d.clockOffset == nil {
		return
	}
	off := absDuration(*d.clockOffset)
	if off > clockAgree {
		diag.cause += fmt.Sprintf(" (the clock check measured this machine's clock %v from the login server's)", off.Round(time.Second))
		return
	}
	diag.cause = fmt.Sprintf("the login server's clock, which checks the timestamp, is off: this machine's clock agrees with the login server's Date header (within %v), yet the server finds this machine's UTC minute more than 5 minutes from its own (InvalidTimestamp)", max(off.Round(time.Second), time.Second))
	diag.fix = "nothing to change on this machine; the login server's clock must be corrected (for SuperOffice, tell its developer support; for sysuser fake, its --clock-offset)"
}

// explainLifetime says whose clock a token outside its lifetime points at,
// from the token's iat (unverified: read only to explain) and the answer's
// Date header, both against this machine's clock.
func (d *doctor) explainLifetime(diag *diagnosis, rec *recorder) {
	iat, date, at, ok := rec.times()
	if !ok {
		return
	}
	iatOff := iat.Sub(at)   // how far the token's clock is ahead of this machine's
	dateOff := date.Sub(at) // how far the server's Date is ahead of this machine's
	ahead := func(d time.Duration) string {
		if d < 0 {
			return fmt.Sprintf("%v behind", (-d).Round(time.Second))
		}
		return fmt.Sprintf("%v ahead of", d.Round(time.Second))
	}
	switch {
	case absDuration(dateOff) <= clockAgree && absDuration(iatOff) > clockAgree:
		diag.cause = fmt.Sprintf("the login server's clock is off: the token's iat (%s) is %s this machine's clock, while the server's own Date header (%s) agrees with this machine's within %v",
			iat.UTC().Truncate(time.Second).Format(time.RFC3339), ahead(iatOff), date.UTC().Truncate(time.Second).Format(time.RFC3339), max(absDuration(dateOff).Round(time.Second), time.Second))
		diag.fix = "nothing to change on this machine; the login server's clock must be corrected (for SuperOffice, tell its developer support; for sysuser fake, its --clock-offset)"
	case absDuration(iatOff-dateOff) <= clockAgree:
		diag.cause = fmt.Sprintf("this machine's clock is off: the login server's Date header and the token's iat agree, and are %s this machine's clock", ahead(dateOff))
		diag.fix = "synchronise this machine's clock with NTP (timedatectl set-ntp true; w32tm /resync on Windows)"
	default:
		diag.cause = fmt.Sprintf("the clocks disagree: the token's iat is %s this machine's clock, the login server's Date header %s it", ahead(iatOff), ahead(dateOff))
		diag.fix = "synchronise this machine's clock with NTP; if it is synchronised, the login server's clock must be corrected"
	}
}

// recorder keeps the Date header and the start of the body of the last
// answer a client got that carries a JWT, so that doctor can say whose clock is off when a
// token fails its lifetime check.
type recorder struct {
	mu   sync.Mutex
	date string
	at   time.Time
	body []byte
	base http.RoundTripper
}

// wrap returns hc (nil: a default client) with its transport recording.
func (r *recorder) wrap(hc *http.Client) *http.Client {
	if hc == nil {
		hc = &http.Client{}
	}
	out := *hc
	r.base = hc.Transport
	if r.base == nil {
		r.base = http.DefaultTransport
	}
	out.Transport = r
	return &out
}

// RoundTrip records the answer's Date and up to 64 KiB of its body.
func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	rest := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), rest), rest}
	if rerr == nil && jwtInBody.Match(body) { // the exchange's answer, not the key set's
		r.mu.Lock()
		r.date, r.at, r.body = resp.Header.Get("Date"), time.Now(), body
		r.mu.Unlock()
	}
	return resp, err
}

// jwtInBody finds a JWT in a SOAP or JSON answer.
var jwtInBody = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// times returns the recorded token's iat, the answer's Date and when it
// came.
func (r *recorder) times() (iat, date, at time.Time, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	date, err := http.ParseTime(r.date)
	raw := jwtInBody.Find(r.body)
	if err != nil || raw == nil {
		return
	}
	_, payload, err := peekJWT(string(raw))
	if err != nil {
		return
	}
	n, isNum := number(payload["iat"])
	if !isNum {
		return
	}
	// iat and Date are whole seconds, truncated: their middle is half a
	// second later.
	return time.Unix(n, 0).Add(500 * time.Millisecond), date.Add(500 * time.Millisecond), r.at, true
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
