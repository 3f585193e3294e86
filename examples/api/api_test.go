package api_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/examples/api"
	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
)

func TestValidToken(t *testing.T) {
	s := startAPI(t, nil)
	c := client(t, fx.gateway)
	tok := sign(t, fx.signer, validClaims(fx.gateway), "at+jwt")
	for _, path := range []string{"/api/hello", "/api/accounts/42"} {
		res := get(t, c, s.url+path, tok)
		if res.status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", path, res.status, res.raw)
		}
		b := res.body
		for k, want := range map[string]any{
			"sub": "alice", "iss": testIssuer, "client_id": "spa-client", "scope": "openid accounts",
			"cnf_x5t_s256_verified": true, "path": path, "method": "GET",
		} {
			if b[k] != want {
				t.Errorf("%s: %s = %v, want %v", path, k, b[k], want)
			}
		}
		if !strings.Contains(b["client_cert_subject"].(string), "CN=gateway") {
			t.Errorf("client_cert_subject %v", b["client_cert_subject"])
		}
		if aud, _ := b["aud"].([]any); len(aud) != 2 || aud[0] != testAudience {
			t.Errorf("aud %v", b["aud"])
		}
		if _, err := time.Parse(time.RFC3339, b["time"].(string)); err != nil {
			t.Errorf("time: %v", err)
		}
		if res.header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", res.header.Get("Cache-Control"))
		}
	}
	// POST works too and echoes the method; the scheme is case-insensitive.
	res, err := call(t, c, http.MethodPost, s.url+"/api/hello", http.Header{"Authorization": {"bEaReR  " + tok}})
	if err != nil || res.status != http.StatusOK || res.body["method"] != "POST" {
		t.Fatalf("POST: %v %+v", err, res)
	}
}

func TestTLSRefusesWithoutTrustedClientCert(t *testing.T) {
	s := startAPI(t, nil)
	tok := sign(t, fx.signer, validClaims(fx.gateway), "")
	for name, c := range map[string]*http.Client{
		"no client certificate":       client(t, nil),
		"certificate of another CA":   client(t, fx.foreign),
		"server-only EKU as a client": client(t, fx.serverCert),
	} {
		if res, err := call(t, c, http.MethodGet, s.url+"/api/hello",
			http.Header{"Authorization": {"Bearer " + tok}}); err == nil {
			t.Errorf("%s: TLS accepted, status %d", name, res.status)
		}
	}
}

