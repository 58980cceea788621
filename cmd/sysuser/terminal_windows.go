package main

import (
	"os"
	"syscall"
)

// isTerminal reports whether v is an *os.File open on a console.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	var mode uint32
	return syscall.GetConsoleMode(syscall.Handle(f.Fd()), &mode) == nil
}
