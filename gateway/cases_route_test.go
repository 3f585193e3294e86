package gateway

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/internal/cookies"
)

// CASES H02 — forwarded headers and Host are not trusted by default.
func TestH02ForwardedHeadersUntrusted(t *testing.T) {
	e := newEnv(t, nil)
	// The decision is made on /api/admin, not on X-Forwarded-Uri.
	w := e.do(req("GET", "/api/admin", "X-Forwarded-Uri", "/api/public/x", "X-Original-Uri", "/api/public/x"))
	expect(t, w, 401)
	if e.up.calls.Load() != 0 {
		t.Fatal("upstream called")
	}
	e.as.set(tokenA, active())
	r := req("GET", "/api/admin", "Authorization", "Bearer "+tokenA, "X-Forwarded-Uri", "/api/public/x",
		"X-Forwarded-For", "10.9.9.9", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example",
		"Forwarded", "for=10.9.9.9", "X-Real-Ip", "10.9.9.9", "X-Forwarded-Prefix", "/x")
	r.Host = "evil.example"
	r.TLS = nil // a plain listener: X-Forwarded-Proto: https changes nothing
	expect(t, e.do(r), 200)
	up := e.up.lastRequest()
	if up.URL.Path != "/api/admin" {
		t.Fatalf("upstream path %q", up.URL.Path)
	}
	want := map[string]string{
		"X-Forwarded-For": "192.0.2.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "api.example.test",
		"X-Forwarded-Uri": "", "Forwarded": "", "X-Real-Ip": "", "X-Forwarded-Prefix": "",
	}
	for k, v := range want {
		if got := strings.Join(up.Header.Values(k), ","); got != v {
			t.Errorf("upstream %s = %q, want %q", k, got, v)
		}
	}
}

func TestH02TrustedProxyRightToLeft(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *env) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32")}
	})
	e.as.set(tokenA, active())
	r := req("GET", "/api/x", "Authorization", "Bearer "+tokenA, "X-Forwarded-For", "10.0.0.1, 198.51.100.7")
	r.RemoteAddr = "192.0.2.10:5555"
	expect(t, e.do(r), 200)
	if got := e.up.lastRequest().Header.Get("X-Forwarded-For"); got != "198.51.100.7" {
		t.Fatalf("client = %q, want 198.51.100.7", got)
	}
	// Split over two lines, with another trusted hop on the right.
	e2 := newEnv(t, func(c *Config, _ *env) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	})
	r = req("GET", "/", "X-Forwarded-For", "10.0.0.1, 198.51.100.7", "X-Forwarded-For", "192.0.2.44")
	r.RemoteAddr = "192.0.2.10:5555"
	if ip, trusted := e2.gw.clientIP(r); ip != "198.51.100.7" || !trusted {
		t.Fatalf("clientIP = %q %v", ip, trusted)
	}
	r = req("GET", "/", "X-Forwarded-For", "garbage, 198.51.100.7")
	r.RemoteAddr = "192.0.2.10:5555"
	if ip, _ := e2.gw.clientIP(r); ip != "198.51.100.7" {
		t.Fatalf("clientIP = %q", ip)
	}
	r = req("GET", "/", "X-Forwarded-For", "198.51.100.7, garbage")
	r.RemoteAddr = "192.0.2.10:5555"
	if ip, _ := e2.gw.clientIP(r); ip != "192.0.2.10" {
		t.Fatalf("clientIP past a malformed hop = %q", ip)
	}
	// An untrusted peer's X-Forwarded-For is ignored.
	r = req("GET", "/", "X-Forwarded-For", "198.51.100.7")
	r.RemoteAddr = "203.0.113.5:5555"
	if ip, trusted := e2.gw.clientIP(r); ip != "203.0.113.5" || trusted {
		t.Fatalf("clientIP = %q %v", ip, trusted)
	}
}

