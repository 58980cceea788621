package sysusertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ChangeType is the kind of a state-change notification, by SuperOffice's
// documented numbers.
type ChangeType int

// SuperOffice's documented change types.
const (
	ChangeUpgrade        ChangeType = 0
	ChangeBackupRestored ChangeType = 1
	ChangeSuspend        ChangeType = 2
	ChangeResume         ChangeType = 3
	ChangeDelete         ChangeType = 4
)

// Notification is a state-change notification for Notify to send.
type Notification struct {
	// ChangeType is what happened to the tenant.
	ChangeType ChangeType
	// VersionName and FileVersion name the tenant's SuperOffice version,
	// as in SuperOffice's example "Release 8.4 R08" and "8.4.12.1234".
	// Empty means the fake's own "sysusertest" and "1.0.0.0".
	VersionName, FileVersion string
	// IssuedAt is the token's iat. Zero means the fake's clock now, and
	// the notification applies its change to the tenant first (see
	// Notify). Set, it sends a notification as it was issued then, to
	// replay an older one, and changes nothing in the fake.
	IssuedAt time.Time
}

// Notify sends the tenant's state-change notification to url, as
// SuperOffice posts it to an application's State Change URL, and returns
// the HTTP status the application answered with. The body is the
// documented JSON: {"ChangeType":2,"ContextIdentifier":"Cust12345",
// "VersionName":"...","FileVersion":"...","Token":"<JWT>"}.
//
// Token is an RS256 JWT signed with the fake's current key (kid and x5t
// headers as its other tokens), iss Root (the fake's root, as
// SuperOffice's is "https://sod.superoffice.com"), iat, nbf iat - 60 s,
// exp iat + Options.TokenLifetime, and the tenant in the ctx claim
// "http://schemes.superoffice.net/identity/ctx". SuperOffice documents the
// issuer and the signing key only: the other claims, the absence of an
// audience and the lifetime are the fake's own choice.
//
// A fresh notification (IssuedAt zero) first applies its change here:
// ChangeSuspend sets the state to "Suspended", ChangeResume to "Running",
// ChangeDelete to "Deleted", each with the default ValidUntil (see
// SetState); ChangeUpgrade and ChangeBackupRestored change nothing. The
// tenant must have been added. Options.HTTPClient sends the request.
func (s *Server) Notify(ctx context.Context, contextIdentifier, url string, n Notification) (int, error) {
	now := s.opts.Clock()
	iat := n.IssuedAt
	s.mu.Lock()
	t := s.tenants[strings.ToLower(contextIdentifier)]
	if t != nil && iat.IsZero() {
		switch n.ChangeType {
		case ChangeSuspend:
			t.state, t.validUntil = "Suspended", time.Time{}
		case ChangeResume:
			t.state, t.validUntil = "Running", time.Time{}
		case ChangeDelete:
			t.state, t.validUntil = "Deleted", time.Time{}
		}
	}
	key := s.keys[len(s.keys)-1]
	s.mu.Unlock()
	if t == nil {
		return 0, fmt.Errorf("sysusertest: tenant %q was not added", contextIdentifier)
	}
	if iat.IsZero() {
		iat = now
	}
	if n.VersionName == "" {
		n.VersionName = "sysusertest"
	}
	if n.FileVersion == "" {
		n.FileVersion = "1.0.0.0"
	}
	token, err := key.sign(map[string]any{
		"iss":               s.Root,
		"iat":               iat.Unix(),
		"nbf":               iat.Add(-nbfBefore).Unix(),
		"exp":               iat.Add(s.opts.TokenLifetime).Unix(),
		claimPrefix + "ctx": contextIdentifier,
	})
	if err != nil {
		return 0, err
	}
	body, err := json.Marshal(struct {
		ChangeType        ChangeType
		ContextIdentifier string
		VersionName       string
		FileVersion       string
		Token             string
	}{n.ChangeType, contextIdentifier, n.VersionName, n.FileVersion, token})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("sysusertest: notification URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	hc := s.opts.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("sysusertest: sending the notification: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}
