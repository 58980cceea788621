package sysusertest_test

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// soapAction is Authenticate's action as SuperOffice's WSDL names it
// (soap:operation soapAction), quoted as WCF clients send it.
const soapAction = `"http://www.superoffice.com/superid/partnersystemuser/0.1/IPartnerSystemUserService/Authenticate"`

const soapEnvelope = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>` +
	`<ApplicationToken xmlns="http://www.superoffice.com/superid/partnersystemuser/0.1">app</ApplicationToken>` +
	`<ContextIdentifier xmlns="http://www.superoffice.com/superid/partnersystemuser/0.1">Cust1</ContextIdentifier></s:Header>` +
	`<s:Body><AuthenticationRequest xmlns="http://www.superoffice.com/superid/partnersystemuser/0.1">` +
	`<SignedSystemToken>%s</SignedSystemToken><ReturnTokenType>Jwt</ReturnTokenType>` +
	`</AuthenticationRequest></s:Body></s:Envelope>`

func postSOAP(t *testing.T, url, signed string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(fmt.Sprintf(soapEnvelope, signed)))
	req.Header.Set("Content-Type", "text/xml;charset=UTF-8")
	req.Header.Set("SOAPAction", `"http://www.superoffice.com/superid/partnersystemuser/0.1/IPartnerSystemUserService/Authenticate"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSOAPChecksActionAndAnswersLikeWCF(t *testing.T) {
	s := newFake(t, nil)
	env := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>` +
		`<ApplicationToken xmlns="http://www.superoffice.com/superid/partnersystemuser/0.1">app</ApplicationToken>` +
		`<ContextIdentifier xmlns="http://www.superoffice.com/superid/partnersystemuser/0.1">Cust1</ContextIdentifier></s:Header>` +
		`<s:Body><AuthenticationRequest xmlns="http://www.superoffice.com/superid/partnersystemuser/0.1">` +
		`<SignedSystemToken>` + sign(t, "tok. with dots", time.Now()) + `</SignedSystemToken><ReturnTokenType>Jwt</ReturnTokenType>` +
		`</AuthenticationRequest></s:Body></s:Envelope>`
	post := func(action string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/Services/PartnerSystemUserService.svc", strings.NewReader(env))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", action)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(soapAction); code != 200 || !strings.Contains(body, "<IsSuccessful>true</IsSuccessful>") {
		t.Fatalf("%d %s", code, body)
	}
	if code, body := post(`"urn:wrong"`); code != 500 || !strings.Contains(body, "ActionNotSupported") {
		t.Fatalf("wrong action: %d %s", code, body)
	}
	s.SetUnavailable(502)
	if code, _ := post(soapAction); code != 502 {
		t.Fatalf("SetUnavailable: %d", code)
	}
	if s.ExchangeCount("Cust1") != 2 {
		t.Fatalf("exchanges %d, want 2 (the wrong action is not one)", s.ExchangeCount("Cust1"))
	}
}

// WCF serves its WSDL at ?wsdl and ?singleWsdl; a WSDL-driven client posts to
// its soap:address.
func TestSOAPServesSuperOfficesWSDLPointingAtTheFake(t *testing.T) {
	s := newFake(t, nil)
	want := s.URL + "/services/PartnerSystemUserService.svc"
	for _, q := range []string{"?wsdl", "?WSDL", "?singleWsdl", "?singlewsdl", "?Wsdl="} {
		t.Run(q, func(t *testing.T) {
			resp, body := get(t, s.Root+"/Login/services/PartnerSystemUserService.svc"+q)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
				t.Fatalf("GET %s: %d %s", q, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if !strings.Contains(body, `targetNamespace="http://www.superoffice.com/superid/partnersystemuser/0.1"`) ||
				!strings.Contains(body, `soapAction="http://www.superoffice.com/superid/partnersystemuser/0.1/IPartnerSystemUserService/Authenticate"`) {
				t.Errorf("%s: not SuperOffice's WSDL: %.300s", q, body)
			}
			if strings.Contains(body, "superoffice.no") {
				t.Errorf("%s: still points at SuperOffice's host", q)
			}
			var defs struct {
				Ports []struct {
					Name    string `xml:"name,attr"`
					Address struct {
						Location string `xml:"location,attr"`
					} `xml:"http://schemas.xmlsoap.org/wsdl/soap/ address"`
				} `xml:"http://schemas.xmlsoap.org/wsdl/ service>port"`
			}
			if err := xml.Unmarshal([]byte(body), &defs); err != nil {
				t.Fatal(err)
			}
			if len(defs.Ports) != 2 {
				t.Fatalf("%s: %d ports, want SuperOffice's 2", q, len(defs.Ports))
			}
			for _, p := range defs.Ports {
				if p.Address.Location != want {
					t.Errorf("%s: port %s at %q, want %q", q, p.Name, p.Address.Location, want)
				}
				if code, resp := postSOAP(t, p.Address.Location, sign(t, "tok. with dots", time.Now())); code != 200 || !strings.Contains(resp, "<IsSuccessful>true</IsSuccessful>") {
					t.Errorf("posting to %s: %d %s", p.Address.Location, code, resp)
				}
			}
		})
	}
	if resp, _ := get(t, want); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET without ?wsdl: %d, want 405", resp.StatusCode)
	}
	if resp, _ := get(t, want+"?xsd=xsd0"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET ?xsd=xsd0: %d, want 405", resp.StatusCode)
	}
}
