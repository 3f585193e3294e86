package interop

import (
	"errors"
	"net/url"
	"testing"
)

// Pages as oidc-provider 9.13.3 renders them (trimmed).
const (
	loginPage = `<!DOCTYPE html><html><head><title>Sign-in</title></head><body><div class="login-card">
<form autocomplete="off" action="https://127.0.0.1:8443/interaction/abc" method="post">
  <input type="hidden" name="prompt" value="login"/>
  <input required type="text" name="login" placeholder="Enter any login" autofocus="on">
  <input required type="password" name="password" placeholder="and password" >
  <button type="submit" class="login login-submit">Sign-in</button>
</form>
<div class="login-help"><a href="https://127.0.0.1:8443/interaction/abc/abort">[ Cancel ]</a></div></div></body></html>`
	consentPage = `<html><body><ul><li>scopes:</li></ul>
<form autocomplete="off" action="/interaction/def" method="post">
  <input type="hidden" name="prompt" value="consent"/>
  <button autofocus type="submit" class="login login-submit">Continue</button>
</form></body></html>`
	logoutPage = `<html><head><title>Logout Request</title></head><body><div class="container">
<h1>Do you want to sign-out from 127.0.0.1:8443?</h1>
<form method="post" action="https://127.0.0.1:8443/session/end/confirm" id="op.logoutForm"><input type="hidden" name="xsrf" value="x1"/></form>
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>
</div></body></html>`
	errorPage = `<html><head><title>oops! something went wrong</title><style>pre{}</style></head><body><div class="container">
<h1>oops! something went wrong</h1><pre><strong>error</strong>: invalid_client</pre><pre><strong>error_description</strong>: client is invalid</pre>
</div></body></html>`
)

func TestParseForm(t *testing.T) {
	base, _ := url.Parse("https://127.0.0.1:8443/interaction/def")
	for _, tc := range []struct {
		name, page, action string
		want               url.Values
	}{
		{"login", loginPage, "https://127.0.0.1:8443/interaction/abc",
			url.Values{"prompt": {"login"}, "login": {""}, "password": {""}}},
		{"consent", consentPage, "https://127.0.0.1:8443/interaction/def", url.Values{"prompt": {"consent"}}},
		{"logout", logoutPage, "https://127.0.0.1:8443/session/end/confirm", url.Values{"xsrf": {"x1"}, "logout": {"yes"}}},
	} {
		f, err := parseForm([]byte(tc.page), base)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if f.method != "POST" || f.action.String() != tc.action || f.values.Encode() != tc.want.Encode() {
			t.Errorf("%s: %s %s %v, want POST %s %v", tc.name, f.method, f.action, f.values, tc.action, tc.want)
		}
	}
	if _, err := parseForm([]byte(errorPage), base); !errors.Is(err, errNoForm) {
		t.Errorf("error page: %v, want errNoForm", err)
	}
	if got, want := pageText([]byte(errorPage)), "error: invalid_client; error_description: client is invalid"; got != want {
		t.Errorf("pageText = %q, want %q", got, want)
	}
	if got := pageText([]byte(logoutPage)); got != "Logout Request" {
		t.Errorf("pageText = %q", got)
	}
}

func FuzzParseForm(f *testing.F) {
	for _, p := range []string{loginPage, consentPage, logoutPage, errorPage, "", "<form action='%zz'>",
		`<button form="nope" name="a">`, `<form id="a"></form><input form="a" name="b" value="c">`} {
		f.Add([]byte(p))
	}
	base, _ := url.Parse("https://127.0.0.1:8443/x")
	f.Fuzz(func(t *testing.T, page []byte) {
		if fm, err := parseForm(page, base); err == nil && (fm.action == nil || fm.values == nil) {
			t.Fatal("form without action or values")
		}
		if s := pageText(page); len([]rune(s)) > 301 {
			t.Fatalf("pageText too long: %d runes", len([]rune(s)))
		}
	})
}
