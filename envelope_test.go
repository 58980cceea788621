package sysuser

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// envelopeCase is one SOAP answer and what parsing it must give.
type envelopeCase struct {
	name      string
	xml       string
	token     string
	success   bool
	message   string
	fault     string
	faultCode string // checked when not empty
	isFault   bool   // a fault is wanted even though fault is ""
	malformed bool
	// onlyNew marks a case where parseEnvelope is deliberately stricter
	// than, or keeps less than, parseSOAPResponse; the old parser is not
	// run on it.
	onlyNew bool
}

// testPartnerNS is PartnerSystemUserService's namespace, from the WSDL.
const testPartnerNS = "http://www.superoffice.com/superid/partnersystemuser/0.1"

const (
	envS11   = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">`
	envS11Ok = envS11 + `<s:Body><AuthenticationResponse xmlns="` + testPartnerNS + `">`
	envS11Up = `</AuthenticationResponse></s:Body></s:Envelope>`
)

// envelopeCases are soap_test.go's TestParseSOAPResponse cases, copied
// unchanged, then cases for the details of the contract and for the
// bounds parseEnvelope adds.
func envelopeCases() []envelopeCase {
	const ok = `<IsSuccessful>true</IsSuccessful><Token>a.b.c</Token><ErrorMessage i:nil="true" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"/>`
	cases := []envelopeCase{
		{name: "WCF default namespace",
			xml:   `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><AuthenticationResponse xmlns="` + testPartnerNS + `">` + ok + `</AuthenticationResponse></s:Body></s:Envelope>`,
			token: "a.b.c", success: true},
		{name: "other prefixes everywhere",
			xml:   `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="` + testPartnerNS + `"><soapenv:Header/><soapenv:Body><p:AuthenticationResponse><p:IsSuccessful> 1 </p:IsSuccessful><p:Token>` + "\n x.y.z \n" + `</p:Token></p:AuthenticationResponse></soapenv:Body></soapenv:Envelope>`,
			token: "x.y.z", success: true},
		{name: "envelope in default namespace",
			xml:   `<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><AuthenticationResponse xmlns="` + testPartnerNS + `">` + ok + `</AuthenticationResponse></Body></Envelope>`,
			token: "a.b.c", success: true},
		{name: "refusal",
			xml:     `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><AuthenticationResponse xmlns="` + testPartnerNS + `"><IsSuccessful>false</IsSuccessful><Token i:nil="true" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"/><ErrorMessage>Calculated signature is invalid</ErrorMessage></AuthenticationResponse></s:Body></s:Envelope>`,
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
			xml:       `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><p:AuthenticationResponse xmlns:p="` + testPartnerNS + `"><IsSuccessful>true</IsSuccessful></p:AuthenticationResponse></s:Body></s:Envelope>`,
			malformed: true},
		{name: "not a boolean",
			xml:       `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><AuthenticationResponse xmlns="` + testPartnerNS + `"><IsSuccessful>yes</IsSuccessful></AuthenticationResponse></s:Body></s:Envelope>`,
			malformed: true},
		{name: "not SOAP", xml: `<html><body>hi</body></html>`, malformed: true},
		{name: "not XML", xml: `{"IsSuccessful":true}`, malformed: true},
		{name: "empty", xml: ``, malformed: true},
		{name: "no body", xml: `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>`, malformed: true},
		{name: "entity expansion is not performed",
			xml:       `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><AuthenticationResponse xmlns="` + testPartnerNS + `"><IsSuccessful>true</IsSuccessful><Token>&c;</Token></AuthenticationResponse></s:Body></s:Envelope>`,
			malformed: true},
	}
	long := strings.Repeat("é", maxMessageTextBytes) // 2 bytes each: twice the cap
	more := []envelopeCase{
		// The contract, on both parsers.
		{name: "SOAP 1.2 envelope with a response",
			xml:   `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Header/><e:Body><AuthenticationResponse xmlns="` + testPartnerNS + `">` + ok + `</AuthenticationResponse></e:Body></e:Envelope>`,
			token: "a.b.c", success: true},
		{name: "SOAP 1.2 fault code",
			xml:   `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault><e:Code><e:Value> e:Receiver </e:Value><e:Subcode><e:Value>x</e:Value></e:Subcode></e:Code><e:Reason><e:Text>Down</e:Text><e:Text>Nede</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>`,
			fault: "Down", faultCode: "e:Receiver"},
		{name: "SOAP 1.1 fault with qualified children is empty",
			xml:     envS11 + `<s:Body><s:Fault><s:faultcode>x</s:faultcode><s:faultstring>y</s:faultstring></s:Fault></s:Body></s:Envelope>`,
			isFault: true},
		{name: "xs:boolean false with white space",
			xml:     envS11Ok + "<IsSuccessful>\n\tfalse \r\n</IsSuccessful><ErrorMessage>\n  Denied\t</ErrorMessage>" + envS11Up,
			message: "Denied"},
		{name: "xs:boolean 0",
			xml:     envS11Ok + "<IsSuccessful>0</IsSuccessful>" + envS11Up,
			message: ""},
		{name: "xs:boolean with a non-breaking space (TrimSpace)",
			xml:   envS11Ok + "<IsSuccessful>\u00a0true\u00a0</IsSuccessful><Token>t</Token>" + envS11Up,
			token: "t", success: true},
		{name: "xs:boolean True is not one",
			xml:       envS11Ok + "<IsSuccessful>True</IsSuccessful>" + envS11Up,
			malformed: true},
		{name: "xs:boolean with long trailing white space",
			xml:   envS11Ok + "<IsSuccessful>true" + strings.Repeat(" \n", 500) + "</IsSuccessful><Token>t</Token>" + envS11Up,
			token: "t", success: true},
		{name: "xs:boolean with long junk",
			xml:       envS11Ok + "<IsSuccessful>true" + strings.Repeat(" x", 500) + "</IsSuccessful><Token>t</Token>" + envS11Up,
			malformed: true},
		{name: "empty IsSuccessful",
			xml:       envS11Ok + "<IsSuccessful/><Token>t</Token>" + envS11Up,
			malformed: true},
		{name: "no IsSuccessful",
			xml:       envS11Ok + "<Token>t</Token>" + envS11Up,
			malformed: true},
		{name: "a fault wins over a response",
			xml:   envS11 + `<s:Body><AuthenticationResponse xmlns="` + testPartnerNS + `">` + ok + `</AuthenticationResponse><s:Fault><faultstring>late</faultstring></s:Fault></s:Body></s:Envelope>`,
			fault: "late"},
		{name: "only the first Body counts",
			xml:       envS11 + `<s:Body/><s:Body><AuthenticationResponse xmlns="` + testPartnerNS + `">` + ok + `</AuthenticationResponse></s:Body></s:Envelope>`,
			malformed: true},
		{name: "a nested response is not the response",
			xml:       envS11 + `<s:Body><w><AuthenticationResponse xmlns="` + testPartnerNS + `">` + ok + `</AuthenticationResponse></w></s:Body></s:Envelope>`,
			malformed: true},
		{name: "the first of a repeated field counts",
			xml:   envS11Ok + "<IsSuccessful>1</IsSuccessful><Token>first</Token><Token>second</Token><IsSuccessful>no</IsSuccessful>" + envS11Up,
			token: "first", success: true},
		{name: "CDATA and comments in Token",
			xml:   envS11Ok + "<IsSuccessful>1</IsSuccessful><Token><!-- c --> <![CDATA[a.b]]>.c<!-- d --> </Token>" + envS11Up,
			token: "a.b.c", success: true},
		{name: "text after a child element is not the text",
			xml:     envS11Ok + "<IsSuccessful>0</IsSuccessful><ErrorMessage>Denied<b>x</b>more</ErrorMessage>" + envS11Up,
			message: "Denied"},
		{name: "a processing instruction ends the text",
			xml:     envS11Ok + "<IsSuccessful>0</IsSuccessful><ErrorMessage>Denied<?pi x?>more</ErrorMessage>" + envS11Up,
			message: "Denied"},
		{name: "predefined entities and character references",
			xml:     envS11Ok + "<IsSuccessful>0</IsSuccessful><ErrorMessage>a &amp; b &lt;&#x41;&#66;&gt;</ErrorMessage>" + envS11Up,
			message: "a & b <AB>"},
		{name: "undefined entity",
			xml:       envS11Ok + "<IsSuccessful>0</IsSuccessful><ErrorMessage>&nbsp;</ErrorMessage>" + envS11Up,
			malformed: true},
		{name: "byte order mark",
			xml:   "\ufeff" + `<?xml version="1.0" encoding="utf-8"?>` + envS11Ok + ok + envS11Up,
			token: "a.b.c", success: true},
		{name: "white space, comments and processing instructions around the root",
			xml:   "\n<!-- hi --><?pi?>\n" + envS11Ok + ok + envS11Up + "\n<!-- bye -->\n",
			token: "a.b.c", success: true},
		{name: "a prefix redeclared below the Envelope",
			xml:       envS11 + `<s:Body xmlns:s="urn:other"><AuthenticationResponse xmlns="` + testPartnerNS + `">` + ok + envS11Up,
			malformed: true},
		{name: "default namespace undeclared",
			xml:       envS11Ok + `<IsSuccessful xmlns="">true</IsSuccessful>` + envS11Up,
			malformed: true},
		{name: "prefix bound on the element itself",
			xml:   `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><a:AuthenticationResponse xmlns:a="` + testPartnerNS + `"><a:IsSuccessful>1</a:IsSuccessful><b:Token xmlns:b="` + testPartnerNS + `">t</b:Token></a:AuthenticationResponse></soap:Body></soap:Envelope>`,
			token: "t", success: true},
		{name: "mismatched end tag",
			xml:       envS11Ok + ok + `</AuthenticationResponse></s:Bodyx></s:Envelope>`,
			malformed: true},
		{name: "unclosed",
			xml:       envS11Ok + ok,
			malformed: true},
		{name: "an HTML error page",
			xml:       `<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>`,
			malformed: true},
		{name: "envelope in a foreign namespace",
			xml:       `<s:Envelope xmlns:s="urn:soap"><s:Body/></s:Envelope>`,
			malformed: true},
		{name: "xml prefix on an element",
			xml:   envS11Ok + `<xml:x/>` + ok + envS11Up,
			token: "a.b.c", success: true},
		{name: "ErrorMessage at the cap is kept whole",
			xml:     envS11Ok + "<IsSuccessful>0</IsSuccessful><ErrorMessage>  " + long[:maxMessageTextBytes] + "  </ErrorMessage>" + envS11Up,
			message: long[:maxMessageTextBytes]},

		// Where parseEnvelope is stricter or keeps less.
		{name: "a DOCTYPE without entities", onlyNew: true,
			xml:       `<!DOCTYPE s:Envelope>` + envS11Ok + ok + envS11Up,
			malformed: true},
		{name: "an undeclared element prefix", onlyNew: true,
			xml:       envS11 + `<s:Header><x:Foo/></s:Header><s:Body><AuthenticationResponse xmlns="` + testPartnerNS + `">` + ok + envS11Up,
			malformed: true},
		{name: "an undeclared prefix on faultcode", onlyNew: true,
			xml:       envS11 + `<s:Body><s:Fault><x:faultcode>c</x:faultcode></s:Fault></s:Body></s:Envelope>`,
			malformed: true},
		{name: "a prefix bound to nothing", onlyNew: true,
			xml:       envS11 + `<s:Body><s:Fault><x:faultcode xmlns:x="">c</x:faultcode></s:Fault></s:Body></s:Envelope>`,
			malformed: true},
		{name: "a prefix declared twice on one element", onlyNew: true,
			xml:       `<s:Envelope xmlns:s="urn:x" xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>`,
			malformed: true},
		{name: "a second root element", onlyNew: true,
			xml:       envS11Ok + ok + envS11Up + `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>`,
			malformed: true},
		{name: "text after the root element", onlyNew: true,
			xml:       envS11Ok + ok + envS11Up + `junk`,
			malformed: true},
		{name: "an encoding other than UTF-8", onlyNew: true,
			xml:       `<?xml version="1.0" encoding="iso-8859-1"?>` + envS11Ok + ok + envS11Up,
			malformed: true},
		{name: "nesting too deep", onlyNew: true,
			xml:       envS11 + `<s:Header>` + strings.Repeat("<x>", maxEnvelopeDepth) + strings.Repeat("</x>", maxEnvelopeDepth) + `</s:Header><s:Body><AuthenticationResponse xmlns="` + testPartnerNS + `">` + ok + envS11Up,
			malformed: true},
		{name: "too many attributes", onlyNew: true,
			xml:       envS11Ok + `<x` + strings.Repeat(` a=""`, maxElementAttrs+1) + `/>` + ok + envS11Up,
			malformed: true},
		{name: "too many tokens", onlyNew: true,
			xml:       envS11 + `<s:Header>` + strings.Repeat(`<x/>`, maxEnvelopeTokens/2) + `</s:Header><s:Body><AuthenticationResponse xmlns="` + testPartnerNS + `">` + ok + envS11Up,
			malformed: true},
		{name: "a Token over the cap", onlyNew: true,
			xml:       envS11Ok + "<IsSuccessful>1</IsSuccessful><Token>" + strings.Repeat("t", maxTokenTextBytes+1) + "</Token>" + envS11Up,
			malformed: true},
		{name: "a long ErrorMessage is cut at a rune boundary", onlyNew: true,
			xml:     envS11Ok + "<IsSuccessful>0</IsSuccessful><ErrorMessage>\n" + "x" + long + "</ErrorMessage>" + envS11Up,
			message: "x" + long[:maxMessageTextBytes-2]},
		{name: "a long faultstring is cut", onlyNew: true,
			xml:   envS11 + `<s:Body><s:Fault><faultcode>c</faultcode><faultstring>` + long + `</faultstring></s:Fault></s:Body></s:Envelope>`,
			fault: long[:maxMessageTextBytes]},
		{name: "larger than the cap", onlyNew: true,
			xml:       envS11Ok + ok + "<!--" + strings.Repeat("x", maxEnvelopeBytes) + "-->" + envS11Up,
			malformed: true},
	}
	return append(cases, more...)
}

