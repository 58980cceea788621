package sysuser

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{in: "0", want: 0, ok: true},
		{in: "1", want: time.Second, ok: true},
		{in: "30", want: 30 * time.Second, ok: true},
		{in: "0030", want: 30 * time.Second, ok: true},
		{in: "120", want: 2 * time.Minute, ok: true},
		{in: "86400", want: retryAfterCeiling, ok: true},
		{in: "86401", want: retryAfterCeiling, ok: true},
		// 9223372037 s × 1e9 overflows int64 nanoseconds into a negative
		// Duration; it must read as "very long", not as "now".
		{in: "9223372037", want: retryAfterCeiling, ok: true},
		{in: "9223372036854775807", want: retryAfterCeiling, ok: true},
		{in: "99999999999999999999", want: retryAfterCeiling, ok: true},
		{in: "-1", want: 0, ok: false},
		{in: "+5", want: 0, ok: false},
		{in: " 5", want: 0, ok: false},
		{in: "1.5", want: 0, ok: false},
		{in: "", want: 0, ok: false},
		{in: "soon", want: 0, ok: false},
		{in: now.Add(10 * time.Second).Format(http.TimeFormat), want: 10 * time.Second, ok: true},
		{in: now.Add(-time.Hour).Format(http.TimeFormat), want: 0, ok: true},
		{in: "Fri, 31 Dec 9999 23:59:59 GMT", want: retryAfterCeiling, ok: true},
		{in: "Sunday, 06-Nov-94 08:49:37 GMT", want: 0, ok: true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, ok := parseRetryAfter(c.in, now)
			if got != c.want || ok != c.ok {
				t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
			}
		})
	}
}

// TestRetryAfterTooLongIsNotWaitedOut: a Retry-After beyond maxRetryAfter,
// however large, ends the retries; before the fix 9223372037 overflowed
// into a negative delay and the retry happened at once.
func TestRetryAfterTooLongIsNotWaitedOut(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"31", "120", "9223372037", "99999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"} {
		err := &HTTPError{StatusCode: http.StatusTooManyRequests, retryAfter: v}
		if d, ok := retryDelay(err, 1, time.Millisecond, now); ok {
			t.Errorf("Retry-After %q: retry after %v", v, d)
		}
	}
	for _, v := range []string{"-1", "soon"} {
		err := &HTTPError{StatusCode: http.StatusServiceUnavailable, retryAfter: v}
		if d, ok := retryDelay(err, 1, time.Millisecond, now); !ok || d > time.Millisecond {
			t.Errorf("unusable Retry-After %q: %v, %v; want the usual backoff", v, d, ok)
		}
	}
}
