package agent

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rawJWS builds a compact JWS by hand (internal/jws refuses to make these).
func rawJWS(header map[string]any, payload []byte, sign func(input []byte) []byte) string {
	h, _ := json.Marshal(header)
	input := b64(h) + "." + b64(payload)
	return input + "." + b64(sign([]byte(input)))
}

func hs256(key []byte) func([]byte) string {
	return func(p []byte) string {
		return rawJWS(map[string]any{"alg": "HS256", "typ": "JWT"}, p, func(in []byte) []byte {
			m := hmac.New(sha256.New, key)
			m.Write(in)
			return m.Sum(nil)
		})
	}
}

// algVariants are the CASES H08 signings: refused unless ok.
func algVariants(t *testing.T) []struct {
	name string
	sign func([]byte) string
	ok   bool
} {
	pubDER, _ := x509.MarshalPKIXPublicKey(testEnv.asRSA.Public())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	jwk, _ := jws.PublicJWK(testEnv.asRSA.Public(), "as-rsa", "")
	ps256 := mustSigner(t, testEnv.asRSA, "as-rsa")
	es256 := mustSigner(t, testEnv.asES256, "as-es256")
	signWith := func(s *jws.Signer) func([]byte) string {
		return func(p []byte) string {
			out, err := s.Sign(p, jws.SignOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	return []struct {
		name string
		sign func([]byte) string
		ok   bool
	}{
		{"alg none", func(p []byte) string {
			return rawJWS(map[string]any{"alg": "none"}, p, func([]byte) []byte { return nil })
		}, false},
		{"HS256 with the client secret", hs256([]byte("client-secret-of-spa-client")), false},
		{"HS256 with the AS public key PEM", hs256(pubPEM), false},
		{"HS256 with the AS public JWK", hs256(jwk), false},
		{"RS256 with a key in the JWKS", func(p []byte) string {
			return rawJWS(map[string]any{"alg": "RS256", "kid": "as-rsa"}, p, func(in []byte) []byte {
				sum := sha256.Sum256(in)
				sig, err := rsa.SignPKCS1v15(rand.Reader, testEnv.asRSA, crypto.SHA256, sum[:])
				if err != nil {
					t.Fatal(err)
				}
				return sig
			})
		}, false},
		{"PS256", signWith(ps256), true},
		{"ES256", signWith(es256), true},
	}
}

// CASES H08 — algorithm confusion in the ID token and the JARM response: at
// the agent 400 invalid_request and no session; PS256 and ES256 accepted.
func TestH08AlgorithmConfusion(t *testing.T) {
	for _, v := range algVariants(t) {
		for _, where := range []string{"id_token", "jarm"} {
			t.Run(where+"/"+v.name, func(t *testing.T) {
				ta := newTestAgent(t, func(c *Config) {
					if where == "jarm" {
						c.FAPI.ResponseMode = fapi.ResponseModeJWT
					}
				})
				b := ta.browser(t)
				var sign func([]byte) string
				if where == "id_token" {
					ta.as.set(func(as *fakeAS) { as.signID = v.sign })
				} else {
					sign = v.sign
				}
				w := b.end(ta.as.authorize(b.start(""), where == "jarm", nil, sign))
				if v.ok {
					if w.Code != 200 {
						t.Fatalf("valid %s refused: %d %s", v.name, w.Code, w.Body)
					}
					return
				}
				expectError(t, w, 400, "invalid_request")
				for _, line := range setCookies(w) {
					if !strings.HasPrefix(line, "__Host-fapid-login=;") {
						t.Fatalf("a refused login set %q", line)
					}
				}
				if where == "jarm" && ta.as.tokens.Load() != 0 {
					t.Fatal("the code of a refused JARM response was redeemed")
				}
				if w := b.do("GET", "session", ""); !strings.Contains(w.Body.String(), `"isLoggedIn":false`) {
					t.Fatalf("session after a refused login: %s", w.Body)
				}
			})
		}
	}
}

// CASES H09 — claims compared exactly (ID token and JARM), the discovery
// issuer compared byte for byte, and one state redeemed once.
func TestH09ClaimsComparedExactly(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name string
		edit func(map[string]any)
		ok   bool
	}{
		{"iss with a trailing slash", func(c map[string]any) { c["iss"] = c["iss"].(string) + "/" }, false},
		{"aud string", func(c map[string]any) { c["aud"] = clientID }, true},
		{"aud array with azp", func(c map[string]any) { c["aud"] = []string{clientID, "api"}; c["azp"] = clientID }, true},
		{"aud without the client", func(c map[string]any) { c["aud"] = []string{"api"} }, false},
		{"two audiences, no azp", func(c map[string]any) { c["aud"] = []string{clientID, "api"} }, false},
		{"azp of another client", func(c map[string]any) { c["aud"] = []string{clientID, "api"}; c["azp"] = "api" }, false},
		{"exp 61 s ago", func(c map[string]any) { c["exp"] = now.Add(-61 * time.Second).Unix() }, false},
		{"exp 30 s ago (leeway)", func(c map[string]any) { c["exp"] = now.Add(-30 * time.Second).Unix() }, true},
		{"nbf 90 s ahead", func(c map[string]any) { c["nbf"] = now.Add(90 * time.Second).Unix() }, false},
		{"wrong nonce", func(c map[string]any) { c["nonce"] = "another-nonce" }, false},
		{"no nonce", func(c map[string]any) { delete(c, "nonce") }, false},
		{"no exp", func(c map[string]any) { delete(c, "exp") }, false},
	}
	for _, tc := range cases {
		t.Run("id_token/"+tc.name, func(t *testing.T) {
			ta := newTestAgent(t, nil)
			ta.as.set(func(as *fakeAS) { as.idClaims = tc.edit })
			b := ta.browser(t)
			w := b.end(ta.as.authorize(b.start(""), false, nil, nil))
			if tc.ok {
				if w.Code != 200 {
					t.Fatalf("refused: %d %s", w.Code, w.Body)
				}
				return
			}
			expectError(t, w, 400, "invalid_request")
		})
	}
	jarm := []struct {
		name string
		edit func(map[string]any)
	}{
		{"iss with a trailing slash", func(c map[string]any) { c["iss"] = c["iss"].(string) + "/" }},
		{"no iss", func(c map[string]any) { delete(c, "iss") }},
		{"aud of another client", func(c map[string]any) { c["aud"] = "api" }},
		{"no aud", func(c map[string]any) { delete(c, "aud") }},
		{"exp 61 s ago", func(c map[string]any) { c["exp"] = now.Add(-61 * time.Second).Unix() }},
		{"no exp", func(c map[string]any) { delete(c, "exp") }},
		{"wrong state", func(c map[string]any) { c["state"] = "attacker-state" }},
	}
	for _, tc := range jarm {
		t.Run("jarm/"+tc.name, func(t *testing.T) {
			ta := newTestAgent(t, func(c *Config) { c.FAPI.ResponseMode = fapi.ResponseModeJWT })
			b := ta.browser(t)
			expectError(t, b.end(ta.as.authorize(b.start(""), true, tc.edit, nil)), 400, "invalid_request")
			if ta.as.tokens.Load() != 0 {
				t.Fatal("code redeemed")
			}
		})
	}
}

// CASES H09 — the configured issuer without a trailing slash and discovery
// with one: refuse to start, the message showing both; no PAR.
func TestH09DiscoveryIssuerMismatch(t *testing.T) {
	ta := newTestAgent(t, nil)
	ta.as.set(func(as *fakeAS) { as.discIss = as.issuer + "/" })
	err := ta.Discover(t.Context())
	if err == nil || !strings.Contains(err.Error(), `"`+ta.as.issuer+`/"`) || !strings.Contains(err.Error(), `"`+ta.as.issuer+`"`) {
		t.Fatalf("Discover = %v, want both issuers named", err)
	}
	expectError(t, ta.browser(t).do("POST", "login/start", ""), 502, "authorization_server_error")
	if ta.as.parCount() != 0 {
		t.Fatal("PAR sent to a server whose issuer does not match")
	}
}

// CASES H09 — the same state twice: the second use is 400, and the server
// redeems one code.
func TestH09StateRedeemedOnce(t *testing.T) {
	for _, jarm := range []bool{false, true} {
		ta := newTestAgent(t, func(c *Config) {
			if jarm {
				c.FAPI.ResponseMode = fapi.ResponseModeJWT
			}
		})
		b := ta.browser(t)
		cb := ta.as.authorize(b.start(""), jarm, nil, nil)
		login := b.cookies["__Host-fapid-login"]
		if w := b.end(cb); w.Code != 200 {
			t.Fatalf("first use: %d %s", w.Code, w.Body)
		}
		replay := ta.browser(t)
		replay.cookies["__Host-fapid-login"] = login
		w := replay.end(cb)
		expectError(t, w, 400, "invalid_request")
		for _, line := range setCookies(w) {
			if !strings.HasPrefix(line, "__Host-fapid-login=;") {
				t.Fatalf("replay set %q", line)
			}
		}
		if ta.as.tokens.Load() != 1 {
			t.Fatalf("jarm=%v: %d code grants, want 1", jarm, ta.as.tokens.Load())
		}
	}
}
