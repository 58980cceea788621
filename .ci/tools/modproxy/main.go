// Command modproxy writes a file-based Go module proxy holding every
// published module of the repository at one version, zipped as the module
// proxy serves a tagged release, so that a clean module elsewhere can
// `go get` them with GOPROXY=file://DIR,https://proxy.golang.org.
//
//	modproxy -version v0.1.0 -out DIR
//
// It reads the files git tracks (with their working-tree contents, so an
// edit is included without a commit but a new file only once added), as a
// tag would hold them, and fails when a published module's go.mod could not
// be used from outside the repository: a replace directive, or a sibling
// module required at v0.0.0, at a pseudo-version or above the version being
// released. With -list it only prints the published modules, one
// "PATH DIR" a line.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

func main() {
	version := flag.String("version", "", "the `version` being released, such as v0.1.0")
	out := flag.String("out", "", "the proxy `directory` to write (created; existing versions of other modules are kept)")
	root := flag.String("root", "", "the repository `directory` (default: the git top level of the current directory)")
	list := flag.Bool("list", false, "print the published modules, one \"PATH DIR\" a line, and exit")
	flag.Parse()
	if err := run(*root, *version, *out, *list); err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
}

func run(root, version, out string, list bool) error {
	if root == "" {
		top, err := git(".", "rev-parse", "--show-toplevel")
		if err != nil {
			return err
		}
		root = strings.TrimSpace(string(top))
	}
	files, err := trackedFiles(root)
	if err != nil {
		return err
	}
	mods, err := publishedModules(root, files)
	if err != nil {
		return err
	}
	if list {
		for _, m := range mods {
			fmt.Printf("%s %s\n", m.path, m.dir)
		}
		return nil
	}
	if !semver.IsValid(version) || semver.Canonical(version) != version || module.IsPseudoVersion(version) {
		return fmt.Errorf("-version %q: want a release version such as v0.1.0", version)
	}
	if out == "" {
		return errors.New("-out is required")
	}
	if err := checkRequirements(mods, version); err != nil {
		return err
	}

	// Export the tracked files, so that CreateFromDir sees the tree a tag
	// would hold (no build output, no node_modules) and leaves nested
	// modules out of each zip as it does for the proxy.
	export, err := os.MkdirTemp("", "modproxy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(export)
	for _, f := range files {
		if err := copyFile(filepath.Join(root, f), filepath.Join(export, f)); err != nil {
			return err
		}
	}
	when, err := commitTime(root)
	if err != nil {
		return err
	}
	for _, m := range mods {
		if err := writeModule(out, filepath.Join(export, filepath.FromSlash(m.dir)), m, version, when); err != nil {
			return fmt.Errorf("%s: %w", m.path, err)
		}
	}
	return nil
}

// mod is one published module.
type mod struct {
	path string // module path
	dir  string // slash-separated, relative to the repository root; "." for the root
	file *modfile.File
}

// publishedModules returns the modules of every tracked go.mod, root first,
// except those in a directory named e2e, examples or testdata, or one whose
// name starts with "." or "_" (test-only and tool modules).
func publishedModules(root string, files []string) ([]mod, error) {
	var mods []mod
	for _, f := range files {
		if path.Base(f) != "go.mod" {
			continue
		}
		dir := path.Dir(f)
		if !published(dir) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, f))
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
		mods = append(mods, mod{path: mf.Module.Mod.Path, dir: dir, file: mf})
	}
	slices.SortFunc(mods, func(a, b mod) int { return strings.Compare(a.path, b.path) })
	if len(mods) == 0 || mods[0].dir != "." {
		return nil, errors.New("no go.mod at the repository root")
	}
	for _, m := range mods[1:] {
		if want := mods[0].path + "/" + m.dir; m.path != want {
			return nil, fmt.Errorf("%s/go.mod: module %s, want %s (a sub-module's path is the root's plus its directory)", m.dir, m.path, want)
		}
	}
	return mods, nil
}

func published(dir string) bool {
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

// checkRequirements reports what would break a published module for its
// users: Go ignores a dependency's replace directives, so each sibling must
// be required at a version that exists once the release is tagged.
func checkRequirements(mods []mod, version string) error {
	siblings := map[string]bool{}
	for _, m := range mods {
		siblings[m.path] = true
	}
	var errs []error
	for _, m := range mods {
		name := path.Join(m.dir, "go.mod")
		for _, r := range m.file.Replace {
			errs = append(errs, fmt.Errorf("%s: replace %s: a published module must not rely on replace (Go ignores it outside the repository; go.work joins the modules here)", name, r.Old.Path))
		}
		for _, r := range m.file.Require {
			p, v := r.Mod.Path, r.Mod.Version
			if !siblings[p] {
				continue
			}
			switch {
			case module.IsPseudoVersion(v) || semver.Prerelease(v) != "" || semver.Build(v) != "":
				errs = append(errs, fmt.Errorf("%s: requires %s %s: want a released version", name, p, v))
			case v == "v0.0.0":
				errs = append(errs, fmt.Errorf("%s: requires %s v0.0.0, which is never released: want the version it needs, at most %s", name, p, version))
			case semver.Compare(v, version) > 0:
				errs = append(errs, fmt.Errorf("%s: requires %s %s, above the version being released (%s)", name, p, v, version))
			}
		}
	}
	return errors.Join(errs...)
}

// writeModule writes m at version into the proxy directory out: the
// version's .info, .mod and .zip and the list of versions.
func writeModule(out, dir string, m mod, version string, when time.Time) error {
	if err := module.Check(m.path, version); err != nil {
		return err
	}
	esc, err := module.EscapePath(m.path)
	if err != nil {
		return err
	}
	vdir := filepath.Join(out, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(vdir, version)

	var zbuf bytes.Buffer
	if err := modzip.CreateFromDir(&zbuf, module.Version{Path: m.path, Version: version}, dir); err != nil {
		return err
	}
	if err := os.WriteFile(base+".zip", zbuf.Bytes(), 0o644); err != nil {
		return err
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".mod", gomod, 0o644); err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, when.UTC()})
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".info", append(info, '\n'), 0o644); err != nil {
		return err
	}

	listFile := filepath.Join(vdir, "list")
	var versions []string
	if data, err := os.ReadFile(listFile); err == nil {
		versions = strings.Fields(string(data))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if !slices.Contains(versions, version) {
		versions = append(versions, version)
	}
	semver.Sort(versions)
	if err := os.WriteFile(listFile, []byte(strings.Join(versions, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s@%s: %d bytes zipped from %s\n", m.path, version, zbuf.Len(), m.dir)
	return nil
}

// trackedFiles returns the slash-separated paths of the files git tracks
// that exist in the working tree.
func trackedFiles(root string) ([]string, error) {
	data, err := git(root, "ls-files", "-z", "--cached")
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

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o644)
}

// commitTime is HEAD's commit time, the time the proxy reports for the
// version.
func commitTime(root string) (time.Time, error) {
	out, err := git(root, "log", "-1", "--format=%cI")
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339, strings.TrimSpace(string(out)))
}

func git(dir string, args ...string) ([]byte, error) {
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
