package sysuser

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"unicode"
	"unicode/utf8"
)

// Bounds of parseEnvelope. A real PartnerSystemUserService answer is 3-5 KiB,
// a few dozen tokens, 4 or 5 levels deep, with a handful of attributes and
// two or three namespace declarations; every bound is far above that and far
// below what would make parsing costly.
const (
	// maxEnvelopeBytes is the largest SOAP answer parseEnvelope reads.
	maxEnvelopeBytes = 64 << 10
	// maxEnvelopeDepth is how deeply elements may nest.
	maxEnvelopeDepth = 32
	// maxEnvelopeTokens bounds the tokens of the whole document: start and
	// end tags, text, CDATA sections, comments and processing instructions.
	maxEnvelopeTokens = 4096
	// maxElementAttrs bounds the attributes of one element, and
	// maxEnvelopeAttrs those of the whole document (encoding/xml spends
	// about 100 bytes on each).
	maxElementAttrs  = 64
	maxEnvelopeAttrs = 256
	// maxNamespaceDecls bounds the namespace declarations in scope at once,
	// so that resolving a prefix costs at most this many comparisons.
	maxNamespaceDecls = 64
	// maxTokenTextBytes bounds Token (a JWT). A longer one is malformed.
	maxTokenTextBytes = 32 << 10
	// maxBooleanTextBytes bounds IsSuccessful; only white space may follow.
	maxBooleanTextBytes = 64
	// maxMessageTextBytes is how much of ErrorMessage, faultcode and
	// faultstring is kept; the rest is dropped, not refused.
	maxMessageTextBytes = 4 << 10
)

// xmlNamespace is the namespace the prefix "xml" is bound to by definition.
const xmlNamespace = "http://www.w3.org/XML/1998/namespace"

// errNotUTF8 is what parseEnvelope's decoder reports for an XML declaration
// naming an encoding other than UTF-8.
var errNotUTF8 = errors.New("encoding is not UTF-8")

// envRole is what an open element is to parseEnvelope.
type envRole uint8

const (
	roleOther    envRole = iota // not part of the answer
	roleEnvelope                // the root Envelope
	roleBody                    // the Envelope's first Body
	roleResponse                // the Body's first AuthenticationResponse
	roleFault                   // the Body's first Fault
	roleCode                    // SOAP 1.2: the Fault's first Code
	roleReason                  // SOAP 1.2: the Fault's first Reason
	roleField                   // an element whose text is kept
)

// envField names the texts parseEnvelope keeps.
type envField uint8

const (
	fieldIsSuccessful envField = iota
	fieldToken
	fieldErrorMessage
	fieldFaultCode   // faultcode, or SOAP 1.2 Code/Value
	fieldFaultString // faultstring, or SOAP 1.2 Reason/Text
	numEnvFields
)

// envFrame is an open element.
type envFrame struct {
	prefix, local string   // the name as written, to match the end tag
	role          envRole  // what the element is
	field         envField // with roleField: which text it holds
	textOpen      bool     // with roleField: still in its leading text
	nsMark        int      // len(bindings) before its own declarations
}

// nsBinding is one namespace declaration in scope.
type nsBinding struct{ prefix, uri string }

// envText is the kept text of one field, like etree's Element.Text: the
// character data (text and CDATA) before the element's first child element
// or processing instruction, comments skipped. Leading white space is not
// stored; of the rest, at most limit bytes are.
type envText struct {
	found    bool   // the element was seen
	buf      []byte // the text, leading white space dropped
	limit    int    // most bytes kept in buf
	overflow bool   // something other than white space came after limit
}

// add appends chunk, keeping at most t.limit bytes cut at a rune boundary
// and noting in t.overflow whether anything dropped was not white space.
func (t *envText) add(chunk []byte) {
	if len(t.buf) == 0 {
		chunk = bytes.TrimLeftFunc(chunk, unicode.IsSpace)
	}
	room := t.limit - len(t.buf)
	if len(chunk) <= room {
		t.buf = append(t.buf, chunk...)
		return
	}
	for room > 0 && !utf8.RuneStart(chunk[room]) {
		room--
	}
	t.buf = append(t.buf, chunk[:room]...)
	if !t.overflow && len(bytes.TrimLeftFunc(chunk[room:], unicode.IsSpace)) > 0 {
		t.overflow = true
	}
}

// text returns the kept text without trailing white space.
func (t *envText) text() string {
	return string(bytes.TrimRightFunc(t.buf, unicode.IsSpace))
}

