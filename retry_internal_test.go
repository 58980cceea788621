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
		{"0", 0, true},
		{"1", time.Second, true},
		{"30", 30 * time.Second, true},
		{"0030", 30 * time.Second, true},
		{"120", 2 * time.Minute, true},
		{"86400", retryAfterCeiling, true},
		{"86401", retryAfterCeiling, true},
		// 9223372037 s × 1e9 overflows int64 nanoseconds into a negative
		// Duration; it must read as "very long", not as "now".
		{"9223372037", retryAfterCeiling, true},
		{"9223372036854775807", retryAfterCeiling, true},
		{"99999999999999999999", retryAfterCeiling, true},
		{"-1", 0, false},
		{"+5", 0, false},
		{" 5", 0, false},
		{"1.5", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"Fri, 31 Dec 9999 23:59:59 GMT", retryAfterCeiling, true},
		{"Sunday, 06-Nov-94 08:49:37 GMT", 0, true},
	}
	for _, c := range cases {
		got, ok := parseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
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
