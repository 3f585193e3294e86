package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/internal/jws"
)

func TestForwardAuth(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *env) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.ForwardAuthPath = "/_fapid/auth"
		c.Routes[1].Scopes = []string{"read"}
	})
	e.as.set(tokenA, active("read"))
	fa := func(peer string, hdr ...string) (int, string, string) {
		r := req("GET", "/_fapid/auth", hdr...)
		r.RemoteAddr = peer
		w := e.do(r)
		return w.Code, w.Header().Get("X-Auth-JWT"), w.Header().Get("WWW-Authenticate")
	}
	code, jwt, _ := fa("127.0.0.1:999", "Authorization", "Bearer "+tokenA, "X-Original-Method", "GET", "X-Original-URI", "/api/orders?x=1")
	if code != 200 || jwt != active().JWT {
		t.Fatalf("valid token: %d %q", code, jwt)
	}
	code, jwt, chal := fa("127.0.0.1:999", "Authorization", "Bearer bad-token-000000000001", "X-Original-Method", "GET", "X-Original-URI", "/api/orders")
	if code != 401 || jwt != "" || chal != `Bearer error="invalid_token"` {
		t.Fatalf("bad token: %d %q %q", code, jwt, chal)
	}
	// Traefik's names work too; anonymous routes need nothing.
	if code, _, _ := fa("127.0.0.1:999", "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/public/logo.png"); code != 200 {
		t.Fatalf("anonymous: %d", code)
	}
	// An untrusted peer may not ask (the answer carries the JWT), and its
	// X-Original-* headers are never read.
	if code, jwt, _ := fa("203.0.113.9:999", "Authorization", "Bearer "+tokenA, "X-Original-URI", "/api/public/x", "X-Original-Method", "GET"); code != 403 || jwt != "" {
		t.Fatalf("untrusted peer: %d", code)
	}
	if code, _, _ := fa("127.0.0.1:999", "Authorization", "Bearer "+tokenA); code != 400 {
		t.Fatalf("no original URI: %d", code)
	}
	// Path tricks in the original URI are refused.
	if code, _, _ := fa("127.0.0.1:999", "X-Original-Method", "GET", "X-Original-URI", "/api/public/..;/orders"); code != 400 {
		t.Fatalf("path trick: %d", code)
	}
	if code, _, _ := fa("127.0.0.1:999", "X-Original-Method", "get", "X-Original-URI", "/api/orders"); code != 400 {
		t.Fatalf("lower-case method: %d", code)
	}

	// cnf.x5t#S256 through nginx's $ssl_client_escaped_cert.
	certA, certB := e.ca.issue(t, "client-a", false), e.ca.issue(t, "client-b", false)
	bound := active("read")
	bound.Claims.CnfX5t = x5t(certA)
	e.as.set("bound-token-000000000001", bound)
	esc := func(der []byte) string {
		return url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	}
	base := []string{"Authorization", "Bearer bound-token-000000000001", "X-Original-Method", "GET", "X-Original-URI", "/api/orders"}
	if code, _, _ := fa("127.0.0.1:999", append(base, "X-Client-Cert", esc(certA.Certificate[0]))...); code != 200 {
		t.Fatalf("bound, cert A: %d", code)
	}
	if code, _, _ := fa("127.0.0.1:999", append(base, "X-Client-Cert", esc(certB.Certificate[0]))...); code != 401 {
		t.Fatalf("bound, cert B: %d", code)
	}
	if code, _, _ := fa("127.0.0.1:999", base...); code != 401 {
		t.Fatalf("bound, no cert: %d", code)
	}
	if code, _, _ := fa("127.0.0.1:999", append(base, "X-Client-Cert", "%%%")...); code != 400 {
		t.Fatalf("bad cert header: %d", code)
	}
	// Scope is enforced in forward-auth too.
	e.as.set("token-no-scope-000000001", active())
	code, _, chal = fa("127.0.0.1:999", "Authorization", "Bearer token-no-scope-000000001", "X-Original-Method", "GET", "X-Original-URI", "/api/orders")
	if code != 403 || chal != `Bearer error="insufficient_scope", scope="read"` {
		t.Fatalf("scope: %d %q", code, chal)
	}
	if e.up.calls.Load() != 0 {
		t.Fatal("forward-auth called the upstream")
	}
}

func TestMintAndJWKS(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := jws.NewSigner(k, "gw-1")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config, _ *env) {
		c.Signer = signer
		c.AuthorizationServers[0].Forward = ForwardMint
	})
	in := active("read", "write")
	in.JWT = "" // RFC 7662 JSON answer
	in.Claims.Audience = []string{"https://api.example.test"}
	certA := e.ca.issue(t, "client-a", false)
	in.Claims.CnfX5t = x5t(certA)
	in.Claims.Expiry = e.clock.Now().Add(10 * time.Minute).Truncate(time.Second)
	e.as.set(tokenA, in)
	w := e.do(req("GET", "/.well-known/jwks.json"))
	expect(t, w, 200)
	ks, err := jws.ParseKeySet(w.Body.Bytes())
	if err != nil || ks.Len() != 1 {
		t.Fatalf("jwks: %v", err)
	}
	call := func() {
		t.Helper()
		r := req("GET", "/api/x", "Authorization", "Bearer "+tokenA)
		r.TLS.PeerCertificates = []*x509.Certificate{certA.Leaf}
		expect(t, e.do(r), 200)
	}
	call()
	auth := e.up.lastRequest().Header.Get("Authorization")
	jwt, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		t.Fatalf("upstream Authorization %q", auth)
	}
	payload, h, err := jws.Verify(jwt, ks)
	if err != nil || h.Typ != "at+jwt" || h.Kid != "gw-1" {
		t.Fatalf("verify: %v %+v", err, h)
	}
	var cl map[string]any
	_ = json.Unmarshal(payload, &cl)
	if cl["iss"] != publicOrigin || cl["sub"] != "user-1" || cl["client_id"] != "client-1" || cl["scope"] != "read write" ||
		cl["exp"] != float64(in.Claims.Expiry.Unix()) || cl["jti"] == "" || cl["iat"] == nil ||
		cl["cnf"].(map[string]any)["x5t#S256"] != x5t(certA) {
		t.Fatalf("claims %v", cl)
	}
	// A second request is a cache hit: the same minted token, no new signature.
	call()
	if e.up.lastRequest().Header.Get("Authorization") != auth || e.as.calls.Load() != 1 {
		t.Fatal("minted again on a cache hit")
	}
}

func TestForwardReceivedNeedsJWT(t *testing.T) {
	e := newEnv(t, nil)
	in := active()
	in.JWT = ""
	e.as.set(tokenA, in)
	w := e.do(req("GET", "/api/x", "Authorization", "Bearer "+tokenA))
	expect(t, w, 502)
}
