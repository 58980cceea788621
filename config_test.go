package sysuser_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-superoffice/sysuser"
)

func TestNewClientRefusesBadConfig(t *testing.T) {
	key := readTestdata(t, "key-pkcs1.pem")
	signer := mustSigner(t)
	cases := []struct {
		name string
		cfg  sysuser.Config
		want error
	}{
		{name: "empty", cfg: sysuser.Config{}, want: sysuser.ErrInvalidConfig},
		{name: "no app token", cfg: sysuser.Config{Environment: "sod", PrivateKey: key}, want: sysuser.ErrInvalidConfig},
		{name: "no key", cfg: sysuser.Config{Environment: "sod", ApplicationToken: "a"}, want: sysuser.ErrInvalidConfig},
		{name: "both keys", cfg: sysuser.Config{Environment: "sod", ApplicationToken: "a", PrivateKey: key, Signer: signer}, want: sysuser.ErrInvalidConfig},
		{name: "bad key", cfg: sysuser.Config{Environment: "sod", ApplicationToken: "a", PrivateKey: []byte("nope")}, want: sysuser.ErrInvalidKey},
		{name: "no place", cfg: sysuser.Config{ApplicationToken: "a", Signer: signer}, want: sysuser.ErrInvalidConfig},
		{name: "unknown environment", cfg: sysuser.Config{Environment: "prod", ApplicationToken: "a", Signer: signer}, want: sysuser.ErrInvalidConfig},
		{name: "relative URL", cfg: sysuser.Config{LoginURL: "/login", ApplicationToken: "a", Signer: signer}, want: sysuser.ErrInvalidConfig},
		{name: "plain http to a remote host", cfg: sysuser.Config{LoginURL: "http://sod.superoffice.com/login", ApplicationToken: "a", Signer: signer}, want: sysuser.ErrInvalidConfig},
		{name: "ftp", cfg: sysuser.Config{LoginURL: "ftp://sod.superoffice.com/login", ApplicationToken: "a", Signer: signer}, want: sysuser.ErrInvalidConfig},
		{name: "query", cfg: sysuser.Config{LoginURL: "https://sod.superoffice.com/login?x=1", ApplicationToken: "a", Signer: signer}, want: sysuser.ErrInvalidConfig},
		{name: "unknown protocol", cfg: sysuser.Config{Environment: "sod", ApplicationToken: "a", Signer: signer, Protocol: 7}, want: sysuser.ErrInvalidConfig},
		{name: "bad certificate", cfg: sysuser.Config{Environment: "sod", ApplicationToken: "a", Signer: signer, Certificate: []byte("x")}, want: sysuser.ErrInvalidConfig},
		// 2^61 ns overflowed the backoff into a panic.
		{name: "absurd RetryDelay", cfg: sysuser.Config{Environment: "sod", ApplicationToken: "a", Signer: signer, RetryDelay: 1 << 61}, want: sysuser.ErrInvalidConfig},
		{name: "absurd ExchangeTimeout", cfg: sysuser.Config{Environment: "sod", ApplicationToken: "a", Signer: signer, ExchangeTimeout: 1 << 62}, want: sysuser.ErrInvalidConfig},
		{name: "absurd TicketLifetime", cfg: sysuser.Config{Environment: "sod", ApplicationToken: "a", Signer: signer, TicketLifetime: 1 << 62}, want: sysuser.ErrInvalidConfig},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client, err := sysuser.NewClient(c.cfg)
			if client != nil || !errors.Is(err, c.want) {
				t.Errorf("got %v, %v; want %v", client, err, c.want)
			}
		})
	}
	for env, want := range map[sysuser.Environment]string{
		"sod": "https://sod.superoffice.com/login", "stage": "https://qaonline.superoffice.com/login",
		"qaonline": "https://qaonline.superoffice.com/login", "online": "https://online.superoffice.com/login", "SOD": "https://sod.superoffice.com/login",
	} {
		t.Run(string(env), func(t *testing.T) {
			c, err := sysuser.NewClient(sysuser.Config{Environment: env, ApplicationToken: "a", Signer: signer})
			if err != nil || sysuser.LoginURLOf(c) != want {
				t.Errorf("%s: %v %v", env, c, err)
			}
		})
	}
	for _, ok := range []string{"http://127.0.0.1:8080/login", "http://localhost/login", "http://[::1]:9/login", "https://example.com/login/"} {
		t.Run(ok, func(t *testing.T) {
			if _, err := sysuser.NewClient(sysuser.Config{LoginURL: ok, ApplicationToken: "a", Signer: signer}); err != nil {
				t.Errorf("%s: %v", ok, err)
			}
		})
	}
}

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
