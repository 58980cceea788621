package main

import (
	"slices"
	"strings"
	"testing"
)

func TestPackageAPI(t *testing.T) {
	lines, err := packageAPI("testdata/example", "example.com/example")
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "pkg example.com/example, ")
	}
	slices.Sort(lines)
	want := []string{
		"const High Level",
		"const Low Level",
		"const Name = \"example\"",
		"const Timeout = 2 * time.Second",
		"func Map[T, U any]([]T, func(T) U) []U",
		"func New(string, string) *Options",
		"func OnLinux()",
		"method (*Options) Close() error",
		"method (Level) String() string",
		"type Alias = Options",
		"type Level int",
		"type Options struct",
		"type Options struct, A string",
		"type Options struct, B string",
		"type Options struct, Hook func(string, int) error",
		"type Options struct, embedded io.Reader",
		"type Pair[K comparable, V any] struct",
		"type Pair[K comparable, V any] struct, Key K",
		"type Sealed interface",
		"type Sealed interface, Open() error",
		"type Sealed interface, unexported methods",
		"type Store interface",
		"type Store interface, Get(string) ([]byte, error)",
		"type Store interface, embedded io.Closer",
		"var Count int",
		"var Default *Options",
		"var ErrX error",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestUnreleasedEntries(t *testing.T) {
	changelog := `# Changelog

## Unreleased

Prose about the section, naming redisstore.

- ` + "`redisstore`" + `: Store.Close is
  Shutdown.
* Another entry.

A closing paragraph.

## v0.1.0 — 2026-12-01

- Released entry.
`
	got := unreleasedEntries([]byte(changelog))
	want := []string{"- `redisstore`: Store.Close is Shutdown.", "* Another entry."}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := unreleasedEntries([]byte("# Changelog\n\n## v0.1.0\n\n- x\n")); len(got) != 0 {
		t.Errorf("no Unreleased section: got %q", got)
	}
}
