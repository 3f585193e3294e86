package spa

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

const testConfig = `{"oauthAgentBaseUrl":"https://api.example.test:8443/oauth-agent","apiBaseUrl":"https://api.example.test:8443/api","cookiePrefix":"fapid"}`

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, "https://www.example.test"+path, nil))
	return rec.Result()
}

func TestServes(t *testing.T) {
	h, err := New([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	for path, ctype := range map[string]string{
		"/": "text/html; charset=utf-8", "/index.html": "text/html; charset=utf-8",
		"/callback": "text/html; charset=utf-8", "/app.js": "text/javascript; charset=utf-8",
		"/app.css": "text/css; charset=utf-8", "/config.json": "application/json",
	} {
		res := get(t, h, http.MethodGet, path)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != ctype || len(body) == 0 {
			t.Errorf("%s: %d %q (%d bytes)", path, res.StatusCode, res.Header.Get("Content-Type"), len(body))
		}
		wantSecurityHeaders(t, path, res.Header)
		if path == "/config.json" && string(body) != testConfig {
			t.Errorf("config.json = %s", body)
		}
		if path == "/callback" && !strings.Contains(string(body), `id="login"`) {
			t.Error("/callback does not serve index.html")
		}
	}
	res := get(t, h, http.MethodHead, "/app.js")
	if b, _ := io.ReadAll(res.Body); res.StatusCode != http.StatusOK || len(b) != 0 || res.Header.Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, %d bytes", res.StatusCode, len(b))
	}
	for _, path := range []string{"/nope", "/callback/x", "/static/app.js", "/app.js/", "/.git/config", "/../spa.go"} {
		if res := get(t, h, http.MethodGet, path); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", path, res.StatusCode)
		} else {
			wantSecurityHeaders(t, path, res.Header)
		}
	}
	if res := get(t, h, http.MethodPost, "/"); res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d", res.StatusCode)
	}
}

func wantSecurityHeaders(t *testing.T, path string, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
			"connect-src 'self' https://api.example.test:8443; object-src 'none'; base-uri 'none'; " +
			"form-action 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options":    "nosniff",
		"Referrer-Policy":           "no-referrer",
		"Strict-Transport-Security": "max-age=63072000; includeSubDomains",
		"X-Frame-Options":           "DENY",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", path, k, got, v)
		}
	}
}

func TestCSPOrigins(t *testing.T) {
	c := Config{OAuthAgentBaseURL: "https://Agent.example.test/oauth-agent", APIBaseURL: "https://gw.example.test:9443/api", CookiePrefix: "x"}
	csp := CSP(c)
	if !strings.Contains(csp, "connect-src 'self' https://agent.example.test https://gw.example.test:9443;") {
		t.Errorf("CSP %q", csp)
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []string{
		``, `[]`, `{}`, `{"oauthAgentBaseUrl":"https://a/x","apiBaseUrl":"https://a/api"}`,
		`{"oauthAgentBaseUrl":"http://a/x","apiBaseUrl":"https://a/api","cookiePrefix":"p"}`,
		`{"oauthAgentBaseUrl":"https://a/x/","apiBaseUrl":"https://a/api","cookiePrefix":"p"}`,
		`{"oauthAgentBaseUrl":"https://a/x","apiBaseUrl":"https://a/api?x=1","cookiePrefix":"p"}`,
		`{"oauthAgentBaseUrl":"https://a/x","apiBaseUrl":"/api","cookiePrefix":"p"}`,
		`{"oauthAgentBaseUrl":"https://a/x;script-src *","apiBaseUrl":"https://a/api","cookiePrefix":"p"}`,
		`{"oauthAgentBaseUrl":"https://a/x","apiBaseUrl":"https://a/api","cookiePrefix":"p q"}`,
		`{"oauthAgentBaseUrl":"https://a/x","apiBaseUrl":"https://a/api","cookiePrefix":"p","extra":1}`,
		`{"oauthAgentBaseUrl":"https://a/x","apiBaseUrl":"https://a/api","cookiePrefix":"p"} {}`,
	} {
		if _, err := New([]byte(cfg)); err == nil {
			t.Errorf("%s accepted", cfg)
		}
	}
	res := get(t, Handler([]byte(`{}`)), http.MethodGet, "/")
	if res.StatusCode != http.StatusInternalServerError {
		t.Errorf("Handler with a bad config: %d", res.StatusCode)
	}
}

// TestStaticRules checks the page source for what CSP and the brief forbid:
// inline script and style, event-handler attributes, web storage, cookies,
// innerHTML, eval; and for the element ids the browser test relies on.
func TestStaticRules(t *testing.T) {
	html, _ := static.ReadFile("static/index.html")
	js, _ := static.ReadFile("static/app.js")
	for _, id := range []string{"login", "logout", "call-api", "refresh", "claims", "userinfo", "api-result", "status", "error"} {
		if !strings.Contains(string(html), `id="`+id+`"`) {
			t.Errorf("index.html has no #%s", id)
		}
	}
	for _, re := range []string{`<script(?:\s[^>]*)?>[^<]`, `<script>`, `\sstyle=`, `\son[a-z]+=`, `<style`} {
		if regexp.MustCompile(re).Match(html) {
			t.Errorf("index.html matches %s", re)
		}
	}
	for _, bad := range []string{"localStorage", "sessionStorage", "document.cookie", "innerHTML", "outerHTML",
		"eval(", "new Function", "insertAdjacentHTML", "document.write", "credentials: 'omit'", "credentials: 'same-origin'"} {
		if strings.Contains(string(js), bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}
