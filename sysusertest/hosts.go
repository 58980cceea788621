package sysusertest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// numberedHosts are the numbers of the fake's WebApi hosts, as in
// SuperOffice's sod2.superoffice.com and sod3.superoffice.com. Two, so that
// a tenant always has somewhere to move; the numbers are the fake's own
// choice, after SuperOffice's example of a move from sod2 to sod3.
var numberedHosts = []int{2, 3}

// host is one origin the fake serves: the login host (hosts[0]), for
// authentication and the state API, or a numbered WebApi host.
type host struct {
	name   string // as URLs carry it: "sod2.superoffice.com", "127.0.0.1", "localhost", "::1"
	origin string // scheme://name[:port], without the scheme's default port
}

// servedName is the host name the fake's URLs carry: Options.Host, else
// Addr's host, else the listener's address; a wildcard address becomes one
// a client can use (127.0.0.1 for 0.0.0.0, localhost for :: and for an
// empty host, which listen on both IPv4 and IPv6).
func servedName(opts Options, l net.Listener) string {
	name := opts.Host
	if name == "" && opts.Addr != "" {
		name, _, _ = net.SplitHostPort(opts.Addr)
	}
	if name == "" && opts.Addr == "" {
		name = l.Addr().(*net.TCPAddr).IP.String()
	}
	if ip := net.ParseIP(name); name == "" || (ip != nil && ip.IsUnspecified()) {
		if ip != nil && ip.To4() != nil {
			return "127.0.0.1"
		}
		return "localhost"
	}
	return strings.TrimSuffix(name, ".")
}

// byPort reports whether the fake's hosts are told apart by port (an IP
// address or localhost, which have no numbered names) rather than by name.
func byPort(name string) bool {
	return net.ParseIP(name) != nil || strings.EqualFold(name, "localhost")
}

// numberedName is name's numbered twin: "sod.superoffice.com" with 2 is
// "sod2.superoffice.com".
func numberedName(name string, n int) string {
	i := strings.IndexByte(name, '.')
	if i < 0 {
		i = len(name)
	}
	return name[:i] + strconv.Itoa(n) + name[i:]
}

// origin is scheme://name:port, without the scheme's default port.
func origin(scheme, name string, port int) string {
	if (scheme == "https" && port == 443) || (scheme == "http" && port == 80) {
		if strings.Contains(name, ":") {
			return scheme + "://[" + name + "]"
		}
		return scheme + "://" + name
	}
	return scheme + "://" + net.JoinHostPort(name, strconv.Itoa(port))
}

// checkHost refuses an Options.Host that is not a bare host name or address.
func checkHost(h string) error {
	if h == "" {
		return nil
	}
	if net.ParseIP(h) != nil {
		return nil
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return fmt.Errorf("sysusertest: Options.Host %q is not a host name or IP address (no scheme, port or path)", h)
		}
	}
	return nil
}

// listen opens the fake's listeners and names its hosts. With a name
// (sod.superoffice.com), one listener serves the login host and the
// numbered ones (sod2., sod3.), told apart by the Host header; with an IP
// address or localhost, each numbered host is one more listener on the same
// address, at a free port.
func (s *Server) listen(scheme string) ([]net.Listener, error) {
	addr := s.opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil && s.opts.Addr == "" {
		l, err = net.Listen("tcp6", "[::1]:0") // as httptest does without IPv4
	}
	if err != nil {
		return nil, fmt.Errorf("sysusertest: listening on %q: %w", addr, err)
	}
	name := servedName(s.opts, l)
	listeners := []net.Listener{l}
	s.hosts = []host{{name: name, origin: origin(scheme, name, l.Addr().(*net.TCPAddr).Port)}}
	s.dial = map[string]string{}
	s.byPort = byPort(name)
	for _, n := range numberedHosts {
		if !s.byPort {
			s.hosts = append(s.hosts, host{name: numberedName(name, n), origin: origin(scheme, numberedName(name, n), l.Addr().(*net.TCPAddr).Port)})
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(l.Addr().(*net.TCPAddr).IP.String(), "0"))
		if err != nil {
			for _, o := range listeners {
				o.Close()
			}
			return nil, fmt.Errorf("sysusertest: listening for WebApi host %d: %w", n, err)
		}
		listeners = append(listeners, ln)
		s.hosts = append(s.hosts, host{name: name, origin: origin(scheme, name, ln.Addr().(*net.TCPAddr).Port)})
	}
	for i, h := range s.hosts {
		ln := listeners[0]
		if s.byPort {
			ln = listeners[i]
		}
		a := ln.Addr().(*net.TCPAddr)
		target := *a
		if a.IP.IsUnspecified() {
			target.IP = net.IPv4(127, 0, 0, 1)
			if a.IP.To4() == nil {
				target.IP = net.IPv6loopback
			}
		}
		s.dial[strings.ToLower(net.JoinHostPort(h.name, strconv.Itoa(a.Port)))] = target.String()
	}
	return listeners, nil
}

