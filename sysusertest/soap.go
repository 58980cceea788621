package sysusertest

import (
	"bytes"
	_ "embed"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/beevik/etree"
)

const (
	soapNS    = "http://schemas.xmlsoap.org/soap/envelope/"
	partnerNS = "http://www.superoffice.com/superid/partnersystemuser/0.1"
	// soapAction is the action the fake requires, quoted as WCF sends it.
	soapAction = `"` + partnerNS + `/IPartnerSystemUserService/Authenticate"`
)

// wsdl is SuperOffice's own WSDL of PartnerSystemUserService, as its
// service publishes it. Its soap:address locations name SuperOffice's host;
// serveWSDL replaces them with the fake's.
//
//go:embed PartnerSystemUserService.wsdl
var wsdl string

// soapAddress matches the location of each soap:address in wsdl.
var soapAddress = regexp.MustCompile(`<soap:address location="[^"]*"`)

// serveSOAP handles PartnerSystemUserService's Authenticate over SOAP 1.1,
// answering as a WCF basicHttpBinding service does, and serves the WSDL to
// a GET with ?wsdl or ?singleWsdl.
func (s *Server) serveSOAP(w http.ResponseWriter, r *http.Request) {
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && asksForWSDL(r.URL.RawQuery) {
		s.serveWSDL(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/xml") {
		soapFault(w, http.StatusUnsupportedMediaType, "s:Client", "Cannot process the message because the content type was not the expected type 'text/xml; charset=utf-8'.")
		return
	}
	if a := r.Header.Get("SOAPAction"); a != soapAction && `"`+a+`"` != soapAction {
		soapFault(w, http.StatusInternalServerError, "a:ActionNotSupported", "The message with Action '"+a+"' cannot be processed at the receiver.")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(body); err != nil {
		soapFault(w, http.StatusBadRequest, "s:Client", "The request is not well-formed XML.")
		return
	}
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != soapNS {
		soapFault(w, http.StatusBadRequest, "s:VersionMismatch", "The request is not a SOAP 1.1 envelope.")
		return
	}
	header, bodyEl := find(env, soapNS, "Header"), find(env, soapNS, "Body")
	var req *etree.Element
	if bodyEl != nil {
		req = find(bodyEl, partnerNS, "AuthenticationRequest")
	}
	if header == nil || req == nil {
		soapFault(w, http.StatusInternalServerError, "a:DeserializationFailed", "The formatter threw an exception while trying to deserialize the message.")
		return
	}
	appToken, ctxID := text(find(header, partnerNS, "ApplicationToken")), text(find(header, partnerNS, "ContextIdentifier"))
	signed, tokenType := text(find(req, partnerNS, "SignedSystemToken")), text(find(req, partnerNS, "ReturnTokenType"))
	var token, refusal string
	switch tokenType {
	case "Jwt":
		var status int
		if token, refusal, status = s.authenticate(appToken, ctxID, signed); status != 0 {
			failPage(w, status)
			return
		}
	case "Saml":
		refusal = "sysusertest issues Jwt tokens only"
	default:
		soapFault(w, http.StatusInternalServerError, "a:DeserializationFailed", "ReturnTokenType must be Jwt or Saml.")
		return
	}
	var b bytes.Buffer
	b.WriteString(`<s:Envelope xmlns:s="` + soapNS + `"><s:Body><AuthenticationResponse xmlns="` + partnerNS + `">`)
	if refusal != "" {
		b.WriteString(`<IsSuccessful>false</IsSuccessful><Token i:nil="true" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"/><ErrorMessage>`)
		xml.EscapeText(&b, []byte(refusal))
		b.WriteString(`</ErrorMessage>`)
	} else {
		b.WriteString(`<IsSuccessful>true</IsSuccessful><Token>`)
		xml.EscapeText(&b, []byte(token))
		b.WriteString(`</Token><ErrorMessage i:nil="true" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"/>`)
	}
	b.WriteString(`</AuthenticationResponse></s:Body></s:Envelope>`)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Write(b.Bytes())
}

// asksForWSDL reports whether the query asks a WCF service for its WSDL:
// a "wsdl" or "singleWsdl" key, in any case.
func asksForWSDL(rawQuery string) bool {
	q, _ := url.ParseQuery(rawQuery)
	for k := range q {
		if strings.EqualFold(k, "wsdl") || strings.EqualFold(k, "singleWsdl") {
			return true
		}
	}
	return false
}

// serveWSDL answers with SuperOffice's WSDL, every soap:address pointing at
// the fake's SOAP endpoint on the host the request named (the fake's URL,
// unless the client reached it by another name), so that a WSDL-driven
// client posts to the fake.
func (s *Server) serveWSDL(w http.ResponseWriter, r *http.Request) {
	base := s.Root
	if r.Host != "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	var loc bytes.Buffer
	xml.EscapeText(&loc, []byte(base+SOAPPath))
	doc := soapAddress.ReplaceAllLiteralString(wsdl, `<soap:address location="`+loc.String()+`"`)
	w.Header().Set("Content-Type", "text/xml; charset=UTF-8")
	io.WriteString(w, doc)
}

func soapFault(w http.ResponseWriter, status int, code, msg string) {
	var b bytes.Buffer
	b.WriteString(`<s:Envelope xmlns:s="` + soapNS + `"><s:Body><s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/ws/2005/05/addressing/none">`)
	xml.EscapeText(&b, []byte(code))
	b.WriteString(`</faultcode><faultstring xml:lang="en-US">`)
	xml.EscapeText(&b, []byte(msg))
	b.WriteString(`</faultstring></s:Fault></s:Body></s:Envelope>`)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func find(e *etree.Element, ns, local string) *etree.Element {
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

func text(e *etree.Element) string {
	if e == nil {
		return ""
	}
	return e.Text()
}
