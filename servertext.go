package sysuser

import (
	"unicode"
	"unicode/utf8"
)

// maxServerTextBytes bounds text that came from a server (ErrorMessage,
// faultstring, ...) before it goes into an error, a cache or a log.
const maxServerTextBytes = 512

// serverTextEllipsis marks text serverText cut short.
const serverTextEllipsis = "…"

// serverText makes server-controlled text safe to keep and to print on one
// line:
//
//   - invalid UTF-8 becomes U+FFFD;
//   - white space and control characters (C0 including \t \r \n, DEL, C1,
//     U+2028 and U+2029, and every other Unicode space) become a space,
//     runs of them collapse into one, and none is left at either end;
//   - format characters (Unicode category Cf), among them the bidi
//     embeddings and overrides U+202A-U+202E, the isolates U+2066-U+2069,
//     the marks U+200E, U+200F and U+061C, zero-width characters and the
//     byte order mark, are dropped;
//   - the result is at most maxServerTextBytes bytes: longer text is cut at
//     a rune boundary and ends in "…" (counted in the bound).
//
// The result never shares memory with s, so keeping it does not keep a
// large response alive, and reading stops soon after the bound is reached,
// so a huge s costs little.
func serverText(s string) string {
	out := make([]byte, 0, min(len(s), maxServerTextBytes))
	cut := 0 // len(out) after the last rune that leaves room for the ellipsis
	space := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size <= 1:
			r = unicode.ReplacementChar
		case unicode.IsSpace(r) || unicode.IsControl(r):
			space = len(out) > 0
			continue
		case unicode.Is(unicode.Cf, r):
			continue
		}
		need := utf8.RuneLen(r)
		if space {
			need++
		}
		if len(out)+need > maxServerTextBytes {
			return string(append(out[:cut], serverTextEllipsis...))
		}
		if space {
			out = append(out, ' ')
			space = false
		}
		out = utf8.AppendRune(out, r)
		if len(out)+len(serverTextEllipsis) <= maxServerTextBytes {
			cut = len(out)
		}
	}
	return string(out)
}
