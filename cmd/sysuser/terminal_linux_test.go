package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair through /dev/ptmx.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		m.Close()
		t.Skipf("TIOCGPTN: %v", e)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		m.Close()
		t.Skipf("TIOCSPTLCK: %v", e)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("opening the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

func TestTerminalDetection(t *testing.T) {
	_, tty := openPTY(t)
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	if !isTerminal(tty) {
		t.Error("a pseudo-terminal is not a terminal")
	}
	if isTerminal(devNull) {
		t.Error("/dev/null is a terminal")
	}
	if isTerminal(strings.NewReader("")) {
		t.Error("a strings.Reader is a terminal")
	}

	app, _, _ := keys(t)
	in := writeFile(t, "private.pem", pkcs1(app))
	r := runSysuser(t, runOpts{stdout: tty}, "key", "convert", "--in", in, "--to", "pkcs1")
	if r.code != exitUsage || !strings.Contains(r.stderr, "refusing to write a private key to a terminal") {
		t.Errorf("to a terminal: %v", r)
	}
	if r = runSysuser(t, runOpts{stdout: tty}, "key", "convert", "--in", in, "--to", "pkcs1", "--force-stdout"); r.code != exitOK {
		t.Errorf("--force-stdout: %v", r)
	}
	// verify reads standard input unless it is a terminal.
	r = runSysuser(t, runOpts{stdinFile: tty}, "verify", "-env", "sod")
	if r.code != exitUsage || !strings.Contains(r.stderr, "give the token") {
		t.Errorf("verify with a terminal on standard input: %v", r)
	}
	r = runSysuser(t, runOpts{stdinFile: devNull}, "verify", "-env", "sod")
	if r.code != exitUsage || !strings.Contains(r.stderr, "the token is empty") {
		t.Errorf("verify < /dev/null: %v", r)
	}
}