// CASES H10 — the token cache cannot widen access.
func TestH10CacheCannotWidenAccess(t *testing.T) {
	asB := newStub()
	e := newEnv(t, func(c *Config, e *env) {
		c.AuthorizationServers = append(c.AuthorizationServers, AuthorizationServer{Name: "b", Introspector: asB})
		r1, r2, rb := c.Routes[1], c.Routes[1], c.Routes[1]
		r1.Prefix, r1.Scopes = "/api/r1/", []string{"read"}
		r2.Prefix, r2.Scopes = "/api/r2/", []string{"write"}
		rb.Prefix, rb.AuthorizationServer = "/api/b/", "b"
		c.Routes = append(c.Routes, r1, r2, rb)
	})
	e.as.set(tokenA, active("read"))
	expect(t, e.do(req("GET", "/api/r1/x", "Authorization", "Bearer "+tokenA)), 200)
	w := e.do(req("GET", "/api/r2/x", "Authorization", "Bearer "+tokenA))
	expect(t, w, 403)
	expectHeader(t, w.Header(), "WWW-Authenticate", `Bearer error="insufficient_scope", scope="write"`)
	if !strings.Contains(w.Body.String(), `"code":"insufficient_scope"`) {
		t.Fatalf("body %s", w.Body)
	}
	expect(t, e.do(req("GET", "/api/r1/x", "Authorization", "Bearer "+tokenA)), 200)
	if n := e.as.calls.Load(); n != 1 {
		t.Fatalf("introspections %d, want 1", n)
	}
	// Cached from A; a route trusting only B asks B (which says inactive).
	w = e.do(req("GET", "/api/b/x", "Authorization", "Bearer "+tokenA))
	expect(t, w, 401)
	if asB.calls.Load() != 1 {
		t.Fatalf("B introspections %d", asB.calls.Load())
	}

	// exp = now+5: after 6 s the next request introspects again.
	const tokExp = "short-lived-token-000001"
	in := active("read")
	in.Claims.Expiry = e.clock.Now().Add(5 * time.Second)
	e.as.set(tokExp, in)
	calls := e.as.calls.Load()
	expect(t, e.do(req("GET", "/api/r1/x", "Authorization", "Bearer "+tokExp)), 200)
	e.clock.advance(6 * time.Second)
	expect(t, e.do(req("GET", "/api/r1/x", "Authorization", "Bearer "+tokExp)), 401) // AS still says active, exp passed
	if got := e.as.calls.Load() - calls; got != 2 {
		t.Fatalf("introspections for the short token %d, want 2", got)
	}

	// No exp: cached at most Cache.MaxTTL.
	const tokNoExp = "token-without-exp-000001"
	in = active("read")
	in.Claims.Expiry = time.Time{}
	e.as.set(tokNoExp, in)
	calls = e.as.calls.Load()
	expect(t, e.do(req("GET", "/api/r1/x", "Authorization", "Bearer "+tokNoExp)), 200)
	e.clock.advance(DefaultCacheMaxTTL - time.Second)
	expect(t, e.do(req("GET", "/api/r1/x", "Authorization", "Bearer "+tokNoExp)), 200)
	if got := e.as.calls.Load() - calls; got != 1 {
		t.Fatalf("within MaxTTL: %d introspections", got)
	}
	e.clock.advance(2 * time.Second)
	expect(t, e.do(req("GET", "/api/r1/x", "Authorization", "Bearer "+tokNoExp)), 200)
	if got := e.as.calls.Load() - calls; got != 2 {
		t.Fatalf("after MaxTTL: %d introspections, want 2", got)
	}

	// Cache-Control max-age shortens the TTL.
	const tokMaxAge = "token-with-max-age-00001"
	in = active("read")
	in.MaxAge, in.HasMaxAge = 3*time.Second, true
	e.as.set(tokMaxAge, in)
	calls = e.as.calls.Load()
	expect(t, e.do(req("GET", "/api/r1/x", "Authorization", "Bearer "+tokMaxAge)), 200)
	e.clock.advance(4 * time.Second)
	expect(t, e.do(req("GET", "/api/r1/x", "Authorization", "Bearer "+tokMaxAge)), 200)
	if got := e.as.calls.Load() - calls; got != 2 {
		t.Fatalf("max-age: %d introspections, want 2", got)
	}

	// {"active":false} never fills a positive entry: after the negative
	// TTL the AS is asked again and its new answer decides.
	const tokInactive = "token-inactive-000000001"
	calls = e.as.calls.Load()
	expect(t, e.do(req("GET", "/api/r1/x", "Authorization", "Bearer "+tokInactive)), 401)
	expect(t, e.do(req("GET", "/api/r1/x", "Authorization", "Bearer "+tokInactive)), 401)
	if got := e.as.calls.Load() - calls; got != 1 {
		t.Fatalf("negative caching: %d introspections", got)
	}
	ent := e.gw.cache.get(makeKey(0, tokInactive), e.clock.Now())
	if ent == nil || !ent.negative || ent.jwt != "" {
		t.Fatalf("negative entry %+v", ent)
	}
	e.clock.advance(DefaultNegativeTTL + time.Second)
	expect(t, e.do(req("GET", "/api/r1/x", "Authorization", "Bearer "+tokInactive)), 401)
	if got := e.as.calls.Load() - calls; got != 2 {
		t.Fatalf("after the negative TTL: %d introspections, want 2", got)
	}
}

