package main

import "testing"

// TestRun runs the quickstart end to end against the in-process fake.
func TestRun(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
