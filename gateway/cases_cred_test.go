package gateway

import (
	"strings"
	"sync/atomic"
	"testing"
)

// CASES H03 — a bearer is not authentication until the AS says so.
func TestH03BearerNeedsTheAS(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *env) {
		c.Routes[1].Credentials = []Credential{CredentialBearer}
	})
	for i := range 2 { // inactive → 401, and again → 401
		w := e.do(req("GET", "/api/x", "Authorization", "Bearer "+tokenA))
		expect(t, w, 401)
		expectHeader(t, w.Header(), "WWW-Authenticate", `Bearer error="invalid_token"`)
		if got := w.Body.String(); got != `{"code":"invalid_token","message":"The access token is missing, invalid or expired"}`+"\n" {
			t.Fatalf("round %d body %q", i, got)
		}
	}
	if n := e.as.calls.Load(); n != 1 {
		t.Fatalf("introspections = %d, want 1 (the inactive answer is cached negatively)", n)
	}

	w := e.do(req("GET", "/api/x", "Authorization", "Bearer "))
	expect(t, w, 401)
	expectHeader(t, w.Header(), "WWW-Authenticate", `Bearer error="invalid_token"`)

	r := req("GET", "/api/x", "Authorization", "Bearer "+tokenA, "Authorization", "Bearer "+tokenA)
	w = e.do(r)
	expect(t, w, 400)
	if !strings.Contains(w.Body.String(), `"code":"invalid_request"`) {
		t.Fatalf("body %s", w.Body)
	}
	// The same two credentials merged into one header by a proxy.
	w = e.do(req("GET", "/api/x", "Authorization", "Bearer "+tokenA+", Bearer "+tokenA))
	expect(t, w, 400)
	if !strings.Contains(w.Body.String(), `"code":"invalid_request"`) {
		t.Fatalf("merged: body %s", w.Body)
	}

	e.as.set("query-token-000000000001", active())
	w = e.do(req("GET", "/api/x?access_token=query-token-000000000001"))
	expect(t, w, 401)
	expectHeader(t, w.Header(), "WWW-Authenticate", `Bearer`)
	if n := e.as.calls.Load(); n != 1 {
		t.Fatalf("the query token was introspected (%d calls)", n)
	}
	if e.up.calls.Load() != 0 {
		t.Fatal("upstream was called")
	}
}

func TestSchemeCaseInsensitive(t *testing.T) {
	e := newEnv(t, nil)
	e.as.set(tokenA, active("read"))
	for _, s := range []string{"Bearer", "bearer", "BEARER", "bEARER"} {
		w := e.do(req("GET", "/api/x", "Authorization", s+" "+tokenA))
		expect(t, w, 200)
	}
	// The query token is removed before forwarding (RFC 6750 §2.3).
	w := e.do(req("GET", "/api/x?a=1&access_token=zzz", "Authorization", "Bearer "+tokenA))
	expect(t, w, 200)
	if q := e.up.lastRequest().URL.RawQuery; q != "a=1" {
		t.Fatalf("upstream query %q", q)
	}
}

// countingOpener counts decryptions.
type countingOpener struct {
	Opener
	n atomic.Int64
}

func (c *countingOpener) Open(name, value string) ([]byte, error) {
	c.n.Add(1)
	return c.Opener.Open(name, value)
}

// CASES H07 — cheap rejection of absurd tokens.
func TestH07AbsurdTokens(t *testing.T) {
	var opener *countingOpener
	e := newEnv(t, func(c *Config, e *env) {
		opener = &countingOpener{Opener: c.Cookies}
		c.Cookies = opener
	})
	dots := "Bearer " + strings.Repeat(".", 7000)
	w := e.do(req("GET", "/api/x", "Authorization", dots))
	expect(t, w, 401)
	expectHeader(t, w.Header(), "WWW-Authenticate", `Bearer error="invalid_token"`)

	w = e.do(req("GET", "/api/x", "Cookie", "__Host-fapid-at="+strings.Repeat(".", 3000), "Origin", spaOrigin))
	expect(t, w, 401)
	if e.as.calls.Load() != 0 || opener.n.Load() != 0 || e.up.calls.Load() != 0 {
		t.Fatalf("work done: introspections %d, decryptions %d, upstream %d", e.as.calls.Load(), opener.n.Load(), e.up.calls.Load())
	}
	// Other absurd shapes of the same kind.
	for _, tok := range []string{
		strings.Repeat("a", DefaultMaxTokenLength+1), "a.b.c.d.e.f.ghijklmnopq", "abcdefgh..ijklmnopq",
		".abcdefghijklmnopq", "abcdefghijklmnopq.", "abcdefgh=ijklmnopq", "short", "abcdefghijklmnopq\x00",
		"abcdefghij klmnopq", "abcdefghijklmnop%", `abcdefghijklmnopq"`,
	} {
		w := e.do(req("GET", "/api/x", "Authorization", "Bearer "+tok))
		expect(t, w, 401)
	}
	if e.as.calls.Load() != 0 {
		t.Fatalf("absurd tokens reached introspection")
	}
	// "Well under a millisecond of work": the rejection is a byte scan that
	// allocates nothing but the error (speed: BenchmarkAbsurdTokenRejection).
	rq := &request{r: req("GET", "/api/x", "Authorization", dots), method: "GET"}
	if n := testing.AllocsPerRun(200, func() {
		if _, ae := e.gw.extract(rq, acceptBearer); ae == nil || ae.status != 401 {
			t.Fatal("accepted")
		}
	}); n > 1 {
		t.Fatalf("rejection allocates %v times", n)
	}
}

