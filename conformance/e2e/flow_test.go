//go:build linux

package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cillers/fapid/internal/seal"
)

const (
	domain   = "fapid.localhost"
	user     = "alice"
	password = "correct horse"
)

// TestDemoInBrowser runs `fapid demo` and signs in through it with headless
// Chromium: login and consent at the authorization server, the SPA showing
// the ID token's claims and the API's answer, refresh, logout; then checks
// every response the browser received for tokens, and that Ctrl-C leaves no
// process behind.
func TestDemoInBrowser(t *testing.T) {
	tl := need(t)
	start := time.Now()
	bin := fapidBinary(t)
	ports := freePorts(t, 4)
	api, spaPort, upstream, asPort := ports[0], ports[1], ports[2], ports[3]
	state := filepath.Join(t.TempDir(), "state")
	demoStart := time.Now()
	demo, openURL := startDemo(t, bin, state, "--domain", domain,
		"--api-port", strconv.Itoa(api), "--spa-port", strconv.Itoa(spaPort),
		"--upstream-port", strconv.Itoa(upstream), "--as-port", strconv.Itoa(asPort))
	t.Logf("demo ready in %v: %s", time.Since(demoStart).Round(time.Millisecond), openURL)

	f := &flow{
		t:         t,
		spaOrigin: fmt.Sprintf("https://www.%s:%d", domain, spaPort),
		apiOrigin: fmt.Sprintf("https://api.%s:%d", domain, api),
		asOrigin:  fmt.Sprintf("https://127.0.0.1:%d", asPort),
		state:     state,
	}
	if openURL != f.spaOrigin+"/" {
		t.Fatalf("the demo prints %q, want %q", openURL, f.spaOrigin+"/")
	}
	key, err := seal.LoadKeyFile(filepath.Join(state, "keys", "session.key"))
	if err != nil {
		t.Fatal(err)
	}
	if f.sealer, err = seal.New([]seal.Key{key}, seal.WithMaxSize(1<<16)); err != nil {
		t.Fatal(err)
	}
	f.b = startBrowser(t, context.WithoutCancel(t.Context()), tl, filepath.Join(state, "ca", "root_ca.crt"))

	f.signIn()
	f.callAPI("after sign-in")
	f.checkPage()
	f.screenshot()
	first := f.session()
	f.refresh()
	f.callAPI("after refresh")
	second := f.session()
	if second.at == first.at {
		t.Error("refresh did not change the access token")
	}
	f.signOut(second)
	f.checkResponses(first, second)
	f.b.close()

	pgid := demo.cmd.Process.Pid
	if err := demo.interrupt(t); err != nil {
		t.Errorf("fapid demo after Ctrl-C: %v", err)
	}
	if groupAlive(pgid) {
		t.Error("processes of the demo's process group are still running after Ctrl-C")
	}
	if left := waitGone(state, 5*time.Second); len(left) > 0 {
		t.Errorf("processes still using the demo's state folder after Ctrl-C (node?):\n%s", strings.Join(left, "\n"))
	}
	if !strings.Contains(demo.stderr.String(), "authorization server stopped") {
		t.Error("the demo did not report stopping the authorization server")
	}
	t.Logf("whole test: %v", time.Since(start).Round(time.Millisecond))
}

// flow is one browser session against the demo.
type flow struct {
	t                              *testing.T
	b                              *browser
	spaOrigin, apiOrigin, asOrigin string
	state                          string
	sealer                         *seal.Sealer
	idTokenAtLogout                string
}

const (
	stateJS = `(document.querySelector('#status') ? document.querySelector('#status').dataset.state : '')`
	step    = 20 * time.Second
)

