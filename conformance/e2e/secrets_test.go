//go:build linux

package e2e_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"

	"github.com/cillers/fapid/internal/cookies"
	"github.com/cillers/fapid/internal/seal"
)

// jwtRE finds a compact JWS/JWT: three base64url segments, the first one a
// JSON object ("{" encodes to "ey", `{"` to "eyJ").
var jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)

const cookiePrefix = "__Host-fapid-"

// session is what the browser's sealed cookies hold, opened with the demo's
// cookie key (the e2e test plays the server here, to know the secrets it
// must never find in a response).
type session struct {
	at, rt, idToken string
}

// openSession joins and opens the agent's cookies (they may be chunked).
func openSession(t *testing.T, sealer *seal.Sealer, jar []*network.Cookie) session {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, "https://api.invalid/", nil)
	for _, c := range jar {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	open := func(kind string) string {
		name := cookiePrefix + kind
		v, err := cookies.Join(r, name)
		if err != nil {
			t.Fatalf("cookie %s: %v", name, err)
		}
		data, err := sealer.Open(name, v)
		if err != nil {
			t.Fatalf("cookie %s does not open with the demo's session key: %v", name, err)
		}
		return string(data)
	}
	var s session
	s.at, s.idToken = open("at"), open("id")
	var rec struct {
		RT string `json:"rt"`
	}
	if err := json.Unmarshal([]byte(open("rt")), &rec); err != nil {
		t.Fatalf("cookie %srt: %v", cookiePrefix, err)
	}
	s.rt = rec.RT
	if len(s.at) < 16 || strings.Count(s.at, ".") == 2 {
		t.Fatalf("the access token in the cookie is not an opaque token (%d characters)", len(s.at))
	}
	if !jwtRE.MatchString(s.idToken) {
		t.Fatal("the -id cookie does not hold an ID token")
	}
	return s
}

// checkCookieAttributes: every agent cookie is HttpOnly, Secure,
// SameSite=Strict, host-only, Path=/ (the __Host- prefix).
func checkCookieAttributes(t *testing.T, jar []*network.Cookie, host string) {
	t.Helper()
	n := 0
	for _, c := range jar {
		if !strings.HasPrefix(c.Name, cookiePrefix) {
			continue
		}
		n++
		if !c.HTTPOnly || !c.Secure || c.SameSite != network.CookieSameSiteStrict || c.Path != "/" || c.Domain != host {
			t.Errorf("cookie %s: httpOnly=%v secure=%v sameSite=%q path=%q domain=%q", c.Name, c.HTTPOnly, c.Secure, c.SameSite, c.Path, c.Domain)
		}
	}
	if n == 0 {
		t.Fatal("the browser holds no agent cookie")
	}
}

// leakCheck scans every captured response.
type leakCheck struct {
	secrets  map[string]string // value -> what it is
	asOrigin string
	callback string // the SPA's redirect_uri
}

// scan reports every JWT and every secret found in a response, body or
// header, apart from one front-channel value that is in the protocol by
// design: the Location of the authorization server's redirect to the SPA's
// redirect_uri, which carries the JARM response (a JWS, by JARM's
// definition, holding only the code; the browser never sees it as a body
// and the agent validates and redeems it once). The agent's logout answer
// carries no id_token_hint.
func (l *leakCheck) scan(t *testing.T, rs []*response) {
	t.Helper()
	for _, r := range rs {
		body := string(r.body)
		l.find(t, r, "body", body)
		for k, v := range r.headers {
			s, _ := v.(string)
			if strings.EqualFold(k, "Location") && strings.HasPrefix(r.url, l.asOrigin+"/") && strings.HasPrefix(s, l.callback+"?") {
				continue
			}
			l.find(t, r, "header "+k, s)
		}
	}
}

func (l *leakCheck) find(t *testing.T, r *response, where, text string) {
	t.Helper()
	if m := jwtRE.FindString(text); m != "" {
		t.Errorf("a JWT reached the browser in the %s of %s (%.40s…)", where, r, m)
	}
	for v, what := range l.secrets {
		if v != "" && strings.Contains(text, v) {
			t.Errorf("the %s reached the browser in the %s of %s", what, where, r)
		}
	}
}
