package sysuser

import "time"

// Hooks for the external tests; they are compiled only into tests.

// LoginURLOf returns the login URL c talks to.
func LoginURLOf(c *Client) string { return c.loginURL }

// TenantCount returns how many tenants c keeps state for.
func TenantCount(c *Client) int {
	n := 0
	c.tenants.Range(func(_, _ any) bool { n++; return true })
	return n
}

// SetSweepInterval changes how often c sweeps idle tenants, for tests.
func SetSweepInterval(c *Client, d time.Duration) { c.sweepEvery = d }

// Negatives returns how many tenants' failures c remembers.
func Negatives(c *Client) int64 { return c.negatives.Load() }

// MaxOnce is how many used states and nonces an Onboarding remembers.
const MaxOnce = maxOnce

// RecordUsedState records a state as used by a callback, as ServeHTTP does
// before redeeming the code, and reports whether it was new.
func RecordUsedState(o *Onboarding, state string, expires, now time.Time) bool {
	return o.used.add("state:"+state, expires, now)
}

// UsedCount returns how many used states and nonces o remembers.
func UsedCount(o *Onboarding) int { return o.used.len() }

// KeySetCount returns how many shared key sets the process holds, for the
// external tests.
func KeySetCount() int { return keySets.len() }
