package agent

import (
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// CASES H01 — protocol parameters cannot be injected through extraParams:
// 400 invalid_request, no PAR call, no cookie.
func TestH01ProtocolParametersRefused(t *testing.T) {
	ta := newTestAgent(t, nil)
	b := ta.browser(t)
	params := []string{"redirect_uri", "client_id", "response_type", "state", "nonce", "code_challenge",
		"code_challenge_method", "request_uri", "request", "response_mode", "scope", "resource", "dpop_jkt",
		"post_logout_redirect_uri", "id_token_hint", "client_assertion", "REDIRECT_URI", "Redirect_Uri",
		"authorization_details", "iss", "aud"}
	for _, p := range params {
		w := b.do("POST", "login/start", `{"extraParams":[{"key":"prompt","value":"login"},{"key":"`+p+`","value":"https://evil.example/cb"}]}`)
		expectError(t, w, 400, "invalid_request")
		noSetCookie(t, w)
	}
	others := map[string]string{
		"unknown parameter":  `{"extraParams":[{"key":"foo","value":"bar"}]}`,
		"claims not allowed": `{"extraParams":[{"key":"claims","value":"{}"}]}`,
		"repeated":           `{"extraParams":[{"key":"prompt","value":"login"},{"key":"prompt","value":"none"}]}`,
		"bad prompt":         `{"extraParams":[{"key":"prompt","value":"login https://evil"}]}`,
		"bad max_age":        `{"extraParams":[{"key":"max_age","value":"-1"}]}`,
		"control character":  `{"extraParams":[{"key":"login_hint","value":"a\nb"}]}`,
		"empty value":        `{"extraParams":[{"key":"login_hint","value":""}]}`,
		"no value":           `{"extraParams":[{"key":"login_hint"}]}`,
		"value not a string": `{"extraParams":[{"key":"max_age","value":5}]}`,
		"unknown member":     `{"extraParams":[],"redirect_uri":"https://evil.example/cb"}`,
		"member in item":     `{"extraParams":[{"key":"prompt","value":"login","redirect_uri":"x"}]}`,
		"two objects":        `{} {}`,
		"not an object":      `[]`,
	}
	for name, body := range others {
		w := b.do("POST", "login/start", body)
		if w.Code != 400 {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
			continue
		}
		expectError(t, w, 400, "invalid_request")
		noSetCookie(t, w)
	}
	if n := ta.as.parCount(); n != 0 {
		t.Fatalf("%d PAR calls for refused requests, want 0", n)
	}
	// The safe list works, and an operator can widen it, but never to a
	// protocol parameter.
	ta2 := newTestAgent(t, func(c *Config) { c.ExtraParams = []string{"claims", "prompt"} })
	ta2.browser(t).start(`{"extraParams":[{"key":"claims","value":"{\"userinfo\":{\"email\":null}}"}]}`)
	if got := ta2.as.lastPAR().claims["claims"]; got == nil {
		t.Errorf("claims not forwarded: %v", ta2.as.lastPAR().claims)
	}
	for _, p := range []string{"redirect_uri", "state", "scope", "request_uri", "bad name"} {
		cfg := baseConfig(t, ta.as, &logBuffer{})
		cfg.ExtraParams = []string{p}
		if _, err := New(cfg); err == nil {
			t.Errorf("New allowed extra parameter %q", p)
		}
	}
}

// CASES H01/H02 — redirect_uri and post_logout_redirect_uri come only from
// the configuration: Host, X-Forwarded-* and request bodies change nothing.
func TestH02HostAndForwardedHeadersIgnored(t *testing.T) {
	ta := newTestAgent(t, nil)
	b := ta.browser(t)
	send := func(method, path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "https://evil.example"+ta.BasePath()+"/"+path+"?redirect_uri=https://evil.example/cb&post_logout_redirect_uri=https://evil.example/", strings.NewReader(body))
		r.Host = "evil.example"
		r.Header.Set("X-Forwarded-Host", "evil.example")
		r.Header.Set("X-Forwarded-Proto", "http")
		r.Header.Set("Forwarded", "host=evil.example;proto=http")
		r.Header.Set("Origin", spaOrigin)
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Cookie", b.cookieHeader())
		if b.csrf != "" {
			r.Header.Set("x-fapid-csrf", b.csrf)
		}
		w := httptest.NewRecorder()
		ta.Handler().ServeHTTP(w, r)
		b.store(w)
		return w
	}
	w := send("POST", "login/start", "")
	if w.Code != 200 {
		t.Fatalf("login/start: %d %s", w.Code, w.Body)
	}
	par := ta.as.lastPAR()
	if par.claims["redirect_uri"] != redirectURI {
		t.Fatalf("request object redirect_uri %q, want %q byte for byte", par.claims["redirect_uri"], redirectURI)
	}
	if par.form.Has("redirect_uri") {
		t.Fatal("PAR form carries a redirect_uri outside the request object")
	}
	var res map[string]string
	decodeJSON(t, w.Body.Bytes(), &res)
	if !strings.HasPrefix(res["authorizationRequestUrl"], ta.as.issuer+"/authorize?") {
		t.Fatalf("authorization URL %q", res["authorizationRequestUrl"])
	}
	cb := ta.as.authorize(res["authorizationRequestUrl"], false, nil, nil)
	w = b.end(cb)
	decodeJSON(t, w.Body.Bytes(), &struct{}{})
	var le loginEndResponse
	decodeJSON(t, w.Body.Bytes(), &le)
	b.csrf = le.CSRF
	w = send("POST", "logout", `{"post_logout_redirect_uri":"https://evil.example/"}`)
	var lo map[string]string
	decodeJSON(t, w.Body.Bytes(), &lo)
	u, err := url.Parse(lo["url"])
	if w.Code != 200 || err != nil || u.Query()["post_logout_redirect_uri"][0] != logoutURI || len(u.Query()["post_logout_redirect_uri"]) != 1 {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
}

var allEndpoints = []struct{ method, path string }{
	{"POST", "login/start"}, {"POST", "login/end"}, {"GET", "session"}, {"GET", "userInfo"},
	{"GET", "claims"}, {"POST", "refresh"}, {"POST", "logout"},
}

// CASES H04 — Origin on every endpoint, CSRF on data-changing calls, CORS
// only for trusted origins; a refused call sets no cookie and calls nothing.
func TestH04OriginCSRFAndCORS(t *testing.T) {
	ta := newTestAgent(t, nil)
	good := ta.browser(t)
	good.login(false)
	before := ta.as.parCount()
	origins := map[string][]string{
		"no Origin":         nil,
		"evil Origin":       {"https://evil.example"},
		"null Origin":       {"null"},
		"Origin with slash": {spaOrigin + "/"},
		"Origin other case": {strings.ToUpper(spaOrigin)},
		"Origin with port":  {spaOrigin + ":443"},
		"http Origin":       {"http://app.example.test"},
		"wildcard":          {"*"},
		"two Origins":       {spaOrigin, spaOrigin},
	}
	for name, os := range origins {
		for _, ep := range allEndpoints {
			b := ta.browser(t)
			b.cookies = maps(good.cookies)
			b.origin = ""
			hdr := append([]string{}, good.csrfHeader()...)
			for _, o := range os {
				hdr = append(hdr, "Origin", o)
			}
			body := ""
			if ep.path == "login/end" {
				body = `{"pageUrl":"https://app.example.test/"}`
			}
			w := b.do(ep.method, ep.path, body, hdr...)
			expectError(t, w, 401, "unauthorized_request")
			noSetCookie(t, w)
			if w.Header().Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("%s %s: CORS header for an untrusted origin", name, ep.path)
			}
			if !slices.Contains(w.Header().Values("Vary"), "Origin") {
				t.Fatalf("%s %s: no Vary: Origin", name, ep.path)
			}
		}
	}
	if ta.as.parCount() != before || ta.as.refreshes.Load() != 0 || ta.as.userinfos.Load() != 0 {
		t.Fatal("a refused request reached the authorization server")
	}
	csrf := map[string][]string{
		"no CSRF header":    {},
		"wrong CSRF header": {"x-fapid-csrf", good.csrf[:42] + "x"},
		"CSRF prefix only":  {"x-fapid-csrf", good.csrf[:20]},
		"empty CSRF header": {"x-fapid-csrf", ""},
		"two CSRF headers":  {"x-fapid-csrf", good.csrf, "x-fapid-csrf", good.csrf},
		"other prefix":      {"x-example-csrf", good.csrf},
	}
	for name, hdr := range csrf {
		for _, path := range []string{"refresh", "logout"} {
			w := good.do("POST", path, "", hdr...)
			if w.Code != 401 {
				t.Fatalf("%s on %s: %d %s", name, path, w.Code, w.Body)
			}
			expectError(t, w, 401, "unauthorized_request")
			noSetCookie(t, w)
		}
	}
	// Trusted origin: exact CORS answer.
	w := good.do("GET", "session", "")
	if w.Header().Get("Access-Control-Allow-Origin") != spaOrigin || w.Header().Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("CORS headers %v", w.Header())
	}
	pre := good.do("OPTIONS", "refresh", "", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-fapid-csrf")
	if pre.Code != 204 || pre.Header().Get("Access-Control-Allow-Origin") != spaOrigin || pre.Header().Get("Access-Control-Allow-Methods") != "POST" ||
		!strings.Contains(pre.Header().Get("Access-Control-Allow-Headers"), "x-fapid-csrf") || pre.Header().Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("preflight: %d %v", pre.Code, pre.Header())
	}
	evil := ta.browser(t)
	evil.origin = "https://evil.example"
	pre = evil.do("OPTIONS", "refresh", "", "Access-Control-Request-Method", "POST")
	expectError(t, pre, 401, "unauthorized_request")
	if pre.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("preflight from an untrusted origin got CORS headers")
	}
	// Right Origin and CSRF: the call works, and logout clears every cookie.
	if w := good.do("POST", "refresh", "", good.csrfHeader()...); w.Code != 204 {
		t.Fatalf("refresh: %d %s", w.Code, w.Body)
	}
	w = good.do("POST", "logout", "", good.csrfHeader()...)
	if w.Code != 200 {
		t.Fatalf("logout: %d", w.Code)
	}
	clearedAll(t, w, "at", "rt", "id", "csrf", "login")
}

