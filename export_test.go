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