// checkEnvelopeCase runs one parser on c.
func checkEnvelopeCase(t *testing.T, parse func([]byte) (*authResponse, *FaultError, error), c envelopeCase) {
	t.Helper()
	ar, fault, err := parse([]byte(c.xml))
	switch {
	case c.malformed:
		if !errors.Is(err, ErrMalformedResponse) || ar != nil || fault != nil {
			t.Fatalf("got %+v, %v, %v; want ErrMalformedResponse", ar, fault, err)
		}
	case c.fault != "" || c.isFault:
		if fault == nil || fault.String != c.fault || err != nil || ar != nil {
			t.Fatalf("got %+v, %v, %v; want fault %q", ar, fault, err, c.fault)
		}
		if c.faultCode != "" && fault.Code != c.faultCode {
			t.Fatalf("fault code %q, want %q", fault.Code, c.faultCode)
		}
	default:
		if err != nil || fault != nil {
			t.Fatalf("unexpected %v %v", fault, err)
		}
		if ar.IsSuccessful != c.success || ar.Token != c.token || ar.ErrorMessage != c.message {
			t.Fatalf("got %+v", ar)
		}
	}
}

// TestParseEnvelope runs the table against parseEnvelope and, except where
// parseEnvelope is deliberately stricter, against parseSOAPResponse.
func TestParseEnvelope(t *testing.T) {
	for _, c := range envelopeCases() {
		t.Run(c.name, func(t *testing.T) {
			checkEnvelopeCase(t, parseEnvelope, c)
			if !c.onlyNew {
				t.Run("parseSOAPResponse", func(t *testing.T) { checkEnvelopeCase(t, parseSOAPResponse, c) })
			}
		})
	}
}

