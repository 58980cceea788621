package sysuser_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-superoffice/sysuser"
)

// TestRESTRequestShape checks the JSON body and headers on the wire.
func TestRESTRequestShape(t *testing.T) {
	var got map[string]any
	var hdr http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr = r.Header.Clone()
		if r.URL.Path != "/login/api/PartnerSystemUser/Authenticate" || r.Method != http.MethodPost {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		json.NewDecoder(r.Body).Decode(&got)
		io.WriteString(w, `{"IsSuccessful":false,"Token":null,"ErrorMessage":"Denied"}`)
	}))
	defer srv.Close()
	c := mustClient(t, sysuser.Config{LoginURL: srv.URL + "/login/", ApplicationToken: testAppToken, PrivateKey: readTestdata(t, "key.xml"), Protocol: sysuser.REST})
	_, err := c.Exchange(context.Background(), testTenant, testUserToken)
	var ae *sysuser.AuthenticationError
	if !errors.As(err, &ae) || ae.Message != "Denied" || ae.ContextIdentifier != testTenant {
		t.Fatalf("err = %v", err)
	}
	if len(got) != 4 || got["ApplicationToken"] != testAppToken || got["ContextIdentifier"] != testTenant || got["ReturnTokenType"] != "JWT" ||
		!strings.HasPrefix(got["SignedSystemToken"].(string), testUserToken+".") {
		t.Fatalf("body %v", got)
	}
	if hdr.Get("Content-Type") != "application/json" || hdr.Get("Accept") != "application/json" {
		t.Fatalf("headers %v", hdr)
	}
}
