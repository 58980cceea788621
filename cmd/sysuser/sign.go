package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/go-superoffice/sysuser"
)

var signCommand = &command{
	name:     "sign",
	synopsis: "print the signed system user token (TOKEN.yyyyMMddHHmm.signature)",
	usage: `  sysuser sign [--token-file FILE] --key FILE [--at TIME]

Signs the system user token with the application's private key for the UTC
minute of --at (default: now), as SuperOffice specifies:
  TOKEN.yyyyMMddHHmm.base64(RSA-SHA256(TOKEN.yyyyMMddHHmm))
RSA PKCS#1 v1.5 signatures are deterministic: the output is byte-for-byte
comparable with any other implementation's for the same token, key and
minute. The signed token is a credential for a few minutes: handle it as one.

The system user token comes from $SO_SYSTEM_USER_TOKEN or -token-file;
-token works too, but other users of this machine see flags in ps.

  export SO_SYSTEM_USER_TOKEN   # set from your secret store
  sysuser sign --key private.xml --at 2026-11-23T12:34Z
  sysuser sign --token-file Cust12345.token --key private.xml
`,
	flags: func(c *cli) (*flag.FlagSet, func([]string) error) {
		fs := flag.NewFlagSet("sign", flag.ContinueOnError)
		var s settings
		s.addToken(fs, c)
		s.addKey(fs, c)
		at := fs.String("at", "", "the `time` to sign for: 2026-11-23T12:34Z, RFC 3339 or yyyyMMddHHmm (UTC); default now")
		return fs, func(args []string) error {
			if err := noArgs(fs, args); err != nil {
				return err
			}
			if err := s.resolve(fs); err != nil {
				return err
			}
			if s.token == "" {
				return usagef("missing SO_SYSTEM_USER_TOKEN (or -token)")
			}
			if s.keyFile == "" {
				return usagef("missing SO_PRIVATE_KEY_FILE (or -key)")
			}
			t := time.Now()
			if *at != "" {
				var err error
				if t, err = parseTime(*at); err != nil {
					return usagef("-at: %v", err)
				}
			}
			data, err := readKey(s.keyFile)
			if err != nil {
				return err
			}
			key, err := sysuser.ParsePrivateKey(data)
			if err != nil {
				return fmt.Errorf("%s: %w", s.keyFile, err)
			}
			signer, err := sysuser.NewSigner(key)
			if err != nil {
				return fmt.Errorf("%s: %w", s.keyFile, err)
			}
			signed, err := signer.SignAt(s.token, t)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(c.stdout, signed)
			return err
		}
	},
}
