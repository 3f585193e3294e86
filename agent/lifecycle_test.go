package agent

import (
	"net/url"
	"strings"
	"testing"

	"github.com/cillers/fapid/fapi"
)

// The whole session against the fake server, plain and JARM responses:
// start → end → session → userInfo → claims → refresh → logout, with the
// cookie attributes (CASES H04) checked on every Set-Cookie line and the log
// checked for secrets.
func TestLifecycle(t *testing.T) {
	for _, jarm := range []bool{false, true} {
		name := "plain"
		if jarm {
			name = "jarm"
		}
		t.Run(name, func(t *testing.T) {
			ta := newTestAgent(t, func(c *Config) {
				if jarm {
					c.FAPI.ResponseMode = fapi.ResponseModeJWT
				}
			})
			b := ta.browser(t)
			authURL := b.start(`{"extraParams":[{"key":"prompt","value":"login"},{"key":"ui_locales","value":"sv en"}]}`)
			u, _ := url.Parse(authURL)
			if got := u.Query(); len(got) != 2 || got.Get("client_id") != clientID || got.Get("request_uri") == "" {
				t.Fatalf("authorization URL query %v", got)
			}
			par := ta.as.lastPAR()
			if par.claims["prompt"] != "login" || par.claims["ui_locales"] != "sv en" || par.claims["redirect_uri"] != redirectURI ||
				par.claims["nonce"] == nil || par.claims["code_challenge_method"] != "S256" {
				t.Fatalf("request object claims %v", par.claims)
			}
			if len(b.cookies) != 1 || b.cookies["__Host-fapid-login"] == "" {
				t.Fatalf("after start, cookies %v", b.cookies)
			}
			cb := ta.as.authorize(authURL, jarm, nil, nil)
			w := b.end(cb)
			if w.Code != 200 {
				t.Fatalf("login/end: %d %s", w.Code, w.Body)
			}
			for _, line := range setCookies(w) {
				checkAttributes(t, line)
			}
			var res loginEndResponse
			decodeJSON(t, w.Body.Bytes(), &res)
			b.csrf = res.CSRF
			if !res.Handled || !res.IsLoggedIn || len(res.CSRF) != 43 {
				t.Fatalf("login/end = %+v", res)
			}
			if _, ok := b.cookies["__Host-fapid-login"]; ok {
				t.Fatal("login cookie not cleared")
			}
			at := string(b.open("at"))
			if !strings.HasPrefix(at, "at-") || string(b.open("csrf")) != res.CSRF {
				t.Fatal("at/csrf cookies do not hold the raw access token and CSRF token (gateway contract)")
			}

			// A page load now reports the session and its CSRF token.
			w = b.end("https://app.example.test/somewhere?x=1")
			var pl loginEndResponse
			decodeJSON(t, w.Body.Bytes(), &pl)
			if w.Code != 200 || pl.Handled || !pl.IsLoggedIn || pl.CSRF != res.CSRF {
				t.Fatalf("page load: %d %+v", w.Code, pl)
			}

			w = b.do("GET", "session", "")
			var sr struct {
				IsLoggedIn           bool
				IDTokenClaims        map[string]any
				AccessTokenExpiresIn *int64
			}
			decodeJSON(t, w.Body.Bytes(), &sr)
			if w.Code != 200 || !sr.IsLoggedIn || sr.IDTokenClaims["sub"] != "alice" || sr.AccessTokenExpiresIn == nil ||
				*sr.AccessTokenExpiresIn < 290 || *sr.AccessTokenExpiresIn > 300 {
				t.Fatalf("session: %d %s", w.Code, w.Body)
			}

			w = b.do("GET", "userInfo", "")
			var ui map[string]any
			decodeJSON(t, w.Body.Bytes(), &ui)
			if w.Code != 200 || ui["sub"] != "alice" || ui["email"] != "alice@example.test" {
				t.Fatalf("userInfo: %d %s", w.Code, w.Body)
			}
			w = b.do("GET", "claims", "")
			var cl map[string]any
			decodeJSON(t, w.Body.Bytes(), &cl)
			if w.Code != 200 || cl["sub"] != "alice" || cl["iss"] != ta.as.issuer || cl["nonce"] != par.claims["nonce"] {
				t.Fatalf("claims: %d %s", w.Code, w.Body)
			}

			rt := string(b.open("rt"))
			w = b.do("POST", "refresh", "", b.csrfHeader()...)
			if w.Code != 204 {
				t.Fatalf("refresh: %d %s", w.Code, w.Body)
			}
			for _, line := range setCookies(w) {
				checkAttributes(t, line)
			}
			if at2 := string(b.open("at")); at2 == at {
				t.Fatal("access token not replaced by refresh")
			}
			if rt2 := string(b.open("rt")); rt2 == rt {
				t.Fatal("refresh token not rotated")
			}
			if w := b.do("GET", "userInfo", ""); w.Code != 200 {
				t.Fatalf("userInfo after refresh: %d %s", w.Code, w.Body)
			}

			w = b.do("POST", "logout", "", b.csrfHeader()...)
			var lo map[string]string
			decodeJSON(t, w.Body.Bytes(), &lo)
			lu, _ := url.Parse(lo["url"])
			if w.Code != 200 || lu == nil || lu.Query().Get("post_logout_redirect_uri") != logoutURI ||
				lu.Query().Has("id_token_hint") || lu.Query().Get("client_id") != clientID ||
				!strings.HasPrefix(lo["url"], ta.as.issuer+"/logout?") {
				t.Fatalf("logout: %d %s", w.Code, w.Body)
			}
			clearedAll(t, w, "at", "rt", "id", "csrf", "login")
			if len(b.cookies) != 0 {
				t.Fatalf("cookies left after logout: %v", b.cookies)
			}
			if ta.as.revokes.Load() != 1 {
				t.Errorf("revocations %d, want 1", ta.as.revokes.Load())
			}
			if w := b.do("GET", "session", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"isLoggedIn":false`) {
				t.Fatalf("session after logout: %d %s", w.Code, w.Body)
			}
			noSecrets(t, "log", ta.logs.String(), at, rt, lu.Query().Get("id_token_hint"), res.CSRF, cb)
		})
	}
}
