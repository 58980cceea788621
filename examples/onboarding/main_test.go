package main

import "testing"

// TestRun runs approval → stored token → ticket → WebApi call end to end.
func TestRun(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
