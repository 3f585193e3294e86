package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/tlsx"
)

// front serves the gateway on a real mTLS listener (client certificates
// requested and verified against the test CA).
func (e *env) front(t testing.TB) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(e.gw.Handler())
	tc, err := tlsx.ServerConfig(tlsx.ServerOptions{
		Source: tlsx.NewHolder(e.ca.issue(t, "gateway", true)), ClientAuth: tlsx.RequestClientCert, ClientCAs: e.ca.pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	return startTLS(t, srv, tc)
}

// client makes an HTTP/2 client presenting cert (nil: none).
func (e *env) client(cert *tls.Certificate) *http.Client {
	tc := &tls.Config{RootCAs: e.ca.pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}
}

func get(t testing.TB, c *http.Client, url, token string) (*http.Response, string) {
	t.Helper()
	r, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// CASES H13 — certificate-bound tokens.
func TestH13CertificateBound(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *env) { c.Routes[1].AllowUnbound = false })
	certA, certB := e.ca.issue(t, "client-a", false), e.ca.issue(t, "client-b", false)
	bound := active("read")
	bound.Claims.CnfX5t = x5t(certA)
	e.as.set(tokenA, bound)
	url := e.front(t) + "/api/x"
	withA, withB, without := e.client(certA), e.client(certB), e.client(nil)

	res, body := get(t, withA, url, tokenA)
	if res.StatusCode != 200 || res.ProtoMajor != 2 {
		t.Fatalf("with A: %d %s %s", res.StatusCode, res.Proto, body)
	}
	// The upstream sees our client certificate (the session identity).
	if got := e.up.certs[len(e.up.certs)-1]; string(got) != string(e.session.Certificate[0]) {
		t.Fatal("upstream did not see the gateway's client certificate")
	}
	for name, c := range map[string]*http.Client{"B (same CA)": withB, "no certificate": without} {
		res, _ := get(t, c, url, tokenA) // A first (cached), then B or none
		if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
			t.Fatalf("%s: %d %q", name, res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
	}
	if n := e.as.calls.Load(); n != 1 {
		t.Fatalf("introspections %d: the binding must be checked on cached entries", n)
	}
	// Encodings of A's thumbprint other than base64url without padding.
	sum := sha256.Sum256(certA.Certificate[0])
	for name, cnf := range map[string]string{
		"hex":    hex.EncodeToString(sum[:]),
		"padded": base64.URLEncoding.EncodeToString(sum[:]),
		"std":    base64.StdEncoding.EncodeToString(sum[:]),
	} {
		tok := "token-cnf-" + name + "-0000000000"
		in := active("read")
		in.Claims.CnfX5t = cnf
		e.as.set(tok, in)
		if res, _ := get(t, withA, url, tok); res.StatusCode != 401 {
			t.Fatalf("cnf in %s: %d", name, res.StatusCode)
		}
	}
	// An unbound token is refused where FAPI requires binding.
	e.as.set("unbound-token-0000000001", active("read"))
	if res, _ := get(t, withA, url, "unbound-token-0000000001"); res.StatusCode != 401 {
		t.Fatalf("unbound token: %d", res.StatusCode)
	}
}

// A cookie token bound to the agent's certificate is checked against
// Config.SessionCertificate, not the browser's connection.
func TestCookieBoundToSessionCertificate(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *env) { c.Routes[1].AllowUnbound = false })
	in := active("read")
	in.Claims.CnfX5t = x5t(e.session)
	e.as.set(tokenA, in)
	cookie := e.sessionCookies(tokenA, "")
	expect(t, e.do(req("GET", "/api/x", "Cookie", cookie, "Origin", spaOrigin)), 200)
	other := e.ca.issue(t, "other", false)
	in.Claims.CnfX5t = x5t(other)
	e.as.set("token-bound-elsewhere-01", in)
	cookie = e.sessionCookies("token-bound-elsewhere-01", "")
	expect(t, e.do(req("GET", "/api/x", "Cookie", cookie, "Origin", spaOrigin)), 401)
}

// dpopKey is a client DPoP key.
type dpopKey struct {
	s   *jws.Signer
	jkt string
}