// signIn: Sign in on the SPA, the login and consent pages of the
// authorization server, back on the SPA with the ID token's claims.
func (f *flow) signIn() {
	t, b := f.t, f.b
	begin := time.Now()
	b.do("open the SPA", step, chromedp.Navigate(f.spaOrigin+"/"))
	b.waitJS("the SPA to be signed out", fmt.Sprintf("location.origin === %q && %s === 'signed-out'", f.spaOrigin, stateJS), step)
	b.do("click Sign in", step, chromedp.Click(chromedp.ID("login")))
	b.waitJS("the login page", fmt.Sprintf("location.origin === %q && !!document.querySelector('input[name=login]')", f.asOrigin), step)
	b.do("log in", step,
		chromedp.SendKeys(chromedp.CSS(`input[name="login"]`), user),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
	)
	b.waitJS("the consent page", fmt.Sprintf("location.origin === %q && !!document.querySelector('input[name=prompt][value=consent]')", f.asOrigin), step)
	b.do("consent", step, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	b.waitJS("the SPA to be signed in with claims", fmt.Sprintf(
		"location.origin === %q && %s === 'signed-in' && document.querySelector('#claims').textContent.length > 0", f.spaOrigin, stateJS), step)
	if p := eval[string](b, "location.pathname + location.search"); p != "/" {
		t.Errorf("after login the SPA's address is %q: the authorization response should be gone from the address bar", p)
	}
	var claims map[string]any
	if err := json.Unmarshal([]byte(eval[string](b, "document.querySelector('#claims').textContent")), &claims); err != nil {
		t.Fatalf("#claims: %v", err)
	}
	if claims["sub"] != user || claims["iss"] != f.asOrigin {
		t.Fatalf("ID token claims shown: sub %v iss %v, want %s and %s", claims["sub"], claims["iss"], user, f.asOrigin)
	}
	t.Logf("signed in (SPA → login → consent → SPA) in %v; claims: sub=%v aud=%v", time.Since(begin).Round(time.Millisecond), claims["sub"], claims["aud"])
	if ui := eval[string](b, "document.querySelector('#userinfo').textContent"); ui != "" {
		t.Logf("userinfo shown: %s", oneLine(ui))
	}
}

// callAPI: Call API; the gateway's answer from the API names the user.
func (f *flow) callAPI(when string) {
	t, b := f.t, f.b
	eval[any](b, "document.querySelector('#api-result').dataset.status = ''")
	b.do("click Call API", step, chromedp.Click(chromedp.ID("call-api")))
	b.waitJS("the API result", "['ok','error'].includes(document.querySelector('#api-result').dataset.status)", step)
	if st := eval[string](b, "document.querySelector('#api-result').dataset.status"); st != "ok" {
		t.Fatalf("Call API %s: %s; error shown: %q", when, st, eval[string](b, "document.querySelector('#error').textContent"))
	}
	var ans struct {
		Sub       string `json:"sub"`
		CertBound bool   `json:"cnf_x5t_s256_verified"`
		ClientID  string `json:"client_id"`
		Path      string `json:"path"`
	}
	text := eval[string](b, "document.querySelector('#api-result').textContent")
	if err := json.Unmarshal([]byte(text), &ans); err != nil {
		t.Fatalf("API result %q: %v", text, err)
	}
	if ans.Sub != user || !ans.CertBound || ans.Path != "/api/hello" {
		t.Fatalf("API answer %s: %s", when, oneLine(text))
	}
	t.Logf("API answer %s: sub=%s client_id=%s cnf_x5t_s256_verified=%v", when, ans.Sub, ans.ClientID, ans.CertBound)
}

// checkPage: no script-visible cookie, nothing in web storage, no error.
func (f *flow) checkPage() {
	t, b := f.t, f.b
	if c := eval[string](b, "document.cookie"); c != "" {
		t.Errorf("document.cookie in the SPA is %q, want empty", c)
	}
	if n := eval[int](b, "localStorage.length + sessionStorage.length"); n != 0 {
		t.Errorf("the SPA has %d web storage entries, want none", n)
	}
	if e := eval[string](b, "document.querySelector('#error').hidden ? '' : document.querySelector('#error').textContent"); e != "" {
		t.Errorf("the SPA shows an error: %q", e)
	}
	checkCookieAttributes(t, b.cookies(f.apiOrigin+"/"), "api."+domain)
	if n := len(b.cookies(f.spaOrigin + "/")); n != 0 {
		t.Errorf("the SPA's own origin has %d cookies, want none", n)
	}
}

// screenshot keeps the signed-in page with the API result.
func (f *flow) screenshot() {
	t, b := f.t, f.b
	png, err := run(b, step, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("FAPID_E2E_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "e2e-signed-in.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the signed-in SPA: %s (%d bytes)", path, len(png))
}

// session opens the agent's cookies in the browser.
func (f *flow) session() session {
	return openSession(f.t, f.sealer, f.b.cookies(f.apiOrigin+"/"))
}

// refresh: Refresh tokens, as the SPA does when the API answers 401.
func (f *flow) refresh() {
	b := f.b
	b.do("click Refresh", step, chromedp.Click(chromedp.ID("refresh")))
	b.waitJS("the refresh", "document.querySelector('#status').dataset.refreshes === '1' || !document.querySelector('#error').hidden", step)
	if e := eval[string](b, "document.querySelector('#error').hidden ? '' : document.querySelector('#error').textContent"); e != "" {
		f.t.Fatalf("Refresh failed: %q", e)
	}
}

// signOut: Sign out, the end-session page of the authorization server, back
// on the SPA signed out, with every agent cookie gone.
func (f *flow) signOut(s session) {
	t, b := f.t, f.b
	f.idTokenAtLogout = s.idToken
	b.do("click Sign out", step, chromedp.Click(chromedp.ID("logout")))
	b.waitJS("the end-session page", fmt.Sprintf(
		"location.href.startsWith(%q) && !!document.querySelector('button[name=logout][value=yes]')", f.asOrigin+"/session/end"), step)
	for _, c := range b.cookies(f.apiOrigin + "/") {
		if strings.HasPrefix(c.Name, cookiePrefix) {
			t.Errorf("cookie %s still set after logout", c.Name)
		}
	}
	b.do("confirm sign-out", step, chromedp.Click(chromedp.CSS(`button[name="logout"][value="yes"]`)))
	b.waitJS("the SPA to be signed out", fmt.Sprintf("location.origin === %q && %s === 'signed-out'", f.spaOrigin, stateJS), step)
	if n := len(b.cookies(f.apiOrigin + "/")); n != 0 {
		t.Errorf("%d cookies left for the agent's origin after logout", n)
	}
	t.Log("signed out: end-session page confirmed, back on the SPA, cookies cleared")
}

// checkResponses: every response body and header the browser received,
// from the SPA, the agent, the gateway and the authorization server.
func (f *flow) checkResponses(sessions ...session) {
	t := f.t
	rs := f.b.cap.snapshot(t)
	l := &leakCheck{
		secrets:  map[string]string{},
		asOrigin: f.asOrigin,
		callback: f.spaOrigin + "/callback",
	}
	l.secrets[f.idTokenAtLogout] = "ID token"
	for i, s := range sessions {
		l.secrets[s.at] = fmt.Sprintf("access token #%d", i+1)
		l.secrets[s.rt] = fmt.Sprintf("refresh token #%d", i+1)
	}
	l.scan(t, rs)
	seen := map[string]int{}
	var unread []string
	for _, r := range rs {
		switch {
		case r.redirect, r.typ == "Preflight", !r.finished:
			continue
		case r.bodyErr != nil:
			if r.status != 204 && r.status != 304 {
				unread = append(unread, fmt.Sprintf("%s: %v", r, r.bodyErr))
			}
			continue
		}
		for _, o := range []string{f.spaOrigin, f.apiOrigin + "/oauth-agent/", f.apiOrigin + "/api/", f.asOrigin} {
			if strings.HasPrefix(r.url, o) {
				seen[o]++
			}
		}
	}
	if len(unread) > 0 {
		t.Errorf("response bodies that could not be read (so not checked):\n%s", strings.Join(unread, "\n"))
	}
	for o, what := range map[string]string{f.spaOrigin: "SPA", f.apiOrigin + "/oauth-agent/": "agent",
		f.apiOrigin + "/api/": "gateway", f.asOrigin: "authorization server"} {
		if seen[o] == 0 {
			t.Errorf("no %s response body was captured: the leak check saw nothing from it", what)
		}
	}
	t.Logf("checked %d responses for JWTs and tokens (bodies read: SPA %d, agent %d, gateway %d, authorization server %d)",
		len(rs), seen[f.spaOrigin], seen[f.apiOrigin+"/oauth-agent/"], seen[f.apiOrigin+"/api/"], seen[f.asOrigin])
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
