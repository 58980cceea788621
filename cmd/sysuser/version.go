package main

import (
	"flag"
	"fmt"
	"runtime/debug"
	"strings"
)

var versionCommand = &command{
	name:     "version",
	synopsis: "print the module version, VCS revision and Go version of this binary",
	usage: `  sysuser version   (or sysuser --version)

Prints what the binary was built from, as its build information records it:
the module version ("(devel)" when built from a checkout), the VCS revision
and time (with "+dirty" for uncommitted changes) when it was built in a
git repository (not a git worktree, which Go does not stamp), else
"revision unknown", and the Go version and platform. go install
github.com/go-superoffice/sysuser/cmd/sysuser@v0.1.0 records v0.1.0.
`,
	flags: func(c *cli) (*flag.FlagSet, func([]string) error) {
		fs := flag.NewFlagSet("version", flag.ContinueOnError)
		return fs, func(args []string) error {
			if err := noArgs(fs, args); err != nil {
				return err
			}
			info, ok := debug.ReadBuildInfo()
			if !ok {
				return fmt.Errorf("this binary carries no build information")
			}
			_, err := fmt.Fprintln(c.stdout, versionLine(info))
			return err
		}
	},
}

// versionLine says what the binary was built from, such as
// "sysuser v0.1.0 (github.com/go-superoffice/sysuser, revision 52dcce1a2b3c, 2026-11-30T12:00:00Z) go1.26.8 linux/amd64".
func versionLine(info *debug.BuildInfo) string {
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var rev, at, goos, goarch string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	parts := []string{info.Main.Path}
	switch {
	case rev != "" && dirty:
		parts = append(parts, "revision "+rev+"+dirty")
	case rev != "":
		parts = append(parts, "revision "+rev)
	default:
		parts = append(parts, "revision unknown")
	}
	if at != "" {
		parts = append(parts, at)
	}
	line := fmt.Sprintf("sysuser %s (%s) %s", version, strings.Join(parts, ", "), info.GoVersion)
	if goos != "" {
		line += " " + goos + "/" + goarch
	}
	return line
}
