// Package sysuser lets a server talk to SuperOffice CRM Online as a
// tenant's system user, with no person logged in.
//
// A partner application holds an RSA private key (.NET XML or PEM) and, for
// each tenant that approved it, a system user token. The package signs the
// token (TOKEN.yyyyMMddHHmm.base64(RSA-SHA256)), posts it to SuperOffice's
// PartnerSystemUserService over SOAP or REST with the application token and
// the tenant id, verifies the JWT that comes back (RS256, SuperOffice's key,
// issuer "SuperOffice AS", audience "spn:<serial>", lifetime), and returns a
// SystemUserResult with the ticket ("7T:...") and the tenant's WebApi URL.
//
//	client, err := sysuser.NewClient(sysuser.Config{
//		Environment:      sysuser.Online,
//		ApplicationToken: os.Getenv("SO_APP_TOKEN"),
//		PrivateKey:       keyFileBytes,
//	})
//	...
//	defer client.Close()
//	tenant := client.Tenant("Cust12345", systemUserToken)
//	res, err := tenant.Ticket(ctx)   // res.Ticket, res.WebAPIURL
//	webapi := tenant.HTTPClient()    // adds SOTicket and SO-AppToken
//
// Every exchange creates a credentials record in the tenant's database and
// a ticket lasts hours: the Tenant handle caches each tenant's ticket and
// renews it with one exchange per tenant however many goroutines ask.
// Client.Exchange is the one-shot, uncached call.
//
// Tenants move and pause: SuperOffice moves a tenant between numbered hosts
// (a stale host answers 421 Misdirected Request), and suspends, deletes or
// upgrades it. The handle follows SuperOffice's state API (Tenant.Status):
// WebAPIURL and the transport go where the tenant lives now, a tenant that
// is not running is paused with a *TenantNotRunningError instead of being
// exchanged for, and Client.StateChangeHandler receives SuperOffice's
// state-change notifications.
//
// Before any of this, a tenant's administrator approves the application:
// Onboarding runs SuperOffice's authorization code flow and hands over the
// tenant's system user token.
//
// Errors are typed: *AuthenticationError when SuperOffice refuses,
// *AuthorizationError when an administrator declines,
// *TenantNotRunningError (matching ErrTenantNotRunning) when SuperOffice
// says the tenant is not running, ErrInvalidToken when its answer fails
// verification, ErrKeySetUnavailable when its signing keys cannot be
// fetched, *HTTPError, *FaultError and ErrMalformedResponse for what the
// login service answered, ErrCrossHostRedirect and ErrNotWebAPI for
// requests the package refuses to send, ErrInvalidState for an onboarding
// callback this browser did not start, and ErrInvalidKey, ErrInvalidConfig
// and ErrInvalidArgument for bad input. No error, log record or fmt output of
// the package's types carries a secret: application token, private key,
// signed token or ticket.
//
// Package sysusertest provides a fake SuperOffice for tests.
package sysuser
