package main

import (
	"strings"
	"testing"
)

func TestRunNamesEachMissingSetting(t *testing.T) {
	for _, v := range []string{"SO_ENVIRONMENT", "SO_APP_TOKEN", "SO_PRIVATE_KEY_FILE", "SO_SYSTEM_USER_TOKEN", "SO_CONTEXT_IDENTIFIER"} {
		t.Setenv(v, "")
	}
	err := run([]string{"-env", "sod", "-tenant", "Cust12345"})
	if err == nil {
		t.Fatal("ran without configuration")
	}
	for _, want := range []string{"SO_APP_TOKEN", "SO_PRIVATE_KEY_FILE", "SO_SYSTEM_USER_TOKEN"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	for _, set := range []string{"SO_ENVIRONMENT", "SO_CONTEXT_IDENTIFIER"} {
		if strings.Contains(err.Error(), set) {
			t.Errorf("error names %s, which was given: %v", set, err)
		}
	}
}

func TestRunRefusesAnUnusableKeyFile(t *testing.T) {
	dir := t.TempDir()
	err := run([]string{"-env", "sod", "-app-token", "x", "-key", dir + "/missing.pem", "-token", "t", "-tenant", "Cust1"})
	if err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Fatalf("err = %v", err)
	}
}