// CASES H11 — path tricks.
func TestH11PathTricks(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *env) {
		c.Routes[1].Prefix = "/api/admin/"
	})
	for _, p := range []string{
		"/api/public/../admin/secrets", "/api/public/%2e%2e/admin/secrets", "//api/admin/secrets",
		"/api/public/..;/admin/secrets", "/api/public/%2E%2E/admin/secrets", "/api/public/.%2e/admin/secrets",
		"/api/public/%2e%2e%2fadmin/secrets", "/api/public/..%5cadmin/secrets", "/api/public/..\\admin/secrets",
		"/api/public/%252e%252e/admin/secrets", "/api/public/;/../admin/secrets",
	} {
		r := req("GET", "/api/public/x")
		r.RequestURI = p
		w := e.do(r)
		if w.Code != 400 && w.Code != 401 {
			t.Errorf("%s: status %d", p, w.Code)
		}
	}
	if n := e.up.calls.Load(); n != 0 {
		t.Fatalf("upstream reached %d times", n)
	}
	r := req("GET", "/api/public/x")
	r.RequestURI = "/api/public/a/../b.png"
	expect(t, e.do(r), 200)
	if got := e.up.lastRequest().URL.EscapedPath(); got != "/api/public/b.png" {
		t.Fatalf("forwarded as %q", got)
	}
	r.RequestURI = "/api/public/%7Ea/caf%c3%a9"
	expect(t, e.do(r), 200)
	if got := e.up.lastRequest().RequestURI; got != "/api/public/~a/caf%C3%A9" {
		t.Fatalf("forwarded as %q", got)
	}
}

// CASES H05 — large tokens: chunked cookies, tampering, header limits.
func TestH05ChunkedCookie(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *env) { c.MaxTokenLength = 8000 })
	// An AT so large that its sealed cookie needs two chunks.
	big := strings.Repeat("AbCdEfGh", 600) // 4800 bytes
	e.as.set(big, active("read"))
	sealed, err := e.sealer.Seal("__Host-fapid-at", []byte(big), e.clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := cookies.Split("__Host-fapid-at", sealed, 0)
	if err != nil || len(chunks) != 2 {
		t.Fatalf("split: %d chunks, %v", len(chunks), err)
	}
	header := func(cs []string) string { return strings.Join(cs, "; ") }
	good := []string{chunks[0].Name + "=" + chunks[0].Value, chunks[1].Name + "=" + chunks[1].Value}
	expect(t, e.do(req("GET", "/api/x", "Cookie", header(good)+"; keep=1", "Origin", spaOrigin)), 200)
	if c := e.up.lastRequest().Header.Get("Cookie"); c != "keep=1" {
		t.Fatalf("upstream Cookie %q", c)
	}
	flipped := []string{good[0], chunks[1].Name + "=" + flip(chunks[1].Value)}
	w := e.do(req("GET", "/api/x", "Cookie", header(flipped), "Origin", spaOrigin))
	expect(t, w, 401)
	// The session is cleared: every chunk expired with the agent's attributes.
	cleared := w.Result().Header.Values("Set-Cookie")
	for _, name := range []string{"__Host-fapid-at=", "__Host-fapid-at-1="} {
		found := false
		for _, line := range cleared {
			if strings.HasPrefix(line, name+";") && strings.Contains(line, "Max-Age=0") && strings.Contains(line, "Path=/") &&
				strings.Contains(line, "Secure") && strings.Contains(line, "HttpOnly") && strings.Contains(line, "SameSite=Strict") {
				found = true
			}
		}
		if !found {
			t.Errorf("tampered session: no clearing Set-Cookie for %s in %q", name, cleared)
		}
	}
	expect(t, e.do(req("GET", "/api/x", "Cookie", good[0], "Origin", spaOrigin)), 401)                                        // dropped chunk
	expect(t, e.do(req("GET", "/api/x", "Cookie", header([]string{good[1]}), "Origin", spaOrigin)), 401)                      // first dropped
	expect(t, e.do(req("GET", "/api/x", "Cookie", header(append(good, "__Host-fapid-at-2=QUFB")), "Origin", spaOrigin)), 401) // stale extra chunk

	// A 20 KB header block → 431.
	r := req("GET", "/api/x", "X-Big", strings.Repeat("a", 20<<10))
	w = e.do(r)
	expect(t, w, 431)
	if e.as.calls.Load() != 1 {
		t.Fatalf("introspections %d", e.as.calls.Load())
	}
}

func flip(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
