package fapi

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cillers/fapid/internal/jws"
)

func TestNewDPoPProofClaims(t *testing.T) {
	k := keys(t)
	proof, err := NewDPoPProof(k.dpSigner, DPoPProof{
		Method: "POST", URL: "https://as.example.test:8443/token?x=1#frag", Now: t0, Rand: &detRand{},
	})
	if err != nil {
		t.Fatal(err)
	}
	payload, h, jkt, err := jws.VerifyEmbedded(proof)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := jws.Thumbprint(&k.dpop.PublicKey)
	if h.Typ != "dpop+jwt" || h.Alg != "ES256" || jkt != want || h.Kid != "" {
		t.Fatalf("header %+v jkt %s", h, jkt)
	}
	if _, ok := headerOf(t, proof)["jwk"]; !ok {
		t.Fatal("no jwk in header")
	}
	jti, _ := RandomValue(&detRand{})
	wantPayload := `{"jti":"` + jti + `","htm":"POST","htu":"https://as.example.test:8443/token","iat":1800000000}`
	if string(payload) != wantPayload {
		t.Fatalf("payload\n%s\nwant\n%s", payload, wantPayload)
	}
	proof, _ = NewDPoPProof(k.dpSigner, DPoPProof{Method: "GET", URL: "https://rs/x", AccessToken: "at-1", Nonce: "n1", Now: t0, Rand: &detRand{}})
	m := payloadOf(t, proof)
	if m["ath"] != AccessTokenHash("at-1") || m["nonce"] != "n1" {
		t.Fatalf("%v", m)
	}
	if len(AccessTokenHash("x")) != 43 {
		t.Fatal("ath length")
	}
}

// dpopAS answers use_dpop_nonce with nonce "n-<count>" until it sees the
// expected nonce (never, when always is set).
func dpopTokenHandler(as *fakeAS, always bool, calls *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		proof := r.Header.Get("DPoP")
		if proof == "" {
			writeJSON(w, 400, map[string]any{"error": "invalid_dpop_proof"})
			return
		}
		got, _ := payloadOf(as.t, proof)["nonce"].(string)
		if always || got != "n-1" {
			w.Header().Set("DPoP-Nonce", "n-"+itoa(int64(n)))
			writeJSON(w, 400, map[string]any{"error": "use_dpop_nonce", "error_description": "nonce required"})
			return
		}
		w.Header().Set("DPoP-Nonce", "n-next")
		writeJSON(w, 200, map[string]any{"access_token": "at-1", "token_type": "DPoP", "refresh_token": "rt-1"})
	}
}

func dpopClient(as *fakeAS) *Client {
	return as.client(func(c *Config) {
		c.SenderConstraint = SenderDPoP
		c.DPoPSigner = keys(as.t).dpSigner
		c.Scopes = []string{"api:read"}
	})
}

func TestDPoPNonceRetryOnce(t *testing.T) {
	as := newFakeAS(t)
	var calls atomic.Int32
	as.handle("/token", dpopTokenHandler(as, false, &calls))
	c := dpopClient(as)
	ls := as.loginState(ResponseModeQuery)
	ls.Nonce = ""
	tok, err := c.ExchangeCode(context.Background(), "code-1", ls, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "DPoP" {
		t.Fatal(tok.TokenType)
	}
	reqs := as.requests("/token")
	if len(reqs) != 2 {
		t.Fatalf("%d token calls, want 2", len(reqs))
	}
	p1, p2 := payloadOf(t, reqs[0].Header.Get("DPoP")), payloadOf(t, reqs[1].Header.Get("DPoP"))
	if _, ok := p1["nonce"]; ok || p2["nonce"] != "n-1" {
		t.Errorf("nonces %v %v", p1["nonce"], p2["nonce"])
	}
	if p1["jti"] == p2["jti"] {
		t.Error("jti reused on retry")
	}
	a1 := payloadOf(t, reqs[0].Form.Get("client_assertion"))
	a2 := payloadOf(t, reqs[1].Form.Get("client_assertion"))
	if a1["jti"] == a2["jti"] {
		t.Error("client assertion jti reused on retry")
	}
	for _, p := range []map[string]any{p1, p2} {
		if p["htm"] != "POST" || p["htu"] != as.issuer+"/token" {
			t.Errorf("htm/htu %v %v", p["htm"], p["htu"])
		}
		if _, ok := p["ath"]; ok {
			t.Error("ath sent to the token endpoint")
		}
	}
	// The latest nonce is remembered for the next call to that server.
	if got := c.nonce.get(strings.ToLower(as.issuer)); got != "n-next" {
		t.Errorf("stored nonce %q", got)
	}
}

func TestDPoPNonceNotTwice(t *testing.T) {
	as := newFakeAS(t)
	var calls atomic.Int32
	as.handle("/token", dpopTokenHandler(as, true, &calls))
	ls := as.loginState(ResponseModeQuery)
	ls.Nonce = ""
	_, err := dpopClient(as).ExchangeCode(context.Background(), "code-1", ls, nil)
	wantErr(t, err, ErrDPoPNonce)
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d token calls, want exactly 2", n)
	}
}

