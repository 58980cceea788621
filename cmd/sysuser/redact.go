package main

import "strings"

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
