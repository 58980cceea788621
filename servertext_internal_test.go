package sysuser

import (
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestServerText(t *testing.T) {
	const max = maxServerTextBytes
	cut := func(s string) string { return s + "…" }
	cases := []struct {
		name, in, want string
	}{
		{name: "plain", in: "Calculated signature is invalid", want: "Calculated signature is invalid"},
		{name: "empty", in: "", want: ""},
		{name: "only white space", in: " \t\r\n ", want: ""},
		{name: "trimmed", in: "  Denied \n", want: "Denied"},
		{name: "line breaks become one space", in: "line one\r\nline two\n\n\tthree", want: "line one line two three"},
		{name: "log injection", in: "ok\nlevel=ERROR msg=forged", want: "ok level=ERROR msg=forged"},
		{name: "C0 controls", in: "a\x00b\x07c\x1bd\x7fe", want: "a b c d e"},
		{name: "escape sequence", in: "\x1b[31mred\x1b[0m", want: "[31mred [0m"},
		{name: "C1 controls", in: "a\u0085b\u009bc", want: "a b c"},
		{name: "Unicode line and paragraph separators", in: "a\u2028b\u2029c", want: "a b c"},
		{name: "other spaces", in: "a\u00a0\u3000b", want: "a b"},
		{name: "bidi overrides and isolates dropped", in: "user\u202egnp.exe\u202c \u2066x\u2069\u2067y\u2068z", want: "usergnp.exe xyz"},
		{name: "marks, zero-width and BOM dropped", in: "\ufeffa\u200bb\u200e\u200fc\u061c", want: "abc"},
		{name: "invalid UTF-8", in: "a\xffb\xc3", want: "a\ufffdb\ufffd"},
		{name: "surrogate half", in: "a\xed\xa0\x80b", want: "a\ufffd\ufffd\ufffdb"},
		{name: "non-ASCII kept", in: "Ugyldig signatur – prøv igjen 🙂", want: "Ugyldig signatur – prøv igjen 🙂"},
		{name: "exactly the bound", in: strings.Repeat("a", max), want: strings.Repeat("a", max)},
		{name: "the bound after trimming", in: "  " + strings.Repeat("a", max) + "  \n", want: strings.Repeat("a", max)},
		{name: "one over the bound", in: strings.Repeat("a", max+1), want: cut(strings.Repeat("a", max-len("…")))},
		{name: "cut at a rune boundary", in: "a" + strings.Repeat("é", max), want: cut("a" + strings.Repeat("é", (max-len("…")-1)/2))},
		{name: "no space before the ellipsis", in: strings.Repeat("a", max-4) + " bbbbbbbbbb", want: cut(strings.Repeat("a", max-4))},
		{name: "collapsing brings it under the bound", in: strings.Repeat("a \n\t ", max/2), want: strings.TrimSpace(strings.Repeat("a ", max/2))},
		{name: "dropped characters do not count", in: strings.Repeat("a\u202e", max), want: strings.Repeat("a", max)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := serverText(c.in)
			if got != c.want {
				t.Fatalf("serverText(%q)\n = %q\nwant %q", c.in, got, c.want)
			}
			if len(got) > max || !utf8.ValidString(got) {
				t.Fatalf("%d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
			}
		})
	}
}

// TestServerTextIsSafe checks the properties on every input of a mix of
// hostile characters: valid UTF-8, at most the bound, no control, format,
// separator or non-space white space character, no double or edge space.
func TestServerTextIsSafe(t *testing.T) {
	pieces := []string{"a", "é", "🙂", " ", "\t", "\n", "\r", "\x00", "\x1b", "\x7f", "\u0085", "\u009b", "\u00a0",
		"\u2028", "\u2029", "\u202a", "\u202e", "\u2066", "\u2069", "\u200b", "\ufeff", "\xff", "\xc3", "\xe2\x80"}
	var b strings.Builder
	for i := 0; i < 4000; i++ {
		b.WriteString(pieces[(i*7+i/13)%len(pieces)])
		in := b.String()
		got := serverText(in)
		if len(got) > maxServerTextBytes || !utf8.ValidString(got) {
			t.Fatalf("%d bytes, valid %v", len(got), utf8.ValidString(got))
		}
		if strings.HasPrefix(got, " ") || strings.HasSuffix(got, " ") || strings.Contains(got, "  ") {
			t.Fatalf("bad spacing in %q", got)
		}
		for _, r := range got {
			if r != ' ' && (r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0xa0 || r == 0x2028 || r == 0x2029 ||
				(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200b || r == 0xfeff) {
				t.Fatalf("%U left in %q", r, got)
			}
		}
	}
}

// TestServerTextDoesNotRetainInput: what serverText returns for a 1 MiB
// message does not keep the message alive.
func TestServerTextDoesNotRetainInput(t *testing.T) {
	var kept []string
	before := liveHeap()
	for i := 0; i < 8; i++ {
		huge := strings.Repeat("Denied because ", (1<<20)/15) // 1 MiB, fresh each time
		kept = append(kept, serverText(huge))
	}
	retained := int64(liveHeap()) - int64(before)
	runtime.KeepAlive(kept)
	for _, s := range kept {
		if len(s) > maxServerTextBytes || !strings.HasSuffix(s, "…") {
			t.Fatalf("%d bytes: %q", len(s), s)
		}
	}
	if per := retained / int64(len(kept)); per >= 1<<10 {
		t.Fatalf("%d bytes retained per 1 MiB message, want < 1 KiB", per)
	}
	t.Logf("%d bytes retained for %d messages of 1 MiB", retained, len(kept))
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func BenchmarkServerText(b *testing.B) {
	for _, c := range []struct{ name, in string }{
		{name: "short", in: "Calculated signature is invalid"},
		{name: "1MiB", in: strings.Repeat("Denied because ", (1<<20)/15)},
		{name: "1MiB-controls", in: strings.Repeat("\n\t\u202e", (1<<20)/5)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.in)))
			for b.Loop() {
				serverText(c.in)
			}
		})
	}
}
