package sysuser

// KeySetCount returns how many shared key sets the process holds, for the
// external tests.
func KeySetCount() int { return keySets.len() }
