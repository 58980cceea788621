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
	// partnerNamespace is the target namespace of PartnerSystemUserService.
	partnerNamespace = "http://www.superoffice.com/superid/partnersystemuser/0.1"
	// soapAction is the action header of the Authenticate operation.
	soapAction = partnerNamespace + "/IPartnerSystemUserService/Authenticate"
	// soapPath is the SOAP endpoint, below the login URL.
	soapPath = "/services/PartnerSystemUserService.svc"
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
		`<ApplicationToken xmlns="` + partnerNamespace + `">`)
	xml.EscapeText(&b, []byte(appToken))
	b.WriteString(`</ApplicationToken><ContextIdentifier xmlns="` + partnerNamespace + `">`)
	xml.EscapeText(&b, []byte(contextIdentifier))
	b.WriteString(`</ContextIdentifier></s:Header><s:Body>` +
		`<AuthenticationRequest xmlns="` + partnerNamespace + `"><SignedSystemToken>`)
	xml.EscapeText(&b, []byte(signedToken))
	b.WriteString(`</SignedSystemToken><ReturnTokenType>Jwt</ReturnTokenType></AuthenticationRequest>` +
		`</s:Body></s:Envelope>`)
	return b.Bytes()
}

// authenticateSOAP posts the envelope and reads the AuthenticationResponse.
func (c *Client) authenticateSOAP(ctx context.Context, signedToken, contextIdentifier string) (*authResponse, error) {
	resp, body, err := send(ctx, c.http, request{
		method: http.MethodPost,
		url:    c.loginURL + soapPath,
		body:   soapRequest(*c.appToken, contextIdentifier, signedToken),
		header: [][2]string{{"Content-Type", "text/xml; charset=utf-8"}, {"SOAPAction", `"` + soapAction + `"`}, {"Accept", "text/xml"}},
	})
	if err != nil {
		return nil, err
	}
	ar, fault, perr := parseSOAPResponse(body)
	switch {
	case fault != nil:
		fault.StatusCode = resp.StatusCode
		return nil, fault
	case resp.StatusCode != http.StatusOK:
		return nil, statusError(resp, body)
	case perr != nil:
		return nil, perr
	}
	return ar, nil
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
	resp := child(body, partnerNamespace, "AuthenticationResponse")
	if resp == nil {
		return nil, nil, malformed("SOAP body has no AuthenticationResponse")
	}
	var ar authResponse
	ok := child(resp, partnerNamespace, "IsSuccessful")
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
	if t := child(resp, partnerNamespace, "Token"); t != nil {
		ar.Token = strings.TrimSpace(t.Text())
	}
	if m := child(resp, partnerNamespace, "ErrorMessage"); m != nil {
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
