package example

// OnWindows is not.
func OnWindows() {}