func TestDPoPAtPAR(t *testing.T) {
	as := newFakeAS(t)
	clk := newClock()
	var calls atomic.Int32
	as.handle("/par", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			clk.advance(2 * time.Second)
			w.Header().Set("DPoP-Nonce", "par-nonce")
			writeJSON(w, 400, map[string]any{"error": "use_dpop_nonce"})
			return
		}
		parOK(w, r)
	})
	c := as.client(func(c *Config) {
		c.SenderConstraint = SenderDPoP
		c.DPoPSigner = keys(as.t).dpSigner
		c.Scopes = []string{"openid", "api:read"}
		c.Now = clk.now
	})
	start, err := c.PushAuthorizationRequest(context.Background(), AuthorizationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	reqs := as.requests("/par")
	if len(reqs) != 2 {
		t.Fatalf("%d PAR calls", len(reqs))
	}
	p := payloadOf(t, reqs[1].Header.Get("DPoP"))
	if p["nonce"] != "par-nonce" || p["htu"] != as.issuer+"/par" || p["ath"] != nil {
		t.Errorf("proof %v", p)
	}
	// Each attempt carries a request object and a client assertion of its
	// own (new jti, times of the attempt), for the same login.
	ro1, _ := verifyClientJWT(t, reqs[0].Form.Get("request"))
	ro2, _ := verifyClientJWT(t, reqs[1].Form.Get("request"))
	if ro1["jti"] == nil || ro1["jti"] == ro2["jti"] {
		t.Errorf("request object jti reused on the nonce retry: %v %v", ro1["jti"], ro2["jti"])
	}
	for claim, want1 := range map[string]int64{"iat": 0, "nbf": 0, "exp": 300} {
		if toString(ro1[claim]) != itoa(t0.Unix()+want1) || toString(ro2[claim]) != itoa(t0.Unix()+want1+2) {
			t.Errorf("request object %s: %v then %v, want the time of each attempt", claim, ro1[claim], ro2[claim])
		}
	}
	for _, claim := range []string{"state", "nonce", "code_challenge", "redirect_uri", "scope"} {
		if toString(ro1[claim]) != toString(ro2[claim]) {
			t.Errorf("request object %s changed on the retry: %v then %v", claim, ro1[claim], ro2[claim])
		}
	}
	if ro2["state"] != start.Login.State || ro2["code_challenge"] != PKCEChallenge(start.Login.CodeVerifier) {
		t.Error("retried request object does not match the login state")
	}
	a1 := payloadOf(t, reqs[0].Form.Get("client_assertion"))
	a2 := payloadOf(t, reqs[1].Form.Get("client_assertion"))
	if a1["jti"] == nil || a1["jti"] == a2["jti"] {
		t.Error("client assertion jti reused on the nonce retry")
	}
	want, _ := jws.Thumbprint(&keys(t).dpop.PublicKey)
	if start.Login.DPoPJKT != want {
		t.Errorf("login DPoP jkt %q", start.Login.DPoPJKT)
	}
	// The code must be redeemed with the same key.
	other := mustSigner(t, keys(t).other, "")
	_, err = c.ExchangeCode(context.Background(), "code", start.Login, other)
	wantErr(t, err, ErrDPoPBinding)
}

