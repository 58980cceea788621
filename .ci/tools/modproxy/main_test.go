package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sysuserci/internal/repo"

	"golang.org/x/mod/modfile"
)

func parseModule(t *testing.T, gomod string) repo.Module {
	t.Helper()
	f, err := modfile.Parse("go.mod", []byte(gomod), nil)
	if err != nil {
		t.Fatal(err)
	}
	return repo.Module{Path: f.Module.Mod.Path, Dir: "sub", File: f}
}

func TestCheckRequirements(t *testing.T) {
	root := parseModule(t, "module example.com/m\n\ngo 1.24\n\nrequire golang.org/x/mod v0.0.0-20200101000000-abcdefabcdef\n")
	root.Dir = "."
	for _, tc := range []struct {
		name, require, extra, want string
	}{
		{"released", "v0.1.0", "", ""},
		{"older release", "v0.0.9", "", ""},
		{"v0.0.0", "v0.0.0", "", "v0.0.0, which is never released"},
		{"pseudo-version", "v0.0.0-20260101000000-abcdefabcdef", "", "want a released version"},
		{"prerelease", "v0.1.0-rc.1", "", "want a released version"},
		{"above", "v0.2.0", "", "above the version being released"},
		{"replace", "v0.1.0", "replace example.com/m => ../\n", "must not rely on replace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := parseModule(t, "module example.com/m/sub\n\ngo 1.24\n\nrequire example.com/m "+tc.require+"\n"+tc.extra)
			err := checkRequirements([]repo.Module{root, sub}, "v0.1.0")
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestBumpRequirements(t *testing.T) {
	dir := t.TempDir()
	root := parseModule(t, "module example.com/m\n\ngo 1.24\n")
	root.Dir = "."
	sub := parseModule(t, "module example.com/m/sub\n\ngo 1.24\n\nrequire (\n\texample.com/m v0.1.0\n\tgolang.org/x/mod v0.29.0\n)\n")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := bumpRequirements(dir, []repo.Module{root, sub}, "v0.2.0"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "sub", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	want := "module example.com/m/sub\n\ngo 1.24\n\nrequire (\n\texample.com/m v0.2.0\n\tgolang.org/x/mod v0.29.0\n)\n"
	if string(got) != want {
		t.Errorf("sub/go.mod:\n%s\nwant\n%s", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
		t.Error("the root's go.mod, which requires no sibling, was written")
	}
}
