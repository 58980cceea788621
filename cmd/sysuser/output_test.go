package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/go-superoffice/sysuser"
)

// claimsForOutput redacts the ticket and system_token claims only as
// asked, and leaves the claims it was given alone.
func TestClaimsForOutput(t *testing.T) {
	ticket := "7T:dGhpcyBpcyBhIHRpY2tldA=="
	claims := map[string]any{
		sysuser.ClaimNamespace + "ticket":       ticket,
		sysuser.ClaimNamespace + "system_token": testSystemToken,
		sysuser.ClaimNamespace + "ctx":          testTenant,
		"exp":                                   float64(1795437240),
	}
	original := map[string]any{}
	for k, v := range claims {
		original[k] = v
	}
	cases := []struct {
		name                            string
		redactTicket, redactSystemToken bool
		wantTicket, wantSystemToken     string
	}{
		{name: "both redacted", redactTicket: true, redactSystemToken: true,
			wantTicket: "7T:…[redacted]", wantSystemToken: "[redacted: --show-system-token prints it]"},
		{name: "ticket shown", redactSystemToken: true,
			wantTicket: ticket, wantSystemToken: "[redacted: --show-system-token prints it]"},
		{name: "system token shown", redactTicket: true,
			wantTicket: "7T:…[redacted]", wantSystemToken: testSystemToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := claimsForOutput(claims, c.redactTicket, c.redactSystemToken)
			if got := out[sysuser.ClaimNamespace+"ticket"]; got != c.wantTicket {
				t.Errorf("ticket = %q, want %q", got, c.wantTicket)
			}
			if got := out[sysuser.ClaimNamespace+"system_token"]; got != c.wantSystemToken {
				t.Errorf("system_token = %q, want %q", got, c.wantSystemToken)
			}
			if out[sysuser.ClaimNamespace+"ctx"] != testTenant || out["exp"] != float64(1795437240) {
				t.Errorf("other claims changed: %v", out)
			}
			if !reflect.DeepEqual(claims, original) {
				t.Error("the claims given were modified")
			}
		})
	}
}

// printClaims sorts SuperOffice's claims by their last part among the
// others, prints whole-number claims as integers, and gives the times
// in RFC 3339.
func TestPrintClaims(t *testing.T) {
	var b strings.Builder
	printClaims(&b, map[string]any{
		sysuser.ClaimNamespace + "ctx": testTenant,
		"iat":                          json.Number("1795437000"),
		"exp":                          float64(1795437240),
		"aud":                          "spn:1234",
		"ratio":                        1.5,
	})
	want := "claims (" + sysuser.ClaimNamespace + "... shown by their last part):\n" +
		"  aud                spn:1234\n" +
		"  ctx                Cust12345\n" +
		"  exp                1795437240 (2026-11-23T12:34:00Z)\n" +
		"  iat                1795437000 (2026-11-23T12:30:00Z)\n" +
		"  ratio              1.5\n"
	if b.String() != want {
		t.Errorf("printClaims printed\n%s\nwant\n%s", b.String(), want)
	}
}