// TestParseEnvelopeTestdata: both parsers agree on every body in
// testdata/soap.
func TestParseEnvelopeTestdata(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "soap", "*.xml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			ar, fault, err := parseEnvelope(data)
			oar, ofault, oerr := parseSOAPResponse(data)
			if got, want := describeEnvelope(ar, fault, err), describeEnvelope(oar, ofault, oerr); got != want {
				t.Fatalf("parseEnvelope: %s\nparseSOAPResponse: %s", got, want)
			}
			t.Log(describeEnvelope(ar, fault, err))
		})
	}
}

// describeEnvelope puts a parse result in words, errors by class only.
func describeEnvelope(ar *authResponse, fault *FaultError, err error) string {
	switch {
	case errors.Is(err, ErrMalformedResponse):
		return "malformed"
	case err != nil:
		return "error " + err.Error()
	case fault != nil:
		return fmt.Sprintf("fault %q %q", fault.Code, fault.String)
	case ar != nil:
		return fmt.Sprintf("response %v %q %q", ar.IsSuccessful, ar.Token, ar.ErrorMessage)
	}
	return "nothing"
}

// envelopeShape is one adversarial SOAP answer.
type envelopeShape struct {
	name string
	data []byte
}

// fill repeats unit between head and tail to make a document of about size
// bytes (never more).
func fill(size int, head, unit, tail string) []byte {
	n := max((size-len(head)-len(tail))/len(unit), 0)
	var b bytes.Buffer
	b.Grow(len(head) + n*len(unit) + len(tail))
	b.WriteString(head)
	for i := 0; i < n; i++ {
		b.WriteString(unit)
	}
	b.WriteString(tail)
	return b.Bytes()
}