// CASES H05 — a 12 KB ID token is chunked with every Set-Cookie line within
// 4096 bytes and still works; one flipped byte in one chunk, or a dropped
// chunk, is 401 with the session cleared.
func TestH05LargeTokens(t *testing.T) {
	ta := newTestAgent(t, nil)
	ta.as.set(func(as *fakeAS) { as.groups = 300; as.refreshID = true })
	b := ta.browser(t)
	w := b.end(ta.as.authorize(b.start(""), false, nil, nil))
	if w.Code != 200 {
		t.Fatalf("login/end: %d %s", w.Code, w.Body)
	}
	for _, line := range setCookies(w) {
		checkAttributes(t, line) // ≤ 4096 bytes each
	}
	var le loginEndResponse
	decodeJSON(t, w.Body.Bytes(), &le)
	b.csrf = le.CSRF
	idt := string(b.open("id"))
	if len(idt) < 12<<10 {
		t.Fatalf("ID token only %d bytes", len(idt))
	}
	var pieces []string
	for n := range b.cookies {
		if strings.HasPrefix(n, "__Host-fapid-id") {
			pieces = append(pieces, n)
		}
	}
	if len(pieces) < 4 {
		t.Fatalf("ID token in %d cookies, want it chunked", len(pieces))
	}
	check := func(w *httptest.ResponseRecorder) {
		for _, line := range setCookies(w) {
			checkAttributes(t, line) // ≤ 4096 bytes each
		}
	}
	w = b.do("GET", "claims", "")
	var cl map[string]any
	decodeJSON(t, w.Body.Bytes(), &cl)
	if g, _ := cl["groups"].([]any); w.Code != 200 || len(g) != 300 {
		t.Fatalf("claims: %d, %d groups", w.Code, len(g))
	}
	w = b.do("POST", "refresh", "", b.csrfHeader()...)
	if w.Code != 204 {
		t.Fatalf("refresh: %d %s", w.Code, w.Body)
	}
	check(w)
	if w := b.do("GET", "session", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"groups"`) {
		t.Fatalf("session: %d", w.Code)
	}
	saved := maps(b.cookies)
	for _, piece := range []string{"__Host-fapid-id", "__Host-fapid-id-2", "__Host-fapid-at", "__Host-fapid-rt", "__Host-fapid-csrf"} {
		for _, mode := range []string{"flip", "drop"} {
			b.cookies = maps(saved)
			v := b.cookies[piece]
			switch mode {
			case "flip":
				i := len(v) / 2
				c := byte('A')
				if v[i] == 'A' {
					c = 'B'
				}
				b.cookies[piece] = v[:i] + string(c) + v[i+1:]
			case "drop":
				delete(b.cookies, piece)
			}
			for _, ep := range []string{"claims", "session", "userInfo"} {
				bb := ta.browser(t)
				bb.cookies = maps(b.cookies)
				w := bb.do("GET", ep, "")
				expectError(t, w, 401, "unauthorized_request")
				clearedAll(t, w)
			}
		}
	}
	if got := ta.as.userinfos.Load(); got != 0 {
		t.Fatalf("corrupt sessions made %d userinfo calls", got)
	}
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// CASES H07 — absurd cookie values are refused before any decryption.
func TestH07AbsurdCookies(t *testing.T) {
	ta := newTestAgent(t, nil)
	for _, header := range []string{
		"__Host-fapid-at=" + strings.Repeat(".", 3000),
		"__Host-fapid-at=" + strings.Repeat("A", 40000),
		"__Host-fapid-at=a; __Host-fapid-at-9=b",
		"__Host-fapid-csrf=\"quoted\"",
	} {
		b := ta.browser(t)
		w := b.do("GET", "session", "", "Cookie", header)
		expectError(t, w, 401, "unauthorized_request")
		clearedAll(t, w)
	}
}
