package main

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/go-superoffice/sysuser"
)

var keyCommand = &command{
	name:     "key",
	synopsis: "convert the application's private key: .NET XML <-> PEM (PKCS#1, PKCS#8)",
	usage: `  sysuser key convert --in FILE --to pem|pkcs1|pkcs8|xml [--out FILE]

Reads a private key in any form SuperOffice partners hold it (.NET XML as
RSACryptoServiceProvider.ToXmlString(true) writes it, PEM "RSA PRIVATE KEY"
or PEM "PRIVATE KEY") and writes it as:
  pem, pkcs8  PEM "PRIVATE KEY" (PKCS#8), what openssl pkey writes
  pkcs1       PEM "RSA PRIVATE KEY" (PKCS#1)
  xml         .NET XML in ToXmlString(true)'s element order: Modulus,
              Exponent, P, Q, DP, DQ, InverseQ, D
The output file is created with mode 0600 and never replaced unless
--overwrite. Without --out the key goes to standard output, which must not
be a terminal unless --force-stdout.

  sysuser key convert --in private.xml --to pem --out private.pem
`,
	flags: func(c *cli) (*flag.FlagSet, func([]string) error) {
		fs := flag.NewFlagSet("key", flag.ContinueOnError)
		in := fs.String("in", "", "the private key `file` to read (.NET XML or PEM)")
		to := fs.String("to", "", "output form: pem (= pkcs8), pkcs1, pkcs8 or xml")
		out := fs.String("out", "", "output `file` (mode 0600); standard output when empty")
		force := fs.Bool("force-stdout", false, "write the private key to standard output even when it is a terminal")
		overwrite := fs.Bool("overwrite", false, "replace -out when it exists")
		return fs, func(args []string) error {
			pos, err := parseArgs(fs, args)
			if err != nil {
				return err
			}
			if len(pos) == 0 || pos[0] != "convert" {
				return usagef("want: sysuser key convert --in FILE --to pem|pkcs1|pkcs8|xml [--out FILE]")
			}
			if len(pos) > 1 {
				return usagef("unexpected argument %q", clean(pos[1], 40))
			}
			if *in == "" {
				return usagef("-in FILE is required")
			}
			encode, ok := keyEncoders[strings.ToLower(*to)]
			if !ok {
				return usagef("-to %q: want pem, pkcs1, pkcs8 or xml", clean(*to, 20))
			}
			data, err := readKey(*in)
			if err != nil {
				return err
			}
			key, err := sysuser.ParsePrivateKey(data)
			if err != nil {
				return fmt.Errorf("%s: %w", *in, err)
			}
			outData, err := encode(key)
			if err != nil {
				return err
			}
			if *out == "" {
				if isTerminal(c.stdout) && !*force {
					return usagef("refusing to write a private key to a terminal: use --out FILE, redirect standard output, or --force-stdout")
				}
				if isTerminal(c.stdout) && !bytes.HasSuffix(outData, []byte("\n")) {
					outData = append(outData, '\n')
				}
				_, err := c.stdout.Write(outData)
				return err
			}
			return writeSecretFile(*out, outData, *overwrite)
		}
	},
}

// writeSecretFile writes data to name with mode 0600; see writeFileSafely.
func writeSecretFile(name string, data []byte, overwrite bool) error {
	return writeFileSafely(name, data, 0o600, overwrite)
}

