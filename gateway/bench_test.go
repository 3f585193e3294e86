package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/cillers/fapid/internal/cookies"
)

// Budget (DESIGN §7): the cookie + cache-hit path does no JSON parsing and
// no signature work; compare BenchmarkHandlerCacheHit with
// BenchmarkBareReverseProxy (same upstream, same transport settings).

func BenchmarkCookieOpen(b *testing.B) {
	e := newEnv(b, nil)
	r := req("GET", "/api/x", "Cookie", "theme=dark; "+e.sessionCookies(tokenA, "csrf-1"))
	b.ReportAllocs()
	for b.Loop() {
		v, err := cookies.Join(r, "__Host-fapid-at")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.sealer.Open("__Host-fapid-at", v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCacheLookup(b *testing.B) {
	c := newTokenCache(DefaultCacheEntries)
	now := testNow()
	k := makeKey(0, tokenA)
	c.put(k, &entry{expires: now.Add(DefaultCacheMaxTTL).UnixNano(), jwt: "x"}, now)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if c.get(makeKey(0, tokenA), now) == nil {
				b.Fatal("miss")
			}
		}
	})
}

func BenchmarkBindingCheck(b *testing.B) {
	cert := newCA(b).issue(b, "client", false)
	cnf := x5t(cert)
	der := cert.Certificate[0]
	b.ReportAllocs()
	for b.Loop() {
		if !certMatches(cnf, der) {
			b.Fatal("mismatch")
		}
	}
}

// BenchmarkAuthorizeCacheHit is the gateway's own work on a cookie request
// whose token is cached: cookie join and decryption, Origin, cache lookup,
// binding and scope (through forward-auth, so no upstream).
func BenchmarkAuthorizeCacheHit(b *testing.B) {
	e := newEnv(b, func(c *Config, _ *env) {
		c.Routes[1].AllowUnbound = false
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}
	})
	in := active("read")
	in.Claims.CnfX5t = x5t(e.session)
	e.as.set(tokenA, in)
	r := req("GET", "/auth", "Cookie", e.sessionCookies(tokenA, ""), "Origin", spaOrigin,
		"X-Original-Method", "GET", "X-Original-Uri", "/api/x")
	h := e.gw.ForwardAuthHandler()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
	if e.as.calls.Load() != 1 {
		b.Fatal("introspected more than once")
	}
}

func BenchmarkHandlerCacheHit(b *testing.B) {
	e := newEnv(b, func(c *Config, _ *env) { c.Routes[1].AllowUnbound = false })
	in := active("read")
	in.Claims.CnfX5t = x5t(e.session)
	e.as.set(tokenA, in)
	cookie := e.sessionCookies(tokenA, "")
	h := e.gw.Handler()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req("GET", "/api/x", "Cookie", cookie, "Origin", spaOrigin))
			if w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	})
}

func BenchmarkBareReverseProxy(b *testing.B) {
	e := newEnv(b, nil)
	rt := e.gw.routes[0] // same transport settings as a gateway route
	tr, err := UpstreamTransport(&rt.Route)
	if err != nil {
		b.Fatal(err)
	}
	target, _ := url.Parse(e.up.url)
	jwt := "Bearer " + active().JWT
	p := &httputil.ReverseProxy{Transport: tr, Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.SetXForwarded()
		pr.Out.Header.Set("Authorization", jwt) // what any phantom-token proxy forwards
	}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			p.ServeHTTP(w, req("GET", "/api/x", "Cookie", "x=1", "Origin", spaOrigin))
			if w.Code != http.StatusOK {
				b.Fatal(w.Code)
			}
		}
	})
}

// A cache hit does no JSON parsing and no signature verification: either
// would cost dozens of allocations; the whole hit path stays under 20.
func TestCacheHitDoesNoHeavyWork(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *env) { c.Routes[1].AllowUnbound = false })
	in := active("read")
	in.Claims.CnfX5t = x5t(e.session)
	e.as.set(tokenA, in)
	r := req("GET", "/api/x", "Cookie", e.sessionCookies(tokenA, ""), "Origin", spaOrigin)
	rt := e.gw.match("/api/x")
	w := httptest.NewRecorder()
	n := testing.AllocsPerRun(200, func() {
		rq := &request{r: r, method: "GET", rawPath: "/api/x"}
		if _, _, ae := e.gw.authorize(w, rq, rt); ae != nil {
			t.Fatal(ae.code)
		}
	})
	if n > 20 {
		t.Fatalf("%v allocations on a cache hit", n)
	}
	if e.as.calls.Load() != 1 {
		t.Fatal("introspected again")
	}
	t.Logf("%v allocations per cache hit", n)
}

// BenchmarkAbsurdTokenRejection: CASES H07, a bearer of 7000 dots.
func BenchmarkAbsurdTokenRejection(b *testing.B) {
	e := newEnv(b, nil)
	rq := &request{r: req("GET", "/api/x", "Authorization", "Bearer "+strings.Repeat(".", 7000)), method: "GET"}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = e.gw.extract(rq, acceptBearer)
	}
}
