package sysusertest

// IssuedTickets returns how many tickets s has issued in all.
func IssuedTickets(s *Server) int { return s.issuedTickets() }
