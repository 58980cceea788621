package sysuser_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-superoffice/sysuser"
)

// A login server's huge refusal text is cut to about 512 bytes, without
// control characters, in the error, in the negative cache and in the log.
func TestServerTextIsBounded(t *testing.T) {
	msg := "Denied\r\n\u202e\t" + strings.Repeat("x", 40<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><AuthenticationResponse xmlns="http://www.superoffice.com/superid/partnersystemuser/0.1"><IsSuccessful>false</IsSuccessful><ErrorMessage>`+msg+`</ErrorMessage></AuthenticationResponse></s:Body></s:Envelope>`)
	}))
	defer srv.Close()
	var logs lockedBuffer
	env := newTestEnv(t, nil, nil)
	cfg := withLogin(env.cfg, srv.URL+"/login")
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	c := mustClient(t, cfg)
	tenant := c.Tenant(testTenant, testUserToken)
	for i := 0; i < 2; i++ { // the exchange, then the negative cache
		_, err := tenant.Ticket(context.Background())
		var ae *sysuser.AuthenticationError
		if !errors.As(err, &ae) {
			t.Fatalf("err = %v", err)
		}
		if len(ae.Message) > 512 || strings.ContainsAny(ae.Message, "\r\n\t\u202e") || !strings.HasPrefix(ae.Message, "Denied") {
			t.Fatalf("refusal message of %d bytes: %.80q", len(ae.Message), ae.Message)
		}
		if len(err.Error()) > 700 {
			t.Fatalf("error of %d bytes", len(err.Error()))
		}
	}
	if n := len(logs.String()); n > 2048 {
		t.Fatalf("%d bytes logged for one refusal", n)
	}
}
