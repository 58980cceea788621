package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestSign(t *testing.T) {
	app, _, _ := keys(t)
	xmlKey, err := dotNetXML(app)
	if err != nil {
		t.Fatal(err)
	}
	// SuperOffice's definition, computed here: PKCS#1 v1.5 is
	// deterministic, so every implementation must print exactly this.
	data := testSystemToken + ".202611231234"
	sum := sha256.Sum256([]byte(data))
	sig, err := rsa.SignPKCS1v15(rand.Reader, app, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	want := data + "." + base64.StdEncoding.EncodeToString(sig) + "\n"
	cases := []struct {
		name string
		key  []byte
		at   string
	}{
		{name: "pem", key: pkcs1(app), at: "2026-11-23T12:34Z"},
		{name: "xml", key: xmlKey, at: "2026-11-23T12:34:59Z"},
		{name: "offset", key: pkcs1(app), at: "2026-11-23T13:34:10+01:00"},
		{name: "superoffice-form", key: xmlKey, at: "202611231234"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runSysuser(t, runOpts{env: []string{"SO_SYSTEM_USER_TOKEN=" + testSystemToken}}, "sign", "--key", writeFile(t, "k", c.key), "--at", c.at)
			if r.code != exitOK || r.stdout != want {
				t.Errorf("got %v\nwant stdout %q", r, want)
			}
		})
	}
	// Without --at: the current minute.
	r := runSysuser(t, runOpts{}, "sign", "--token", "t.with.dots", "--key", writeFile(t, "k", pkcs1(app)))
	now := time.Now().UTC()
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "t.with.dots.") {
		t.Fatalf("%v", r)
	}
	stamp := strings.Split(r.stdout, ".")[3]
	if stamp != now.Format("200601021504") && stamp != now.Add(-time.Minute).Format("200601021504") {
		t.Errorf("timestamp %s, want about %s", stamp, now.Format("200601021504"))
	}
	// An unusable key is a failure (1), not a usage error.
	r = runSysuser(t, runOpts{}, "sign", "--token", "t", "--key", writeFile(t, "k", []byte("not a key")))
	if r.code != exitFail || !strings.Contains(r.stderr, "invalid private key") {
		t.Errorf("bad key: %v", r)
	}
}
