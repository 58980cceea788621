package sysuser

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/http"
	"strings"

	"github.com/beevik/etree"
)

// SOAP constants, from PartnerSystemUserService.wsdl.
const (
	soapEnvelopeNS   = "http://schemas.xmlsoap.org/soap/envelope/"
	soap12EnvelopeNS = "http://www.w3.org/2003/05/soap-envelope"
	// PartnerNamespace is the target namespace of PartnerSystemUserService.
	PartnerNamespace = "http://www.superoffice.com/superid/partnersystemuser/0.1"
	// SOAPAction is the action header of the Authenticate operation.
	SOAPAction = PartnerNamespace + "/IPartnerSystemUserService/Authenticate"
	// SOAPPath is the SOAP endpoint, below the login URL.
	SOAPPath = "/services/PartnerSystemUserService.svc"
)

// soapRequest writes the Authenticate envelope: headers ApplicationToken
// and ContextIdentifier, body AuthenticationRequest with SignedSystemToken
// and ReturnTokenType Jwt, all in the service namespace.
func soapRequest(appToken, contextIdentifier, signedToken string) []byte {
	var b bytes.Buffer
	b.Grow(768 + len(appToken) + len(contextIdentifier) + len(signedToken))
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` +
		`<s:Envelope xmlns:s="` + soapEnvelopeNS + `">` +
		`<s:Header>` +
		`<ApplicationToken xmlns="` + PartnerNamespace + `">`)
	xml.EscapeText(&b, []byte(appToken))
	b.WriteString(`</ApplicationToken><ContextIdentifier xmlns="` + PartnerNamespace + `">`)
	xml.EscapeText(&b, []byte(contextIdentifier))
	b.WriteString(`</ContextIdentifier></s:Header><s:Body>` +
		`<AuthenticationRequest xmlns="` + PartnerNamespace + `"><SignedSystemToken>`)
	xml.EscapeText(&b, []byte(signedToken))
	b.WriteString(`</SignedSystemToken><ReturnTokenType>Jwt</ReturnTokenType></AuthenticationRequest>` +
		`</s:Body></s:Envelope>`)
	return b.Bytes()
}

// authenticateSOAP posts the envelope and returns the JWT from a successful
// AuthenticationResponse.
func (c *Client) authenticateSOAP(ctx context.Context, signedToken, contextIdentifier string) (string, error) {
	body := soapRequest(c.secrets.appToken, contextIdentifier, signedToken)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.loginURL+SOAPPath, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"`+SOAPAction+`"`)
	req.Header.Set("Accept", "text/xml")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	respBody, err := readCapped(resp)
	if err != nil {
		return "", err
	}
	ar, fault, perr := parseSOAPResponse(respBody)
	switch {
	case fault != nil:
		fault.StatusCode = resp.StatusCode
		return "", fault
	case resp.StatusCode != http.StatusOK:
		return "", httpError(resp, respBody)
	case perr != nil:
		return "", perr
	}
	return ar.result(contextIdentifier)
}

// authResponse is AuthenticationResponse, from SOAP or REST.
type authResponse struct {
	IsSuccessful bool
	Token        string
	ErrorMessage string
}

func (a authResponse) result(contextIdentifier string) (string, error) {
	if !a.IsSuccessful {
		return "", &AuthenticationError{Message: a.ErrorMessage, ContextIdentifier: contextIdentifier}
	}
	if a.Token == "" {
		return "", malformed("IsSuccessful is true but Token is empty")
	}
	return a.Token, nil
}

// parseSOAPResponse finds AuthenticationResponse or a Fault in a SOAP
// envelope by namespace URI and local name, whatever prefixes are used.
func parseSOAPResponse(data []byte) (*authResponse, *FaultError, error) {
	doc := etree.NewDocument()
	doc.ReadSettings.Permissive = false
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, nil, malformed("response is not XML")
	}
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" || (env.NamespaceURI() != soapEnvelopeNS && env.NamespaceURI() != soap12EnvelopeNS) {
		return nil, nil, malformed("response is not a SOAP envelope")
	}
	envNS := env.NamespaceURI()
	body := child(env, envNS, "Body")
	if body == nil {
		return nil, nil, malformed("SOAP envelope has no Body")
	}
	if f := child(body, envNS, "Fault"); f != nil {
		return nil, parseFault(f, envNS), nil
	}
	resp := child(body, PartnerNamespace, "AuthenticationResponse")
	if resp == nil {
		return nil, nil, malformed("SOAP body has no AuthenticationResponse")
	}
	var ar authResponse
	ok := child(resp, PartnerNamespace, "IsSuccessful")
	if ok == nil {
		return nil, nil, malformed("AuthenticationResponse has no IsSuccessful")
	}
	switch strings.TrimSpace(ok.Text()) {
	case "true", "1":
		ar.IsSuccessful = true
	case "false", "0":
	default:
		return nil, nil, malformed("IsSuccessful is not an xs:boolean")
	}
	if t := child(resp, PartnerNamespace, "Token"); t != nil {
		ar.Token = strings.TrimSpace(t.Text())
	}
	if m := child(resp, PartnerNamespace, "ErrorMessage"); m != nil {
		ar.ErrorMessage = strings.TrimSpace(m.Text())
	}
	return &ar, nil, nil
}

// parseFault reads a SOAP 1.1 faultcode/faultstring, or SOAP 1.2
// Code/Value and Reason/Text.
func parseFault(f *etree.Element, envNS string) *FaultError {
	fe := &FaultError{}
	if envNS == soap12EnvelopeNS {
		if code := child(f, envNS, "Code"); code != nil {
			if v := child(code, envNS, "Value"); v != nil {
				fe.Code = strings.TrimSpace(v.Text())
			}
		}
		if reason := child(f, envNS, "Reason"); reason != nil {
			if t := child(reason, envNS, "Text"); t != nil {
				fe.String = strings.TrimSpace(t.Text())
			}
		}
		return fe
	}
	// SOAP 1.1 fault children are unqualified.
	if code := child(f, "", "faultcode"); code != nil {
		fe.Code = strings.TrimSpace(code.Text())
	}
	if s := child(f, "", "faultstring"); s != nil {
		fe.String = strings.TrimSpace(s.Text())
	}
	return fe
}

// child returns e's first child element with the given namespace URI and
// local name.
func child(e *etree.Element, ns, local string) *etree.Element {
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}