// fillf is fill with a unit that varies: unit(i) for i = 0, 1, ... while
// it fits.
func fillf(size int, head string, unit func(i int) string, tail string) []byte {
	var b bytes.Buffer
	b.WriteString(head)
	for i := 0; ; i++ {
		u := unit(i)
		if b.Len()+len(u)+len(tail) > size {
			break
		}
		b.WriteString(u)
	}
	b.WriteString(tail)
	return b.Bytes()
}

// adversarialEnvelopes returns answers of about size bytes in every shape
// that costs a naive parser time or memory.
func adversarialEnvelopes(size int) []envelopeShape {
	const ok = `<IsSuccessful>true</IsSuccessful><Token>a.b.c</Token>`
	head := envS11 + `<s:Header>`
	tail := `</s:Header><s:Body><AuthenticationResponse xmlns="` + testPartnerNS + `">` + ok + envS11Up
	inBody := envS11Ok + ok
	return []envelopeShape{
		{name: "siblings", data: fill(size, head, `<a/>`, tail)},
		{name: "siblings-with-text", data: fill(size, head, `<a>t</a>`, tail)},
		{name: "whitespace", data: fill(size, head, "\n", tail)},
		{name: "deep", data: fill(size, head, `<a>`, "")},
		{name: "deep-closed", data: func() []byte {
			n := (size - len(head) - len(tail)) / 7
			return []byte(head + strings.Repeat("<a>", n) + strings.Repeat("</a>", n) + tail)
		}()},
		{name: "attributes", data: fill(size, head+`<a`, ` a=""`, `/>`+tail)},
		{name: "attributes-distinct", data: fillf(size, head+`<a`, func(i int) string { return fmt.Sprintf(` a%d=""`, i) }, `/>`+tail)},
		{name: "attributes-on-every-element", data: fill(size, head, `<a`+strings.Repeat(` b=""`, maxElementAttrs)+`/>`, tail)},
		{name: "attributes-children-unbound-prefix", data: func() []byte {
			h := head + `<x:a` + strings.Repeat(` b=""`, (size/2)/5) + `>`
			return fill(size, h, `<c/>`, `</x:a>`+tail)
		}()},
		{name: "unbound-element-prefixes", data: fillf(size, head, func(i int) string { return fmt.Sprintf(`<p%d:a/>`, i) }, tail)},
		{name: "unbound-attribute-prefixes", data: fillf(size, head+`<a`, func(i int) string { return fmt.Sprintf(` p%d:b=""`, i) }, `/>`+tail)},
		{name: "namespace-declarations", data: fillf(size, head+`<a`, func(i int) string { return fmt.Sprintf(` xmlns:n%d="urn:%d"`, i, i) }, `/>`+tail)},
		{name: "namespace-declarations-in-scope", data: func() []byte {
			decl := ""
			for i := 0; i < maxNamespaceDecls-4; i++ {
				decl += fmt.Sprintf(` xmlns:n%d="urn:%d"`, i, i)
			}
			return fill(size, head+`<a`+decl+`>`, `<n0:b/>`, `</a>`+tail)
		}()},
		{name: "namespace-declarations-nested", data: fill(size, head, `<a xmlns:n="urn:x" xmlns="urn:y">`, "")},
		{name: "namespace-declarations-per-sibling", data: fill(size, head, `<a xmlns:n="urn:x" xmlns="urn:y"/>`, tail)},
		{name: "huge-text", data: fill(size, head+`<a>`, `text `, `</a>`+tail)},
		{name: "huge-token", data: fill(size, envS11Ok+`<IsSuccessful>true</IsSuccessful><Token>`, `x`, `</Token>`+envS11Up)},
		{name: "huge-error-message", data: fill(size, envS11Ok+`<IsSuccessful>false</IsSuccessful><ErrorMessage>`, `Denied. `, `</ErrorMessage>`+envS11Up)},
		{name: "huge-faultstring", data: fill(size, envS11+`<s:Body><s:Fault><faultcode>c</faultcode><faultstring>`, `Bad. `, `</faultstring></s:Fault></s:Body></s:Envelope>`)},
		{name: "entity-references", data: fill(size, envS11Ok+`<IsSuccessful>false</IsSuccessful><ErrorMessage>`, `&amp;&#x41;`, `</ErrorMessage>`+envS11Up)},
		{name: "comments", data: fill(size, head, `<!---->`, tail)},
		{name: "comments-in-token", data: fill(size, envS11Ok+`<IsSuccessful>true</IsSuccessful><Token>`, `<!---->x`, `</Token>`+envS11Up)},
		{name: "processing-instructions", data: fill(size, head, `<?p?>`, tail)},
		{name: "cdata-sections", data: fill(size, inBody+`<ErrorMessage>`, `<![CDATA[x]]>`, `</ErrorMessage>`+envS11Up)},
		{name: "huge-cdata", data: fill(size, head+`<a><![CDATA[`, `x`, `]]></a>`+tail)},
		{name: "huge-comment", data: fill(size, head+`<!--`, `x`, `-->`+tail)},
		{name: "huge-name", data: fill(size, head+`<a`, `a`, `/>`+tail)},
		{name: "huge-attribute-value", data: fill(size, head+`<a b="`, `x`, `"/>`+tail)},
		{name: "huge-doctype", data: fill(size, `<!DOCTYPE a [`, `<!-- x -->`, `]>`+envS11Ok+ok+envS11Up)},
		{name: "unclosed", data: fill(size, head, `<a>t`, "")},

		// Shapes just inside the markup bounds, so that the decoder does
		// all the work it can be made to do, padded with text to size.
		{name: "siblings-at-the-token-cap", data: pad(size, head, strings.Repeat(`<abcdefgh/>`, maxEnvelopeTokens/2-20)+tail)},
		{name: "text-and-siblings-at-the-token-cap", data: pad(size, head, strings.Repeat(`<abcdefgh>t</abcdefgh>`, maxEnvelopeTokens/3-20)+tail)},
		{name: "attributes-at-the-cap", data: pad(size, head, strings.Repeat(`<a`+strings.Repeat(` b="xxxxxxxx"`, maxElementAttrs)+`/>`, maxEnvelopeAttrs/maxElementAttrs-1)+tail)},
		{name: "namespace-scope-at-the-cap", data: func() []byte {
			const levels = maxEnvelopeDepth - 3
			open := strings.Repeat(`<a xmlns:n="urn:x" xmlns="urn:y">`, levels)
			return pad(size, head, open+strings.Repeat(`<n:b/>`, maxEnvelopeTokens/2-2*levels-20)+strings.Repeat(`</a>`, levels)+tail)
		}()},
		{name: "unbound-prefix-at-the-end", data: pad(size, head, strings.Repeat(`<a/>`, maxEnvelopeTokens/2-20)+`<x:a/>`+tail)},
	}
}

