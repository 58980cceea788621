package sysuser

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// Bounds on the Retry-After the client honours. (The defaults of
// Config.MaxAttempts and Config.RetryDelay are in config.go.)
const (
	// maxRetryAfter is the longest Retry-After the client will wait out.
	maxRetryAfter = 30 * time.Second
	// retryAfterCeiling is the longest delay parseRetryAfter reports; any
	// longer Retry-After is reported as this, which is more than
	// maxRetryAfter, so the client gives up instead of waiting.
	retryAfterCeiling = 24 * time.Hour
)

// retryable reports whether err is a transient failure worth another
// attempt: a refused or reset connection, a network timeout, or HTTP 429,
// 502, 503 or 504. Refusals, invalid tokens, SOAP faults, malformed answers
// and other statuses are final. (The caller checks its own ctx first.)
func retryable(err error) bool {
	var re *readError
	if errors.As(err, &re) {
		return false // the answer had begun: the server may have acted
	}
	var he *HTTPError
	if errors.As(err, &he) {
		switch he.StatusCode {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// retryDelay is how long to wait before attempt n+1 (n ≥ 1): the server's
// Retry-After when it sent one, else base doubled per attempt with full
// jitter. ok is false when Retry-After asks for longer than the client will
// wait.
func retryDelay(err error, n int, base time.Duration, now time.Time) (d time.Duration, ok bool) {
	var he *HTTPError
	if errors.As(err, &he) && he.retryAfter != "" {
		if d, ok := parseRetryAfter(he.retryAfter, now); ok {
			return d, d <= maxRetryAfter
		}
	}
	d = base << min(n-1, 10)
	return d/2 + rand.N(d/2+1), true
}

// parseRetryAfter reads delay-seconds (digits only) or an HTTP-date. A
// delay longer than retryAfterCeiling, however long, is reported as
// retryAfterCeiling, so that no value can overflow into a short or negative
// wait; a date in the past is 0. ok is false when v is neither form.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	if isDelaySeconds(v) {
		secs, err := strconv.ParseInt(v, 10, 64) // only ErrRange can fail
		if err != nil || secs > int64(retryAfterCeiling/time.Second) {
			return retryAfterCeiling, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), retryAfterCeiling), true
	}
	return 0, false
}

// isDelaySeconds reports whether s is delay-seconds: one or more ASCII digits.
func isDelaySeconds(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
