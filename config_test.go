package sysuser_test

import (
	"errors"
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
		{"empty", sysuser.Config{}, sysuser.ErrInvalidConfig},
		{"no app token", sysuser.Config{Environment: "sod", PrivateKey: key}, sysuser.ErrInvalidConfig},
		{"no key", sysuser.Config{Environment: "sod", ApplicationToken: "a"}, sysuser.ErrInvalidConfig},
		{"both keys", sysuser.Config{Environment: "sod", ApplicationToken: "a", PrivateKey: key, Signer: signer}, sysuser.ErrInvalidConfig},
		{"bad key", sysuser.Config{Environment: "sod", ApplicationToken: "a", PrivateKey: []byte("nope")}, sysuser.ErrInvalidKey},
		{"no place", sysuser.Config{ApplicationToken: "a", Signer: signer}, sysuser.ErrInvalidConfig},
		{"unknown environment", sysuser.Config{Environment: "prod", ApplicationToken: "a", Signer: signer}, sysuser.ErrInvalidConfig},
		{"relative URL", sysuser.Config{LoginURL: "/login", ApplicationToken: "a", Signer: signer}, sysuser.ErrInvalidConfig},
		{"plain http to a remote host", sysuser.Config{LoginURL: "http://sod.superoffice.com/login", ApplicationToken: "a", Signer: signer}, sysuser.ErrInvalidConfig},
		{"ftp", sysuser.Config{LoginURL: "ftp://sod.superoffice.com/login", ApplicationToken: "a", Signer: signer}, sysuser.ErrInvalidConfig},
		{"query", sysuser.Config{LoginURL: "https://sod.superoffice.com/login?x=1", ApplicationToken: "a", Signer: signer}, sysuser.ErrInvalidConfig},
		{"unknown protocol", sysuser.Config{Environment: "sod", ApplicationToken: "a", Signer: signer, Protocol: 7}, sysuser.ErrInvalidConfig},
		{"bad certificate", sysuser.Config{Environment: "sod", ApplicationToken: "a", Signer: signer, Certificate: []byte("x")}, sysuser.ErrInvalidConfig},
		// 2^61 ns overflowed the backoff into a panic.
		{"absurd RetryDelay", sysuser.Config{Environment: "sod", ApplicationToken: "a", Signer: signer, RetryDelay: 1 << 61}, sysuser.ErrInvalidConfig},
		{"absurd ExchangeTimeout", sysuser.Config{Environment: "sod", ApplicationToken: "a", Signer: signer, ExchangeTimeout: 1 << 62}, sysuser.ErrInvalidConfig},
		{"absurd TicketLifetime", sysuser.Config{Environment: "sod", ApplicationToken: "a", Signer: signer, TicketLifetime: 1 << 62}, sysuser.ErrInvalidConfig},
	}
	for _, c := range cases {
		client, err := sysuser.NewClient(c.cfg)
		if client != nil || !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, %v; want %v", c.name, client, err, c.want)
		}
	}
	for env, want := range map[string]string{
		"sod": "https://sod.superoffice.com/login", "stage": "https://qaonline.superoffice.com/login",
		"qaonline": "https://qaonline.superoffice.com/login", "online": "https://online.superoffice.com/login", "SOD": "https://sod.superoffice.com/login",
	} {
		c, err := sysuser.NewClient(sysuser.Config{Environment: env, ApplicationToken: "a", Signer: signer})
		if err != nil || sysuser.LoginURLOf(c) != want {
			t.Errorf("%s: %v %v", env, c, err)
		}
	}
	for _, ok := range []string{"http://127.0.0.1:8080/login", "http://localhost/login", "http://[::1]:9/login", "https://example.com/login/"} {
		if _, err := sysuser.NewClient(sysuser.Config{LoginURL: ok, ApplicationToken: "a", Signer: signer}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}
