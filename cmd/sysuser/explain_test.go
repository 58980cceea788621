package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// Each failure a user meets exits with its code (1 failed, 2 usage) and
// says on one line what is wrong and what to do.

// oneLine fails unless msg is one line.
func oneLine(t *testing.T, what, msg string) {
	t.Helper()
	if strings.Count(strings.TrimRight(msg, "\n"), "\n") > 0 {
		t.Errorf("%s: more than one line:\n%s", what, msg)
	}
}

func TestFailuresExitCodesAndMessages(t *testing.T) {
	app, _, _ := keys(t)
	keyFile := writeFile(t, "app.pem", pkcs1(app))
	empty := writeFile(t, "empty.key", nil)
	garbage := writeFile(t, "garbage.key", []byte("not a key\n"))
	f := newFake(t, 0)
	env := settingsEnv(f.loginURL, keyFile)
	for _, c := range []struct {
		name string
		o    runOpts
		args []string
		code int
		says []string
		not  []string
	}{
		{"negative timeout", runOpts{env: env}, []string{"doctor", "-timeout", "-5s"}, exitUsage,
			[]string{"-timeout", "positive duration"}, nil},
		{"zero timeout", runOpts{env: env}, []string{"exchange", "-timeout", "0s"}, exitUsage,
			[]string{"-timeout", "positive duration"}, nil},
		{"empty key file, exchange", runOpts{env: settingsEnv(f.loginURL, empty)}, []string{"exchange"}, exitFail,
			[]string{"sysuser exchange: " + empty + " is empty", "private key"}, []string{"PrivateKey nor Signer"}},
		{"empty key file, sign", runOpts{}, []string{"sign", "-token", "t", "-key", empty}, exitFail,
			[]string{empty + " is empty"}, nil},
		{"garbage key, sign: one prefix", runOpts{}, []string{"sign", "-token", "t", "-key", garbage}, exitFail,
			[]string{"sysuser sign: " + garbage + ": invalid private key", "fix:"}, []string{"sysuser: "}},
		{"garbage key, key convert: one prefix", runOpts{}, []string{"key", "convert", "-in", garbage, "-to", "pem"}, exitFail,
			[]string{"sysuser key: " + garbage + ": invalid private key", "fix:"}, []string{"sysuser: "}},
		{"missing key file", runOpts{}, []string{"sign", "-token", "t", "-key", filepath.Join(t.TempDir(), "nope.pem")}, exitFail,
			[]string{"nope.pem: no such file"}, []string{"open "}},
		{"missing token file", runOpts{env: env}, []string{"exchange", "-token-file", filepath.Join(t.TempDir(), "nope.txt")}, exitFail,
			[]string{"-token-file", "nope.txt: no such file"}, nil},
		{"token file and flag", runOpts{env: env}, []string{"exchange", "-token-file", keyFile, "-token", "x"}, exitUsage,
			[]string{"not both"}, nil},
	} {
		r := runSysuser(t, c.o, c.args...)
		if r.code != c.code {
			t.Errorf("%s: want exit %d: %v", c.name, c.code, r)
			continue
		}
		for _, s := range c.says {
			if !strings.Contains(r.stderr, s) {
				t.Errorf("%s: stderr does not say %q: %v", c.name, s, r)
			}
		}
		for _, s := range c.not {
			if strings.Contains(r.stderr, s) {
				t.Errorf("%s: stderr says %q: %v", c.name, s, r)
			}
		}
		if c.code == exitFail {
			oneLine(t, c.name, r.stderr)
		}
		assertNoSecrets(t, r.stdout+r.stderr, app)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
