package sysuser

import (
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
