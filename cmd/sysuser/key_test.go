package main

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-superoffice/sysuser"
)

func TestKeyConvert(t *testing.T) {
	app, _, _ := keys(t)
	dir := t.TempDir()
	// A .NET XML file as seen in the wild: BOM, declaration, tabs, CRLF.
	xmlKey, err := dotNetXML(app)
	if err != nil {
		t.Fatal(err)
	}
	wild := "\uFEFF<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n" + strings.NewReplacer("><", ">\r\n\t<").Replace(string(xmlKey))
	in := writeFile(t, "private.xml", []byte(wild))

	// XML -> PKCS#1: the same key.
	pkcs1File := filepath.Join(dir, "private.pem")
	if r := runSysuser(t, runOpts{}, "key", "convert", "--in", in, "--to", "pkcs1", "--out", pkcs1File); r.code != exitOK || r.stdout != "" {
		t.Fatalf("to pkcs1: %v", r)
	}
	got, err := os.ReadFile(pkcs1File)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pkcs1(app)) {
		t.Errorf("to pkcs1: not the key's PKCS#1 PEM:\n%s", got)
	}
	if fi, _ := os.Stat(pkcs1File); fi.Mode().Perm() != 0o600 {
		t.Errorf("the output has mode %04o, want 0600", fi.Mode().Perm())
	}

	// PKCS#1 -> XML: ToXmlString(true)'s element order and lengths, and
	// the same bytes as the canonical form of the input.
	r := runSysuser(t, runOpts{}, "key", "convert", "--in", pkcs1File, "--to", "xml")
	if r.code != exitOK {
		t.Fatalf("to xml: %v", r)
	}
	order := regexp.MustCompile(`^<RSAKeyValue><Modulus>([^<]+)</Modulus><Exponent>AQAB</Exponent><P>([^<]+)</P><Q>([^<]+)</Q><DP>([^<]+)</DP><DQ>([^<]+)</DQ><InverseQ>([^<]+)</InverseQ><D>([^<]+)</D></RSAKeyValue>$`)
	m := order.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("to xml: not in ToXmlString(true)'s form:\n%s", r.stdout)
	}
	for i, want := range []int{256, 128, 128, 128, 128, 128, 256} {
		b, err := base64.StdEncoding.DecodeString(m[i+1])
		if err != nil || len(b) != want {
			t.Errorf("element %d: %d bytes (%v), want %d", i, len(b), err, want)
		}
	}
	if r.stdout != string(xmlKey) {
		t.Error("PKCS#1 -> XML differs from the canonical XML of the same key")
	}
	if k, err := sysuser.ParsePrivateKey([]byte(r.stdout)); err != nil || !k.Equal(app) {
		t.Errorf("the XML does not parse back to the key: %v", err)
	}

	// pem is PKCS#8.
	r = runSysuser(t, runOpts{}, "key", "convert", "--in", in, "--to", "pem")
	block, _ := pem.Decode([]byte(r.stdout))
	if r.code != exitOK || block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("to pem: %v", r)
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil || !app.Equal(k) {
		t.Errorf("to pem: not the key: %v", err)
	}

	// Never replaces a file unless --overwrite, which makes it 0600.
	r = runSysuser(t, runOpts{}, "key", "convert", "--in", in, "--to", "pkcs8", "--out", pkcs1File)
	if r.code != exitFail || !strings.Contains(r.stderr, "--overwrite") {
		t.Errorf("over an existing file: %v", r)
	}
	if err := os.Chmod(pkcs1File, 0o644); err != nil {
		t.Fatal(err)
	}
	if r = runSysuser(t, runOpts{}, "key", "convert", "--in", in, "--to", "pkcs8", "--out", pkcs1File, "--overwrite"); r.code != exitOK {
		t.Fatalf("--overwrite: %v", r)
	}
	if fi, _ := os.Stat(pkcs1File); fi.Mode().Perm() != 0o600 {
		t.Errorf("after --overwrite the file has mode %04o, want 0600", fi.Mode().Perm())
	}

	// Standard output on /dev/null (a character device, not a terminal)
	// gets the key; a terminal does not (terminal_linux_test.go).
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	if r = runSysuser(t, runOpts{stdout: devNull}, "key", "convert", "--in", in, "--to", "pkcs1"); r.code != exitOK || r.stderr != "" {
		t.Errorf("to /dev/null: %v", r)
	}

	// Not a key: a failure, and the message carries no key material.
	r = runSysuser(t, runOpts{}, "key", "convert", "--in", writeFile(t, "public.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}})), "--to", "xml")
	if r.code != exitFail || !strings.Contains(r.stderr, "invalid private key") {
		t.Errorf("a public key: %v", r)
	}
}

func TestKeyConvertRefusesPlantedLinks(t *testing.T) {
	app, _, _ := keys(t)
	in := writeFile(t, "private.xml", pkcs1(app))
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim.txt")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "out.pem")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling.pem")
	if err := os.Symlink(filepath.Join(dir, "created-through-link"), dangling); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"key", "convert", "--in", in, "--to", "pem", "--out", link, "--overwrite"},
		{"key", "convert", "--in", in, "--to", "pem", "--out", link},
		{"key", "convert", "--in", in, "--to", "pem", "--out", dangling, "--overwrite"},
		{"key", "convert", "--in", in, "--to", "pem", "--out", dangling},
		{"key", "convert", "--in", in, "--to", "pem", "--out", dir, "--overwrite"},
	} {
		r := runSysuser(t, runOpts{}, args...)
		if r.code != exitFail || !(strings.Contains(r.stderr, "symbolic link") || strings.Contains(r.stderr, "not a regular file")) {
			t.Errorf("%v: %v", args[len(args)-2:], r)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the link's target was written: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "created-through-link")); err == nil {
		t.Error("a file was created through the dangling link")
	}
	// No temporary file is left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("the directory holds %d entries, want 3 (victim, two links, nothing else)", len(entries))
	}
}
