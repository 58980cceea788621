package sysusertest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// serveREST handles the JSON twin of Authenticate.
func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		http.Error(w, "unsupported media type", http.StatusUnsupportedMediaType)
		return
	}
	var req struct {
		SignedSystemToken string
		ApplicationToken  string
		ContextIdentifier string
		ReturnTokenType   string
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "malformed JSON", http.StatusBadRequest)
		return
	}
	resp := struct {
		IsSuccessful bool
		Token        *string
		ErrorMessage *string
	}{}
	if !strings.EqualFold(req.ReturnTokenType, "JWT") {
		msg := "sysusertest issues JWT tokens only"
		resp.ErrorMessage = &msg
	} else {
		token, refusal, status := s.authenticate(req.ApplicationToken, req.ContextIdentifier, req.SignedSystemToken)
		switch {
		case status != 0:
			failPage(w, status)
			return
		case refusal != "":
			resp.ErrorMessage = &refusal
		default:
			resp.IsSuccessful, resp.Token = true, &token
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(resp)
}
