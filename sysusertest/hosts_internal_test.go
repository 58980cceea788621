package sysusertest

import "testing"

// URLs leave out the scheme's default port, as SuperOffice's do
// ("https://sod.superoffice.com"); numbered hosts number the first label.
func TestOriginAndNumberedName(t *testing.T) {
	for _, c := range []struct {
		scheme, name string
		port         int
		want         string
	}{
		{"https", "sod.superoffice.com", 443, "https://sod.superoffice.com"},
		{"http", "sod.superoffice.com", 80, "http://sod.superoffice.com"},
		{"https", "sod.superoffice.com", 8443, "https://sod.superoffice.com:8443"},
		{"http", "sod.superoffice.com", 443, "http://sod.superoffice.com:443"},
		{"https", "::1", 443, "https://[::1]"},
		{"http", "::1", 8080, "http://[::1]:8080"},
	} {
		if got := origin(c.scheme, c.name, c.port); got != c.want {
			t.Errorf("origin(%s, %s, %d) = %s, want %s", c.scheme, c.name, c.port, got, c.want)
		}
	}
	for name, want := range map[string]string{"sod.superoffice.com": "sod2.superoffice.com", "online.superoffice.com": "online2.superoffice.com", "fake": "fake2"} {
		if got := numberedName(name, 2); got != want {
			t.Errorf("numberedName(%s, 2) = %s, want %s", name, got, want)
		}
	}
}
