package redisstore

// Hooks for the external tests; they are compiled only into tests.

// Subscribers reports how many functions Subscribe registered that no stop
// or Close removed.
func Subscribers(s *Store) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}