// hostIndex is the index in s.hosts of the host a request reached on the
// listener serving hosts[def]: by the Host header when hosts share a
// listener, the login host for a name the fake does not serve.
func (s *Server) hostIndex(r *http.Request, def int) int {
	if s.byPort {
		return def
	}
	name := r.Host
	if h, _, err := net.SplitHostPort(name); err == nil {
		name = h
	}
	name = strings.TrimSuffix(name, ".")
	for i, h := range s.hosts {
		if strings.EqualFold(h.name, name) {
			return i
		}
	}
	return 0
}

// start serves each listener, with TLS when Options.TLS is set, and makes
// the client that trusts and reaches the fake.
func (s *Server) start(listeners []net.Listener) error {
	var cfg *tls.Config
	roots := x509.NewCertPool()
	if s.opts.TLS != nil {
		cfg = s.opts.TLS.Clone()
		if len(cfg.Certificates) == 0 && cfg.GetCertificate == nil {
			caPEM, cert, err := s.makeCertificate()
			if err != nil {
				return err
			}
			s.caPEM = caPEM
			cfg.Certificates = []tls.Certificate{cert}
			roots.AppendCertsFromPEM(caPEM)
		}
		for _, c := range cfg.Certificates {
			if len(c.Certificate) > 0 {
				if leaf, err := x509.ParseCertificate(c.Certificate[0]); err == nil {
					roots.AddCert(leaf) // as httptest trusts its certificate
				}
			}
		}
	}
	for i, l := range listeners {
		def := i
		hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.route(w, r, s.hostIndex(r, def))
		}))
		hs.Listener.Close()
		hs.Listener = l
		if cfg != nil {
			hs.TLS = cfg
			hs.StartTLS()
		} else {
			hs.Start()
		}
		s.servers = append(s.servers, hs)
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if target, ok := s.dial[strings.ToLower(addr)]; ok {
				addr = target
			}
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 16,
	}
	if cfg != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	}
	s.client = &http.Client{Transport: tr}
	return nil
}

// makeCertificate makes a CA for this server and a certificate it issues
// for every name the fake serves, and for localhost, 127.0.0.1 and ::1.
func (s *Server) makeCertificate() (caPEM []byte, cert tls.Certificate, err error) {
	now := time.Now() // the real clock: clients check certificates by it
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, cert, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{Organization: []string{"sysusertest"}, CommonName: "sysusertest CA " + now.UTC().Format(time.RFC3339Nano)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, cert, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, cert, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, cert, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{Organization: []string{"sysusertest"}, CommonName: s.hosts[0].name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range s.hosts {
		if ip := net.ParseIP(h.name); ip != nil {
			if !containsIP(leafTmpl.IPAddresses, ip) {
				leafTmpl.IPAddresses = append(leafTmpl.IPAddresses, ip)
			}
		} else if !containsFold(leafTmpl.DNSNames, h.name) {
			leafTmpl.DNSNames = append(leafTmpl.DNSNames, h.name)
		}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, cert, err
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}, nil
}

func containsIP(ips []net.IP, ip net.IP) bool {
	for _, x := range ips {
		if x.Equal(ip) {
			return true
		}
	}
	return false
}

func containsFold(names []string, name string) bool {
	for _, x := range names {
		if strings.EqualFold(x, name) {
			return true
		}
	}
	return false
}

func randomSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n.Add(n, big.NewInt(1))
}

// CACertificate returns, in PEM, the certificate of the CA the fake made
// for its TLS certificate when Options.TLS has no certificates of its own,
// for clients outside the process (Python's REQUESTS_CA_BUNDLE, Node's
// NODE_EXTRA_CA_CERTS, curl --cacert). It is nil without TLS or with
// certificates from Options.TLS. Client trusts it.
func (s *Server) CACertificate() []byte { return s.caPEM }