// envelopeParser is the state of one parseEnvelope call.
type envelopeParser struct {
	stack      []envFrame
	bindings   []nsBinding
	envNS      string // the Envelope's namespace: SOAP 1.1 or 1.2
	rootClosed bool
	// Which of the elements that only count once have been seen.
	body, response, fault, code, reason bool
	fields                              [numEnvFields]envText
}

// parseEnvelope finds AuthenticationResponse or a Fault in a SOAP 1.1 or 1.2
// envelope by namespace URI and local name, whatever the prefixes or default
// namespaces: the first Body of the Envelope, in it the first Fault (which
// wins) or else the first AuthenticationResponse, in that the first
// IsSuccessful (an xs:boolean, white space around it allowed), Token and
// ErrorMessage, their texts trimmed. A SOAP 1.1 fault's faultcode and faultstring are unqualified;
// SOAP 1.2 has Code/Value and Reason/Text.
//
// It streams the document and keeps only those texts, so it costs time and
// memory in proportion to the input whatever its shape, and it enforces the
// bounds above: a larger, deeper or busier document is malformed, as is one
// with a DOCTYPE or any other declaration (so no entity is ever defined),
// an entity reference other than the five predefined ones, an unbound
// element prefix, text or elements outside the root, or a declared encoding
// other than UTF-8. A Token over maxTokenTextBytes is malformed; ErrorMessage,
// faultcode and faultstring are cut to maxMessageTextBytes. A leading UTF-8
// byte order mark is skipped. Every error matches ErrMalformedResponse and
// names no server-controlled text.
func parseEnvelope(data []byte) (*authResponse, *FaultError, error) {
	if len(data) > maxEnvelopeBytes {
		return nil, nil, malformed("SOAP response is larger than %d bytes", maxEnvelopeBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if err := checkMarkup(data); err != nil {
		return nil, nil, err
	}
	var p envelopeParser
	var frames [maxEnvelopeDepth]envFrame
	var decls [8]nsBinding
	p.stack, p.bindings = frames[:0], decls[:0]
	p.fields[fieldIsSuccessful].limit = maxBooleanTextBytes
	p.fields[fieldToken].limit = maxTokenTextBytes
	p.fields[fieldErrorMessage].limit = maxMessageTextBytes
	p.fields[fieldFaultCode].limit = maxMessageTextBytes
	p.fields[fieldFaultString].limit = maxMessageTextBytes

	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.CharsetReader = func(string, io.Reader) (io.Reader, error) { return nil, errNotUTF8 }
	for tokens := 1; ; tokens++ {
		// RawToken neither checks that end tags match nor resolves
		// prefixes, and so does no work per element beyond reading it;
		// both are done here, within the bounds.
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errNotUTF8) {
			return nil, nil, malformed("response declares an encoding other than UTF-8")
		}
		if err != nil {
			return nil, nil, malformed("response is not XML (at byte %d)", dec.InputOffset())
		}
		if tokens > maxEnvelopeTokens {
			return nil, nil, malformed("SOAP response has more than %d XML tokens", maxEnvelopeTokens)
		}
		if err := p.token(tok); err != nil {
			return nil, nil, err
		}
	}
	if !p.rootClosed {
		if len(p.stack) == 0 {
			return nil, nil, malformed("response is not XML (no root element)")
		}
		return nil, nil, malformed("response is not XML (unclosed element)")
	}
	return p.result()
}

// checkMarkup enforces the bounds the decoder cannot: it reads a start tag
// with all its attributes before returning it, so a tag of 10,000
// attributes would cost megabytes before parseEnvelope saw it. It finds the
// markup in data as an XML tokenizer does (comments, CDATA sections and
// processing instructions end at their first terminator, a start tag at the
// first '>' outside quotes) and refuses a DOCTYPE or other declaration, more
// than maxEnvelopeTokens pieces of markup, nesting deeper than
// maxEnvelopeDepth, and more than maxElementAttrs attributes on an element
// or maxEnvelopeAttrs in all, counted by their '=' outside quotes. It stops
// at the first construct that does not end, leaving it to the decoder to
// refuse. On a well-formed document it counts exactly; on any other the
// decoder fails anyway.
func checkMarkup(data []byte) error {
	markup, depth, attrs := 0, 0, 0
	for {
		i := bytes.IndexByte(data, '<')
		if i < 0 {
			return nil
		}
		data = data[i+1:]
		if markup++; markup > maxEnvelopeTokens {
			return malformed("SOAP response has more than %d XML tokens", maxEnvelopeTokens)
		}
		var start, end string // what opens and what ends markup other than a start tag
		switch {
		case bytes.HasPrefix(data, []byte("!--")):
			start, end = "!--", "-->"
		case bytes.HasPrefix(data, []byte("![CDATA[")):
			start, end = "![CDATA[", "]]>"
		case bytes.HasPrefix(data, []byte("!")):
			return malformed("response has a DOCTYPE or other declaration")
		case bytes.HasPrefix(data, []byte("?")):
			start, end = "?", "?>"
		case bytes.HasPrefix(data, []byte("/")):
			start, end = "/", ">"
			depth--
		}
		if end != "" {
			i := bytes.Index(data[len(start):], []byte(end))
			if i < 0 {
				return nil
			}
			data = data[len(start)+i+len(end):]
			continue
		}
		// A start tag: count the '=' outside quoted values up to its '>'.
		n, quote, i := 0, byte(0), 0
		for ; i < len(data); i++ {
			c := data[i]
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				}
				continue
			case c == '"' || c == '\'':
				quote = c
				continue
			case c == '=':
				if n++; n > maxElementAttrs {
					return malformed("SOAP response has an element with more than %d attributes", maxElementAttrs)
				}
				if attrs++; attrs > maxEnvelopeAttrs {
					return malformed("SOAP response has more than %d attributes", maxEnvelopeAttrs)
				}
				continue
			}
			if c == '>' {
				break
			}
		}
		if i == len(data) {
			return nil
		}
		if i == 0 || data[i-1] != '/' {
			if depth++; depth > maxEnvelopeDepth {
				return malformed("SOAP response nests elements more than %d deep", maxEnvelopeDepth)
			}
		}
		data = data[i+1:]
	}
}

