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
// "PATH DIR" a line; with -bump it sets the requirements of every published
// module on its siblings to -version (the release commit's change).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sysuserci/internal/repo"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

func main() {
	version := flag.String("version", "", "the `version` being released, such as v0.1.0")
	out := flag.String("out", "", "the proxy `directory` to write (created; existing versions of other modules are kept)")
	root := flag.String("root", "", "the repository `directory` (default: the git top level of the current directory)")
	list := flag.Bool("list", false, "print the published modules, one \"PATH DIR\" a line, and exit")
	bump := flag.Bool("bump", false, "set every published module's requirements on its siblings to -version, and exit")
	flag.Parse()
	if err := run(*root, *version, *out, *list, *bump); err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
}

func run(root, version, out string, list, bump bool) error {
	if root == "" {
		var err error
		if root, err = repo.Root("."); err != nil {
			return err
		}
	}
	files, err := repo.TrackedFiles(root)
	if err != nil {
		return err
	}
	mods, err := repo.PublishedModules(root, files)
	if err != nil {
		return err
	}
	if list {
		for _, m := range mods {
			fmt.Printf("%s %s\n", m.Path, m.Dir)
		}
		return nil
	}
	if !semver.IsValid(version) || semver.Canonical(version) != version || module.IsPseudoVersion(version) {
		return fmt.Errorf("-version %q: want a release version such as v0.1.0", version)
	}
	if bump {
		return bumpRequirements(root, mods, version)
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
		if err := writeModule(out, filepath.Join(export, filepath.FromSlash(m.Dir)), m, version, when); err != nil {
			return fmt.Errorf("%s: %w", m.Path, err)
		}
	}
	return nil
}

// checkRequirements reports what would break a published module for its
// users: Go ignores a dependency's replace directives, so each sibling must
// be required at a version that exists once the release is tagged.
func checkRequirements(mods []repo.Module, version string) error {
	siblings := map[string]bool{}
	for _, m := range mods {
		siblings[m.Path] = true
	}
	var errs []error
	for _, m := range mods {
		name := path.Join(m.Dir, "go.mod")
		for _, r := range m.File.Replace {
			errs = append(errs, fmt.Errorf("%s: replace %s: a published module must not rely on replace (Go ignores it outside the repository; go.work joins the modules here)", name, r.Old.Path))
		}
		for _, r := range m.File.Require {
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

// bumpRequirements rewrites each published module's go.mod to require
// the siblings it requires at version.
func bumpRequirements(root string, mods []repo.Module, version string) error {
	siblings := map[string]bool{}
	for _, m := range mods {
		siblings[m.Path] = true
	}
	for _, m := range mods {
		changed := false
		for _, r := range m.File.Require {
			if siblings[r.Mod.Path] && r.Mod.Version != version {
				if err := m.File.AddRequire(r.Mod.Path, version); err != nil {
					return err
				}
				changed = true
			}
		}
		if !changed {
			continue
		}
		data, err := m.File.Format()
		if err != nil {
			return err
		}
		name := path.Join(m.Dir, "go.mod")
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(name)), data, 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: siblings required at %s\n", name, version)
	}
	return nil
}

// writeModule writes m at version into the proxy directory out: the
// version's .info, .mod and .zip and the list of versions.
func writeModule(out, dir string, m repo.Module, version string, when time.Time) error {
	if err := module.Check(m.Path, version); err != nil {
		return err
	}
	esc, err := module.EscapePath(m.Path)
	if err != nil {
		return err
	}
	vdir := filepath.Join(out, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(vdir, version)

	var zbuf bytes.Buffer
	if err := modzip.CreateFromDir(&zbuf, module.Version{Path: m.Path, Version: version}, dir); err != nil {
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
	fmt.Printf("%s@%s: %d bytes zipped from %s\n", m.Path, version, zbuf.Len(), m.Dir)
	return nil
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
	out, err := repo.Git(root, "log", "-1", "--format=%cI")
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339, strings.TrimSpace(string(out)))
}
