package gateway

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/tlsx"
)

// proofClaims decodes a DPoP proof the gateway signed: it must verify
// with its embedded key (RFC 9449 §4.3 steps 5–8), carry typ dpop+jwt, and
// its key must be want (the deployment key).
func proofClaims(t testing.TB, proof, wantJKT string) map[string]any {
	t.Helper()
	payload, h, jkt, err := jws.VerifyEmbedded(proof)
	if err != nil {
		t.Fatalf("proof does not verify: %v", err)
	}
	if h.Typ != "dpop+jwt" || h.Alg != jws.ES256 || h.Kid != "" || jkt != wantJKT {
		t.Fatalf("proof header typ %q alg %q kid %q, key %s (want %s)", h.Typ, h.Alg, h.Kid, jkt, wantJKT)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func athOf(jwt string) string {
	sum := sha256.Sum256([]byte(jwt))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sessionEnv is the default env with the deployment DPoP key configured
// and tokenA bound to it.
func sessionEnv(t *testing.T, mod func(*Config, *env)) (*env, *dpopKey, *Introspection) {
	t.Helper()
	sess := newDPoPKey(t)
	e := newEnv(t, func(c *Config, e *env) {
		c.Routes[1].AllowUnbound = false
		c.SessionDPoPSigner = sess.s
		if mod != nil {
			mod(c, e)
		}
	})
	in := active("read")
	in.Claims.CnfJkt = sess.jkt
	e.as.set(tokenA, in)
	return e, sess, in
}

// DESIGN §4 step 6: a cookie session bound to the deployment key goes
// upstream as "DPoP <JWT>" with a proof the gateway signs for the
// upstream URL, with ath of that JWT.
func TestSessionDPoPUpstreamProof(t *testing.T) {
	e, sess, in := sessionEnv(t, nil)
	now := e.clock.Now()
	cookie := e.sessionCookies(tokenA, "csrf-1")

	// A DPoP header from the browser is dropped, never forwarded.
	expect(t, e.do(req("GET", "/api/x?q=1", "Cookie", cookie, "Origin", spaOrigin, "DPoP", "browser.sent.this")), 200)
	up := e.up.lastRequest()
	expectHeader(t, up.Header, "Authorization", "DPoP "+in.JWT)
	proofs := up.Header.Values("DPoP")
	if len(proofs) != 1 {
		t.Fatalf("%d DPoP headers upstream", len(proofs))
	}
	cl := proofClaims(t, proofs[0], sess.jkt)
	jti1, _ := cl["jti"].(string)
	want := map[string]any{"htm": "GET", "htu": e.up.url + "/api/x", "iat": json.Number(jsonInt(now.Unix())),
		"ath": athOf(in.JWT), "jti": jti1}
	if !mapsEqual(cl, want) || len(jti1) != 43 {
		t.Fatalf("proof claims %v, want %v with a 43-character jti", cl, want)
	}
	// What the upstream does (RFC 9449 §4.3, §7.1) accepts it.
	if _, err := fapi.VerifyDPoPProof(proofs[0], fapi.DPoPCheck{Method: "GET", URL: e.up.url + "/api/x?q=1",
		AccessToken: in.JWT, JKT: sess.jkt, Now: now}); err != nil {
		t.Fatalf("upstream check: %v", err)
	}

	// Every request gets a fresh proof; htm follows the method.
	expect(t, e.do(req("POST", "/api/y", "Cookie", cookie, "Origin", spaOrigin, "X-Fapid-Csrf", "csrf-1")), 200)
	cl = proofClaims(t, e.up.lastRequest().Header.Get("DPoP"), sess.jkt)
	if cl["htm"] != "POST" || cl["htu"] != e.up.url+"/api/y" || cl["jti"] == jti1 || cl["ath"] != athOf(in.JWT) {
		t.Fatalf("second proof %v", cl)
	}
	if n := e.as.calls.Load(); n != 1 {
		t.Fatalf("introspections %d, want 1 (the proof is per request, the JWT cached)", n)
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func mapsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Route.UpstreamPublicURL names the upstream as it sees itself; the
// forwarded path (after StripPrefix) is appended as on the wire.
func TestSessionDPoPUpstreamPublicURL(t *testing.T) {
	e, sess, _ := sessionEnv(t, func(c *Config, e *env) {
		r := c.Routes[1]
		r.Prefix, r.StripPrefix = "/svc/", true
		r.Upstream, r.UpstreamPublicURL = e.up.url+"/base/", "https://api.internal.example:8443/base/"
		c.Routes = append(c.Routes, r)
	})
	expect(t, e.do(req("GET", "/svc/a/b%7E", "Cookie", e.sessionCookies(tokenA, ""), "Origin", spaOrigin)), 200)
	up := e.up.lastRequest()
	if up.URL.EscapedPath() != "/base/a/b~" {
		t.Fatalf("upstream path %q", up.URL.EscapedPath())
	}
	if cl := proofClaims(t, up.Header.Get("DPoP"), sess.jkt); cl["htu"] != "https://api.internal.example:8443/base/a/b~" {
		t.Fatalf("htu %v", cl["htu"])
	}
}

// What the gateway refuses: a cookie token bound to another key, one
// without a deployment key configured, a session-bound token as Bearer,
// and a client's own DPoP key on a route whose upstream does not trust
// the gateway's check — all 401, none reaches the upstream.
func TestSessionDPoPRefusals(t *testing.T) {
	const dpopInvalid = `DPoP error="invalid_token", algs="ES256 PS256 EdDSA"`
	other := newDPoPKey(t)

	e, sess, _ := sessionEnv(t, nil)
	foreign := active("read")
	foreign.Claims.CnfJkt = other.jkt
	e.as.set("token-bound-to-other-key", foreign)
	w := e.do(req("GET", "/api/x", "Cookie", e.sessionCookies("token-bound-to-other-key", ""), "Origin", spaOrigin))
	expect(t, w, 401)
	// The route also takes bearer and dpop, so both challenges.
	if got := w.Header().Values("WWW-Authenticate"); !slices.Equal(got, []string{`Bearer error="invalid_token"`, dpopInvalid}) {
		t.Fatalf("WWW-Authenticate %q", got)
	}

	w = e.do(req("GET", "/api/x", "Authorization", "Bearer "+tokenA))
	expect(t, w, 401)
	expectHeader(t, w.Header(), "WWW-Authenticate", `Bearer error="invalid_token"`) // RFC 9449 §7.2
	w = e.do(req("GET", "/api/x", "Authorization", "Bearer "+tokenA, "DPoP", sess.proof(t, "GET", publicOrigin+"/api/x", tokenA, "", e.clock.Now(), "j-0")))
	expect(t, w, 401)

	// A mobile client's own key: its proof to the gateway is good, but the
	// upstream could not check anything the gateway can send.
	e.as.set("token-held-by-a-mobile-app", foreign)
	r := req("GET", "/api/x", "Authorization", "DPoP token-held-by-a-mobile-app",
		"DPoP", other.proof(t, "GET", publicOrigin+"/api/x", "token-held-by-a-mobile-app", "", e.clock.Now(), "j-1"))
	w = e.do(r)
	expect(t, w, 401)
	expectHeader(t, w.Header(), "WWW-Authenticate", dpopInvalid)
	if !strings.Contains(e.logs.String(), "DPoP-bound token refused") {
		t.Fatalf("refusal not logged: %s", e.logs)
	}
	if n := e.up.calls.Load(); n != 0 {
		t.Fatalf("upstream called %d times", n)
	}

	// Without SessionDPoPSigner every jkt-bound cookie token is refused.
	e2 := newEnv(t, func(c *Config, _ *env) { c.Routes[1].AllowUnbound = false })
	bound := active("read")
	bound.Claims.CnfJkt = sess.jkt
	e2.as.set(tokenA, bound)
	expect(t, e2.do(req("GET", "/api/x", "Cookie", e2.sessionCookies(tokenA, ""), "Origin", spaOrigin)), 401)
	if n := e2.up.calls.Load(); n != 0 {
		t.Fatalf("upstream called %d times", n)
	}
}

// Forward-auth cannot sign for an upstream request it does not make: a
// jkt-bound token passes only where the upstream trusts the gateway.
func TestForwardAuthDPoPBound(t *testing.T) {
	for _, trusts := range []bool{false, true} {
		e, _, in := sessionEnv(t, func(c *Config, _ *env) {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}
			c.Routes[1].UpstreamTrustsGatewayDPoP = trusts
		})
		w := httptest.NewRecorder()
		e.gw.ForwardAuthHandler().ServeHTTP(w, req("GET", "/auth", "Cookie", e.sessionCookies(tokenA, ""),
			"Origin", spaOrigin, "X-Original-Method", "GET", "X-Original-Uri", "/api/x"))
		switch {
		case trusts && (w.Code != 200 || w.Header().Get("X-Auth-JWT") != in.JWT):
			t.Fatalf("trusting route: %d %q", w.Code, w.Header().Get("X-Auth-JWT"))
		case !trusts && (w.Code != 401 || w.Header().Get("X-Auth-JWT") != "" || w.Header().Get("WWW-Authenticate") != `Bearer error="invalid_token"`):
			t.Fatalf("route without trust: %d %v", w.Code, w.Header())
		}
	}
}

// nonceUpstream is an API that requires DPoP nonces (RFC 9449 §9).
type nonceUpstream struct {
	mu     sync.Mutex
	nonce  string
	calls  int
	bodies []string
	seen   []string // nonce of each proof
}

func (u *nonceUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var cl struct {
		Nonce string `json:"nonce"`
	}
	parts := strings.Split(r.Header.Get("DPoP"), ".")
	if len(parts) == 3 {
		p, _ := base64.RawURLEncoding.DecodeString(parts[1])
		_ = json.Unmarshal(p, &cl)
	}
	u.mu.Lock()
	u.calls++
	u.bodies = append(u.bodies, string(b))
	u.seen = append(u.seen, cl.Nonce)
	nonce := u.nonce
	u.mu.Unlock()
	w.Header().Set("DPoP-Nonce", nonce)
	if cl.Nonce != nonce {
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

func (u *nonceUpstream) rotate(n string) {
	u.mu.Lock()
	u.nonce = n
	u.mu.Unlock()
}

func (u *nonceUpstream) state() (int, []string, []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls, slices.Clone(u.seen), slices.Clone(u.bodies)
}

func TestSessionDPoPUpstreamNonce(t *testing.T) {
	nu := &nonceUpstream{nonce: "nonce-1"}
	e, _, _ := sessionEnv(t, func(c *Config, e *env) {
		tc, err := tlsx.ServerConfig(tlsx.ServerOptions{Source: tlsx.NewHolder(e.ca.issue(t, "nonce-api", true))})
		if err != nil {
			t.Fatal(err)
		}
		c.Routes[1].Upstream = startTLS(t, httptest.NewUnstartedServer(nu), tc)
	})
	cookie := e.sessionCookies(tokenA, "csrf-1")
	get := func() *httptest.ResponseRecorder {
		return e.do(req("GET", "/api/x", "Cookie", cookie, "Origin", spaOrigin))
	}
	post := func(body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "https://api.example.test/api/x", strings.NewReader(body))
		r.Header.Set("Cookie", cookie)
		r.Header.Set("Origin", spaOrigin)
		r.Header.Set("X-Fapid-Csrf", "csrf-1")
		return e.do(r)
	}
	// First request: no nonce yet → 401 use_dpop_nonce → sent again with it.
	w := get()
	expect(t, w, 200)
	if w.Header().Get("DPoP-Nonce") != "" {
		t.Fatal("the upstream's nonce reached the browser")
	}
	calls, seen, _ := nu.state()
	if calls != 2 || !slices.Equal(seen, []string{"", "nonce-1"}) {
		t.Fatalf("calls %d, nonces %q", calls, seen)
	}
	// Later requests use it at once.
	expect(t, get(), 200)
	if calls, seen, _ = nu.state(); calls != 3 || seen[2] != "nonce-1" {
		t.Fatalf("calls %d, nonces %q", calls, seen)
	}
	// The nonce changes: a request with a body cannot be sent twice, so its
	// 401 goes back (without the nonce), and the next request has it.
	nu.rotate("nonce-2")
	w = post("payload-1")
	expect(t, w, 401)
	if w.Header().Get("DPoP-Nonce") != "" {
		t.Fatal("the upstream's nonce reached the browser")
	}
	w = post("payload-2")
	expect(t, w, 200)
	calls, seen, bodies := nu.state()
	if calls != 5 || !slices.Equal(seen[3:], []string{"nonce-1", "nonce-2"}) || !slices.Equal(bodies[3:], []string{"payload-1", "payload-2"}) {
		t.Fatalf("calls %d, nonces %q, bodies %q", calls, seen, bodies)
	}
	// A bodiless request after a rotation is retried transparently.
	nu.rotate("nonce-3")
	expect(t, get(), 200)
	if calls, seen, _ = nu.state(); calls != 7 || !slices.Equal(seen[5:], []string{"nonce-2", "nonce-3"}) {
		t.Fatalf("calls %d, nonces %q", calls, seen)
	}
}

// failingKey is a deployment key whose HSM is away.
type failingKey struct{ *ecdsa.PrivateKey }

func (failingKey) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("pkcs11: CKR_DEVICE_REMOVED")
}

func TestSessionDPoPSignerFails(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := jws.NewSigner(failingKey{k}, "")
	if err != nil {
		t.Fatal(err)
	}
	jkt, _ := jws.Thumbprint(s.Public())
	e := newEnv(t, func(c *Config, _ *env) { c.SessionDPoPSigner = s })
	in := active("read")
	in.Claims.CnfJkt = jkt
	e.as.set(tokenA, in)
	w := e.do(req("GET", "/api/x", "Cookie", e.sessionCookies(tokenA, ""), "Origin", spaOrigin))
	expect(t, w, 503)
	expectHeader(t, w.Header(), "Retry-After", "5")
	if !strings.Contains(w.Body.String(), `"code":"temporarily_unavailable"`) || strings.Contains(w.Body.String(), "pkcs11") {
		t.Fatalf("body %s", w.Body)
	}
	if n := e.up.calls.Load(); n != 0 {
		t.Fatalf("upstream called %d times", n)
	}
	if !strings.Contains(e.logs.String(), "cannot sign the upstream DPoP proof") {
		t.Fatalf("not logged: %s", e.logs)
	}
}
