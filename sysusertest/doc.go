// Package sysusertest runs a fake SuperOffice login service and WebApi for
// tests, in the manner of net/http/httptest.
//
// The fake behaves like PartnerSystemUserService over SOAP and REST: it
// checks the application token, verifies the signed system user token with
// the application's public key, refuses a stale timestamp, and answers with
// an RS256 JWT it signs with its own key. Tickets it issues are accepted by a
// fake WebApi at /{tenant}/api/ on the tenant's own host, until they have
// gone unused for Options.TicketLifetime (6 hours, sliding, as SuperOffice
// documents). IDToken mints the id_token SuperID posts when an administrator
// approves the application.
//
// What it serves on its login host, below URL (the root + /login), with
// paths matched without regard to case as IIS does:
//
//   - /services/PartnerSystemUserService.svc: SOAP 1.1 Authenticate; a GET
//     with ?wsdl or ?singleWsdl returns SuperOffice's WSDL with the
//     fake's own address in it, for WSDL-driven clients.
//   - /api/PartnerSystemUser/Authenticate: the JSON twin.
//   - /.well-known/jwks: the signing keys, the current one first; also
//     available as a certificate for pinning (SigningCertificate).
//   - /.well-known/openid-configuration: metadata naming only what the fake
//     serves.
//   - /common/oauth/authorize and /common/oauth/tokens: SuperID's
//     authorization code flow (OpenID Connect, PKCE S256) for clients
//     registered with RegisterClient: an approval page with Approve and
//     Decline buttons, then a one-time code for an id_token like IDToken's.
//     Authorize and Decline take the administrator's decision without a
//     browser.
//
// Below Root, the login host also answers SuperOffice's state API at
// /api/state/{tenant} (StatePath).
//
// # A world that moves
//
// As in SuperOffice Online, the login host (sod.superoffice.com) is for
// authentication only: tenants' WebApis live on numbered hosts (sod2.,
// sod3.), and a WebApi request anywhere else answers 421 Misdirected
// Request with "Wrong subdomain used to access tenant". A new tenant lives
// on the first numbered host; MoveTenant moves it to the other, after which
// its old host answers 421, while the state API, WebAPIURL and new tokens
// name the new one. SetState makes a tenant Suspended, OfflineMaintenance
// and so on: a tenant that is not running refuses exchanges and its WebApi
// answers 503. Notify posts a signed state-change notification to an
// application's State Change URL. ExchangeCount, WebAPICallCount,
// MisdirectedRequestCount, StateLookupCount and JWKSRequestCount count what
// clients did. What SuperOffice does not document (the 421's body, what a
// tenant that is not running answers, the notification token's claims
// beyond its issuer) is the fake's own choice, said so where it is made.
//
// # Hosts
//
// The fake listens on a random loopback port unless Options.Addr names one.
// Its URLs name Options.Host, else Addr's host: with a name such as
// sod.superoffice.com, the numbered hosts are sod2.superoffice.com and
// sod3.superoffice.com on the same listener (a client's hosts file maps
// them to it; Client needs none); with an IP address or localhost, they
// are further listeners on other ports. With Options.TLS and no
// certificates, the fake makes a CA (CACertificate) and a certificate for
// every name it serves.
//
// Its tokens are shaped like SuperOffice's: claims under
// "http://schemes.superoffice.net/identity/" (schemes, as SuperOffice spells
// it), nbf one minute before iat and exp Options.TokenLifetime (five
// minutes) after it.
//
//	srv, err := sysusertest.NewServer(sysusertest.Options{
//		ApplicationToken: "app-token",
//		PublicKey:        &appKey.PublicKey,
//	})
//	...
//	defer srv.Close()
//	srv.AddTenant("Cust12345", "MyApp-system-user-token")
//	client, err := sysuser.NewClient(sysuser.Config{LoginURL: srv.URL, ...})
//
// # Errors, not panics
//
// Every call that can fail on what it is given returns an error and never
// panics: NewServer, RotateKey, RegisterClient, Sign, IDToken, Authorize,
// Decline, Callback.Request, SetState, MoveTenant and Notify (a test hands
// it to t.Fatal).
// The others cannot fail: AddTenant replaces a tenant added before,
// Refuse and RevokeTicket change nothing for a tenant or ticket the fake
// does not know, and the counters (ExchangeCount and the other ...Count
// methods) are 0 for it.
package sysusertest
