// Package repo finds the repository's published modules, for modproxy and
// apilist.
package repo

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
)

// Module is one published module.
type Module struct {
	Path string // module path
	Dir  string // slash-separated, relative to the repository root; "." for the root
	File *modfile.File
}

// TagPrefix is what the module's release tags start with: "" for the root,
// "redisstore/" for the module in redisstore.
func (m Module) TagPrefix() string {
	if m.Dir == "." {
		return ""
	}
	return m.Dir + "/"
}

// Root returns the git top level of dir.
func Root(dir string) (string, error) {
	out, err := Git(dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// TrackedFiles returns the slash-separated paths of the regular files git
// tracks that exist in the working tree.
func TrackedFiles(root string) ([]string, error) {
	data, err := Git(root, "ls-files", "-z", "--cached")
	if err != nil {
		return nil, err
	}
	var files []string
	for _, f := range strings.Split(string(data), "\x00") {
		if f == "" {
			continue
		}
		fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(f)))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted, not yet committed
		}
		if err != nil {
			return nil, err
		}
		if fi.Mode().IsRegular() {
			files = append(files, f)
		}
	}
	return files, nil
}

// PublishedModules returns the module of every go.mod among files, root
// first, except those in a directory named e2e, examples or testdata, or
// one whose name starts with "." or "_" (test-only and tool modules). A
// sub-module's path must be the root's plus its directory.
func PublishedModules(root string, files []string) ([]Module, error) {
	var mods []Module
	for _, f := range files {
		if path.Base(f) != "go.mod" {
			continue
		}
		dir := path.Dir(f)
		if !Published(dir) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			return nil, err
		}
		mf, err := modfile.Parse(f, data, nil)
		if err != nil {
			return nil, err
		}
		if mf.Module == nil {
			return nil, fmt.Errorf("%s: no module line", f)
		}
		mods = append(mods, Module{Path: mf.Module.Mod.Path, Dir: dir, File: mf})
	}
	slices.SortFunc(mods, func(a, b Module) int { return strings.Compare(a.Path, b.Path) })
	if len(mods) == 0 || mods[0].Dir != "." {
		return nil, errors.New("no go.mod at the repository root")
	}
	for _, m := range mods[1:] {
		if want := mods[0].Path + "/" + m.Dir; m.Path != want {
			return nil, fmt.Errorf("%s/go.mod: module %s, want %s (a sub-module's path is the root's plus its directory)", m.Dir, m.Path, want)
		}
	}
	return mods, nil
}

// Published reports whether a go.mod in dir (slash-separated, relative to
// the root) is a published module.
func Published(dir string) bool {
	if dir == "." {
		return true
	}
	for _, e := range strings.Split(dir, "/") {
		if e == "e2e" || e == "examples" || e == "testdata" || strings.HasPrefix(e, ".") || strings.HasPrefix(e, "_") {
			return false
		}
	}
	return true
}

// Git runs git in dir and returns its standard output.
func Git(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
