package rp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/gateway"
	"github.com/cillers/fapid/internal/jws"
)

// The resource-server side of the suite (research note §2.4): the OP plans
// call the tester's resource URL, so the gateway in front of an API is what
// the suite's dpop-negative-tests, the ±10 s iat modules, the header-case
// module and the nbf/exp module exercise. Here they run against
// package gateway, with a stand-in introspector that returns a token bound
// to a DPoP key (cnf.jkt).

const (
	gwOrigin = "https://api.example.test" // the gateway's PublicOrigin: htu names it
	gwPath   = "/api/accounts"
	gwHTU    = gwOrigin + gwPath
)

type gwEnv struct {
	url      string
	hc       *http.Client
	ec       *ecdsa.PrivateKey // the key the EC token is bound to
	ecToken  string
	rsa      *rsa.PrivateKey // the key the RSA token is bound to
	rsaToken string
	other    *ecdsa.PrivateKey // a key no token is bound to
}

func newGateway(t *testing.T, nonces bool) *gwEnv {
	t.Helper()
	e := &gwEnv{ecToken: "ec-bound-token-" + randomString(16), rsaToken: "rsa-bound-token-" + randomString(16)}
	var err error
	if e.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if e.other, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if e.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	bound := map[string]string{}
	for tok, pub := range map[string]any{e.ecToken: e.ec.Public(), e.rsaToken: e.rsa.Public()} {
		if bound[tok], err = jws.Thumbprint(pub); err != nil {
			t.Fatal(err)
		}
	}
	introspect := gateway.IntrospectorFunc(func(_ context.Context, token string) (*gateway.Introspection, error) {
		jkt, ok := bound[token]
		if !ok {
			return &gateway.Introspection{Active: false}, nil
		}
		return &gateway.Introspection{Active: true, JWT: "eyJhbGciOiJQUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl",
			Claims: gateway.Claims{Subject: "u", ClientID: "c", Scope: []string{"accounts"},
				Expiry: time.Now().Add(10 * time.Minute), CnfJkt: jkt}}, nil
	})
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"accounts":[]}`))
	}))
	t.Cleanup(api.Close)
	pool := x509.NewCertPool()
	pool.AddCert(api.Certificate())
	g, err := gateway.New(gateway.Config{
		Routes: []gateway.Route{{Prefix: "/api", Upstream: api.URL, UpstreamCAs: pool,
			Credentials: []gateway.Credential{gateway.CredentialDPoP, gateway.CredentialBearer}, Scopes: []string{"accounts"},
			// The API relies on the gateway's proof check (clients' own keys).
			UpstreamTrustsGatewayDPoP: true}},
		AuthorizationServers: []gateway.AuthorizationServer{{Name: "as", Introspector: introspect}},
		PublicOrigin:         gwOrigin,
		DPoP:                 gateway.DPoPConfig{Nonce: nonces},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(g.Handler())
	t.Cleanup(srv.Close)
	e.url, e.hc = srv.URL, srv.Client()
	return e
}

// proof signs an ES256 DPoP proof for the EC token after edit changes its
// header and claims.
func (e *gwEnv) proof(t *testing.T, key *ecdsa.PrivateKey, token string, edit func(h, c map[string]any)) string {
	t.Helper()
	jwk, err := ecJWK(key, false)
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}
	c := map[string]any{"jti": randomString(16), "htm": "GET", "htu": gwHTU, "iat": time.Now().Unix(), "ath": fapi.AccessTokenHash(token)}
	if edit != nil {
		edit(h, c)
	}
	p, err := compactJWS(h, c, es256(key))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// call sends GET gwPath (with query) with "scheme token" and the proofs
// under header name hdr.
func (e *gwEnv) call(t *testing.T, query, scheme, token, hdr string, proofs ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.url+gwPath+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", scheme+" "+token)
	for _, p := range proofs {
		req.Header[hdr] = append(req.Header[hdr], p) // as written: "DPOP" stays in capitals on the wire
	}
	res, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

type dpopCase struct {
	name string
	do   func(t *testing.T, e *gwEnv) *http.Response
	want int
}

// proofCase sends one EC proof edited by edit, with the DPoP scheme.
func proofCase(name string, want int, edit func(h, c map[string]any)) dpopCase {
	return dpopCase{name, func(t *testing.T, e *gwEnv) *http.Response {
		return e.call(t, "", "DPoP", e.ecToken, "Dpop", e.proof(t, e.ec, e.ecToken, edit))
	}, want}
}

func without(names ...string) func(h, c map[string]any) {
	return func(h, c map[string]any) {
		for _, n := range names {
			if hn, ok := strings.CutPrefix(n, "header."); ok {
				delete(h, hn)
			} else {
				delete(c, n)
			}
		}
	}
}

func set(k string, v any) func(h, c map[string]any) { return func(_, c map[string]any) { c[k] = v } }

// dpopNegativeCases mirror the suite's dpop-negative-tests, in its order:
// 401 (400 for two proofs) unless the suite expects 200.
func dpopNegativeCases() []dpopCase {
	ok, bad := http.StatusOK, http.StatusUnauthorized
	cases := []dpopCase{
		{"DPoP header name in capitals", func(t *testing.T, e *gwEnv) *http.Response {
			return e.call(t, "", "DPoP", e.ecToken, "DPOP", e.proof(t, e.ec, e.ecToken, nil))
		}, ok},
		{"two proofs", func(t *testing.T, e *gwEnv) *http.Response {
			return e.call(t, "", "DPoP", e.ecToken, "Dpop", e.proof(t, e.ec, e.ecToken, nil), e.proof(t, e.ec, e.ecToken, nil))
		}, http.StatusBadRequest},
		{"malformed JWT", func(t *testing.T, e *gwEnv) *http.Response {
			return e.call(t, "", "DPoP", e.ecToken, "Dpop", "not-a.jwt")
		}, bad},
	}
	for _, m := range []string{"header.typ", "header.alg", "header.jwk", "jti", "htm", "htu", "iat", "ath"} {
		cases = append(cases, proofCase("missing "+strings.TrimPrefix(m, "header."), bad, without(m)))
	}
	cases = append(cases,
		proofCase("wrong typ", bad, func(h, _ map[string]any) { h["typ"] = "jwt" }),
		rsaCase("RS256 proof with an RSA key", "RS256", bad),
		rsaCase("PS256 proof with the same RSA key (control)", "PS256", ok),
		dpopCase{"alg none", func(t *testing.T, e *gwEnv) *http.Response {
			jwk, _ := ecJWK(e.ec, false)
			p, _ := compactJWS(map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": jwk},
				map[string]any{"jti": randomString(16), "htm": "GET", "htu": gwHTU, "iat": time.Now().Unix(), "ath": fapi.AccessTokenHash(e.ecToken)}, nil)
			return e.call(t, "", "DPoP", e.ecToken, "Dpop", p)
		}, bad},
		dpopCase{"bad signature", func(t *testing.T, e *gwEnv) *http.Response {
			return e.call(t, "", "DPoP", e.ecToken, "Dpop", corruptSignature(e.proof(t, e.ec, e.ecToken, nil)))
		}, bad},
		dpopCase{"private key in jwk", func(t *testing.T, e *gwEnv) *http.Response {
			return e.call(t, "", "DPoP", e.ecToken, "Dpop", e.proof(t, e.ec, e.ecToken, func(h, _ map[string]any) {
				h["jwk"], _ = ecJWK(e.ec, true)
			}))
		}, bad},
		proofCase("htm PUT", bad, set("htm", "PUT")),
		proofCase("htu with an added query and fragment", ok, set("htu", gwHTU+"?page=1#top")),
		dpopCase{"htu without the request's query", func(t *testing.T, e *gwEnv) *http.Response {
			return e.call(t, "?page=2", "DPoP", e.ecToken, "Dpop", e.proof(t, e.ec, e.ecToken, nil))
		}, ok},
		proofCase("htu naming another URL", bad, set("htu", gwOrigin+"/api/other")),
		proofCase("iat one hour ahead", bad, set("iat", time.Now().Add(time.Hour).Unix())),
		proofCase("iat one hour ago", bad, set("iat", time.Now().Add(-time.Hour).Unix())),
	)
	return append(cases, dpopNegativeCases2()...)
}

func dpopNegativeCases2() []dpopCase {
	ok, bad := http.StatusOK, http.StatusUnauthorized
	fixed := "fixed-jti-" + randomString(8)
	return []dpopCase{
		proofCase("first use of a fixed jti", ok, set("jti", fixed)),
		proofCase("second use of the same jti", bad, set("jti", fixed)),
		proofCase("wrong ath", bad, set("ath", fapi.AccessTokenHash("another-token"))),
		{"proof signed with another key", func(t *testing.T, e *gwEnv) *http.Response {
			return e.call(t, "", "DPoP", e.ecToken, "Dpop", e.proof(t, e.other, e.ecToken, nil))
		}, bad},
		proofCase("extra header and claim members", ok, func(h, c map[string]any) { h["x-extra"], c["x-extra"] = "h", "c" }),
		proofCase("upper-case scheme and host in htu", ok, set("htu", "HTTPS://API.EXAMPLE.TEST"+gwPath)),
		proofCase("explicit default port in htu", ok, set("htu", "https://api.example.test:443"+gwPath)),
		{"no proof with scheme DPoP", func(t *testing.T, e *gwEnv) *http.Response {
			return e.call(t, "", "DPoP", e.ecToken, "Dpop")
		}, bad},
		{"no proof with scheme Bearer", func(t *testing.T, e *gwEnv) *http.Response {
			return e.call(t, "", "Bearer", e.ecToken, "Dpop")
		}, bad},
		{"bound token as Bearer with a proof", func(t *testing.T, e *gwEnv) *http.Response {
			return e.call(t, "", "Bearer", e.ecToken, "Dpop", e.proof(t, e.ec, e.ecToken, nil))
		}, bad},
		proofCase("a final correct proof", ok, nil),
		// ensure-dpopproof-with-iat-10seconds-before/after-succeeds
		proofCase("iat 10 s before now", ok, set("iat", time.Now().Add(-10*time.Second).Unix())),
		proofCase("iat 10 s after now", ok, set("iat", time.Now().Add(10*time.Second).Unix())),
		// access-token-type-header-case-sensitivity
		{"scheme in inverted case (dPOP)", func(t *testing.T, e *gwEnv) *http.Response {
			return e.call(t, "", "dPOP", e.ecToken, "Dpop", e.proof(t, e.ec, e.ecToken, nil))
		}, ok},
		// check-dpop-proof-nbf-exp
		proofCase("nbf now and exp in 5 min", ok, func(_, c map[string]any) {
			c["nbf"], c["exp"] = time.Now().Unix(), time.Now().Add(5*time.Minute).Unix()
		}),
	}
}

// rsaCase signs a proof for the RSA-bound token with the RSA key, as alg.
func rsaCase(name, alg string, want int) dpopCase {
	return dpopCase{name, func(t *testing.T, e *gwEnv) *http.Response {
		sign := rs256(e.rsa)
		if alg == "PS256" {
			sign = ps256(e.rsa)
		}
		p, err := compactJWS(map[string]any{"typ": "dpop+jwt", "alg": alg, "jwk": rsaJWK(&e.rsa.PublicKey)},
			map[string]any{"jti": randomString(16), "htm": "GET", "htu": gwHTU, "iat": time.Now().Unix(), "ath": fapi.AccessTokenHash(e.rsaToken)}, sign)
		if err != nil {
			t.Fatal(err)
		}
		return e.call(t, "", "DPoP", e.rsaToken, "Dpop", p)
	}, want}
}

// TestGatewayDPoPNegativeCases runs the suite's DPoP resource-server cases
// in order against one gateway (the jti replay cases depend on the order).
func TestGatewayDPoPNegativeCases(t *testing.T) {
	t.Parallel()
	e := newGateway(t, false)
	for _, tc := range dpopNegativeCases() {
		res := tc.do(t, e)
		if res.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, res.StatusCode, tc.want)
			continue
		}
		if res.Header.Get("Date") == "" {
			t.Errorf("%s: no Date header (the suite fails a resource answer without one)", tc.name)
		}
		// A refused DPoP request is challenged with the DPoP scheme (RFC 9449
		// §7.1); a Bearer request is challenged with its own scheme.
		sentDPoP := strings.HasPrefix(strings.ToLower(res.Request.Header.Get("Authorization")), "dpop ")
		if res.StatusCode == http.StatusUnauthorized && sentDPoP && !hasDPoPChallenge(res.Header) {
			t.Errorf("%s: 401 with WWW-Authenticate %q, want a DPoP challenge among them", tc.name, res.Header.Values("WWW-Authenticate"))
		}
	}
}

// TestGatewayDPoPNonce: a nonce-issuing gateway answers a proof without a
// nonce with 401 use_dpop_nonce and a DPoP-Nonce, accepts the retry, and
// still refuses iat an hour off when the nonce is right.
func TestGatewayDPoPNonce(t *testing.T) {
	t.Parallel()
	e := newGateway(t, true)
	res := e.call(t, "", "DPoP", e.ecToken, "Dpop", e.proof(t, e.ec, e.ecToken, nil))
	nonce := res.Header.Get("DPoP-Nonce")
	if res.StatusCode != http.StatusUnauthorized || nonce == "" ||
		!strings.Contains(res.Header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`) {
		t.Fatalf("no nonce: %d %q nonce %q", res.StatusCode, res.Header.Get("WWW-Authenticate"), nonce)
	}
	withNonce := func(extra func(h, c map[string]any)) func(h, c map[string]any) {
		return func(h, c map[string]any) {
			c["nonce"] = nonce
			if extra != nil {
				extra(h, c)
			}
		}
	}
	for _, tc := range []dpopCase{
		proofCase("retry with the nonce", http.StatusOK, withNonce(nil)),
		proofCase("iat 10 s before now with the nonce", http.StatusOK, withNonce(set("iat", time.Now().Add(-10*time.Second).Unix()))),
		proofCase("iat 10 s after now with the nonce", http.StatusOK, withNonce(set("iat", time.Now().Add(10*time.Second).Unix()))),
		proofCase("iat one hour ahead with the nonce", http.StatusUnauthorized, withNonce(set("iat", time.Now().Add(time.Hour).Unix()))),
		proofCase("iat one hour ago with the nonce", http.StatusUnauthorized, withNonce(set("iat", time.Now().Add(-time.Hour).Unix()))),
		proofCase("a made-up nonce", http.StatusUnauthorized, set("nonce", "made-up-nonce")),
	} {
		if res := tc.do(t, e); res.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, res.StatusCode, tc.want)
		}
	}
}

// hasDPoPChallenge: some WWW-Authenticate challenge uses the DPoP scheme
// (RFC 9449 §7.1), matched case-insensitively.
func hasDPoPChallenge(h http.Header) bool {
	for _, v := range h.Values("WWW-Authenticate") {
		if scheme, _, _ := strings.Cut(strings.TrimSpace(v), " "); strings.EqualFold(scheme, "DPoP") {
			return true
		}
	}
	return false
}
