package sysusertest

// The browser model: the callback SuperID makes the browser send to the
// application once the administrator has decided.

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Callback is the request SuperID makes the browser send to the
// application's redirect URI once the administrator has decided: the
// authorization code and state, or the OAuth error parameters and state.
type Callback struct {
	// Method is GET for response_mode query (the default) and fragment,
	// POST for form_post.
	Method string
	// URL is where the browser goes. For query, the redirect URI with
	// Params added to its query; for fragment, with Params as its fragment
	// (which a browser does not send to the server); for form_post, the
	// redirect URI itself.
	URL string
	// Params are the parameters sent: code and state when approved; error
	// (such as access_denied), error_description and state otherwise.
	// state is there when the authorize request had one.
	Params url.Values

	origin string // the fake's origin, which a browser names in a POST's Origin
}

// Request returns the request a browser sends for c, for an
// http.Client's Do or a handler's ServeHTTP: a GET of URL, or for
// form_post a POST of Params, form-encoded, to URL. Its headers are those
// Chromium sends on the callback: Referer (the fake's origin + "/"),
// Sec-Fetch-Mode navigate, Sec-Fetch-Dest document, Origin (the fake's) on
// a POST only, and Sec-Fetch-Site: cross-site when URL's scheme or host
// differs from the fake's, as SuperOffice's always does; same-site when
// only the port differs, as for an application on 127.0.0.1 beside the
// fake; same-origin when neither does. Add the cookies the browser would
// carry with AddCookie: on a cross-site callback Chromium sends
// SameSite=Lax cookies with the GET but not with the POST. A fragment
// callback has nothing for a server to read: Request fails for it.
func (c *Callback) Request() (*http.Request, error) {
	var r *http.Request
	var err error
	switch c.Method {
	case http.MethodGet:
		if strings.Contains(c.URL, "#") {
			return nil, errors.New("sysusertest: a response_mode=fragment callback carries its parameters in the fragment, which the browser does not send")
		}
		r, err = http.NewRequest(http.MethodGet, c.URL, nil)
	case http.MethodPost:
		r, err = http.NewRequest(http.MethodPost, c.URL, strings.NewReader(c.Params.Encode()))
		if err == nil {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if c.origin != "" {
				r.Header.Set("Origin", c.origin)
			}
		}
	default:
		return nil, fmt.Errorf("sysusertest: callback method %q", c.Method)
	}
	if err != nil {
		return nil, err
	}
	r.Header.Set("Sec-Fetch-Mode", "navigate")
	r.Header.Set("Sec-Fetch-Dest", "document")
	if c.origin != "" { // a Callback of Authorize's
		r.Header.Set("Referer", c.origin+"/")
		r.Header.Set("Sec-Fetch-Site", fetchSite(c.origin, r.URL))
	}
	return r, nil
}

// fetchSite is Sec-Fetch-Site for a navigation from origin to u. Sites are
// compared by host name, without the public suffix list: right for
// loopback addresses and localhost, where the tests run.
func fetchSite(origin string, u *url.URL) string {
	o, err := url.Parse(origin)
	switch {
	case err != nil:
		return "cross-site"
	case strings.EqualFold(o.Scheme, u.Scheme) && strings.EqualFold(o.Host, u.Host):
		return "same-origin"
	case strings.EqualFold(o.Scheme, u.Scheme) && strings.EqualFold(o.Hostname(), u.Hostname()):
		return "same-site"
	}
	return "cross-site"
}

func (s *Server) errorCallback(req authzRequest, code, desc string) *Callback {
	p := url.Values{"error": {code}, "error_description": {desc}}
	if req.state != "" {
		p.Set("state", req.state)
	}
	return s.callback(req, p)
}

// callback sends p to the redirect URI as the response mode says.
func (s *Server) callback(req authzRequest, p url.Values) *Callback {
	cb := &Callback{Method: http.MethodGet, Params: p, origin: s.Root}
	switch req.responseMode {
	case "form_post":
		cb.Method, cb.URL = http.MethodPost, req.redirectURI
	case "fragment":
		u, _ := url.Parse(req.redirectURI) // RegisterClient checked it parses
		u.Fragment, u.RawFragment = "", ""
		cb.URL = u.String() + "#" + p.Encode()
	default:
		u, _ := url.Parse(req.redirectURI)
		q := u.Query() // the redirect URI's own query is kept (RFC 6749 3.1.2)
		for k, v := range p {
			q[k] = v
		}
		u.RawQuery = q.Encode()
		cb.URL = u.String()
	}
	return cb
}
