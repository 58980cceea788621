package sysuser

import (
	"strings"

	"github.com/beevik/etree"
)

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