func newDPoPKey(t testing.TB) *dpopKey {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := jws.NewSigner(k, "")
	if err != nil {
		t.Fatal(err)
	}
	jkt, err := jws.Thumbprint(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &dpopKey{s: s, jkt: jkt}
}

func (k *dpopKey) proof(t testing.TB, method, htu, token, nonce string, iat time.Time, jti string) string {
	t.Helper()
	ath := sha256.Sum256([]byte(token))
	cl := map[string]any{"jti": jti, "htm": method, "htu": htu, "iat": iat.Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(ath[:])}
	if nonce != "" {
		cl["nonce"] = nonce
	}
	b, _ := json.Marshal(cl)
	p, err := k.s.Sign(b, jws.SignOptions{Typ: "dpop+jwt", EmbedJWK: true})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDPoP(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *env) {
		c.Routes[1].AllowUnbound = false
		c.Routes[1].UpstreamTrustsGatewayDPoP = true
	})
	key, other := newDPoPKey(t), newDPoPKey(t)
	in := active("read")
	in.Claims.CnfJkt = key.jkt
	e.as.set(tokenA, in)
	now := e.clock.Now()
	htu := publicOrigin + "/api/x"
	call := func(scheme string, proofs ...string) *httptest.ResponseRecorder {
		r := req("POST", "/api/x?q=1", "Authorization", scheme+" "+tokenA)
		for _, p := range proofs {
			r.Header.Add("DPoP", p)
		}
		return e.do(r)
	}
	expect(t, call("DPoP", key.proof(t, "POST", htu, tokenA, "", now, "jti-1")), 200)
	// The client's key stays with the client: its proof (htu the gateway,
	// ath the opaque token) is not forwarded, and the JWT goes as Bearer
	// to the upstream that trusts the gateway's check.
	if up := e.up.lastRequest(); len(up.Header.Values("DPoP")) != 0 || up.Header.Get("Authorization") != "Bearer "+in.JWT {
		t.Fatalf("upstream got DPoP %q, Authorization %q", up.Header.Values("DPoP"), up.Header.Get("Authorization"))
	}
	expect(t, call("dPOP", key.proof(t, "POST", htu+"?other=query", tokenA, "", now, "jti-2")), 200)

	for name, tc := range map[string]struct {
		w    *httptest.ResponseRecorder
		want int
	}{
		"replayed jti":         {call("DPoP", key.proof(t, "POST", htu, tokenA, "", now, "jti-1")), 401},
		"no proof":             {call("DPoP"), 401},
		"two proofs":           {call("DPoP", key.proof(t, "POST", htu, tokenA, "", now, "a"), key.proof(t, "POST", htu, tokenA, "", now, "b")), 400},
		"wrong htm":            {call("DPoP", key.proof(t, "PUT", htu, tokenA, "", now, "jti-3")), 401},
		"wrong htu":            {call("DPoP", key.proof(t, "POST", "https://evil.example/api/x", tokenA, "", now, "jti-4")), 401},
		"wrong ath":            {call("DPoP", key.proof(t, "POST", htu, "another-token", "", now, "jti-5")), 401},
		"iat an hour old":      {call("DPoP", key.proof(t, "POST", htu, tokenA, "", now.Add(-time.Hour), "jti-6")), 401},
		"other key":            {call("DPoP", other.proof(t, "POST", htu, tokenA, "", now, "jti-7")), 401},
		"bound sent as Bearer": {call("Bearer", key.proof(t, "POST", htu, tokenA, "", now, "jti-8")), 401},
		"malformed":            {call("DPoP", "not.a.jwt"), 401},
	} {
		if tc.w.Code != tc.want {
			t.Errorf("%s: %d, want %d (%s)", name, tc.w.Code, tc.want, tc.w.Body)
		}
		if tc.want == 401 && tc.w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no challenge", name)
		}
	}
	w := call("DPoP")
	expectHeader(t, w.Header(), "WWW-Authenticate", `DPoP error="invalid_dpop_proof", algs="ES256 PS256 EdDSA"`)
	// An unbound token with the DPoP scheme is refused.
	e.as.set("unbound-token-0000000001", active("read"))
	r := req("GET", "/api/x", "Authorization", "DPoP unbound-token-0000000001", "DPoP",
		key.proof(t, "GET", htu, "unbound-token-0000000001", "", now, "jti-9"))
	expect(t, e.do(r), 401)
}

func TestDPoPNonce(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *env) {
		c.DPoP.Nonce = true
		c.Routes[1].UpstreamTrustsGatewayDPoP = true
	})
	key := newDPoPKey(t)
	in := active("read")
	in.Claims.CnfJkt = key.jkt
	e.as.set(tokenA, in)
	htu := publicOrigin + "/api/x"
	r := req("GET", "/api/x", "Authorization", "DPoP "+tokenA, "DPoP", key.proof(t, "GET", htu, tokenA, "", e.clock.Now(), "n-1"))
	w := e.do(r)
	expect(t, w, 401)
	expectHeader(t, w.Header(), "WWW-Authenticate", `DPoP error="use_dpop_nonce", algs="ES256 PS256 EdDSA"`)
	nonce := w.Header().Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("no DPoP-Nonce")
	}
	r = req("GET", "/api/x", "Authorization", "DPoP "+tokenA, "DPoP", key.proof(t, "GET", htu, tokenA, nonce, e.clock.Now(), "n-2"))
	w = e.do(r)
	expect(t, w, 200)
	if w.Header().Get("DPoP-Nonce") == "" {
		t.Fatal("no fresh nonce on success")
	}
	// A nonce from long ago is stale.
	e.clock.advance(2 * DefaultDPoPNonceLifetime)
	r = req("GET", "/api/x", "Authorization", "DPoP "+tokenA, "DPoP", key.proof(t, "GET", htu, tokenA, nonce, e.clock.Now(), "n-3"))
	expect(t, e.do(r), 401)
}
