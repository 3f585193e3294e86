package agent

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cillers/fapid/internal/seal"
)

// Curity's OAuth Agent test list (login, userInfo, claims, logout) with
// exact statuses and codes.
func TestCurityAgentCases(t *testing.T) {
	ta := newTestAgent(t, nil)
	b := ta.browser(t)

	t.Run("unauthenticated page load", func(t *testing.T) {
		w := b.end("https://app.example.test/")
		if w.Code != 200 || w.Body.String() != `{"handled":false,"isLoggedIn":false}` {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		noSetCookie(t, w)
	})
	t.Run("missing cookies", func(t *testing.T) {
		for _, ep := range []struct{ m, p string }{{"GET", "userInfo"}, {"GET", "claims"}, {"POST", "refresh"}, {"POST", "logout"}} {
			expectError(t, b.do(ep.m, ep.p, "", "x-fapid-csrf", "x"), 401, "unauthorized_request")
		}
		if w := b.do("GET", "session", ""); w.Code != 200 || w.Body.String() != `{"isLoggedIn":false}` {
			t.Fatalf("session: %d %s", w.Code, w.Body)
		}
	})
	t.Run("response without a login cookie", func(t *testing.T) {
		w := b.end("https://app.example.test/callback?code=c&state=s&iss=" + url.QueryEscape(ta.as.issuer))
		expectError(t, w, 400, "invalid_request")
	})
	t.Run("malicious state", func(t *testing.T) {
		cb := ta.as.authorize(b.start(""), false, nil, nil)
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Set("state", "attacker-chosen-state")
		u.RawQuery = q.Encode()
		w := b.end(u.String())
		expectError(t, w, 400, "invalid_request")
		if ta.as.tokens.Load() != 0 {
			t.Fatal("code redeemed despite the state mismatch")
		}
	})
	frontChannel := []struct {
		query  string
		status int
		code   string
	}{
		{"error=invalid_scope&error_description=Scope+not+allowed", 400, "invalid_scope"},
		{"error=login_required", 401, "login_required"},
		{"error=access_denied", 400, "access_denied"},
		{"error=" + url.QueryEscape("<script>"), 400, "authorization_error"},
	}
	for _, fc := range frontChannel {
		t.Run("front-channel "+fc.code, func(t *testing.T) {
			b.start("")
			state := ta.as.lastPAR().claims["state"].(string)
			w := b.end(redirectURI + "?" + fc.query + "&state=" + state + "&iss=" + url.QueryEscape(ta.as.issuer))
			expectError(t, w, fc.status, fc.code)
			if fc.code == "invalid_scope" && !strings.Contains(w.Body.String(), "Scope not allowed") {
				t.Fatalf("description not passed on: %s", w.Body)
			}
		})
	}
	tokenErrors := []struct {
		name   string
		answer *asAnswer
		status int
		code   string
	}{
		{"invalid_client", &asAnswer{401, `{"error":"invalid_client"}`}, 400, "authorization_error"},
		{"invalid_grant", &asAnswer{400, `{"error":"invalid_grant"}`}, 400, "authorization_error"},
		{"server error", &asAnswer{500, `{"error":"server_error"}`}, 502, "authorization_server_error"},
		{"bad gateway", &asAnswer{502, `<html>bad gateway</html>`}, 502, "authorization_server_error"},
		{"garbage", &asAnswer{200, `not json`}, 400, "invalid_request"},
	}
	for _, te := range tokenErrors {
		t.Run("token endpoint "+te.name, func(t *testing.T) {
			ta.as.set(func(as *fakeAS) { as.tokenErr = te.answer })
			defer ta.as.set(func(as *fakeAS) { as.tokenErr = nil })
			w := b.end(ta.as.authorize(b.start(""), false, nil, nil))
			expectError(t, w, te.status, te.code)
			if strings.Contains(w.Body.String(), "html") {
				t.Fatal("the server's body leaked into the answer")
			}
		})
	}
	t.Run("malformed bodies", func(t *testing.T) {
		for _, body := range []string{`{"pageUrl":`, `{"pageUrl":1}`, `{"pageUrl":"x","pageUrl":"y"}`, `{"PageURL":"x"}`, `{}`, `null`} {
			expectError(t, b.do("POST", "login/end", body), 400, "invalid_request")
		}
		expectError(t, b.do("POST", "login/end", ""), 400, "invalid_request")
	})
	t.Run("userInfo token_expired", func(t *testing.T) {
		b.login(false)
		ta.as.set(func(as *fakeAS) { as.uiStatus = 401 })
		defer ta.as.set(func(as *fakeAS) { as.uiStatus = 0 })
		w := b.do("GET", "userInfo", "")
		expectError(t, w, 401, "token_expired")
		noSetCookie(t, w)
	})
	t.Run("unknown endpoint and method", func(t *testing.T) {
		expectError(t, b.do("GET", "login/start", ""), 405, "method_not_allowed")
		expectError(t, b.do("GET", "../oauth-agent/session", ""), 404, "not_found")
		expectError(t, b.do("GET", "userinfo", ""), 404, "not_found")
	})
	t.Run("authorization server down", func(t *testing.T) {
		b.start("")
		ta.as.srv.Close()
		expectError(t, b.do("POST", "login/start", ""), 502, "authorization_server_error")
		expectError(t, b.do("GET", "userInfo", ""), 502, "authorization_server_error")
		w := b.do("POST", "logout", "", b.csrfHeader()...)
		if w.Code != 200 { // the local logout happens anyway
			t.Fatalf("logout with the server down: %d %s", w.Code, w.Body)
		}
		clearedAll(t, w)
	})
}

// A wrong content type on login/end is refused.
func TestContentType(t *testing.T) {
	ta := newTestAgent(t, nil)
	r := ta.browser(t)
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/jsonx"} {
		w := r.doRaw("POST", "login/end", `{"pageUrl":"https://app.example.test/"}`, ct)
		expectError(t, w, 400, "invalid_request")
	}
	if w := r.doRaw("POST", "login/end", `{"pageUrl":"https://app.example.test/"}`, "application/json; charset=utf-8"); w.Code != 200 {
		t.Fatalf("%d", w.Code)
	}
}

