package sysuser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// StateChange is a state-change notification SuperOffice sent to the
// application's State Change URL, verified by Client.StateChangeHandler.
type StateChange struct {
	// Change is what happened, named after SuperOffice's ChangeType:
	// "Upgrade" (0), "BackupRestored" (1), "Suspend" (2), "Resume" (3) or
	// "Delete" (4); a number SuperOffice adds later is kept as its digits.
	Change string
	// ContextIdentifier is the tenant, such as "Cust12345".
	ContextIdentifier string
	// VersionName and FileVersion are the tenant's version after the
	// change, as sent ("Release 8.4 R08", "8.4.12.1234").
	VersionName, FileVersion string
	// IssuedAt is when SuperOffice issued the notification's token (its
	// iat, or nbf when it has no iat).
	IssuedAt time.Time
}

// changeTypes are SuperOffice's documented ChangeType values, by number.
var changeTypes = []string{"Upgrade", "BackupRestored", "Suspend", "Resume", "Delete"}

// maxNotificationBytes bounds a notification's body. A real one is a few
// hundred bytes of JSON around a JWT.
const maxNotificationBytes = 16 << 10

// notificationBody is the documented JSON of a notification. Unknown fields
// are ignored.
type notificationBody struct {
	ChangeType        json.RawMessage
	ContextIdentifier string
	VersionName       string
	FileVersion       string
	Token             string
}

// StateChangeHandler returns the http.Handler for the application's State
// Change URL (registered in SuperOffice's Developer Portal), where
// SuperOffice POSTs JSON such as
//
//	{"ChangeType":2,"ContextIdentifier":"Cust12345","VersionName":"...","FileVersion":"...","Token":"<JWT>"}
//
// when a tenant is upgraded, restored from a backup, suspended, resumed or
// deleted. The handler verifies Token: RS256 by SuperOffice's key (the
// Client's key set, or Config.Certificate), issued by the environment's
// login origin (such as "https://sod.superoffice.com", as SuperOffice's own
// sample checks), within its lifetime (exp required) with Config.Leeway,
// and, when the token carries a ctx claim, for the tenant the body names.
// Anything else is refused with a 4xx status and has no effect: another
// method (405), a body over 16 KiB (413), malformed JSON or tenant (400), a
// token that fails (401) or names another tenant (403). When SuperOffice's
// keys cannot be fetched it answers 503, so that a retry may succeed.
//
// A verified notification acts on the Client, then is handed to onChange
// (which may be nil):
//
//   - Suspend and Delete pause the tenant: Ticket and the transport return
//     a *TenantNotRunningError, with no exchange, until a Resume, or until
//     the state API, asked again after 15 minutes, says it runs.
//   - Resume ends such a pause.
//   - BackupRestored drops the tenant's cached ticket, here and in the
//     Config.Store, so the next call exchanges anew.
//   - Upgrade makes the next consultation of the state ask the state API,
//     and starts a lookup now.
//
// Notifications are applied in the order their tokens were issued: one
// issued before the newest applied for the tenant (a replay, or a retry
// that arrives late) is acknowledged with 200 and changes nothing; onChange
// does not see it.
//
// SuperOffice documents the JSON and the issuer check; it does not document
// the token's audience or other claims, its lifetime, retries or ordering.
// The audience is therefore not checked, the ctx claim only when present
// (under SuperOffice's claim namespace, or plain "ctx"), and these rules are
// the library's own.
func (c *Client) StateChangeHandler(onChange func(context.Context, StateChange)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, status, reason := c.readNotification(w, r)
		if status != http.StatusOK {
			c.log.LogAttrs(r.Context(), slog.LevelWarn, "sysuser: state-change notification refused", slog.Int("status", status), slog.String("reason", reason))
			if c.obs != nil && c.obs.Notification != nil {
				c.obs.Notification(r.Context(), Event{StatusCode: status})
			}
			if status == http.StatusMethodNotAllowed {
				w.Header().Set("Allow", http.MethodPost)
			}
			http.Error(w, reason, status)
			return
		}
		applied := c.applyNotification(r.Context(), n)
		c.log.LogAttrs(r.Context(), slog.LevelInfo, "sysuser: state-change notification", slog.String("tenant", n.ContextIdentifier),
			slog.String("change", n.Change), slog.Bool("applied", applied))
		if c.obs != nil && c.obs.Notification != nil {
			c.obs.Notification(r.Context(), Event{Tenant: n.ContextIdentifier, Change: n.Change, StatusCode: http.StatusOK, Applied: applied})
		}
		w.WriteHeader(http.StatusOK)
		if applied && onChange != nil {
			onChange(r.Context(), n)
		}
	})
}

