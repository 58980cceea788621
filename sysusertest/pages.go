package sysusertest

// The pages SuperID shows the administrator's browser: the approval page,
// error pages and the auto-submitting form of response_mode=form_post.

import (
	"html/template"
	"maps"
	"net/http"
	"slices"
)

var approvalPage = template.Must(template.New("approve").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>SuperOffice: approve {{.ClientID}}</title></head>
<body>
<h1>Approve {{.ClientID}}</h1>
<p id="request">The application <strong id="application">{{.ClientID}}</strong> asks to sign you in
and for system user access to <strong id="tenant-name">{{.Tenant}}</strong>.</p>
<form id="decision" method="post" action="{{.Action}}">
<input type="hidden" name="request" value="{{.Request}}">
<label for="tenant">Tenant</label>
<select id="tenant" name="tenant">{{range .Tenants}}
<option value="{{.}}"{{if eq . $.Tenant}} selected{{end}}>{{.}}</option>{{end}}
</select>
<button id="approve" type="submit" name="decision" value="approve">Approve</button>
<button id="decline" type="submit" name="decision" value="decline">Decline</button>
</form>
<p><small>sysusertest: a fake of SuperOffice's SuperID, for tests.</small></p>
</body>
</html>
`))

var formPostPage = template.Must(template.New("form_post").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Working...</title></head>
<body>
<form method="post" action="{{.URL}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"></noscript>
</form>
<script>document.forms[0].submit()</script>
</body>
</html>
`))

var errorPage = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>SuperOffice: sign-in error</title></head>
<body><h1>Sign-in error</h1><p id="error">{{.}}</p></body>
</html>
`))

func htmlHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
}

// showError answers with an error page: the browser stays at the fake.
func showError(w http.ResponseWriter, status int, msg string) {
	htmlHeaders(w)
	w.WriteHeader(status)
	errorPage.Execute(w, msg)
}

// serveAuthorize answers an authorize request with the approval page, an
// error page, or an OAuth error sent back to the application.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		showError(w, http.StatusMethodNotAllowed, "use GET")
		return
	}
	if err := r.ParseForm(); err != nil {
		showError(w, http.StatusBadRequest, "malformed request")
		return
	}
	req, aerr := s.parseAuthorize(r.Form)
	if aerr != nil {
		if aerr.page {
			showError(w, http.StatusBadRequest, aerr.desc)
		} else {
			s.send(w, s.errorCallback(req, aerr.code, aerr.desc))
		}
		return
	}
	tenants, selected := s.tenantNames(), s.preselected(req)
	now := s.opts.Clock()
	id := randomToken(24)
	s.sid.mu.Lock()
	if s.sid.pending == nil {
		s.sid.pending = map[string]pendingDecision{}
	}
	for k, p := range s.sid.pending {
		if now.Sub(p.created) > pendingLifetime {
			delete(s.sid.pending, k)
		}
	}
	s.sid.pending[id] = pendingDecision{req: req, created: now}
	s.sid.mu.Unlock()
	htmlHeaders(w)
	approvalPage.Execute(w, map[string]any{
		"ClientID": req.clientID,
		"Tenant":   selected,
		"Tenants":  tenants,
		"Action":   decidePath,
		"Request":  id,
	})
}

// serveDecide takes the approval page's decision, once.
func (s *Server) serveDecide(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		showError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		showError(w, http.StatusBadRequest, "malformed request")
		return
	}
	now := s.opts.Clock()
	id := r.PostForm.Get("request")
	s.sid.mu.Lock()
	p, ok := s.sid.pending[id]
	delete(s.sid.pending, id)
	s.sid.mu.Unlock()
	if !ok || now.Sub(p.created) > pendingLifetime {
		showError(w, http.StatusBadRequest, "this approval request is unknown, expired or already decided: start again from the application")
		return
	}
	switch r.PostForm.Get("decision") {
	case "approve":
		cb, err := s.approve(p.req, r.PostForm.Get("tenant"))
		if err != nil {
			showError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.send(w, cb)
	case "decline":
		s.send(w, s.decline(p.req))
	default:
		showError(w, http.StatusBadRequest, "decision must be approve or decline")
	}
}

// send makes the browser deliver cb: a 302 for query and fragment, an
// auto-submitting form for form_post.
func (s *Server) send(w http.ResponseWriter, cb *Callback) {
	if cb.Method == http.MethodGet {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Location", cb.URL)
		w.WriteHeader(http.StatusFound)
		return
	}
	type field struct{ Name, Value string }
	var fields []field
	for _, k := range slices.Sorted(maps.Keys(cb.Params)) {
		for _, v := range cb.Params[k] {
			fields = append(fields, field{k, v})
		}
	}
	htmlHeaders(w)
	formPostPage.Execute(w, map[string]any{"URL": cb.URL, "Fields": fields})
}