// compat: curity-v1 — Curity's cookie names and format, read and written.
func TestCompatCurityV1(t *testing.T) {
	ta := newTestAgent(t, func(c *Config) {
		c.Compat = CompatCurityV1
		c.CookieKeys = []seal.Key{mustSealKey(t, cookieKeyA), mustSealKey(t, cookieKeyB)}
		c.CompatDomain = "api.example.test"
	})
	b := ta.browser(t)
	w := b.end(ta.as.authorize(b.start(""), false, nil, nil))
	if w.Code != 200 {
		t.Fatalf("login/end: %d %s", w.Code, w.Body)
	}
	var le loginEndResponse
	decodeJSON(t, w.Body.Bytes(), &le)
	b.csrf = le.CSRF
	cur, _ := seal.NewCurityV1(mustSealKey(t, cookieKeyA))
	for _, name := range []string{"fapid-at", "fapid-auth", "fapid-id", "fapid-csrf"} {
		v, ok := b.cookies[name]
		if !ok {
			t.Fatalf("no %s cookie: %v", name, b.cookies)
		}
		if _, err := cur.Open(v); err != nil {
			t.Fatalf("%s does not open in Curity's format: %v", name, err)
		}
	}
	for _, line := range setCookies(w) {
		c, _ := http.ParseSetCookie(line)
		if c.Domain != "api.example.test" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Fatalf("compat cookie attributes %q", line)
		}
	}
	if csrf, _ := cur.Open(b.cookies["fapid-csrf"]); string(csrf) != le.CSRF {
		t.Fatal("CSRF cookie does not hold the CSRF token")
	}

	// A session made by Curity's agent with the second (old) key, including
	// the ID token copy on Curity's /oauth-agent/claims path.
	old, _ := seal.NewCurityV1(mustSealKey(t, cookieKeyB))
	sealOld := func(v string) string {
		s, err := old.Seal([]byte(v))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	idt, _ := cur.Open(b.cookies["fapid-id"])
	rt, _ := cur.Open(b.cookies["fapid-auth"])
	at, _ := cur.Open(b.cookies["fapid-at"])
	legacy := ta.browser(t)
	legacy.csrf = "curity-csrf-token"
	stranger, _ := seal.NewCurityV1(mustSealKey(t, "0f"+cookieKeyA[2:]))
	unknown, _ := stranger.Seal(idt)
	// Two copies of -id (Curity's on /oauth-agent/claims comes first): the
	// first that opens is used.
	header := "fapid-id=" + unknown + "; fapid-id=" + sealOld(string(idt)) + "; fapid-at=" + sealOld(string(at)) +
		"; fapid-auth=" + sealOld(string(rt)) + "; fapid-csrf=" + sealOld(legacy.csrf)
	w = legacy.do("GET", "claims", "", "Cookie", header)
	var cl map[string]any
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &cl) != nil || cl["sub"] != "alice" {
		t.Fatalf("claims from Curity cookies: %d %s", w.Code, w.Body)
	}
	if w := legacy.do("GET", "session", "", "Cookie", header); w.Code != 200 || !strings.Contains(w.Body.String(), `"isLoggedIn":true`) ||
		strings.Contains(w.Body.String(), "accessTokenExpiresIn") {
		t.Fatalf("session from Curity cookies: %d %s", w.Code, w.Body)
	}
	w = legacy.do("POST", "refresh", "", "Cookie", header, "x-fapid-csrf", legacy.csrf)
	if w.Code != 204 {
		t.Fatalf("refresh with Curity cookies: %d %s", w.Code, w.Body)
	}
	var sawLegacyDelete bool
	for _, line := range setCookies(w) {
		c, _ := http.ParseSetCookie(line)
		if c.Name == "fapid-auth" && c.Path == "/oauth-agent/refresh" && c.MaxAge < 0 {
			sawLegacyDelete = true
		}
		if c.MaxAge >= 0 {
			if _, err := cur.Open(c.Value); err != nil || c.Path != "/" {
				t.Fatalf("refresh wrote %q not sealed with the first key on Path=/", line)
			}
		}
	}
	if !sawLegacyDelete {
		t.Fatal("the -auth copy on Curity's refresh path was not deleted")
	}
	if w := legacy.do("POST", "refresh", "", "Cookie", header, "x-fapid-csrf", "wrong"); w.Code != 401 {
		t.Fatalf("bad CSRF with Curity cookies: %d", w.Code)
	}
}

// CSRFCustomHeader: token-handler-version: 1 on every call replaces the
// CSRF token.
func TestCustomHeaderMode(t *testing.T) {
	ta := newTestAgent(t, func(c *Config) { c.CSRF = CSRFCustomHeader })
	b := ta.browser(t)
	expectError(t, b.do("POST", "login/start", ""), 401, "unauthorized_request")
	expectError(t, b.do("POST", "login/start", "", "token-handler-version", "2"), 401, "unauthorized_request")
	w := b.do("POST", "login/start", "", "token-handler-version", "1")
	var st map[string]string
	decodeJSON(t, w.Body.Bytes(), &st)
	cb := ta.as.authorize(st["authorizationRequestUrl"], false, nil, nil)
	body, _ := json.Marshal(map[string]string{"pageUrl": cb})
	if w := b.do("POST", "login/end", string(body), "token-handler-version", "1"); w.Code != 200 {
		t.Fatalf("login/end: %d %s", w.Code, w.Body)
	}
	expectError(t, b.do("POST", "refresh", ""), 401, "unauthorized_request")
	if w := b.do("POST", "refresh", "", "token-handler-version", "1"); w.Code != 204 {
		t.Fatalf("refresh: %d %s", w.Code, w.Body)
	}
}