// readNotification reads and verifies a notification. It returns it with
// 200, or the status to refuse it with and why.
func (c *Client) readNotification(w http.ResponseWriter, r *http.Request) (StateChange, int, string) {
	var n StateChange
	if r.Method != http.MethodPost {
		return n, http.StatusMethodNotAllowed, "a state-change notification is a POST"
	}
	if err := c.checkOpen(); err != nil {
		return n, http.StatusServiceUnavailable, "the Client is closed"
	}
	var body notificationBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxNotificationBytes))
	if err := dec.Decode(&body); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return n, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", maxNotificationBytes)
		}
		return n, http.StatusBadRequest, "body is not a state-change notification's JSON"
	}
	change, ok := changeName(body.ChangeType)
	if !ok {
		return n, http.StatusBadRequest, "ChangeType is not a number"
	}
	if err := checkContextIdentifier(body.ContextIdentifier); err != nil {
		return n, http.StatusBadRequest, "ContextIdentifier is not a tenant id"
	}
	if body.Token == "" {
		return n, http.StatusUnauthorized, "Token is missing"
	}
	claims, err := verifyJWT(r.Context(), body.Token, c.keys, c.notices)
	if errors.Is(err, ErrKeySetUnavailable) {
		return n, http.StatusServiceUnavailable, "SuperOffice's signing keys are unavailable"
	}
	if err != nil {
		return n, http.StatusUnauthorized, "Token is not valid: " + strings.TrimPrefix(err.Error(), "sysuser: ")
	}
	for _, name := range []string{claimContext, "ctx"} {
		if v, present := claims[name]; present {
			if ctx, _ := v.(string); !strings.EqualFold(ctx, body.ContextIdentifier) {
				return n, http.StatusForbidden, "Token is for another tenant"
			}
		}
	}
	n = StateChange{Change: change, ContextIdentifier: body.ContextIdentifier,
		VersionName: serverText(body.VersionName), FileVersion: serverText(body.FileVersion), IssuedAt: issuedAt(claims)}
	return n, http.StatusOK, ""
}

// changeName names a ChangeType, given as a number (as documented) or as
// its name.
func changeName(raw json.RawMessage) (string, bool) {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		for _, known := range changeTypes {
			if strings.EqualFold(name, known) {
				return known, true
			}
		}
		return "", false
	}
	var n int
	if json.Unmarshal(raw, &n) != nil || n < 0 {
		return "", false
	}
	if n < len(changeTypes) {
		return changeTypes[n], true
	}
	return strconv.Itoa(n), true
}

// issuedAt is the token's iat, or its nbf, or the zero time.
func issuedAt(claims jwt.MapClaims) time.Time {
	for _, get := range []func() (*jwt.NumericDate, error){claims.GetIssuedAt, claims.GetNotBefore} {
		if d, err := get(); err == nil && d != nil {
			return d.Time
		}
	}
	return time.Time{}
}

// applyNotification acts on a verified notification, unless one issued
// later was applied for the tenant already. It reports whether it acted.
func (c *Client) applyNotification(ctx context.Context, n StateChange) bool {
	st := c.state(n.ContextIdentifier)
	w := &st.where
	w.mu.Lock()
	if n.IssuedAt.Before(w.noticeAt) {
		w.mu.Unlock()
		return false
	}
	w.noticeAt = n.IssuedAt
	w.mu.Unlock()
	now := c.now()
	switch n.Change {
	case "Suspend", "Delete":
		state := State("Suspended")
		if n.Change == "Delete" {
			state = "Deleted"
		}
		st.expireStatus()
		c.pause(st, TenantStatus{ContextIdentifier: n.ContextIdentifier, State: state}, now.Add(maxStatusTTL))
	case "Resume":
		st.expireStatus()
		c.resume(st)
	case "BackupRestored":
		c.dropTicket(ctx, st)
	case "Upgrade":
		st.expireStatus()
		go c.lookupStatus(context.WithoutCancel(ctx), st, w.gen.Load(), 0)
	}
	return true
}

// dropTicket drops the tenant's ticket here and in the shared store.
func (c *Client) dropTicket(ctx context.Context, st *tenantState) {
	if e := st.cur.Load(); e != nil {
		st.dropLocal(e.res.Ticket)
	}
	if c.store == nil {
		return
	}
	op := "get"
	res, _, err := c.store.Get(ctx, st.id)
	if err == nil && res != nil {
		op = "delete"
		_, err = c.store.CompareAndDelete(ctx, st.id, res.Ticket)
	}
	if err != nil {
		c.storeFailed(ctx, st.id, op, err, false)
		c.log.LogAttrs(ctx, slog.LevelWarn, "sysuser: ticket store failed while dropping a restored tenant's ticket", slog.String("tenant", st.id), slog.String("error", err.Error()))
	}
}
