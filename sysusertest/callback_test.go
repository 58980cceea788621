package sysusertest_test

import (
	"net/http"
	"strings"
	"testing"
)

// Authorize and Callback.Request let a Go test run the flow without a
// browser: approve the URL the application redirected to, replay the
// callback.
func TestAuthorizeWithoutABrowser(t *testing.T) {
	s, a := codeFlowFake(t, nil)
	redirectURI := a.URL + "/callback?app=1"
	if err := s.RegisterClient(clientID, clientSecret, redirectURI); err != nil {
		t.Fatal(err)
	}
	verifier, challenge := pkce(t)

	for _, tc := range []struct {
		mode, method, origin string // the response mode, the callback's method and Origin
	}{
		{mode: "query", method: "GET", origin: ""},
		{mode: "form_post", method: "POST", origin: s.Root},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			cb, err := s.Authorize("Cust1", authorizeURL(s, redirectURI, challenge, "response_mode", tc.mode))
			if err != nil {
				t.Fatal(err)
			}
			req, err := cb.Request()
			if err != nil {
				t.Fatal(err)
			}
			req.AddCookie(&http.Cookie{Name: "flow", Value: "browser-bound"})
			if resp, _ := do(t, req); resp.StatusCode != 200 {
				t.Fatalf("%s: app answered %d", tc.mode, resp.StatusCode)
			}
			got := a.last(t)
			if c, _ := got.Cookie("flow"); got.Method != tc.method || got.Form.Get("code") == "" || got.Form.Get("state") != "st-123" || c == nil {
				t.Fatalf("%s: app got %s %v", tc.mode, got.Method, got.Form)
			}
			if got.URL.Query().Get("app") != "1" {
				t.Errorf("%s: the redirect URI's own query was lost: %s", tc.mode, got.URL)
			}
			// As Chromium sends them (e2e's TestBrowserFakeApprovalPage): Origin
			// on the POST only; both ports on 127.0.0.1 make it same-site.
			if h := got.Header; h.Get("Origin") != tc.origin || h.Get("Referer") != s.Root+"/" || h.Get("Sec-Fetch-Site") != "same-site" || h.Get("Sec-Fetch-Mode") != "navigate" {
				t.Errorf("%s: Origin %q Referer %q Sec-Fetch-Site %q Sec-Fetch-Mode %q", tc.mode, h.Get("Origin"), h.Get("Referer"), h.Get("Sec-Fetch-Site"), h.Get("Sec-Fetch-Mode"))
			}
			if tok := redeem(t, s, redeemForm(got.Form.Get("code"), redirectURI, verifier), "", ""); tok.status != 200 {
				t.Errorf("%s: redeem %d %s", tc.mode, tok.status, tok.ErrorDescription)
			}
		})
	}

	cb, err := s.Decline(authorizeURL(s, redirectURI, challenge))
	if err != nil || cb.Method != "GET" || cb.Params.Get("error") != "access_denied" || cb.Params.Get("state") != "st-123" {
		t.Errorf("decline: %+v %v", cb, err)
	}
	cb, err = s.Authorize("", authorizeURL(s, redirectURI, challenge, "response_mode", "fragment"))
	if err != nil || !strings.Contains(cb.URL, "#") || !strings.Contains(cb.URL, "code=") {
		t.Errorf("fragment: %+v %v", cb, err)
	} else if _, err := cb.Request(); err == nil {
		t.Error("a fragment callback gave a request")
	}
	if _, err := s.Authorize("", "https://sod.superoffice.com"+authorizePath+"?client_id="+clientID); err == nil {
		t.Error("Authorize took SuperOffice's own URL")
	}
	if _, err := s.Authorize("Cust404", authorizeURL(s, redirectURI, challenge)); err == nil {
		t.Error("Authorize approved an unknown tenant")
	}
}