// pad puts a text element between head and rest, long enough to make a
// document of about size bytes.
func pad(size int, head, rest string) []byte {
	return fill(size, head+`<pad>`, `x`, `</pad>`+rest)
}

// allocatedPerCall is the average heap allocated by one call of f, over n
// calls.
func allocatedPerCall(n int, f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(n)
}

// maxEnvelopeAlloc is the most parseEnvelope may allocate for one answer of
// at most maxEnvelopeBytes.
const maxEnvelopeAlloc = 2 << 20

// TestParseEnvelopeAllocations: whatever the shape of an answer at the size
// cap, parsing it allocates at most 2 MiB. (Times are in
// BenchmarkParseEnvelopeAdversarial, not asserted.)
func TestParseEnvelopeAllocations(t *testing.T) {
	for _, s := range adversarialEnvelopes(maxEnvelopeBytes) {
		t.Run(s.name, func(t *testing.T) {
			if len(s.data) > maxEnvelopeBytes || len(s.data) < maxEnvelopeBytes-1024 {
				t.Fatalf("shape is %d bytes, want just under %d", len(s.data), maxEnvelopeBytes)
			}
			var got string
			alloc := allocatedPerCall(10, func() { got = describeEnvelope(parseEnvelope(s.data)) })
			if alloc > maxEnvelopeAlloc {
				t.Errorf("%d bytes allocated per parse, more than %d", alloc, maxEnvelopeAlloc)
			}
			if len(got) > 200 {
				got = got[:200] + "..."
			}
			t.Logf("%6d bytes allocated: %s", alloc, got)
		})
	}
}

