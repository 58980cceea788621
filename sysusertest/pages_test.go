package sysusertest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// response_mode=form_post: an auto-submitting form posts code and state to
// redirect_uri; the application authenticates with client_secret_basic.
func TestCodeFlowFormPost(t *testing.T) {
	s, a := codeFlowFake(t, nil)
	verifier, challenge := pkce(t)
	redirectURI := a.URL + "/callback"

	resp, body := decide(t, s, authorizeURL(s, redirectURI, challenge, "response_mode", "form_post"), "approve", "Cust1")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("approve: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, want := range []string{"<script>document.forms[0].submit()</script>", "<noscript>", `type="submit"`} {
		if !strings.Contains(body, want) {
			t.Errorf("form_post page lacks %s:\n%s", want, body)
		}
	}
	action, fields := page(t, body)
	if action != redirectURI {
		t.Fatalf("form posts to %s, want %s", action, redirectURI)
	}
	if fields.Get("state") != "st-123" || fields.Get("code") == "" || len(fields) != 2 {
		t.Fatalf("form fields %v, want code and state", fields)
	}
	// The browser's submission, replayed.
	if r, _ := postForm(t, action, fields); r.StatusCode != 200 {
		t.Fatalf("app: %d", r.StatusCode)
	}
	if got := a.last(t); got.Method != "POST" || got.PostForm.Get("code") != fields.Get("code") || got.PostForm.Get("state") != "st-123" {
		t.Fatalf("app got %s %v", got.Method, got.PostForm)
	}

	form := redeemForm(fields.Get("code"), redirectURI, verifier)
	form.Del("client_id")
	form.Del("client_secret")
	tok := redeem(t, s, form, clientID, clientSecret)
	if tok.status != 200 {
		t.Fatalf("redeem with client_secret_basic: %d %s %s", tok.status, tok.Error, tok.ErrorDescription)
	}
	verifyIDToken(t, s, tok.IDToken, "Cust1", "tok. with dots", "smTo3BqVY0GyDAxm2Xe5iA")
}

// Decline: error=access_denied with error_description and state, by the
// response mode asked.
func TestCodeFlowDecline(t *testing.T) {
	s, a := codeFlowFake(t, nil)
	_, challenge := pkce(t)
	redirectURI := a.URL + "/callback"

	resp, _ := decide(t, s, authorizeURL(s, redirectURI, challenge), "decline", "")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), redirectURI+"?") {
		t.Fatalf("decline: %d to %s", resp.StatusCode, loc)
	}
	if q := loc.Query(); q.Get("error") != "access_denied" || q.Get("error_description") == "" || q.Get("state") != "st-123" || q.Has("code") {
		t.Errorf("decline query %v", q)
	}

	resp, body := decide(t, s, authorizeURL(s, redirectURI, challenge, "response_mode", "form_post"), "decline", "")
	if resp.StatusCode != 200 {
		t.Fatalf("decline form_post: %d", resp.StatusCode)
	}
	action, fields := page(t, body)
	if action != redirectURI || fields.Get("error") != "access_denied" || fields.Get("error_description") == "" || fields.Get("state") != "st-123" || fields.Has("code") {
		t.Errorf("decline form_post to %s: %v", action, fields)
	}
}

// state comes back as sent, and the form_post page escapes it.
func TestFormPostEscapesState(t *testing.T) {
	s, a := codeFlowFake(t, nil)
	_, challenge := pkce(t)
	state := `"><script>alert(1)</script>&x=1`
	_, body := decide(t, s, authorizeURL(s, a.URL+"/callback", challenge, "response_mode", "form_post", "state", state), "approve", "")
	if strings.Contains(body, "<script>alert") {
		t.Fatalf("state not escaped:\n%s", body)
	}
	if _, fields := page(t, body); fields.Get("state") != state {
		t.Errorf("state %q, want %q", fields.Get("state"), state)
	}
}
