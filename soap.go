package sysuser

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/http"
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
	ar, fault, perr := parseEnvelope(body)
	switch {
	case fault != nil:
		fault.StatusCode = resp.StatusCode
		fault.Code, fault.String = serverText(fault.Code), serverText(fault.String)
		return nil, fault
	case resp.StatusCode != http.StatusOK:
		return nil, statusError(resp, body)
	case perr != nil:
		return nil, perr
	}
	return ar, nil
}
