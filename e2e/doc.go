// Package e2e drives the onboarding flow end to end in a real browser:
// headless Chromium (through chromedp) against sysusertest's fake SuperID
// and an application served on another site, so that redirects, form
// posts and cookies behave as they do for an administrator approving an
// application in SuperOffice.
//
// TestBrowserOnboardingExample builds examples/onboarding, runs it as a
// process (the application on localhost, its fake SuperOffice on
// 127.0.0.1) and clicks through it: approve, decline, a replayed callback
// and another browser's callback (login CSRF), with the callback by GET
// and by form_post.
//
// It is a module of its own, so the library does not depend on chromedp.
// Run it with
//
//	cd e2e && go test ./...
//
// It needs Chromium at /usr/bin/chromium (Debian: apt-get install -y
// chromium), or the path in $CHROMIUM. Without it the tests skip, except
// under CI=true, where they fail. go test -short skips them.
package e2e