// CASES H04 — Origin and CSRF on cookie calls (gateway part).
func TestH04OriginAndCSRF(t *testing.T) {
	e := newEnv(t, nil)
	e.as.set(tokenA, active("read"))
	cookies := e.sessionCookies(tokenA, "csrf-token-1") + "; theme=dark"
	for name, tc := range map[string]struct {
		hdr  []string
		want int
	}{
		"no Origin":             {[]string{"Cookie", cookies}, 401},
		"evil Origin":           {[]string{"Cookie", cookies, "Origin", "https://evil.example"}, 401},
		"null Origin":           {[]string{"Cookie", cookies, "Origin", "null"}, 401},
		"Origin with slash":     {[]string{"Cookie", cookies, "Origin", spaOrigin + "/"}, 401},
		"Origin other case":     {[]string{"Cookie", cookies, "Origin", strings.ToUpper(spaOrigin)}, 401},
		"two Origins":           {[]string{"Cookie", cookies, "Origin", spaOrigin, "Origin", spaOrigin}, 401},
		"no CSRF header":        {[]string{"Cookie", cookies, "Origin", spaOrigin}, 401},
		"wrong CSRF header":     {[]string{"Cookie", cookies, "Origin", spaOrigin, "X-Fapid-Csrf", "csrf-token-2"}, 401},
		"CSRF prefix only":      {[]string{"Cookie", cookies, "Origin", spaOrigin, "X-Fapid-Csrf", "csrf-token-"}, 401},
		"two CSRF headers":      {[]string{"Cookie", cookies, "Origin", spaOrigin, "X-Fapid-Csrf", "csrf-token-1", "X-Fapid-Csrf", "csrf-token-1"}, 401},
		"right Origin and CSRF": {[]string{"Cookie", cookies, "Origin", spaOrigin, "x-fapid-csrf", "csrf-token-1"}, 200},
	} {
		before := e.up.calls.Load()
		w := e.do(req("POST", "/api/x", tc.hdr...))
		if w.Code != tc.want {
			t.Errorf("%s: status %d, want %d (%s)", name, w.Code, tc.want, w.Body)
			continue
		}
		if tc.want == 401 {
			if got := w.Body.String(); !strings.Contains(got, `"code":"unauthorized_request"`) {
				t.Errorf("%s: body %s", name, got)
			}
			if e.up.calls.Load() != before {
				t.Errorf("%s: reached upstream", name)
			}
			continue
		}
		up := e.up.lastRequest()
		if c := up.Header.Get("Cookie"); c != "theme=dark" {
			t.Errorf("upstream Cookie %q: our cookies must be stripped, others kept", c)
		}
		if up.Header.Get("X-Fapid-Csrf") != "" || up.Header.Get("Authorization") != "Bearer "+active().JWT {
			t.Errorf("upstream headers %v", up.Header)
		}
		expectHeader(t, w.Header(), "Access-Control-Allow-Origin", spaOrigin)
		expectHeader(t, w.Header(), "Access-Control-Allow-Credentials", "true")
	}
	// GET needs Origin but no CSRF header.
	expect(t, e.do(req("GET", "/api/x", "Cookie", cookies, "Origin", spaOrigin)), 200)
	expect(t, e.do(req("GET", "/api/x", "Cookie", cookies)), 401)
	// A -csrf ciphertext presented as -at does not open (AAD = cookie name).
	swapped := strings.Replace(e.sessionCookies("x", "csrf-token-1"), "__Host-fapid-at=", "__Host-fapid-ignored=", 1)
	swapped = strings.Replace(swapped, "__Host-fapid-csrf=", "__Host-fapid-at=", 1)
	expect(t, e.do(req("GET", "/api/x", "Cookie", swapped, "Origin", spaOrigin)), 401)
}

func TestCORSPreflight(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do(req("OPTIONS", "/api/x", "Origin", spaOrigin, "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type, x-fapid-csrf"))
	expect(t, w, 204)
	expectHeader(t, w.Header(), "Access-Control-Allow-Origin", spaOrigin)
	expectHeader(t, w.Header(), "Access-Control-Allow-Headers", "content-type, x-fapid-csrf")
	w = e.do(req("OPTIONS", "/api/x", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST"))
	expect(t, w, 204)
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS granted to an untrusted origin")
	}
	if e.up.calls.Load() != 0 {
		t.Fatal("preflight reached upstream")
	}
}
