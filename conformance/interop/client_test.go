package interop_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/pkitest"
)

// A minimal hand-written FAPI 2.0 client, enough to drive the reference server in tests.

func random(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func s256(v string) string {
	h := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func (c *testClient) sign(t *testing.T, claims map[string]any, typ string) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.signer.Sign(b, jws.SignOptions{Typ: typ})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// auth adds client authentication to form: a private_key_jwt assertion (aud = issuer, a string,
// FAPI 2.0 §5.3.3.1-5), or just client_id for tls_client_auth (the certificate is on the TLS
// connection).
func (c *testClient) auth(t *testing.T, issuer string, form url.Values) {
	t.Helper()
	form.Set("client_id", c.ID)
	if c.AuthMethod != interop.AuthPrivateKeyJWT {
		return
	}
	now := time.Now().Unix()
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	form.Set("client_assertion", c.sign(t, map[string]any{
		"iss": c.ID, "sub": c.ID, "aud": issuer, "jti": random(t), "iat": now, "nbf": now, "exp": now + 60,
	}, ""))
}

// dpopProof is an RFC 9449 proof for method and target (no query); ath when at is not empty.
func (c *testClient) dpopProof(t *testing.T, method, target, at string) string {
	t.Helper()
	claims := map[string]any{"htm": method, "htu": target, "iat": time.Now().Unix(), "jti": random(t)}
	if at != "" {
		claims["ath"] = s256(at)
	}
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.dpop.Sign(b, jws.SignOptions{Typ: "dpop+jwt", EmbedJWK: true})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// post sends a form; DPoP clients add a proof. It returns the status and the decoded JSON body.
func (c *testClient) post(t *testing.T, endpoint string, form url.Values, accept string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	if c.dpop != nil {
		req.Header.Set("DPoP", c.dpopProof(t, http.MethodPost, endpoint, ""))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %.200q: %v", b, err)
	}
	return m
}

// authRequest is what the client keeps between PAR and the callback.
type authRequest struct {
	state, nonce, verifier string
	redirectURI            string
	authorizationURL       string
}

// parForm builds a PAR body: a signed request object (FAPI 2.0 Message Signing §5.3.2) and client
// authentication. resource may be empty (no resource parameter).
func (e *testEnv) parForm(t *testing.T, c *testClient, resource string) (*authRequest, url.Values) {
	t.Helper()
	issuer := e.srv.Issuer()
	ar := &authRequest{state: random(t), nonce: random(t), verifier: random(t), redirectURI: c.RedirectURIs[0]}
	now := time.Now().Unix()
	claims := map[string]any{
		"iss": c.ID, "aud": issuer, "client_id": c.ID, "jti": random(t), "iat": now, "nbf": now, "exp": now + 300,
		"response_type": "code", "redirect_uri": ar.redirectURI, "scope": "openid offline_access " + interop.APIScope,
		"prompt": "consent", "state": ar.state, "nonce": ar.nonce,
		"code_challenge": s256(ar.verifier), "code_challenge_method": "S256",
	}
	if resource != "" {
		claims["resource"] = resource
	}
	if c.JARM {
		claims["response_mode"] = "jwt"
	}
	form := url.Values{"request": {c.sign(t, claims, "oauth-authz-req+jwt")}}
	c.auth(t, issuer, form)
	return ar, form
}

// par pushes the authorization request and returns it with the URL the browser opens.
func (e *testEnv) par(t *testing.T, meta map[string]any, c *testClient, resource string) *authRequest {
	t.Helper()
	ar, form := e.parForm(t, c, resource)
	status, _, body := c.post(t, meta["pushed_authorization_request_endpoint"].(string), form, "")
	if status != http.StatusCreated {
		t.Fatalf("PAR: status %d: %s\nserver: %s", status, body, e.stderr.String())
	}
	requestURI, _ := decode(t, body)["request_uri"].(string)
	if !strings.HasPrefix(requestURI, "urn:ietf:params:oauth:request_uri:") {
		t.Fatalf("PAR: request_uri %q", requestURI)
	}
	q := url.Values{"client_id": {c.ID}, "request_uri": {requestURI}}
	ar.authorizationURL = meta["authorization_endpoint"].(string) + "?" + q.Encode()
	return ar
}

// callback checks the authorization response (JARM verified with the server's JWKS, or plain
// code+state+iss per RFC 9207) and returns the code.
func (e *testEnv) callback(t *testing.T, meta map[string]any, c *testClient, ar *authRequest, cb string) string {
	t.Helper()
	u, err := url.Parse(cb)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != ar.redirectURI {
		t.Fatalf("callback went to %q, want %q", got, ar.redirectURI)
	}
	params := map[string]any{}
	q := u.Query()
	if c.JARM {
		if q.Has("code") || q.Has("state") {
			t.Fatalf("JARM callback has plain parameters: %v", q)
		}
		payload, h := e.verify(t, meta, q.Get("response"))
		if h.Alg != c.SigningAlg {
			t.Errorf("JARM alg %q, want %q", h.Alg, c.SigningAlg)
		}
		params = decode(t, payload)
		if params["aud"] != c.ID {
			t.Errorf("JARM aud %v, want %q", params["aud"], c.ID)
		}
		if exp, _ := params["exp"].(float64); int64(exp) <= time.Now().Unix() {
			t.Errorf("JARM exp %v is not in the future", params["exp"])
		}
	} else {
		for k := range q {
			params[k] = q.Get(k)
		}
	}
	if params["error"] != nil {
		t.Fatalf("authorization error: %v: %v", params["error"], params["error_description"])
	}
	if params["iss"] != e.srv.Issuer() {
		t.Errorf("iss %v, want %q", params["iss"], e.srv.Issuer())
	}
	if params["state"] != ar.state {
		t.Errorf("state %v, want %q", params["state"], ar.state)
	}
	code, _ := params["code"].(string)
	if code == "" {
		t.Fatal("no code in the authorization response")
	}
	return code
}

// verify checks a JWS signed by the server against its published JWKS.
func (e *testEnv) verify(t *testing.T, meta map[string]any, compact string) ([]byte, jws.Header) {
	t.Helper()
	resp, err := e.plainHTTP().Get(meta["jwks_uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := jws.ParseKeySet(doc)
	if err != nil {
		t.Fatal(err)
	}
	if ks.Len() != 2 {
		t.Errorf("server JWKS has %d usable keys, want 2 (PS256 and ES256)", ks.Len())
	}
	payload, h, err := jws.Verify(compact, ks)
	if err != nil {
		t.Fatalf("verify server JWS: %v", err)
	}
	return payload, h
}

// tokens exchanges code at the token endpoint.
func (e *testEnv) tokens(t *testing.T, meta map[string]any, c *testClient, ar *authRequest, code, resource string) map[string]any {
	t.Helper()
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {ar.redirectURI}, "code_verifier": {ar.verifier},
	}
	if resource != "" {
		form.Set("resource", resource)
	}
	c.auth(t, e.srv.Issuer(), form)
	status, _, body := c.post(t, meta["token_endpoint"].(string), form, "")
	if status != http.StatusOK {
		t.Fatalf("token: status %d: %s\nserver: %s", status, body, e.stderr.String())
	}
	return decode(t, body)
}

// introspect asks as the resource-server client, as JSON (RFC 7662) or as a JWT (RFC 9701).
func (e *testEnv) introspect(t *testing.T, meta map[string]any, token string, asJWT bool) map[string]any {
	t.Helper()
	rs := e.clients["gateway-rs"]
	form := url.Values{"token": {token}}
	rs.auth(t, e.srv.Issuer(), form)
	accept := "application/json"
	if asJWT {
		accept = "application/token-introspection+jwt"
	}
	status, hdr, body := rs.post(t, meta["introspection_endpoint"].(string), form, accept)
	if status != http.StatusOK {
		t.Fatalf("introspection: status %d: %s", status, body)
	}
	if !asJWT {
		return decode(t, body)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/token-introspection+jwt") {
		t.Fatalf("introspection content type %q", ct)
	}
	payload, h := e.verify(t, meta, string(body))
	if h.Typ != "token-introspection+jwt" || h.Alg != rs.SigningAlg {
		t.Errorf("introspection JWT header typ=%q alg=%q", h.Typ, h.Alg)
	}
	claims := decode(t, payload)
	if claims["aud"] != rs.ID || claims["iss"] != e.srv.Issuer() {
		t.Errorf("introspection JWT aud=%v iss=%v", claims["aud"], claims["iss"])
	}
	ti, ok := claims["token_introspection"].(map[string]any)
	if !ok {
		t.Fatalf("introspection JWT without token_introspection: %v", claims)
	}
	return ti
}

// syncBuffer collects the server's stderr.
type syncBuffer = pkitest.SyncBuffer