// TestParseEnvelopeAdversarialResults: what the shapes parse to. The
// bounds refuse some; the rest parse like any other answer.
func TestParseEnvelopeAdversarialResults(t *testing.T) {
	refused := map[string]string{
		"siblings":                           "XML tokens",
		"siblings-with-text":                 "XML tokens",
		"deep":                               "deep",
		"deep-closed":                        "deep",
		"attributes":                         "attributes",
		"attributes-distinct":                "attributes",
		"attributes-on-every-element":        "attributes",
		"attributes-children-unbound-prefix": "attributes",
		"unbound-element-prefixes":           "XML tokens",
		"unbound-attribute-prefixes":         "attributes",
		"namespace-declarations":             "attributes",
		"namespace-declarations-in-scope":    "XML tokens",
		"namespace-declarations-nested":      "deep",
		"namespace-declarations-per-sibling": "attributes",
		"huge-token":                         "Token is longer",
		"comments":                           "XML tokens",
		"comments-in-token":                  "XML tokens",
		"processing-instructions":            "XML tokens",
		"cdata-sections":                     "XML tokens",
		"huge-doctype":                       "DOCTYPE",
		"unclosed":                           "deep",
		"unbound-prefix-at-the-end":          "undeclared namespace prefix",
	}
	for _, s := range adversarialEnvelopes(maxEnvelopeBytes) {
		t.Run(s.name, func(t *testing.T) {
			ar, fault, err := parseEnvelope(s.data)
			want, isRefused := refused[s.name]
			switch {
			case isRefused && want == "":
			case isRefused:
				if !errors.Is(err, ErrMalformedResponse) || !strings.Contains(err.Error(), want) {
					t.Errorf("got %v, want an error about %q", err, want)
				}
			case err != nil:
				t.Errorf("%v", err)
			case fault != nil:
				if len(fault.String) > maxMessageTextBytes {
					t.Errorf("faultstring of %d bytes kept", len(fault.String))
				}
			case len(ar.ErrorMessage) > maxMessageTextBytes:
				t.Errorf("ErrorMessage of %d bytes kept", len(ar.ErrorMessage))
			}
		})
	}
}