// token takes one token from the decoder.
func (p *envelopeParser) token(tok xml.Token) error {
	var top *envFrame
	if len(p.stack) > 0 {
		top = &p.stack[len(p.stack)-1]
	}
	switch t := tok.(type) {
	case xml.StartElement:
		return p.start(t, top)
	case xml.EndElement:
		if top == nil {
			return malformed("response is not XML (end tag without start tag)")
		}
		if top.prefix != t.Name.Space || top.local != t.Name.Local {
			return malformed("response is not XML (end tag does not match start tag)")
		}
		p.bindings = p.bindings[:top.nsMark]
		p.stack = p.stack[:len(p.stack)-1]
		p.rootClosed = len(p.stack) == 0
	case xml.CharData:
		switch {
		case top == nil:
			if !isXMLSpace(t) {
				return malformed("response is not XML (text outside the root element)")
			}
		case top.role == roleField && top.textOpen:
			p.fields[top.field].add(t)
		}
	case xml.ProcInst:
		if top != nil && top.role == roleField {
			top.textOpen = false
		}
	case xml.Directive:
		return malformed("response has a DOCTYPE or other declaration")
	case xml.Comment:
		// Comments are skipped, also inside a field's text.
	}
	return nil
}

// start opens an element below top (nil for the root).
func (p *envelopeParser) start(t xml.StartElement, top *envFrame) error {
	if p.rootClosed {
		return malformed("response is not XML (element after the root element)")
	}
	if len(p.stack) == maxEnvelopeDepth {
		return malformed("SOAP response nests elements more than %d deep", maxEnvelopeDepth)
	}
	if len(t.Attr) > maxElementAttrs {
		return malformed("SOAP response has an element with more than %d attributes", maxElementAttrs)
	}
	if top != nil && top.role == roleField {
		top.textOpen = false
	}
	mark := len(p.bindings)
	for _, a := range t.Attr {
		var prefix string
		switch {
		case a.Name.Space == "xmlns":
			prefix = a.Name.Local
			if a.Value == "" || prefix == "xmlns" || (prefix == "xml") != (a.Value == xmlNamespace) {
				return malformed("response has an invalid namespace declaration")
			}
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			if a.Value == xmlNamespace {
				return malformed("response has an invalid namespace declaration")
			}
		default:
			continue
		}
		for _, b := range p.bindings[mark:] {
			if b.prefix == prefix {
				return malformed("response declares a namespace prefix twice on one element")
			}
		}
		if len(p.bindings) == maxNamespaceDecls {
			return malformed("SOAP response has more than %d namespace declarations in scope", maxNamespaceDecls)
		}
		p.bindings = append(p.bindings, nsBinding{prefix: prefix, uri: a.Value})
	}
	ns, ok := p.resolve(t.Name.Space)
	if !ok {
		return malformed("response uses an undeclared namespace prefix")
	}
	f := envFrame{prefix: t.Name.Space, local: t.Name.Local, nsMark: mark}
	if top == nil {
		if t.Name.Local != "Envelope" || (ns != soapEnvelopeNS && ns != soap12EnvelopeNS) {
			return malformed("response is not a SOAP envelope")
		}
		f.role, p.envNS = roleEnvelope, ns
	} else {
		p.classify(&f, top.role, ns)
	}
	p.stack = append(p.stack, f)
	return nil
}

