package main

import (
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	// The test binary's build of the command runs in this repository:
	// its build information has the VCS revision of the checkout.
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Logf("no git here (%v): not comparing the revision", err)
	}
	re := regexp.MustCompile(`^sysuser (\S+) \(github\.com/go-superoffice/sysuser, revision ([0-9a-f]{40}(\+dirty)?|unknown)(, [0-9TZ:-]+)?\) (go\S+) \S+/\S+\n$`)
	var first string
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		r := runSysuser(t, runOpts{}, args...)
		m := re.FindStringSubmatch(r.stdout)
		if r.code != exitOK || m == nil {
			t.Fatalf("%v: %v", args, r)
		}
		if m[1] != "(devel)" && !strings.HasPrefix(m[1], "v") {
			t.Errorf("%v: module version %q", args, m[1])
		}
		if m[5] != runtime.Version() {
			t.Errorf("%v: Go version %s, want the toolchain's %s", args, m[5], runtime.Version())
		}
		// Go stamps the revision in a git checkout, not in a git worktree.
		if len(head) > 0 && m[2] != "unknown" && !strings.HasPrefix(m[2], strings.TrimSpace(string(head))) {
			t.Errorf("%v: revision %s, want HEAD %s", args, m[2], head)
		}
		if first == "" {
			first = r.stdout
		} else if r.stdout != first {
			t.Errorf("%v prints %q, version printed %q", args, r.stdout, first)
		}
	}
	if r := runSysuser(t, runOpts{}, "version", "extra"); r.code != exitUsage {
		t.Errorf("version extra: %v", r)
	}
}

func TestVersionLine(t *testing.T) {
	for _, c := range []struct {
		info *debug.BuildInfo
		want string
	}{
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/go-superoffice/sysuser", Version: "v0.1.0"},
			Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"}}},
			"sysuser v0.1.0 (github.com/go-superoffice/sysuser, revision unknown) go1.26.8 linux/arm64"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/go-superoffice/sysuser", Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "52dcce1a2b3c4d5e6f708192a3b4c5d6e7f80912"}, {Key: "vcs.time", Value: "2026-11-30T12:00:00Z"}, {Key: "vcs.modified", Value: "true"}}},
			"sysuser (devel) (github.com/go-superoffice/sysuser, revision 52dcce1a2b3c4d5e6f708192a3b4c5d6e7f80912+dirty, 2026-11-30T12:00:00Z) go1.26.8"},
	} {
		if got := versionLine(c.info); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}
