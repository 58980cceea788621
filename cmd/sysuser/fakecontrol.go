package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-superoffice/sysuser/sysusertest"
)

// serveControl starts the fake's control endpoint on addr, below a random
// path so that only whoever read the printed URL can use it, and returns a
// function that stops it and the endpoint's URL (ending in /).
func (f *fakeRun) serveControl(addr string) (stop func(), controlURL string, err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("-control %s: %s — fix: choose another -control address, or -control off", addr, clean(err.Error(), 200))
	}
	prefix := "/" + randomHex(16) + "/"
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"{$}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		out := f.out
		f.mu.Unlock()
		writeJSON(w, out)
	})
	for name, h := range map[string]func(url.Values) (any, error){
		"rotate-key": f.rotateKey,
		"clock":      f.setClock,
		"move":       f.move,
		"state":      f.setState,
		"notify":     f.notify,
	} {
		mux.HandleFunc("POST "+prefix+name, func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				controlError(w, err)
				return
			}
			res, err := h(r.Form)
			if err != nil {
				controlError(w, err)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			writeJSON(w, res)
		})
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(l)
	return func() { hs.Close() }, "http://" + l.Addr().String() + prefix, nil
}

func controlError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	writeJSON(w, map[string]string{"error": clean(strings.ReplaceAll(err.Error(), "sysusertest: ", ""), 300)})
}

// rotateKey makes the fake sign with a new key, publishes both, and
// rewrites the certificate file with the new key's certificate.
func (f *fakeRun) rotateKey(url.Values) (any, error) {
	if err := f.srv.RotateKey(nil); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := writeFileSafely(f.out.CertificateFile, f.srv.SigningCertificate(), 0o644, true); err != nil {
		return nil, err
	}
	f.out.KeyID = f.srv.KeyID()
	return map[string]string{"key_id": f.out.KeyID, "certificate_file": f.out.CertificateFile}, nil
}

// setClock sets the fake's clock offset.
func (f *fakeRun) setClock(v url.Values) (any, error) {
	var d time.Duration
	if err := (*signedDuration)(&d).Set(v.Get("offset")); err != nil {
		return nil, fmt.Errorf("offset=%q: %v", clean(v.Get("offset"), 40), err)
	}
	f.offset.Store(int64(d))
	f.mu.Lock()
	f.out.ClockOffset = d.String()
	f.mu.Unlock()
	return map[string]string{"clock_offset": d.String()}, nil
}

// tenantParam returns the tenant= parameter, which must name a tenant the
// fake serves, as the fake spells it.
func (f *fakeRun) tenantParam(v url.Values) (int, error) {
	ctx := v.Get("tenant")
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, t := range f.out.Tenants {
		if strings.EqualFold(t.ContextIdentifier, ctx) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("tenant=%q: not a tenant of this fake", clean(ctx, 64))
}

// move moves a tenant to its other numbered host.
func (f *fakeRun) move(v url.Values) (any, error) {
	i, err := f.tenantParam(v)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &f.out.Tenants[i]
	webapi, err := f.srv.MoveTenant(t.ContextIdentifier)
	if err != nil {
		return nil, err
	}
	t.WebAPIURL = webapi
	return map[string]string{"tenant": t.ContextIdentifier, "webapi_url": webapi}, nil
}

// setState sets the state the state API reports for a tenant.
func (f *fakeRun) setState(v url.Values) (any, error) {
	i, err := f.tenantParam(v)
	if err != nil {
		return nil, err
	}
	state := v.Get("state")
	if state == "" || len(state) > 64 {
		return nil, errors.New("state= is required: a state name such as Running, Suspended or OfflineMaintenance")
	}
	var until time.Time
	if s := v.Get("valid_until"); s != "" {
		if until, err = parseTime(s); err != nil {
			return nil, fmt.Errorf("valid_until: %v", err)
		}
	}
	f.mu.Lock()
	ctx := f.out.Tenants[i].ContextIdentifier
	f.mu.Unlock()
	if err := f.srv.SetState(ctx, state, until); err != nil {
		return nil, err
	}
	out := map[string]string{"tenant": ctx, "state": state}
	if !until.IsZero() {
		out["valid_until"] = until.UTC().Format(time.RFC3339)
	}
	return out, nil
}

// changeTypes are SuperOffice's documented ChangeType names.
var changeTypes = map[string]sysusertest.ChangeType{
	"upgrade": sysusertest.ChangeUpgrade, "backuprestored": sysusertest.ChangeBackupRestored,
	"suspend": sysusertest.ChangeSuspend, "resume": sysusertest.ChangeResume, "delete": sysusertest.ChangeDelete,
}

// notify posts a signed state-change notification to url=.
func (f *fakeRun) notify(v url.Values) (any, error) {
	i, err := f.tenantParam(v)
	if err != nil {
		return nil, err
	}
	change, ok := changeTypes[strings.ToLower(v.Get("change"))]
	if n, err := strconv.Atoi(v.Get("change")); err == nil && n >= 0 && n <= 4 {
		change, ok = sysusertest.ChangeType(n), true
	}
	if !ok {
		return nil, fmt.Errorf("change=%q: want Upgrade, BackupRestored, Suspend, Resume, Delete or 0-4", clean(v.Get("change"), 40))
	}
	target, err := url.Parse(v.Get("url"))
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return nil, fmt.Errorf("url=%q: want the application's State Change URL, an http or https URL", clean(v.Get("url"), 200))
	}
	f.mu.Lock()
	ctx := f.out.Tenants[i].ContextIdentifier
	f.mu.Unlock()
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	status, err := f.srv.Notify(cctx, ctx, target.String(), sysusertest.Notification{ChangeType: change})
	if err != nil {
		return nil, err
	}
	return map[string]any{"tenant": ctx, "change": int(change), "status": status}, nil
}