// writeFileSafely writes data to name with mode perm, never through a link
// someone planted: it writes a new temporary file in name's directory and
// then renames it over name (which replaces a link, never its target), or
// without overwrite links it to name, which fails when anything is there.
// It refuses a name that exists and is not a regular file (a symbolic
// link, a directory, a device), and without overwrite any name that
// exists.
func writeFileSafely(name string, data []byte, perm os.FileMode, overwrite bool) error {
	if fi, err := os.Lstat(name); err == nil {
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			return fmt.Errorf("%s is a symbolic link: refusing to write through it; remove it or choose another file", name)
		case !fi.Mode().IsRegular():
			return fmt.Errorf("%s exists and is not a regular file: refusing to replace it", name)
		case !overwrite:
			return fmt.Errorf("%s exists; pass --overwrite to replace it", name)
		}
	}
	dir, base := filepath.Split(name)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return errors.New(pathErrorText(err))
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil && runtime.GOOS != "windows" {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if overwrite {
		err = os.Rename(tmp.Name(), name)
	} else if err = os.Link(tmp.Name(), name); err == nil || errors.Is(err, os.ErrExist) {
		os.Remove(tmp.Name())
		if errors.Is(err, os.ErrExist) {
			done = true
			return fmt.Errorf("%s exists; pass --overwrite to replace it", name)
		}
	} else {
		// No hard links here (some file systems): name did not exist a
		// moment ago; rename replaces at most what appeared since, never
		// writing through it.
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		return errors.New(pathErrorText(err))
	}
	done = true
	return nil
}

// keyEncoders write a private key in each -to form.
var keyEncoders = map[string]func(*rsa.PrivateKey) ([]byte, error){
	"pem":   pkcs8PEM,
	"pkcs8": pkcs8PEM,
	"pkcs1": func(k *rsa.PrivateKey) ([]byte, error) {
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
	},
	"xml": dotNetXML,
}

func pkcs8PEM(k *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// dotNetXML writes the key as RSACryptoServiceProvider.ToXmlString(true)
// does: one line, no declaration, the elements in its order, each value
// big-endian base64, D as long as the modulus and the CRT values half as
// long, zero-padded on the left as .NET's RSAParameters hold them.
func dotNetXML(k *rsa.PrivateKey) ([]byte, error) {
	if len(k.Primes) != 2 {
		return nil, fmt.Errorf("the key has %d primes; .NET XML holds two-prime keys only", len(k.Primes))
	}
	k.Precompute()
	n := (k.N.BitLen() + 7) / 8
	half := (n + 1) / 2
	var b bytes.Buffer
	b.WriteString("<RSAKeyValue>")
	for _, f := range []struct {
		name string
		v    *big.Int
		size int // 0: minimal
	}{
		{"Modulus", k.N, n},
		{"Exponent", big.NewInt(int64(k.E)), 0},
		{"P", k.Primes[0], half},
		{"Q", k.Primes[1], half},
		{"DP", k.Precomputed.Dp, half},
		{"DQ", k.Precomputed.Dq, half},
		{"InverseQ", k.Precomputed.Qinv, half},
		{"D", k.D, n},
	} {
		raw := f.v.Bytes()
		if len(raw) < f.size {
			raw = append(make([]byte, f.size-len(raw)), raw...)
		}
		b.WriteString("<" + f.name + ">" + base64.StdEncoding.EncodeToString(raw) + "</" + f.name + ">")
	}
	b.WriteString("</RSAKeyValue>")
	return b.Bytes(), nil
}

// keyFormat names the form a key file is in, from its content.
func keyFormat(data []byte) string {
	s := strings.TrimSpace(strings.TrimPrefix(string(data), "\uFEFF"))
	if block, _ := pem.Decode([]byte(s)); block != nil {
		switch {
		case block.Headers["Proc-Type"] != "" || block.Type == "ENCRYPTED PRIVATE KEY":
			return "PEM, password-protected (" + block.Type + ")"
		case block.Type == "RSA PRIVATE KEY":
			return "PEM PKCS#1 (RSA PRIVATE KEY)"
		case block.Type == "PRIVATE KEY":
			return "PEM PKCS#8 (PRIVATE KEY)"
		}
		return "PEM " + clean(block.Type, 40)
	}
	if strings.Contains(s, "<RSAKeyValue") {
		return ".NET XML (RSAKeyValue)"
	}
	return "unrecognised"
}