// BenchmarkParseEnvelopeAdversarial times parseEnvelope on every shape at
// the size cap, and on real-sized answers.
func BenchmarkParseEnvelopeAdversarial(b *testing.B) {
	benchmarkEnvelopes(b, parseEnvelope)
}

// BenchmarkParseSOAPResponseAdversarial is the same for the etree-based
// parseSOAPResponse, for comparison.
func BenchmarkParseSOAPResponseAdversarial(b *testing.B) {
	benchmarkEnvelopes(b, parseSOAPResponse)
}

func benchmarkEnvelopes(b *testing.B, parse func([]byte) (*authResponse, *FaultError, error)) {
	wcf, err := os.ReadFile(filepath.Join("testdata", "soap", "success-wcf.xml"))
	if err != nil {
		b.Fatal(err)
	}
	// A real-sized answer: a JWT of about 4 KiB with WS-Addressing headers.
	jwt := strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 50) + "." + strings.Repeat("eyJpc3MiOiJTdXBlck9mZmljZSBBUyJ9", 70) + "." + strings.Repeat("c2ln", 86)
	real4k := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">` + soapAction + `Response</a:Action><a:RelatesTo>urn:uuid:6c0e4f0e-8a53-4ad6-9e0f-7a7f2f8e6b1d</a:RelatesTo></s:Header><s:Body><AuthenticationResponse xmlns="` + testPartnerNS + `"><IsSuccessful>true</IsSuccessful><Token>` + jwt + `</Token><ErrorMessage i:nil="true" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"/></AuthenticationResponse></s:Body></s:Envelope>`
	shapes := append([]envelopeShape{{"real-wcf", wcf}, {"real-4k", []byte(real4k)}}, adversarialEnvelopes(maxEnvelopeBytes)...)
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s.data)))
			for b.Loop() {
				parse(s.data)
			}
		})
	}
}

// markupStats are what the bounds of parseEnvelope count, as counted by
// encoding/xml's RawToken with nothing of parseEnvelope's.
type markupStats struct {
	tokens, depth, elementAttrs, attrs, decls int
}

func countMarkup(data []byte) (st markupStats) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var open []int // namespace declarations of each open element
	inScope := 0
	for {
		tok, err := dec.RawToken()
		if err != nil {
			return st
		}
		st.tokens++
		switch t := tok.(type) {
		case xml.StartElement:
			decls := 0
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					decls++
				}
			}
			open, inScope = append(open, decls), inScope+decls
			st.depth = max(st.depth, len(open))
			st.elementAttrs = max(st.elementAttrs, len(t.Attr))
			st.attrs += len(t.Attr)
			st.decls = max(st.decls, inScope)
		case xml.EndElement:
			if len(open) > 0 {
				inScope -= open[len(open)-1]
				open = open[:len(open)-1]
			}
		}
	}
}

// checkStricter fails unless err, parseEnvelope's refusal of data that
// parseSOAPResponse accepts, is one of parseEnvelope's own rules, and, for
// a bound, unless data really exceeds it.
func checkStricter(t *testing.T, data []byte, err error) {
	t.Helper()
	st := countMarkup(data)
	msg := err.Error()
	rules := []struct {
		says  string
		holds bool
	}{
		{says: "larger than", holds: len(data) > maxEnvelopeBytes},
		{says: "XML tokens", holds: st.tokens > maxEnvelopeTokens},
		{says: "elements more than", holds: st.depth > maxEnvelopeDepth},
		{says: "an element with more than", holds: st.elementAttrs > maxElementAttrs},
		{says: fmt.Sprintf("has more than %d attributes", maxEnvelopeAttrs), holds: st.attrs > maxEnvelopeAttrs},
		{says: "namespace declarations in scope", holds: st.decls > maxNamespaceDecls},
		{says: "DOCTYPE", holds: bytes.Contains(data, []byte("<!"))},
		{says: "Token is longer than", holds: true},
		{says: "undeclared namespace prefix", holds: true},
		{says: "invalid namespace declaration", holds: true},
		{says: "declares a namespace prefix twice", holds: true},
		{says: "outside the root", holds: true},
		{says: "after the root", holds: true},
		{says: "encoding other than UTF-8", holds: true},
	}
	for _, r := range rules {
		if strings.Contains(msg, r.says) {
			if !r.holds {
				t.Fatalf("%v, but the document has %+v", err, st)
			}
			return
		}
	}
	oar, ofault, oerr := parseSOAPResponse(data)
	t.Fatalf("refused what parseSOAPResponse accepts (%s): %v", describeEnvelope(oar, ofault, oerr), err)
}

// FuzzParseEnvelope: parseEnvelope never panics, returns exactly one of a
// response, a fault or an ErrMalformedResponse, allocates at most 2 MiB for
// an input within the size cap, and never disagrees with parseSOAPResponse
// except by a rule of its own (checkStricter) or by cutting a long message.
func FuzzParseEnvelope(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "soap", "*.xml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, c := range envelopeCases() {
		if len(c.xml) <= 8<<10 {
			f.Add([]byte(c.xml))
		}
	}
	for _, s := range adversarialEnvelopes(1 << 10) {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ar *authResponse
		var fault *FaultError
		var err error
		alloc := allocatedPerCall(1, func() { ar, fault, err = parseEnvelope(data) })
		if len(data) <= maxEnvelopeBytes && alloc > maxEnvelopeAlloc {
			t.Fatalf("%d bytes allocated for %d bytes of input", alloc, len(data))
		}
		switch {
		case err != nil:
			if ar != nil || fault != nil || !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("%v %v %v", ar, fault, err)
			}
		case fault != nil:
			if ar != nil {
				t.Fatal("both a fault and a response")
			}
			if len(fault.Code) > maxMessageTextBytes || len(fault.String) > maxMessageTextBytes {
				t.Fatalf("fault texts of %d and %d bytes", len(fault.Code), len(fault.String))
			}
		case ar == nil:
			t.Fatal("nothing returned")
		case len(ar.ErrorMessage) > maxMessageTextBytes || len(ar.Token) > maxTokenTextBytes:
			t.Fatalf("ErrorMessage of %d bytes, Token of %d", len(ar.ErrorMessage), len(ar.Token))
		}

		oar, ofault, oerr := parseSOAPResponse(data)
		switch {
		case err != nil && oerr != nil:
		case err != nil:
			checkStricter(t, data, err)
		case oerr != nil:
			t.Fatalf("accepted (%s) what parseSOAPResponse refuses: %v", describeEnvelope(ar, fault, err), oerr)
		case (fault == nil) != (ofault == nil):
			t.Fatalf("%s, parseSOAPResponse %s", describeEnvelope(ar, fault, err), describeEnvelope(oar, ofault, oerr))
		case fault != nil:
			if !sameMessage(fault.Code, ofault.Code) || !sameMessage(fault.String, ofault.String) {
				t.Fatalf("%s, parseSOAPResponse %s", describeEnvelope(ar, fault, err), describeEnvelope(oar, ofault, oerr))
			}
		default:
			if ar.IsSuccessful != oar.IsSuccessful || ar.Token != oar.Token || !sameMessage(ar.ErrorMessage, oar.ErrorMessage) {
				t.Fatalf("%s, parseSOAPResponse %s", describeEnvelope(ar, fault, err), describeEnvelope(oar, ofault, oerr))
			}
		}
	})
}

// sameMessage reports whether got is old or, when old is longer than
// maxMessageTextBytes, a non-empty prefix of it.
func sameMessage(got, old string) bool {
	if len(old) <= maxMessageTextBytes {
		return got == old
	}
	return got != "" && strings.HasPrefix(old, got)
}

// The tree parser the package used before parseEnvelope: kept in the tests
// only, as the reference the streaming parser is compared with (tables,
// testdata and fuzzing) and as the baseline of its benchmarks.

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
