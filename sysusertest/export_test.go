package sysusertest

// IssuedTickets returns how many tickets s has issued in all.
func IssuedTickets(s *Server) int { return s.issuedTickets() }

// Origin and NumberedName are origin and numberedName, for hosts_test.go.
var (
	Origin       = origin
	NumberedName = numberedName
)
