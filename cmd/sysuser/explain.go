package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/go-superoffice/sysuser"
	"github.com/golang-jwt/jwt/v5"
)

// maxShown bounds text from a server or an error in one output line.
const maxShown = 200

// diagnosis says what went wrong, the likely cause and what to do.
type diagnosis struct {
	what, cause, fix string
}

func (d diagnosis) String() string {
	s := d.what
	if d.cause != "" {
		s += " — likely cause: " + d.cause
	}
	if d.fix != "" {
		s += " — fix: " + d.fix
	}
	return s
}

// explainRefusal maps SuperOffice's ErrorMessage to its likely cause. Only
// "The supplied timestamp is invalid" (code 6) and "Calculated signature is
// invalid" (code 7) are documented texts; the others (1 Revoked, 3 Expired,
// 4 Denied, 5 NeedsReapproval, and an unknown application or system user
// token) are recognised by their words, as their texts are not published.
func explainRefusal(msg string) (cause, fix string) {
	m := strings.ToLower(msg)
	reapprove := "the tenant's administrator must approve the application again (SuperOffice App Store or the application's sign-up link); then store the system user token that approval delivers"
	switch {
	case strings.Contains(m, "timestamp"):
		return "the signed token's timestamp (this machine's UTC minute) is more than 5 minutes from SuperOffice's clock (InvalidTimestamp)",
			"synchronise this machine's clock (timedatectl set-ntp true; w32tm /resync on Windows) and check its time zone setting; see the clock check of sysuser doctor"
	case strings.Contains(m, "signature"):
		return "the signature does not verify with the public key SuperOffice holds for this application token (InvalidSignature): the private key is not this application's (another application's, another environment's — sod, stage and online registrations differ — or a regenerated key), or something altered the signed token on the way",
			"use the private key issued with this application token, for this environment; compare with sysuser sign against another implementation"
	case strings.Contains(m, "revoked"):
		return "the tenant revoked the application's access (Revoked)", reapprove
	case strings.Contains(m, "reapprov") || strings.Contains(m, "re-approv"):
		return "the application changed what it asks for, so the tenant must approve it again (NeedsReapproval)", reapprove
	case strings.Contains(m, "expired"):
		return "the tenant's approval of the application has expired (Expired)", reapprove
	case strings.Contains(m, "denied") || strings.Contains(m, "declined"):
		return "the tenant's administrator denied the application (Denied)", reapprove + "; or check that the application is enabled for this tenant"
	case strings.Contains(m, "application token"):
		return "SuperOffice does not know this application token here",
			"check SO_APP_TOKEN is this application's client secret for this environment (sod, stage and online each have their own)"
	case strings.Contains(m, "system user token") || strings.Contains(m, "customer") || strings.Contains(m, "tenant") || strings.Contains(m, "context"):
		return "the system user token does not belong to this tenant, or the tenant is unknown in this environment",
			"check SO_SYSTEM_USER_TOKEN is the one stored from this tenant's approval (exactly, spaces included) and SO_CONTEXT_IDENTIFIER is its tenant id"
	}
	return "", ""
}

// explain turns an error of an exchange or a request into a diagnosis.
// secrets are scrubbed from any text that came from elsewhere.
func explain(err error, secrets ...string) diagnosis {
	shown := func(s string) string {
		return clean(scrub(strings.ReplaceAll(s, "sysuser: ", ""), secrets...), maxShown)
	}
	var ae *sysuser.AuthenticationError
	var fe *sysuser.FaultError
	var he *sysuser.HTTPError
	switch {
	case errors.As(err, &ae):
		cause, fix := explainRefusal(ae.Message)
		d := diagnosis{what: fmt.Sprintf("SuperOffice refused: %q", shown(ae.Message)), cause: cause, fix: fix}
		if cause == "" {
			d.fix = "SuperOffice's message is not one this tool knows; search for it in SuperOffice's documentation or ask SuperOffice's developer support"
		}
		return d
	case errors.Is(err, sysuser.ErrKeySetUnavailable):
		return diagnosis{what: "SuperOffice's signing keys could not be fetched: " + shown(err.Error()),
			fix: "check the network to the login host (sysuser doctor shows where it fails), or pin the certificate with -cert"}
	case errors.Is(err, sysuser.ErrInvalidToken):
		d := diagnosis{what: "SuperOffice answered, but its token failed verification: " + shown(err.Error())}
		d.cause, d.fix = explainInvalidToken(err)
		return d
	case errors.As(err, &fe):
		return diagnosis{what: fmt.Sprintf("SOAP fault %s: %q", shown(fe.Code), shown(fe.String)),
			fix: "check the login URL is SuperOffice's login service (ending in /login); try -protocol rest"}
	case errors.As(err, &he):
		d := diagnosis{what: "unexpected answer: HTTP " + shown(he.Status),
			fix: "check the login URL is SuperOffice's login service, such as https://sod.superoffice.com/login"}
		switch {
		case he.StatusCode == http.StatusNotFound:
			d.fix = "the login URL is wrong: it is the login service's base, such as https://sod.superoffice.com/login"
		case he.StatusCode >= 500:
			d.fix = "SuperOffice or a proxy between is failing; try again later"
		case he.StatusCode == http.StatusProxyAuthRequired || he.StatusCode == http.StatusForbidden:
			d.fix = "a proxy or firewall refuses the request; check HTTPS_PROXY and its rules"
		}
		return d
	case errors.Is(err, sysuser.ErrCrossHostRedirect):
		return diagnosis{what: "the login service redirected to another host or scheme", fix: "use the URL it redirects to as -login-url (https, the right host)"}
	case errors.Is(err, sysuser.ErrMalformedResponse):
		return diagnosis{what: shown(err.Error()), fix: "check the login URL is SuperOffice's login service; a proxy or captive portal may be answering instead"}
	case errors.Is(err, sysuser.ErrInvalidKey):
		return diagnosis{what: shown(err.Error()), fix: "see the key check of sysuser doctor"}
	case errors.Is(err, sysuser.ErrInvalidConfig), errors.Is(err, sysuser.ErrInvalidArgument):
		return diagnosis{what: shown(err.Error()), fix: "check the settings (sysuser help COMMAND lists them)"}
	}
	return explainNet(err, secrets...)
}

