package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/tlsx"
)

// standIn is an authorization server that answers introspection the way
// Curity (curity.md §4: Accept application/jwt → 200 raw JWT, 204
// inactive), RFC 9701 and RFC 7662 servers do, plus misbehaviour chosen by
// the token value.
type standIn struct {
	url    string
	signer *jws.Signer
	block  chan struct{}

	mu     sync.Mutex
	served map[string]string // token → the JWT body answered for it
	calls  map[string]int    // token → introspections
	asked  []string          // "METHOD Accept Content-Type token=…" of each call
}

func (s *standIn) record(r *http.Request, tok, jwt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, r.Method+" "+r.Header.Get("Accept")+" "+r.Header.Get("Content-Type")+" token="+tok)
	if jwt != "" {
		s.served[tok] = jwt
	}
}

func newStandIn(t *testing.T, ca *testCA) *standIn {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := jws.NewSigner(k, "as-1")
	s := &standIn{signer: signer, block: make(chan struct{}), served: map[string]string{}, calls: map[string]int{}}
	t.Cleanup(func() { close(s.block) })
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{
			"issuer": s.url, "jwks_uri": s.url + "/jwks", "introspection_endpoint": s.url + "/introspect",
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		doc, _ := jws.PublicJWKS(jws.PublicKey{Key: signer.Public(), KeyID: "as-1"})
		_, _ = w.Write(doc)
	})
	mux.HandleFunc("/introspect", s.introspect)
	srv := httptest.NewUnstartedServer(mux)
	tc, _ := tlsx.ServerConfig(tlsx.ServerOptions{Source: tlsx.NewHolder(ca.issue(t, "as", true)), ClientAuth: tlsx.RequestClientCert, ClientCAs: ca.pool})
	s.url = startTLS(t, srv, tc)
	return s
}

func (s *standIn) claims(tok string) map[string]any {
	return map[string]any{"active": true, "iss": s.url, "sub": "user-1", "client_id": "spa", "scope": "read",
		"aud": "api", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "jti": tok}
}

func (s *standIn) sign(payload any, typ string) string {
	b, _ := json.Marshal(payload)
	jwt, _ := s.signer.Sign(b, jws.SignOptions{Typ: typ})
	return jwt
}