// classify sets the role of f, named {ns}f.local, below an element of role
// parent. Only the first element of each kind counts (see parseEnvelope).
func (p *envelopeParser) classify(f *envFrame, parent envRole, ns string) {
	field := func(id envField) {
		if !p.fields[id].found {
			p.fields[id].found = true
			f.role, f.field, f.textOpen = roleField, id, true
		}
	}
	switch parent {
	case roleEnvelope:
		if ns == p.envNS && f.local == "Body" && !p.body {
			p.body, f.role = true, roleBody
		}
	case roleBody:
		switch {
		case ns == p.envNS && f.local == "Fault" && !p.fault:
			p.fault, f.role = true, roleFault
		case ns == partnerNamespace && f.local == "AuthenticationResponse" && !p.response:
			p.response, f.role = true, roleResponse
		}
	case roleResponse:
		if ns != partnerNamespace {
			return
		}
		switch f.local {
		case "IsSuccessful":
			field(fieldIsSuccessful)
		case "Token":
			field(fieldToken)
		case "ErrorMessage":
			field(fieldErrorMessage)
		}
	case roleFault:
		switch {
		case p.envNS == soapEnvelopeNS && ns == "" && f.local == "faultcode":
			field(fieldFaultCode)
		case p.envNS == soapEnvelopeNS && ns == "" && f.local == "faultstring":
			field(fieldFaultString)
		case p.envNS == soap12EnvelopeNS && ns == p.envNS && f.local == "Code" && !p.code:
			p.code, f.role = true, roleCode
		case p.envNS == soap12EnvelopeNS && ns == p.envNS && f.local == "Reason" && !p.reason:
			p.reason, f.role = true, roleReason
		}
	case roleCode:
		if ns == p.envNS && f.local == "Value" {
			field(fieldFaultCode)
		}
	case roleReason:
		if ns == p.envNS && f.local == "Text" {
			field(fieldFaultString)
		}
	}
}

// resolve returns the namespace URI of an element prefix ("" for none): the
// innermost declaration in scope. ok is false for an undeclared prefix.
func (p *envelopeParser) resolve(prefix string) (uri string, ok bool) {
	switch prefix {
	case "xml":
		return xmlNamespace, true
	case "xmlns":
		return "", false
	}
	for i := len(p.bindings) - 1; i >= 0; i-- {
		if p.bindings[i].prefix == prefix {
			return p.bindings[i].uri, true
		}
	}
	return "", prefix == ""
}

// result builds parseEnvelope's answer once the document has been read.
func (p *envelopeParser) result() (*authResponse, *FaultError, error) {
	if !p.body {
		return nil, nil, malformed("SOAP envelope has no Body")
	}
	if p.fault {
		return nil, &FaultError{Code: p.fields[fieldFaultCode].text(), String: p.fields[fieldFaultString].text()}, nil
	}
	if !p.response {
		return nil, nil, malformed("SOAP body has no AuthenticationResponse")
	}
	ok := &p.fields[fieldIsSuccessful]
	if !ok.found {
		return nil, nil, malformed("AuthenticationResponse has no IsSuccessful")
	}
	var ar authResponse
	switch string(bytes.TrimRightFunc(ok.buf, unicode.IsSpace)) {
	case "true", "1":
		ar.IsSuccessful = true
	case "false", "0":
	default:
		return nil, nil, malformed("IsSuccessful is not an xs:boolean")
	}
	if ok.overflow {
		return nil, nil, malformed("IsSuccessful is not an xs:boolean")
	}
	if p.fields[fieldToken].overflow {
		return nil, nil, malformed("Token is longer than %d bytes", maxTokenTextBytes)
	}
	ar.Token = p.fields[fieldToken].text()
	ar.ErrorMessage = p.fields[fieldErrorMessage].text()
	return &ar, nil, nil
}

// isXMLSpace reports whether b is only XML white space (space, tab, CR, LF).
func isXMLSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}