// explainInvalidToken gives the likely cause and fix of a system user
// token that failed verification.
func explainInvalidToken(err error) (cause, fix string) {
	m := strings.ToLower(err.Error())
	loginFix := "check SO_LOGIN_URL (or -login-url, -env) is SuperOffice's login service for this environment, such as https://sod.superoffice.com/login, and that no proxy answers in its place"
	switch {
	case errors.Is(err, jwt.ErrTokenExpired) || errors.Is(err, jwt.ErrTokenNotValidYet) || errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the token's lifetime (nbf to exp, with 5 minutes' leeway) does not include this machine's time: this machine's clock or the login server's is off",
			"run sysuser doctor: its clock check compares this machine's clock with the login server's Date header and the token's iat"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return `the token's issuer (iss) is not "SuperOffice AS": the login URL is not SuperOffice's login service`, loginFix
	case errors.Is(err, jwt.ErrTokenInvalidAudience) || strings.Contains(m, "serial claim") || strings.Contains(m, "aud claim"):
		return `the token's audience is not "spn:" + its serial claim, as SuperOffice's tokens have it: the login URL is not SuperOffice's login service`, loginFix
	case strings.Contains(m, "ticket claim") || strings.Contains(m, "ctx claim"):
		return "the token carries no ticket or no tenant: the tenant has not approved the application for system user access, or the login URL is not SuperOffice's",
			"check the tenant's approval of the application (it must include system user access) and " + loginFix[len("check "):]
	case strings.Contains(m, "token is for tenant"):
		return "the system user token belongs to another tenant than SO_CONTEXT_IDENTIFIER",
			"set SO_CONTEXT_IDENTIFIER (or -tenant) to the tenant the system user token was issued for"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid) || errors.Is(err, jwt.ErrTokenUnverifiable) || strings.Contains(m, "kid") || strings.Contains(m, "key"):
		return "it is not signed by a key this tool trusts",
			"drop -cert or give the environment's current certificate; " + loginFix
	}
	return "", loginFix
}

// explainNet diagnoses a failure to reach a server.
func explainNet(err error, secrets ...string) diagnosis {
	shown := clean(scrub(strings.ReplaceAll(err.Error(), "sysuser: ", ""), secrets...), maxShown)
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var dnsErr *net.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &ua):
		issuer := "an unknown issuer"
		if ua.Cert != nil {
			issuer = "issuer " + clean(ua.Cert.Issuer.String(), 80)
		}
		return diagnosis{what: "the server's certificate is not trusted (" + issuer + ")",
			cause: "a TLS-inspecting proxy or a private CA is in the way",
			fix:   "give its CA certificate with -ca FILE (for sysuser fake --tls, its ca.pem)"}
	case errors.As(err, &hn):
		return diagnosis{what: "the server's certificate is not for this host: " + shown,
			fix: "check the login URL's host; a proxy may be answering instead"}
	case errors.As(err, &ci):
		d := diagnosis{what: "the server's certificate is not valid: " + shown}
		d.fix = "check the login URL's host; a proxy may be answering instead"
		if ci.Reason == x509.Expired {
			d.fix = "check this machine's date and time; otherwise the server's certificate has expired"
		}
		return d
	case errors.As(err, &dnsErr):
		return diagnosis{what: "the host name does not resolve: " + shown,
			fix: "check the login URL or SO_ENVIRONMENT, and this machine's DNS"}
	case errors.Is(err, syscall.ECONNREFUSED):
		return diagnosis{what: "connection refused: " + shown,
			cause: "nothing listens at that host and port",
			fix:   "check the login URL's host and port, and that the server is running"}
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return diagnosis{what: "no answer in time: " + shown,
			cause: "a firewall drops the traffic, or a proxy is needed",
			fix:   "check outbound " + outbound(err) + " is allowed, or set " + proxyVariable(err) + "; raise -timeout on a slow link"}
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return diagnosis{what: shown, fix: "check the network route to the host, firewalls and proxies"}
	}
	return diagnosis{what: shown, fix: "check the login URL (SO_LOGIN_URL, -login-url or -env) and the network path to it"}
}

// target returns the URL a failed request went to, when err says.
func target(err error) *url.URL {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return nil
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil || u.Host == "" {
		return nil
	}
	return u
}

// outbound names the traffic a failed request needed, such as "https to
// sod.superoffice.com port 443" or "http to 127.0.0.1 port 47999".
func outbound(err error) string {
	u := target(err)
	if u == nil {
		return "traffic to the login host"
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return fmt.Sprintf("%s to %s port %s", u.Scheme, u.Hostname(), port)
}

// proxyVariable names the proxy variable for the failed request's scheme.
func proxyVariable(err error) string {
	if u := target(err); u != nil && u.Scheme == "http" {
		return "HTTP_PROXY"
	}
	return "HTTPS_PROXY"
}
