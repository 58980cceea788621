package sysuser_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-superoffice/sysuser"
)

// Each Environment constant names SuperOffice's login service for it: the
// hosts SuperOffice's documentation gives (sod.superoffice.com for
// development, qaonline.superoffice.com for stage, which older samples call
// "stage", online.superoffice.com for production), each with its /login
// service, written out here rather than taken from the package.
func TestEnvironmentConstants(t *testing.T) {
	signer := newSigner(t)
	for _, c := range []struct {
		env  sysuser.Environment
		want string
	}{
		{env: sysuser.SOD, want: "https://sod.superoffice.com/login"},
		{env: sysuser.Stage, want: "https://qaonline.superoffice.com/login"},
		{env: sysuser.Online, want: "https://online.superoffice.com/login"},
		{env: "qaonline", want: "https://qaonline.superoffice.com/login"},
		{env: "Online", want: "https://online.superoffice.com/login"},
	} {
		t.Run(string(c.env), func(t *testing.T) {
			client, err := sysuser.NewClient(sysuser.Config{Environment: c.env, ApplicationToken: "a", Signer: signer})
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			if got := sysuser.LoginURLOf(client); got != c.want {
				t.Fatalf("login URL %s, want %s", got, c.want)
			}
		})
	}
}

// A value that is none of SuperOffice's environments is refused by every
// constructor that takes one, and the error names it.
func TestEnvironmentUnknownIsRefused(t *testing.T) {
	signer := newSigner(t)
	for _, env := range []sysuser.Environment{"production", "prod", "sod ", "dev"} {
		t.Run(string(env), func(t *testing.T) {
			_, err := sysuser.NewClient(sysuser.Config{Environment: env, ApplicationToken: "a", Signer: signer})
			if !errors.Is(err, sysuser.ErrInvalidConfig) || !strings.Contains(err.Error(), `"`+string(env)+`"`) {
				t.Errorf("NewClient: %v", err)
			}
			_, err = sysuser.NewApprovalVerifier(sysuser.ApprovalConfig{Environment: env, ClientID: testClientID})
			if !errors.Is(err, sysuser.ErrInvalidConfig) {
				t.Errorf("NewApprovalVerifier: %v", err)
			}
		})
	}
}

func newSigner(t *testing.T) *sysuser.Signer {
	t.Helper()
	s, err := sysuser.NewSigner(appKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
