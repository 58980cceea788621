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
	for env, want := range map[string]string{
		"sod": "https://sod.superoffice.com/login", "stage": "https://qaonline.superoffice.com/login",
		"qaonline": "https://qaonline.superoffice.com/login", "online": "https://online.superoffice.com/login", "SOD": "https://sod.superoffice.com/login",
	} {
		t.Run(env, func(t *testing.T) {
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
