package sysuser

import (
	"errors"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// wsdl loads SuperOffice's WSDL from testdata.
func wsdl(t *testing.T) *etree.Document {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromFile("testdata/PartnerSystemUserService.wsdl"); err != nil {
		t.Fatal(err)
	}
	return doc
}

// wsdlNS is the targetNamespace of SuperOffice's PartnerSystemUserService.wsdl,
// copied from the WSDL by hand: the answers below are built with it, never
// with the package's own constant.
const wsdlNS = "http://www.superoffice.com/superid/partnersystemuser/0.1"

// TestSOAPRequestMatchesWSDL derives the expected envelope from the WSDL
// itself: namespace, soapAction, header parts in order, body sequence in
// order and the token type enumeration.
func TestSOAPRequestMatchesWSDL(t *testing.T) {
	w := wsdl(t)
	defs := w.Root()
	tns := defs.SelectAttrValue("targetNamespace", "")
	if tns != wsdlNS || partnerNamespace != wsdlNS {
		t.Fatalf("partnerNamespace = %q, WSDL says %q", partnerNamespace, tns)
	}
	op := w.FindElement("//binding/operation/operation[@soapAction]")
	if op == nil || op.SelectAttrValue("soapAction", "") != soapAction {
		t.Fatalf("soapAction = %q, WSDL binding says %v", soapAction, op)
	}
	var headerParts []string
	for _, h := range w.FindElements("//binding[1]/operation/input/header") {
		headerParts = append(headerParts, h.SelectAttrValue("part", ""))
	}
	var bodySeq []string
	for _, e := range w.FindElements("//schema/element[@name='AuthenticationRequest']/complexType/sequence/element") {
		bodySeq = append(bodySeq, e.SelectAttrValue("name", ""))
	}
	var enum []string
	for _, e := range w.FindElements("//schema/simpleType[@name='TokenType']/restriction/enumeration") {
		enum = append(enum, e.SelectAttrValue("value", ""))
	}
	if strings.Join(headerParts, ",") != "ApplicationToken,ContextIdentifier" || strings.Join(bodySeq, ",") != "SignedSystemToken,ReturnTokenType" || enum[0] != "Jwt" {
		t.Fatalf("WSDL reading went wrong: headers %v, body %v, enum %v", headerParts, bodySeq, enum)
	}

	req := soapRequest("app&<token>", "Cust12345", "My token.202611231234.abc+/=")
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(req); err != nil {
		t.Fatalf("request is not XML: %v\n%s", err, req)
	}
	env := doc.Root()
	if env.Tag != "Envelope" || env.NamespaceURI() != soapEnvelopeNS {
		t.Fatalf("root is {%s}%s", env.NamespaceURI(), env.Tag)
	}
	kids := env.ChildElements()
	if len(kids) != 2 || kids[0].Tag != "Header" || kids[1].Tag != "Body" {
		t.Fatalf("envelope children: %v", kids)
	}
	assertChildren(t, kids[0], tns, headerParts, []string{"app&<token>", "Cust12345"})
	body := kids[1].ChildElements()
	if len(body) != 1 || body[0].Tag != "AuthenticationRequest" || body[0].NamespaceURI() != tns {
		t.Fatalf("body children: %v", body)
	}
	assertChildren(t, body[0], tns, bodySeq, []string{"My token.202611231234.abc+/=", enum[0]})
}

func assertChildren(t *testing.T, parent *etree.Element, ns string, names, texts []string) {
	t.Helper()
	kids := parent.ChildElements()
	if len(kids) != len(names) {
		t.Fatalf("%s has %d children, want %v", parent.Tag, len(kids), names)
	}
	for i, k := range kids {
		if k.Tag != names[i] || k.NamespaceURI() != ns || k.Text() != texts[i] {
			t.Errorf("child %d is {%s}%s %q, want {%s}%s %q", i, k.NamespaceURI(), k.Tag, k.Text(), ns, names[i], texts[i])
		}
	}
}

func TestParseSOAPResponse(t *testing.T) {
	const ok = `<IsSuccessful>true</IsSuccessful><Token>a.b.c</Token><ErrorMessage i:nil="true" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"/>`
	cases := []struct {
		name      string
		xml       string
		token     string
		success   bool
		message   string
		fault     string
		malformed bool
	}{
		{name: "WCF default namespace",
			xml:   `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><AuthenticationResponse xmlns="` + wsdlNS + `">` + ok + `</AuthenticationResponse></s:Body></s:Envelope>`,
			token: "a.b.c", success: true},
		{name: "other prefixes everywhere",
			xml:   `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="` + wsdlNS + `"><soapenv:Header/><soapenv:Body><p:AuthenticationResponse><p:IsSuccessful> 1 </p:IsSuccessful><p:Token>` + "\n x.y.z \n" + `</p:Token></p:AuthenticationResponse></soapenv:Body></soapenv:Envelope>`,
			token: "x.y.z", success: true},
		{name: "envelope in default namespace",
			xml:   `<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><AuthenticationResponse xmlns="` + wsdlNS + `">` + ok + `</AuthenticationResponse></Body></Envelope>`,
			token: "a.b.c", success: true},
		{name: "refusal",
			xml:     `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><AuthenticationResponse xmlns="` + wsdlNS + `"><IsSuccessful>false</IsSuccessful><Token i:nil="true" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"/><ErrorMessage>Calculated signature is invalid</ErrorMessage></AuthenticationResponse></s:Body></s:Envelope>`,
			message: "Calculated signature is invalid"},
		{name: "SOAP 1.1 fault",
			xml:   `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring xml:lang="en-US">Bad things</faultstring></s:Fault></s:Body></s:Envelope>`,
			fault: "Bad things"},
		{name: "SOAP 1.2 fault",
			xml:   `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault><e:Code><e:Value>e:Sender</e:Value></e:Code><e:Reason><e:Text xml:lang="en">Nope</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>`,
			fault: "Nope"},
		{name: "response in a foreign namespace",
			xml:       `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><AuthenticationResponse xmlns="urn:evil">` + ok + `</AuthenticationResponse></s:Body></s:Envelope>`,
			malformed: true},
		{name: "children in no namespace",
			xml:       `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><p:AuthenticationResponse xmlns:p="` + wsdlNS + `"><IsSuccessful>true</IsSuccessful></p:AuthenticationResponse></s:Body></s:Envelope>`,
			malformed: true},
		{name: "not a boolean",
			xml:       `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><AuthenticationResponse xmlns="` + wsdlNS + `"><IsSuccessful>yes</IsSuccessful></AuthenticationResponse></s:Body></s:Envelope>`,
			malformed: true},
		{name: "not SOAP", xml: `<html><body>hi</body></html>`, malformed: true},
		{name: "not XML", xml: `{"IsSuccessful":true}`, malformed: true},
		{name: "empty", xml: ``, malformed: true},
		{name: "no body", xml: `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>`, malformed: true},
		{name: "entity expansion is not performed",
			xml:       `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><AuthenticationResponse xmlns="` + wsdlNS + `"><IsSuccessful>true</IsSuccessful><Token>&c;</Token></AuthenticationResponse></s:Body></s:Envelope>`,
			malformed: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ar, fault, err := parseSOAPResponse([]byte(c.xml))
			switch {
			case c.malformed:
				if !errors.Is(err, ErrMalformedResponse) {
					t.Fatalf("got %+v, %v, %v; want ErrMalformedResponse", ar, fault, err)
				}
			case c.fault != "":
				if fault == nil || fault.String != c.fault || err != nil {
					t.Fatalf("got %+v, %v, %v; want fault %q", ar, fault, err, c.fault)
				}
			default:
				if err != nil || fault != nil {
					t.Fatalf("unexpected %v %v", fault, err)
				}
				if ar.IsSuccessful != c.success || ar.Token != c.token || ar.ErrorMessage != c.message {
					t.Fatalf("got %+v", ar)
				}
			}
		})
	}
}