func unsigned(alg string, payload any, key []byte) string {
	h, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	b, _ := json.Marshal(payload)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(b)
	if key == nil {
		return in + "."
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *standIn) introspect(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	tok := r.PostForm.Get("token")
	accept := r.Header.Get("Accept")
	cl := s.claims(tok)
	s.mu.Lock()
	s.calls[tok]++
	s.mu.Unlock()
	switch {
	case strings.HasPrefix(tok, "slow"):
		select {
		case <-r.Context().Done():
		case <-s.block:
		}
		return
	case strings.HasPrefix(tok, "status500"):
		w.WriteHeader(500)
		return
	case strings.HasPrefix(tok, "status401"):
		w.WriteHeader(401)
		return
	case strings.HasPrefix(tok, "garbage"):
		w.Header().Set("Content-Type", accept)
		_, _ = io.WriteString(w, "<html>garbage</html>")
		return
	case strings.HasPrefix(tok, "algnone"), strings.HasPrefix(tok, "hs256"):
		var key []byte
		alg := "none"
		if strings.HasPrefix(tok, "hs256") {
			alg, key = "HS256", []byte("client-secret")
		}
		w.Header().Set("Content-Type", accept)
		_, _ = io.WriteString(w, unsigned(alg, cl, key))
		return
	}
	isActive := strings.HasPrefix(tok, "active")
	cacheControl := "max-age=120"
	switch {
	case strings.Contains(tok, "nostore"):
		cacheControl = "no-store" // as node-oidc-provider answers introspection
	case strings.Contains(tok, "maxage0"):
		cacheControl = "max-age=0"
	}
	switch accept {
	case "application/jwt":
		// curity.md §4.1: 204 for an inactive or unknown token; 200 with
		// the access token itself as a raw JWT (its claims, no "active"
		// member, no introspection envelope) for an active one.
		if !isActive {
			s.record(r, tok, "")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		delete(cl, "active")
		jwt := s.sign(cl, "at+jwt")
		s.record(r, tok, jwt)
		w.Header().Set("Cache-Control", cacheControl)
		w.Header().Set("Content-Type", "application/jwt")
		_, _ = io.WriteString(w, jwt)
		return
	}
	w.Header().Set("Cache-Control", cacheControl)
	switch accept {
	case "application/token-introspection+jwt":
		if !isActive {
			cl = map[string]any{"active": false}
		}
		w.Header().Set("Content-Type", accept)
		_, _ = io.WriteString(w, s.sign(map[string]any{"iss": s.url, "aud": "gateway-rs", "iat": time.Now().Unix(),
			"token_introspection": cl}, "token-introspection+jwt"))
	default:
		if !isActive {
			cl = map[string]any{"active": false}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(cl)
	}
}

func TestFAPIIntrospectorModes(t *testing.T) {
	for _, mode := range []fapi.IntrospectionMode{fapi.IntrospectionCurity, fapi.IntrospectionJWT, fapi.IntrospectionJSON} {
		t.Run(string(mode), func(t *testing.T) {
			var as *standIn
			e := newEnv(t, func(c *Config, e *env) {
				as = newStandIn(t, e.ca)
				tc, _ := tlsx.ClientConfig(tlsx.ClientOptions{RootCAs: e.ca.pool, Source: tlsx.NewHolder(e.ca.issue(t, "gateway-rs", false))})
				client, err := fapi.NewClient(fapi.Config{
					Issuer: as.url, ClientID: "gateway-rs", AuthMethod: fapi.AuthTLSClientAuth,
					HTTPClient:        &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 5 * time.Second},
					IntrospectionMode: mode,
				})
				if err != nil {
					t.Fatal(err)
				}
				c.Now = nil
				c.IntrospectionTimeout = 2 * time.Second // the slow case; generous for -race on a busy machine
				c.AuthorizationServers[0].Introspector = NewFAPIIntrospector(client)
				if mode == fapi.IntrospectionJSON {
					k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
					c.Signer, _ = jws.NewSigner(k, "gw")
					c.AuthorizationServers[0].Forward = ForwardMint
				}
			})
			// Discovery, JWKS and the TLS connection first, so that the
			// deadline below times only the introspection calls.
			if w := e.do(req("GET", "/api/x", "Authorization", "Bearer active-token-0000000001")); w.Code != 200 {
				t.Fatalf("warm-up: %d %s", w.Code, w.Body)
			}
			for tok, want := range map[string]int{
				"active-token-0000000001":  200,
				"inactive-token-000000001": 401,
				"status500-token-00000001": 503, // H12
				"garbage-token-0000000001": 503, // H12
				"slow-token-0000000000001": 503, // H12: deadline
				"status401-token-00000001": 502, // our credentials refused
				"algnone-token-0000000001": 502, // H08
				"hs256-token-000000000001": 502, // H08
			} {
				if mode == fapi.IntrospectionJSON && (strings.HasPrefix(tok, "algnone") || strings.HasPrefix(tok, "hs256")) {
					continue // no signature in JSON mode
				}
				w := e.do(req("GET", "/api/x", "Authorization", "Bearer "+tok))
				if w.Code != want {
					t.Errorf("%s: %d, want %d (%s)", tok, w.Code, want, w.Body)
				}
				if strings.Contains(e.logs.String(), tok) {
					t.Fatalf("token %s in the log", tok)
				}
			}
			if mode != fapi.IntrospectionJSON && !strings.Contains(e.logs.String(), `"alert":true`) {
				t.Error("no alert for a bad signature")
			}
			// The upstream got a JWT it can verify with the right keys.
			up := e.up.lastRequest()
			jwt := strings.TrimPrefix(up.Header.Get("Authorization"), "Bearer ")
			if mode == fapi.IntrospectionCurity {
				// Curity's phantom token is forwarded byte for byte, and was
				// asked for as curity.md §4.1 describes.
				as.mu.Lock()
				served, asked := as.served["active-token-0000000001"], slices.Clone(as.asked)
				as.mu.Unlock()
				if served == "" || up.Header.Get("Authorization") != "Bearer "+served {
					t.Fatalf("forwarded %q, served %q", up.Header.Get("Authorization"), served)
				}
				for _, want := range []string{
					"POST application/jwt application/x-www-form-urlencoded token=active-token-0000000001",
					"POST application/jwt application/x-www-form-urlencoded token=inactive-token-000000001",
				} {
					if !slices.Contains(asked, want) {
						t.Fatalf("stand-in was asked %q, want %q among them", asked, want)
					}
				}
			}
			var ks *jws.KeySet
			if mode == fapi.IntrospectionJSON {
				w := e.do(req("GET", "/.well-known/jwks.json"))
				ks, _ = jws.ParseKeySet(w.Body.Bytes())
			} else {
				ks = jws.NewKeySet(jws.PublicKey{Key: as.signer.Public(), KeyID: "as-1"})
			}
			if _, _, err := jws.Verify(jwt, ks); err != nil {
				t.Fatalf("forwarded JWT does not verify: %v", err)
			}
			// Cached for Cache.MaxTTL or max-age; Cache-Control no-store (what
			// node-oidc-provider sends) does not turn the cache off.
			for _, tok := range []string{"active-token-0000000001", "active-nostore-token-001", "active-nostore-token-001"} {
				if w := e.do(req("GET", "/api/x", "Authorization", "Bearer "+tok)); w.Code != 200 {
					t.Fatalf("%s: %d", tok, w.Code)
				}
			}
			as.mu.Lock()
			calls := []int{as.calls["active-token-0000000001"], as.calls["active-nostore-token-001"]}
			as.mu.Unlock()
			if !slices.Equal(calls, []int{1, 1}) {
				t.Fatalf("introspections %v, want one per token", calls)
			}
		})
	}
}

// An explicit max-age=0 keeps the answer out of the cache (DESIGN §4:
// TTL = min(exp − skew, max-age, Cache.MaxTTL)), while no-store alone, sent
// by node-oidc-provider and most servers on every answer, does not.
func TestFAPIExplicitMaxAgeZero(t *testing.T) {
	var as *standIn
	e := newEnv(t, func(c *Config, e *env) {
		as = newStandIn(t, e.ca)
		tc, _ := tlsx.ClientConfig(tlsx.ClientOptions{RootCAs: e.ca.pool, Source: tlsx.NewHolder(e.ca.issue(t, "gateway-rs", false))})
		client, err := fapi.NewClient(fapi.Config{
			Issuer: as.url, ClientID: "gateway-rs", AuthMethod: fapi.AuthTLSClientAuth, IntrospectionMode: fapi.IntrospectionJWT,
			HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 5 * time.Second},
		})
		if err != nil {
			t.Fatal(err)
		}
		c.Now = nil
		c.AuthorizationServers[0].Introspector = NewFAPIIntrospector(client)
	})
	for range 2 {
		expect(t, e.do(req("GET", "/api/x", "Authorization", "Bearer active-maxage0-token-01")), 200)
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	if n := as.calls["active-maxage0-token-01"]; n != 2 {
		t.Fatalf("introspections %d, want 2 (max-age=0: not cached)", n)
	}
}
