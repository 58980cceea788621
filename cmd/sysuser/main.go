// Command sysuser checks, signs, exchanges and verifies SuperOffice system
// user credentials, converts application keys between .NET XML and PEM, and
// runs a fake SuperOffice for clients in any language.
//
//	go install github.com/go-superoffice/sysuser/cmd/sysuser@latest
//
// Subcommands:
//
//	sysuser doctor                      check key, network, clock, key set, an exchange and the state
//	sysuser sign --key FILE             print the signed system user token
//	sysuser exchange                    exchange the system user token for a ticket
//	sysuser verify [TOKEN|FILE|-]       verify a SuperOffice JWT and print its claims
//	sysuser state CTX                   print a tenant's state from SuperOffice's state API
//	sysuser key convert --in F --to pem|pkcs1|pkcs8|xml [--out F]
//	sysuser fake --addr 127.0.0.1:8089  run a fake SuperOffice until interrupted
//	sysuser version                     print the module version, VCS revision and Go version
//
// Settings come from flags or, as in examples/ticket, from the environment:
// SO_ENVIRONMENT (-env), SO_LOGIN_URL (-login-url), SO_APP_TOKEN
// (-app-token), SO_PRIVATE_KEY_FILE (-key), SO_SYSTEM_USER_TOKEN (-token),
// SO_CONTEXT_IDENTIFIER (-tenant) and SO_CLIENT_ID (-client-id). Give the
// tokens through the environment or files (-app-token-file, -token-file):
// other users see command lines in ps. Run "sysuser help COMMAND" for a
// subcommand's flags and its --json fields.
//
// Exit codes: 0 success (for doctor, every check ok or only warnings); 1 a
// check or the operation failed; 2 a usage error (unknown command or flag,
// a missing or malformed argument).
//
// No secret (application token, system user token, ticket, private key) is
// printed unless a flag asks for it; sign prints the signed token, its
// purpose, and fake prints the credentials it made up for its clients.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-superoffice/sysuser"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}))
}

// cli is what a subcommand talks to: its standard streams and environment.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one subcommand.
type command struct {
	name, synopsis string
	usage          string // the text after "Usage:", flags follow
	flags          func(c *cli) (*flag.FlagSet, func(args []string) error)
}

// commands lists the subcommands in the order help shows them.
func commands() []*command {
	return []*command{doctorCommand, signCommand, exchangeCommand, verifyCommand, stateCommand, keyCommand, fakeCommand, versionCommand}
}

const exitCodesHelp = `Exit codes:
  0  success (doctor: every check ok, or only warnings)
  1  a check or the operation failed (doctor: a FAIL line; exchange: refused
     or unreachable; verify: the token is not valid; key, sign, fake: an
     unreadable or unusable input)
  2  usage error: unknown command or flag, missing or malformed argument
`

func mainUsage(w io.Writer) {
	fmt.Fprint(w, `sysuser: tools for SuperOffice system users (github.com/go-superoffice/sysuser)

Usage:
  sysuser COMMAND [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.synopsis)
	}
	fmt.Fprint(w, `  help      show a command's flags: sysuser help doctor (also --version)

Settings come from flags or from the environment, as in examples/ticket:
  SO_ENVIRONMENT         -env        sod, stage (qaonline) or online
  SO_LOGIN_URL           -login-url  the login service, overrides -env
  SO_APP_TOKEN           -app-token  the application token (client secret)
  SO_PRIVATE_KEY_FILE    -key        the application's private key, .NET XML or PEM
  SO_SYSTEM_USER_TOKEN   -token      the tenant's system user token
  SO_CONTEXT_IDENTIFIER  -tenant     the tenant id, e.g. Cust12345
  SO_CLIENT_ID           -client-id  the application's client id (verify, id_tokens)
Give the tokens through the variables or files (-app-token-file,
-token-file), not as flags: other users of this machine see flags in ps.
Help shows whether a secret variable is set, never its value. Flags take
one or two dashes (-key or --key).

No secret (application token, system user token, ticket, private key) is
printed unless a flag asks for it; sign prints the signed token, its purpose,
and fake prints the credentials it made up for its clients.

`)
	fmt.Fprint(w, exitCodesHelp)
}

// run runs the command line args (without the program name) and returns
// the exit code.
func run(args []string, c *cli) int {
	if len(args) == 0 {
		mainUsage(c.stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-version", "--version":
		return run(append([]string{"version"}, rest...), c)
	case "-h", "-help", "--help", "help":
		if name == "help" && len(rest) > 0 {
			return run([]string{rest[0], "--help"}, c)
		}
		mainUsage(c.stdout)
		return exitOK
	}
	for _, cmd := range commands() {
		if cmd.name == name {
			return cmd.run(c, rest)
		}
	}
	fmt.Fprintf(c.stderr, "sysuser: unknown command %q\nRun 'sysuser help' for the commands.\n", name)
	return exitUsage
}

// run parses args with the command's flag set, runs it and maps the result
// to an exit code.
func (cmd *command) run(c *cli, args []string) int {
	fs, body := cmd.flags(c)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {} // help goes to stdout below; parse errors say their own line
	err := body(args)
	var ue *usageError
	var ee exitError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		cmd.help(c.stdout, fs)
		return exitOK
	case errors.As(err, &ee):
		return int(ee)
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintf(c.stderr, "sysuser %s: %s\n", cmd.name, ue.msg)
		}
		fmt.Fprintf(c.stderr, "Run 'sysuser %s --help' for usage.\n", cmd.name)
		return exitUsage
	default:
		fmt.Fprintf(c.stderr, "sysuser %s: %s\n", cmd.name, failureText(err))
		return exitFail
	}
}

// help prints the command's usage text and flags.
func (cmd *command) help(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "sysuser %s: %s\n\nUsage:\n%s\nFlags:\n", cmd.name, cmd.synopsis, cmd.usage)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, "\n"+exitCodesHelp)
}

// failureText is the one line a failed command prints after its name: the
// error without the library's "sysuser: " prefixes (the line starts with
// the command's name already), and what to do for the errors whose text
// does not say it.
func failureText(err error) string {
	msg := clean(strings.ReplaceAll(err.Error(), "sysuser: ", ""), 400)
	switch {
	case errors.Is(err, sysuser.ErrInvalidKey) && strings.Contains(err.Error(), "password-protected"):
		// Its text says how to decrypt it.
	case errors.Is(err, sysuser.ErrInvalidKey):
		msg += " — fix: give the application's RSA private key as SuperOffice issued it (.NET XML) or converted to PEM; sysuser doctor checks it"
	}
	return msg
}

// usageError is a mistake in how the command was called: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitError ends a command with its code, the command having said why.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// parseArgs parses flags and positional arguments in any order (flag.Parse
// stops at the first positional one) and returns the positional ones. A
// "--" ends the flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{} // the flag package has said what is wrong
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// noArgs parses args and refuses positional arguments.
func noArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", clean(pos[0], 40))
	}
	return nil
}

// clean makes text from elsewhere (a server's message, an error) safe to
// print on one line: control and format characters become spaces or go,
// runs of white space collapse, and it is cut to max runes.
func clean(s string, max int) string {
	var b strings.Builder
	space, n := false, 0
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			r = unicode.ReplacementChar
		case unicode.IsSpace(r) || unicode.IsControl(r):
			space = b.Len() > 0
			continue
		case unicode.Is(unicode.Cf, r):
			continue
		}
		if n >= max {
			b.WriteString("…")
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// scrub replaces each secret that occurs in s with [redacted].
func scrub(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}
