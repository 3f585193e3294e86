package agent

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// Fuzz targets for every parser of untrusted input: request bodies, the
// page URL, cookies, the session record. They run their seeds in go test.

func FuzzParseStartBody(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"extraParams":[]}`, `{"extraParams":[{"key":"prompt","value":"login consent"}]}`,
		`{"extraParams":[{"key":"redirect_uri","value":"https://evil.example"}]}`,
		`{"extraParams":[{"key":"max_age","value":"3600"},{"key":"ui_locales","value":"sv"}]}`,
		`{"extraParams":null}`, `{"extraParams":[{"key":1}]}`, `{"extraParams":[{}]}`, `[{"key":"a"}]`,
	} {
		f.Add([]byte(s))
	}
	allowed := map[string]bool{}
	for _, p := range DefaultExtraParams {
		allowed[p] = true
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		params, err := parseStartBody(body, allowed)
		if err != nil {
			return
		}
		if len(params) > maxExtraParams {
			t.Fatalf("%d params accepted", len(params))
		}
		for k, v := range params {
			if !allowed[k] || reservedParams[strings.ToLower(k)] || v == "" || len(v) > maxParamValue {
				t.Fatalf("accepted %q=%q", k, v)
			}
		}
	})
}

func FuzzParseEndBody(f *testing.F) {
	for _, s := range []string{`{"pageUrl":"https://app.example.test/cb?code=a&state=b"}`, `{"pageUrl":""}`, `{}`, `{"pageUrl":null}`, `{"pageUrl":"x"} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := parseEndBody(body)
		if err == nil && len(u) > maxPageURLBytes {
			t.Fatalf("page URL of %d bytes accepted", len(u))
		}
	})
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{`{"rt":"x","ate":1,"sub":"alice"}`, `{}`, `{"ate":-1}`, `{"rt":"a","rt":"b"}`, `{"RT":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := parseRecord(data)
		if err == nil && rec.ATExp < 0 {
			t.Fatal("negative expiry accepted")
		}
	})
}

// FuzzLoginEndPageURL drives login/end with arbitrary page URLs and no login
// cookie: a page load (200) or a refusal (400), never anything else, never a
// call to the authorization server, never a cookie.
func FuzzLoginEndPageURL(f *testing.F) {
	ta := newTestAgent(f, nil)
	for _, s := range []string{
		"https://app.example.test/", "https://app.example.test/cb?code=a&state=b&iss=x",
		"https://app.example.test/cb?error=login_required&state=b", "https://app.example.test/cb?response=a.b.c",
		"https://app.example.test/cb?code=a&code=b&state=c", "%zz", "https://app.example.test/cb?state=%ff",
		"javascript:alert(1)", "", "https://app.example.test/cb#code=a&state=b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pageURL string) {
		body, _ := json.Marshal(map[string]string{"pageUrl": pageURL})
		r := httptest.NewRequest("POST", "https://api.example.test/oauth-agent/login/end", strings.NewReader(string(body)))
		r.Header.Set("Origin", spaOrigin)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		ta.Handler().ServeHTTP(w, r)
		if w.Code != 200 && w.Code != 400 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if len(w.Result().Header["Set-Cookie"]) != 0 {
			t.Fatal("a cookie was set")
		}
		if ta.as.tokens.Load() != 0 || ta.as.parCount() != 0 {
			t.Fatal("the authorization server was called")
		}
	})
}

// FuzzSessionCookies sends arbitrary Cookie headers to GET session: 200
// logged out, or 401 with the session cleared; never logged in, never 5xx.
func FuzzSessionCookies(f *testing.F) {
	ta := newTestAgent(f, nil)
	b := ta.browser(f)
	b.login(false)
	f.Add(b.cookieHeader())
	f.Add("__Host-fapid-at=" + strings.Repeat(".", 3000))
	f.Add("__Host-fapid-at=a; __Host-fapid-at-1=b; __Host-fapid-csrf=c; __Host-fapid-rt=d")
	f.Add("__Host-fapid-id-1=x; __Host-fapid-id-07=y")
	f.Add(strings.Replace(b.cookieHeader(), "__Host-fapid-csrf=", "__Host-fapid-at=", 1))
	f.Add("")
	valid := b.cookieHeader()
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "https://api.example.test/oauth-agent/session", nil)
		r.Header.Set("Origin", spaOrigin)
		r.Header.Set("Cookie", header)
		w := httptest.NewRecorder()
		ta.Handler().ServeHTTP(w, r)
		switch {
		case header == valid:
			if w.Code != 200 || !strings.Contains(w.Body.String(), `"isLoggedIn":true`) {
				t.Fatalf("valid session: %d %s", w.Code, w.Body)
			}
		case w.Code == 200:
			if strings.Contains(w.Body.String(), `"isLoggedIn":true`) {
				// Only a complete set of cookies sealed with our key opens
				// (the fuzz workers share the key, not the session).
				for _, n := range []string{"__Host-fapid-at=", "__Host-fapid-rt=", "__Host-fapid-csrf="} {
					if !strings.Contains(header, n) {
						t.Fatalf("logged in without %s: %q", n, header)
					}
				}
			}
		case w.Code != 401:
			t.Fatalf("status %d", w.Code)
		}
	})
}
