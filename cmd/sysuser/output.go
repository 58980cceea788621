package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/go-superoffice/sysuser"
)

// claimsForOutput copies claims, redacting the ticket and system_token
// claims as asked.
func claimsForOutput(claims map[string]any, redactTicket, redactSystemToken bool) map[string]any {
	out := make(map[string]any, len(claims))
	for k, v := range claims {
		switch {
		case redactTicket && k == sysuser.ClaimNamespace+"ticket":
			s, _ := v.(string)
			v = redactedTicket(s)
		case redactSystemToken && k == sysuser.ClaimNamespace+"system_token":
			v = "[redacted: --show-system-token prints it]"
		}
		out[k] = v
	}
	return out
}

// printClaims prints claims sorted by the names it shows: SuperOffice's by
// their last part.
func printClaims(w io.Writer, claims map[string]any) {
	short := make(map[string]string, len(claims))
	names := make([]string, 0, len(claims))
	for k := range claims {
		n := strings.TrimPrefix(k, sysuser.ClaimNamespace)
		short[n] = k
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "claims (%s... shown by their last part):\n", sysuser.ClaimNamespace)
	for _, n := range names {
		v := claims[short[n]]
		s := fmt.Sprint(v)
		if i, ok := number(v); ok {
			s = fmt.Sprint(i)
			switch n {
			case "iat", "nbf", "exp", "auth_time":
				s += " (" + time.Unix(i, 0).UTC().Format(time.RFC3339) + ")"
			}
		}
		fmt.Fprintf(w, "  %-18s %s\n", n, clean(s, 400))
	}
}

func number(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		return int64(n), n == float64(int64(n))
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case int64:
		return n, true
	}
	return 0, false
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// redactedTicket returns a form of a ticket that is safe to print: its type
// prefix (such as "7T:") and a marker, never its secret part.
func redactedTicket(ticket string) string {
	if ticket == "" {
		return ""
	}
	if i := strings.IndexByte(ticket, ':'); i > 0 && i <= 4 {
		return ticket[:i+1] + "…[redacted]"
	}
	return "[redacted]"
}