func TestDoResourceDPoPNonce(t *testing.T) {
	as := newFakeAS(t)
	var calls atomic.Int32
	as.handle("/api", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("DPoP-Nonce", "rs-nonce")
			w.Header().Set("WWW-Authenticate", `dPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`)
			w.WriteHeader(401)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	c := dpopClient(as)
	req, _ := http.NewRequest(http.MethodPost, as.issuer+"/api?q=1", strings.NewReader("body"))
	res, err := c.DoResource(context.Background(), req, "at-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	reqs := as.requests("/api")
	if len(reqs) != 2 {
		t.Fatalf("%d calls", len(reqs))
	}
	for i, r := range reqs {
		if r.Header.Get("Authorization") != "DPoP at-1" {
			t.Errorf("authorization %q", r.Header.Get("Authorization"))
		}
		p := payloadOf(t, r.Header.Get("DPoP"))
		if p["ath"] != AccessTokenHash("at-1") || p["htu"] != as.issuer+"/api" || p["htm"] != "POST" {
			t.Errorf("proof %d: %v", i, p)
		}
		if i == 1 && p["nonce"] != "rs-nonce" {
			t.Errorf("retry nonce %v", p["nonce"])
		}
	}
	// A server that keeps demanding a nonce gets one retry, then its answer.
	calls.Store(-100)
	as.handle("/api", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("DPoP-Nonce", "again")
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce"`)
		w.WriteHeader(401)
	})
	req, _ = http.NewRequest(http.MethodGet, as.issuer+"/api", nil)
	res, err = c.DoResource(context.Background(), req, "at-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || calls.Load() != -98 {
		t.Fatalf("status %d calls %d", res.StatusCode, calls.Load()+100)
	}
}

func TestDoResourceBearer(t *testing.T) {
	as := newFakeAS(t)
	as.handle("/api", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	c := as.client()
	req, _ := http.NewRequest(http.MethodGet, as.issuer+"/api", nil)
	res, err := c.DoResource(context.Background(), req, "at-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	r := as.requests("/api")[0]
	if r.Header.Get("Authorization") != "Bearer at-1" || r.Header.Get("DPoP") != "" {
		t.Fatalf("headers %v", r.Header)
	}
	if _, err := c.DoResource(context.Background(), req, "bad token", nil); err == nil {
		t.Fatal("token with a space accepted")
	}
}

// proofAt makes a proof with the test DPoP key at a given time.
func proofAt(t *testing.T, method, u, at, nonce string, iat time.Time) string {
	p, err := NewDPoPProof(keys(t).dpSigner, DPoPProof{Method: method, URL: u, AccessToken: at, Nonce: nonce, Now: iat, Rand: &detRand{}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVerifyDPoPProof(t *testing.T) {
	k := keys(t)
	jkt, _ := jws.Thumbprint(&k.dpop.PublicKey)
	const u = "https://api.example.test/v1/items"
	base := DPoPCheck{Method: "GET", URL: u + "?page=2", AccessToken: "at-1", JKT: jkt, Now: t0}
	jwk, _ := jws.PublicJWK(&k.dpop.PublicKey, "", "ES256")
	claims := func() map[string]any {
		return map[string]any{"jti": "j1", "htm": "GET", "htu": u, "iat": t0.Unix(), "ath": AccessTokenHash("at-1")}
	}
	raw := func(hdr map[string]any, cl map[string]any) string { return es256Raw(t, k.dpop, hdr, cl) }
	hdr := func() map[string]any { return map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk} }
	privJWK := privateJWK(t, k.dpop)
	for _, tc := range []struct {
		name  string
		proof string
		mut   func(*DPoPCheck)
		want  []error
	}{
		{"ok", proofAt(t, "GET", u, "at-1", "", t0), nil, nil},
		{"htu with query and fragment ok", proofAt(t, "GET", u+"?a=b#c", "at-1", "", t0), nil, nil},
		{"htu upper-case scheme and host ok", proofAt(t, "GET", "HTTPS://API.EXAMPLE.TEST/v1/items", "at-1", "", t0), nil, nil},
		{"htu explicit :443 ok", proofAt(t, "GET", "https://api.example.test:443/v1/items", "at-1", "", t0), nil, nil},
		{"iat +10 s ok", proofAt(t, "GET", u, "at-1", "", t0.Add(10*time.Second)), nil, nil},
		{"iat -10 s ok", proofAt(t, "GET", u, "at-1", "", t0.Add(-10*time.Second)), nil, nil},
		{"iat +1 h", proofAt(t, "GET", u, "at-1", "", t0.Add(time.Hour)), nil, []error{ErrNotYetValid}},
		{"iat -1 h", proofAt(t, "GET", u, "at-1", "", t0.Add(-time.Hour)), nil, []error{ErrExpired}},
		{"htm PUT", proofAt(t, "PUT", u, "at-1", "", t0), nil, []error{ErrMalformed}},
		{"htm lower case", proofAt(t, "get", u, "at-1", "", t0), nil, []error{ErrMalformed}},
		{"htu other path", proofAt(t, "GET", u+"/x", "at-1", "", t0), nil, []error{ErrMalformed}},
		{"htu other host", proofAt(t, "GET", "https://evil.example/v1/items", "at-1", "", t0), nil, []error{ErrMalformed}},
		{"htu http", proofAt(t, "GET", "http://api.example.test/v1/items", "at-1", "", t0), nil, []error{ErrMalformed}},
		{"ath wrong", proofAt(t, "GET", u, "at-2", "", t0), nil, []error{ErrMalformed}},
		{"ath missing", proofAt(t, "GET", u, "", "", t0), nil, []error{ErrMissingClaim}},
		{"other key", proofAt(t, "GET", u, "at-1", "", t0), func(c *DPoPCheck) { c.JKT = "x" }, []error{ErrDPoPBinding}},
		{"nonce required, none", proofAt(t, "GET", u, "at-1", "", t0), func(c *DPoPCheck) { c.NonceValid = func(string) bool { return true } }, []error{ErrDPoPNonce}},
		{"nonce stale", proofAt(t, "GET", u, "at-1", "old", t0), func(c *DPoPCheck) { c.NonceValid = func(n string) bool { return n == "new" } }, []error{ErrDPoPNonce}},
		{"nonce ok", proofAt(t, "GET", u, "at-1", "new", t0), func(c *DPoPCheck) { c.NonceValid = func(n string) bool { return n == "new" } }, nil},
		{"typ missing", raw(map[string]any{"alg": "ES256", "jwk": jwk}, claims()), nil, []error{ErrMalformed}},
		{"typ wrong", raw(map[string]any{"typ": "jwt", "alg": "ES256", "jwk": jwk}, claims()), nil, []error{ErrMalformed}},
		{"jwk missing", raw(map[string]any{"typ": "dpop+jwt", "alg": "ES256"}, claims()), nil, []error{ErrSignature}},
		{"private jwk", raw(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": privJWK}, claims()), nil, []error{ErrSignature}},
		{"jti missing", raw(hdr(), without(claims(), "jti")), nil, []error{ErrMissingClaim}},
		{"htm missing", raw(hdr(), without(claims(), "htm")), nil, []error{ErrMissingClaim}},
		{"htu missing", raw(hdr(), without(claims(), "htu")), nil, []error{ErrMissingClaim}},
		{"iat missing", raw(hdr(), without(claims(), "iat")), nil, []error{ErrMissingClaim}},
		{"exp passed", raw(hdr(), with(claims(), "exp", t0.Unix()-120)), nil, []error{ErrExpired}},
		{"nbf now exp +5 min ok", raw(hdr(), with(with(claims(), "nbf", t0.Unix()), "exp", t0.Unix()+300)), nil, nil},
		{"extra members ok", raw(with(hdr(), "x-extra", 1), with(claims(), "extra", "y")), nil, nil},
		{"alg none", noneJWT(t, claims()), nil, []error{ErrSignature, jws.ErrAlgorithm}},
		{"bad signature", corrupt(proofAt(t, "GET", u, "at-1", "", t0)), nil, []error{ErrSignature}},
		{"malformed", "not-a-jwt", nil, []error{ErrSignature}},
		{"huge", strings.Repeat("a", maxDPoPProof+1), nil, []error{ErrTooLarge}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chk := base
			if tc.mut != nil {
				tc.mut(&chk)
			}
			v, err := VerifyDPoPProof(tc.proof, chk)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if v.JKT != jkt || v.JTI == "" || !v.ReplayUntil.Equal(v.IssuedAt.Add(DefaultDPoPMaxAge)) {
					t.Fatalf("%+v", v)
				}
				return
			}
			wantErr(t, err, append(tc.want, ErrInvalidDPoPProof)...)
		})
	}
}

func without(m map[string]any, k string) map[string]any { delete(m, k); return m }

func with(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }

// privateJWK is the EC JWK of key including "d".
func privateJWK(t *testing.T, key *ecdsa.PrivateKey) map[string]any {
	pub, _ := jws.PublicJWK(&key.PublicKey, "", "ES256")
	m := map[string]any{}
	for k, v := range headerOfJSON(t, pub) {
		m[k] = v
	}
	d := make([]byte, 32)
	key.D.FillBytes(d)
	m["d"] = base64.RawURLEncoding.EncodeToString(d)
	return m
}

func TestCanonicalHTU(t *testing.T) {
	for in, want := range map[string]string{
		"https://A.example/p?q#f":     "https://a.example/p",
		"https://a.example:443/p":     "https://a.example/p",
		"https://a.example:8443":      "https://a.example:8443/",
		"HTTP://a.example:80/x":       "http://a.example/x",
		"https://[::1]:443/x":         "https://[::1]/x",
		"https://a.example/%7Euser/x": "https://a.example/%7Euser/x",
	} {
		got, err := canonicalHTU(in)
		if err != nil || got != want {
			t.Errorf("%s → %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"/relative", "mailto:x@y", "%"} {
		if _, err := canonicalHTU(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestParseChallenges(t *testing.T) {
	chs := parseChallenges(`Bearer realm="api", error="invalid_token", DPoP algs="ES256 PS256", error="use_dpop_nonce", error_description="a \"q\""`)
	if len(chs) != 2 || chs[0].scheme != "Bearer" || chs[0].params["error"] != "invalid_token" ||
		!strings.EqualFold(chs[1].scheme, "dpop") || chs[1].params["error"] != "use_dpop_nonce" || chs[1].params["error_description"] != `a "q"` {
		t.Fatalf("%+v", chs)
	}
	if chs := parseChallenges(`Basic abc==, Bearer`); len(chs) < 1 {
		t.Fatalf("%+v", chs)
	}
}
