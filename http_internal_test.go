package sysuser

import (
	"net/http"
	"testing"
)

func TestDefaultHTTPClientHasTimeoutsAndVerifiesTLS(t *testing.T) {
	c := safeHTTPClient(nil)
	tr, ok := c.Transport.(*http.Transport)
	if !ok || c.Timeout == 0 || tr.TLSHandshakeTimeout == 0 || tr.ResponseHeaderTimeout == 0 || c.CheckRedirect == nil {
		t.Fatalf("default client lacks a bound: %+v", c)
	}
	if tr.TLSClientConfig != nil && tr.TLSClientConfig.InsecureSkipVerify {
		t.Fatal("TLS verification off")
	}
	mine := &http.Client{}
	if safeHTTPClient(mine) == mine || mine.CheckRedirect != nil {
		t.Fatal("the caller's client was modified")
	}
}
