package sysuser

// What SuperOffice's services expect and send, shared by the code that
// writes requests (soap.go, rest.go, onboarding.go, status.go, jwks.go) and
// the parsers that read answers (envelope.go, rest.go). This file depends
// on nothing above it.

// PartnerSystemUserService, from PartnerSystemUserService.wsdl.
const (
	soapEnvelopeNS   = "http://schemas.xmlsoap.org/soap/envelope/"
	soap12EnvelopeNS = "http://www.w3.org/2003/05/soap-envelope"
	// partnerNamespace is the target namespace of PartnerSystemUserService.
	partnerNamespace = "http://www.superoffice.com/superid/partnersystemuser/0.1"
	// soapAction is the action header of the Authenticate operation.
	soapAction = partnerNamespace + "/IPartnerSystemUserService/Authenticate"
	// soapPath is the SOAP endpoint, below the login URL.
	soapPath = "/services/PartnerSystemUserService.svc"
	// restPath is the REST endpoint of PartnerSystemUserService, below the
	// login URL.
	restPath = "/api/PartnerSystemUser/Authenticate"
)

// The login service's other endpoints.
const (
	// jwksPath is where the login service publishes its signing keys,
	// below the login URL.
	jwksPath = "/.well-known/jwks"
	// authorizePath and tokenPath are SuperID's OAuth authorize and token
	// endpoints, below the login URL.
	authorizePath = "/common/oauth/authorize"
	tokenPath     = "/common/oauth/tokens"
	// statePath is the state API, below the login service's origin.
	statePath = "/api/state/"
)

// authResponse is PartnerSystemUserService's AuthenticationResponse, read
// from SOAP or REST.
type authResponse struct {
	IsSuccessful bool
	Token        string
	ErrorMessage string
}

// token returns the JWT of a successful answer, or the refusal as an
// *AuthenticationError.
func (a authResponse) token(contextIdentifier string) (string, error) {
	if !a.IsSuccessful {
		return "", &AuthenticationError{Message: serverText(a.ErrorMessage), ContextIdentifier: contextIdentifier}
	}
	if a.Token == "" {
		return "", malformed("IsSuccessful is true but Token is empty")
	}
	return a.Token, nil
}