func TestRefused(t *testing.T) {
	s := startAPI(t, nil)
	c := client(t, fx.gateway)
	now := time.Now()
	with := func(k string, v any) claims {
		cl := validClaims(fx.gateway)
		if v == nil {
			delete(cl, k)
		} else {
			cl[k] = v
		}
		return cl
	}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherSigner, _ := jws.NewSigner(otherKey, "k1")
	unknownKid, _ := jws.NewSigner(otherKey, "k2")
	cases := []struct {
		name string
		tok  string
		want error
	}{
		{"cnf of another certificate", sign(t, fx.signer, validClaims(fx.other), ""), api.ErrCertBinding},
		{"no cnf", sign(t, fx.signer, with("cnf", nil), ""), api.ErrUnbound},
		{"empty cnf", sign(t, fx.signer, with("cnf", map[string]string{}), ""), api.ErrUnbound},
		{"expired beyond skew", sign(t, fx.signer, with("exp", now.Add(-2*time.Minute).Unix()), ""), api.ErrExpired},
		{"no exp", sign(t, fx.signer, with("exp", nil), ""), api.ErrMalformed},
		{"nbf ahead", sign(t, fx.signer, with("nbf", now.Add(5*time.Minute).Unix()), ""), api.ErrNotYetValid},
		{"iat ahead", sign(t, fx.signer, with("iat", now.Add(5*time.Minute).Unix()), ""), api.ErrNotYetValid},
		{"wrong iss", sign(t, fx.signer, with("iss", "https://evil.example.test"), ""), api.ErrIssuer},
		{"iss with trailing slash", sign(t, fx.signer, with("iss", testIssuer+"/"), ""), api.ErrIssuer},
		{"no iss", sign(t, fx.signer, with("iss", nil), ""), api.ErrIssuer},
		{"wrong aud", sign(t, fx.signer, with("aud", "https://other.example.test"), ""), api.ErrAudience},
		{"no aud", sign(t, fx.signer, with("aud", nil), ""), api.ErrAudience},
		{"typ dpop+jwt", sign(t, fx.signer, validClaims(fx.gateway), "dpop+jwt"), api.ErrTokenType},
		{"typ logout+jwt", sign(t, fx.signer, validClaims(fx.gateway), "logout+jwt"), api.ErrTokenType},
		{"other key same kid", sign(t, otherSigner, validClaims(fx.gateway), ""), jws.ErrSignature},
		{"unknown kid", sign(t, unknownKid, validClaims(fx.gateway), ""), jws.ErrNoKey},
		{"alg none", unsigned(t, map[string]any{"alg": "none"}, validClaims(fx.gateway),
			func(string) []byte { return nil }), jws.ErrAlgorithm},
		{"alg HS256", hs256(t), jws.ErrAlgorithm},
		{"alg RS256", rs256(t), jws.ErrAlgorithm},
		{"inactive introspection", sign(t, fx.signer, introspection(false), "token-introspection+jwt"), api.ErrInactive},
		{"jkt without proof", sign(t, fx.signer, with("cnf", map[string]string{"jkt": "x"}), ""), api.ErrDPoP},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := get(t, c, s.url+"/api/hello", tc.tok)
			wantRefused(t, s, res, tc.tok, tc.want)
			if ch := res.header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="invalid_token"`) &&
				!strings.Contains(ch, `error="invalid_dpop_proof"`) {
				t.Errorf("WWW-Authenticate %q", ch)
			}
		})
	}
}

func TestSkewAccepted(t *testing.T) {
	s := startAPI(t, nil)
	cl := validClaims(fx.gateway)
	cl["exp"] = time.Now().Add(-30 * time.Second).Unix()
	if res := get(t, client(t, fx.gateway), s.url+"/api/hello", sign(t, fx.signer, cl, "")); res.status != http.StatusOK {
		t.Fatalf("exp 30 s ago: status %d: %s", res.status, res.raw)
	}
}

func TestNoOrMalformedAuthorization(t *testing.T) {
	s := startAPI(t, nil)
	c := client(t, fx.gateway)
	tok := sign(t, fx.signer, validClaims(fx.gateway), "")

	wantRefused(t, s, get(t, c, s.url+"/api/hello", ""), "", api.ErrNoToken)
	// A token in the query string is never read.
	wantRefused(t, s, get(t, c, s.url+"/api/hello?access_token="+tok, ""), tok, api.ErrNoToken)

	for name, h := range map[string]http.Header{
		"two headers":  {"Authorization": {"Bearer " + tok, "Bearer " + tok}},
		"basic":        {"Authorization": {"Basic YTpi"}},
		"no token":     {"Authorization": {"Bearer "}},
		"bad charset":  {"Authorization": {"Bearer a,b"}},
		"scheme only":  {"Authorization": {"Bearer"}},
		"token + junk": {"Authorization": {"Bearer " + tok + " x"}},
	} {
		res, err := call(t, c, http.MethodGet, s.url+"/api/hello", h)
		if err != nil {
			t.Fatal(err)
		}
		if res.status != http.StatusBadRequest || !strings.Contains(res.header.Get("WWW-Authenticate"), `error="invalid_request"`) {
			t.Errorf("%s: status %d, WWW-Authenticate %q", name, res.status, res.header.Get("WWW-Authenticate"))
		}
	}
}

func TestAllowUnbound(t *testing.T) {
	s := startAPI(t, func(c *api.Config) { c.AllowUnbound = true; c.Audience = "" })
	cl := validClaims(fx.gateway)
	delete(cl, "cnf")
	cl["aud"] = "anything"
	res := get(t, client(t, fx.gateway), s.url+"/api/hello", sign(t, fx.signer, cl, ""))
	if res.status != http.StatusOK || res.body["cnf_x5t_s256_verified"] != false {
		t.Fatalf("status %d: %s", res.status, res.raw)
	}
	// A cnf that is present is still enforced.
	tok := sign(t, fx.signer, validClaims(fx.other), "")
	wantRefused(t, s, get(t, client(t, fx.gateway), s.url+"/api/hello", tok), tok, api.ErrCertBinding)
}

// introspection is the payload of an RFC 9701 introspection JWT about a
// token bound to the gateway's certificate.
func introspection(active bool) claims {
	inner := validClaims(fx.gateway)
	inner["active"] = active
	return claims{"iss": testIssuer, "aud": "gateway-client", "iat": time.Now().Unix(), "token_introspection": inner}
}

func TestIntrospectionJWT(t *testing.T) {
	s := startAPI(t, nil)
	res := get(t, client(t, fx.gateway), s.url+"/api/hello", sign(t, fx.signer, introspection(true), "token-introspection+jwt"))
	if res.status != http.StatusOK || res.body["sub"] != "alice" || res.body["introspection_jwt"] != true {
		t.Fatalf("status %d: %s", res.status, res.raw)
	}
}

func TestDPoPBound(t *testing.T) {
	s := startAPI(t, nil)
	c := client(t, fx.gateway)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dk, _ := jws.NewSigner(key, "")
	jkt, _ := jws.Thumbprint(dk.Public())
	cl := validClaims(fx.gateway)
	cl["cnf"] = map[string]string{"jkt": jkt}
	tok := sign(t, fx.signer, cl, "at+jwt")
	proof := func(method, url, token string) string {
		p, err := fapi.NewDPoPProof(dk, fapi.DPoPProof{Method: method, URL: url, AccessToken: token})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	send := func(scheme, p string) *response {
		h := http.Header{"Authorization": {scheme + " " + tok}}
		if p != "" {
			h.Set("DPoP", p)
		}
		res, err := call(t, c, http.MethodGet, s.url+"/api/hello", h)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	good := proof("GET", testPublic+"/api/hello", tok)
	if res := send("Bearer", good); res.status != http.StatusOK || res.body["cnf_jkt_verified"] != true {
		t.Fatalf("status %d: %s", res.status, res.raw)
	}
	if res := send("DPoP", proof("GET", testPublic+"/api/hello", tok)); res.status != http.StatusOK {
		t.Fatalf("DPoP scheme: status %d: %s", res.status, res.raw)
	}
	for name, p := range map[string]string{
		"replayed proof": good,
		"no proof":       "",
		"wrong htu":      proof("GET", testPublic+"/api/other", tok),
		"wrong htm":      proof("POST", testPublic+"/api/hello", tok),
		"wrong ath":      proof("GET", testPublic+"/api/hello", "another-token"),
	} {
		res := send("Bearer", p)
		wantRefused(t, s, res, tok, api.ErrDPoP)
		if ch := res.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "DPoP ") {
			t.Errorf("%s: WWW-Authenticate %q", name, ch)
		}
	}
	// Without PublicURL, jkt-bound tokens cannot be checked and are refused.
	s2 := startAPI(t, func(c *api.Config) { c.PublicURL = "" })
	h := http.Header{"Authorization": {"Bearer " + tok}, "Dpop": {proof("GET", testPublic+"/api/hello", tok)}}
	res, err := call(t, c, http.MethodGet, s2.url+"/api/hello", h)
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, s2, res, tok, api.ErrNoPublicURL)
	// The DPoP scheme with a certificate-bound token is refused.
	xt := sign(t, fx.signer, validClaims(fx.gateway), "")
	res, err = call(t, c, http.MethodGet, s.url+"/api/hello", http.Header{"Authorization": {"DPoP " + xt}})
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, s, res, xt, api.ErrDPoPScheme)
}

func TestJWKSUnavailable(t *testing.T) {
	s := startAPI(t, func(c *api.Config) { c.JWKSURL = "https://127.0.0.1:1/jwks" })
	res := get(t, client(t, fx.gateway), s.url+"/api/hello", sign(t, fx.signer, validClaims(fx.gateway), ""))
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q", res.status, res.header.Get("Retry-After"))
	}
}

func TestHealthAndNotFound(t *testing.T) {
	s := startAPI(t, nil)
	c := client(t, fx.gateway)
	if res := get(t, c, s.url+"/healthz", ""); res.status != http.StatusOK {
		t.Errorf("healthz: %d", res.status)
	}
	if res := get(t, c, s.url+"/other", ""); res.status != http.StatusNotFound {
		t.Errorf("/other: %d", res.status)
	}
}

func TestNewValidates(t *testing.T) {
	good := api.Config{Issuer: testIssuer, JWKSURL: "https://as.example.test/jwks"}
	for name, mutate := range map[string]func(*api.Config){
		"no issuer":        func(c *api.Config) { c.Issuer = "" },
		"no jwks":          func(c *api.Config) { c.JWKSURL = "" },
		"http jwks":        func(c *api.Config) { c.JWKSURL = "http://as.example.test/jwks" },
		"public with path": func(c *api.Config) { c.PublicURL = "https://api.example.test/api" },
		"relative prefix":  func(c *api.Config) { c.PathPrefix = "api/" },
	} {
		cfg := good
		mutate(&cfg)
		if _, err := api.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := api.New(good); err != nil {
		t.Fatal(err)
	}
}

func hs256(t *testing.T) string {
	return unsigned(t, map[string]any{"alg": "HS256", "kid": "k1"}, validClaims(fx.gateway), func(in string) []byte {
		m := hmac.New(sha256.New, []byte("a shared secret that should not work"))
		m.Write([]byte(in))
		return m.Sum(nil)
	})
}

func rs256(t *testing.T) string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return unsigned(t, map[string]any{"alg": "RS256", "kid": "k1"}, validClaims(fx.gateway), func(in string) []byte {
		sum := sha256.Sum256([]byte(in))
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	})
}
