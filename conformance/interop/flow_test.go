package interop_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/internal/jws"
)

func TestDiscovery(t *testing.T) {
	e := need(t)
	m := e.discovery(t)
	if m["issuer"] != e.srv.Issuer() {
		t.Errorf("issuer %v, want %q", m["issuer"], e.srv.Issuer())
	}
	for _, k := range []string{
		"require_pushed_authorization_requests", "require_signed_request_object",
		"tls_client_certificate_bound_access_tokens", "authorization_response_iss_parameter_supported",
	} {
		if m[k] != true {
			t.Errorf("%s = %v, want true", k, m[k])
		}
	}
	list := func(k string) []string {
		var out []string
		if a, ok := m[k].([]any); ok {
			for _, v := range a {
				s, _ := v.(string)
				out = append(out, s)
			}
		}
		return out
	}
	if got := list("code_challenge_methods_supported"); !slices.Equal(got, []string{"S256"}) {
		t.Errorf("code_challenge_methods_supported = %v, want [S256]", got)
	}
	for k, want := range map[string][]string{
		"response_modes_supported":              {"jwt", "query.jwt", "query"},
		"response_types_supported":              {"code"},
		"token_endpoint_auth_methods_supported": {"private_key_jwt", "tls_client_auth"},
		"dpop_signing_alg_values_supported":     {"ES256"},
		"scopes_supported":                      {"openid", "offline_access", interop.APIScope},
	} {
		for _, w := range want {
			if !slices.Contains(list(k), w) {
				t.Errorf("%s = %v, lacks %q", k, list(k), w)
			}
		}
	}
	// FAPI 2.0 §5.4: PS256/ES256 only, never RS256 or none.
	for _, k := range []string{
		"token_endpoint_auth_signing_alg_values_supported", "request_object_signing_alg_values_supported",
		"authorization_signing_alg_values_supported", "id_token_signing_alg_values_supported",
		"introspection_signing_alg_values_supported",
	} {
		got := list(k)
		slices.Sort(got)
		if !slices.Equal(got, []string{"ES256", "PS256"}) {
			t.Errorf("%s = %v, want [ES256 PS256]", k, got)
		}
	}
	endpoints := map[string]string{
		"pushed_authorization_request_endpoint": "/request", "authorization_endpoint": "/auth",
		"token_endpoint": "/token", "introspection_endpoint": "/token/introspection",
		"revocation_endpoint": "/token/revocation", "userinfo_endpoint": "/me",
		"end_session_endpoint": "/session/end", "jwks_uri": "/jwks",
	}
	for k, path := range endpoints {
		if m[k] != e.srv.Issuer()+path {
			t.Errorf("%s = %v, want %s%s", k, m[k], e.srv.Issuer(), path)
		}
	}
	if _, ok := m["mtls_endpoint_aliases"]; ok {
		t.Error("unexpected mtls_endpoint_aliases (one mTLS listener)")
	}
}

// The full FAPI 2.0 Message Signing flow for a private_key_jwt + JARM + mTLS-bound client (PS256):
// PAR with a signed request object, headless login and consent, JARM, token exchange, then what
// the gateway and the agent do with the tokens: introspection (JSON and RFC 9701), refresh with
// rotation, userinfo with the bound certificate, replay detection, and RP-initiated logout.
func TestCodeFlowPrivateKeyJWTJARM(t *testing.T) {
	e := need(t)
	ctx := context.Background()
	meta := e.discovery(t)
	c := e.clients["agent-pkjwt"]

	ar := e.par(t, meta, c, interop.APIResource)
	browser := e.srv.NewBrowser()
	cb, err := browser.Login(ctx, ar.authorizationURL, testUser)
	if err != nil {
		t.Fatalf("%v\nserver: %s", err, e.stderr.String())
	}
	if !strings.Contains(cb, "response=") {
		t.Fatalf("callback %q is not a JARM response", cb)
	}
	code := e.callback(t, meta, c, ar, cb)
	tok := e.tokens(t, meta, c, ar, code, interop.APIResource)

	if tok["token_type"] != "Bearer" || tok["scope"] != interop.APIScope {
		t.Errorf("token_type=%v scope=%v", tok["token_type"], tok["scope"])
	}
	at, _ := tok["access_token"].(string)
	rt, _ := tok["refresh_token"].(string)
	idt, _ := tok["id_token"].(string)
	if at == "" || rt == "" || idt == "" {
		t.Fatalf("token response lacks a token: %v", keys(tok))
	}
	if strings.Count(at, ".") == 2 {
		t.Error("access token is a JWT, want opaque")
	}
	e.checkIDToken(t, meta, c, ar, idt)
	x5t := sha256.Sum256(c.cert.Leaf.Raw)
	e.checkAPIToken(t, meta, c, at, map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(x5t[:])})

	// Refresh without resource: rotated refresh token, and an access token for userinfo.
	refresh := func(rt string) (int, map[string]any) {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		c.auth(t, e.srv.Issuer(), form)
		status, _, body := c.post(t, meta["token_endpoint"].(string), form, "")
		return status, decode(t, body)
	}
	status, tok2 := refresh(rt)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, tok2)
	}
	rt2, _ := tok2["refresh_token"].(string)
	at2, _ := tok2["access_token"].(string)
	if rt2 == "" || rt2 == rt {
		t.Error("refresh token not rotated")
	}
	if got := userinfo(t, c.http, meta, "Bearer "+at2, ""); got["sub"] != testUser {
		t.Errorf("userinfo = %v", got)
	}
	if status := userinfoStatus(t, e.clients["agent-tls"].http, meta, "Bearer "+at2, ""); status != http.StatusUnauthorized {
		t.Errorf("userinfo with another client's certificate: status %d, want 401", status)
	}

	// Logout in the same browser session, before the replay below revokes the grant.
	q := url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {c.PostLogoutRedirectURIs[0]}, "state": {"s1"}}
	out, err := browser.Logout(ctx, meta["end_session_endpoint"].(string)+"?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if want := c.PostLogoutRedirectURIs[0] + "?state=s1"; out != want {
		t.Errorf("logout went to %q, want %q", out, want)
	}

	// Replaying the rotated-out refresh token fails and revokes the grant.
	if status, body := refresh(rt); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("old refresh token: %d %v, want 400 invalid_grant", status, body)
	}
	if ti := e.introspect(t, meta, rt2, false); ti["active"] != false {
		t.Errorf("refresh token after replay: %v, want inactive", ti)
	}
	logs := e.stderr.String()
	if !strings.Contains(logs, "grant.error client=agent-pkjwt invalid_grant") {
		t.Errorf("server stderr lacks the grant.error event:\n%s", logs)
	}
	for _, secret := range []string{at, rt, rt2, at2, idt, code} {
		if strings.Contains(logs, secret) {
			t.Error("server stderr contains a token or code")
		}
	}
}

// tls_client_auth + mTLS + plain response (code, state and iss in the query, RFC 9207), ES256.
func TestCodeFlowTLSClientAuthPlain(t *testing.T) {
	e := need(t)
	meta := e.discovery(t)
	c := e.clients["agent-tls"]
	ar := e.par(t, meta, c, interop.APIResource)
	cb, err := e.srv.Login(context.Background(), ar.authorizationURL, testUser)
	if err != nil {
		t.Fatalf("%v\nserver: %s", err, e.stderr.String())
	}
	code := e.callback(t, meta, c, ar, cb)
	tok := e.tokens(t, meta, c, ar, code, interop.APIResource)
	at, _ := tok["access_token"].(string)
	idt, _ := tok["id_token"].(string)
	e.checkIDToken(t, meta, c, ar, idt)
	x5t := sha256.Sum256(c.cert.Leaf.Raw)
	e.checkAPIToken(t, meta, c, at, map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(x5t[:])})

	// The same client id with another client's certificate is not this client.
	form := url.Values{"request": {"x"}}
	c.auth(t, e.srv.Issuer(), form)
	impostor := *e.clients["agent-pkjwt"]
	impostor.Client = c.Client
	status, _, body := impostor.post(t, meta["pushed_authorization_request_endpoint"].(string), form, "")
	if status != http.StatusUnauthorized || decode(t, body)["error"] != "invalid_client" {
		t.Errorf("tls_client_auth with the wrong certificate: %d %s", status, body)
	}
}

// private_key_jwt + DPoP-bound tokens: the token is "DPoP", its cnf.jkt is the proof key's
// thumbprint, and userinfo takes it with a proof carrying ath.
func TestCodeFlowDPoP(t *testing.T) {
	e := need(t)
	meta := e.discovery(t)
	c := e.clients["agent-dpop"]
	ar := e.par(t, meta, c, interop.APIResource)
	cb, err := e.srv.Login(context.Background(), ar.authorizationURL, testUser)
	if err != nil {
		t.Fatalf("%v\nserver: %s", err, e.stderr.String())
	}
	code := e.callback(t, meta, c, ar, cb)
	tok := e.tokens(t, meta, c, ar, code, interop.APIResource)
	if tok["token_type"] != "DPoP" {
		t.Errorf("token_type %v, want DPoP", tok["token_type"])
	}
	jkt, err := jws.Thumbprint(c.dpop.Public())
	if err != nil {
		t.Fatal(err)
	}
	at, _ := tok["access_token"].(string)
	idt, _ := tok["id_token"].(string)
	e.checkIDToken(t, meta, c, ar, idt)
	e.checkAPIToken(t, meta, c, at, map[string]any{"jkt": jkt})

	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}
	c.auth(t, e.srv.Issuer(), form)
	status, _, body := c.post(t, meta["token_endpoint"].(string), form, "")
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %s", status, body)
	}
	at2, _ := decode(t, body)["access_token"].(string)
	proof := c.dpopProof(t, http.MethodGet, meta["userinfo_endpoint"].(string), at2)
	if got := userinfo(t, e.plainHTTP(), meta, "DPoP "+at2, proof); got["sub"] != testUser {
		t.Errorf("userinfo = %v", got)
	}
	if status := userinfoStatus(t, e.plainHTTP(), meta, "Bearer "+at2, ""); status != http.StatusUnauthorized {
		t.Errorf("DPoP token as Bearer without proof: status %d, want 401", status)
	}
}

// What FAPI 2.0 makes the server refuse, and how Login reports it.
func TestServerRefuses(t *testing.T) {
	e := need(t)
	ctx := context.Background()
	meta := e.discovery(t)
	c := e.clients["agent-tls"]

	// PAR with plain parameters: a request object is required.
	form := url.Values{"response_type": {"code"}, "redirect_uri": {c.RedirectURIs[0]}, "scope": {"openid"},
		"code_challenge": {s256("v")}, "code_challenge_method": {"S256"}}
	c.auth(t, e.srv.Issuer(), form)
	status, _, body := c.post(t, meta["pushed_authorization_request_endpoint"].(string), form, "")
	if status != http.StatusBadRequest || decode(t, body)["error"] != "invalid_request" {
		t.Errorf("PAR without request object: %d %s", status, body)
	}

	// The authorization endpoint without PAR: the error goes back to the client with iss.
	q := url.Values{"client_id": {c.ID}, "response_type": {"code"}, "redirect_uri": {c.RedirectURIs[0]},
		"scope": {"openid"}, "state": {"st"}}
	cb, err := e.srv.Login(ctx, meta["authorization_endpoint"].(string)+"?"+q.Encode(), testUser)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(cb)
	if got := u.Query(); got.Get("error") != "invalid_request" || got.Get("iss") != e.srv.Issuer() || got.Get("state") != "st" {
		t.Errorf("authorization without PAR: %v", got)
	}

	// The user agent only talks to the server.
	if _, err := e.srv.Login(ctx, "https://example.test/auth", testUser); !errors.Is(err, interop.ErrBrowser) {
		t.Errorf("Login on another origin: %v, want ErrBrowser", err)
	}
	// An unknown request_uri ends on the server's error page.
	bad := meta["authorization_endpoint"].(string) + "?client_id=nobody&request_uri=urn:x"
	if _, err := e.srv.Login(ctx, bad, testUser); !errors.Is(err, interop.ErrBrowser) || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("Login with an unknown client: %v", err)
	}
}

// checkIDToken verifies an ID token from the server for c and ar.
func (e *testEnv) checkIDToken(t *testing.T, meta map[string]any, c *testClient, ar *authRequest, idt string) {
	t.Helper()
	payload, h := e.verify(t, meta, idt)
	claims := decode(t, payload)
	if h.Alg != c.SigningAlg || claims["nonce"] != ar.nonce || claims["sub"] != testUser || claims["aud"] != c.ID ||
		claims["iss"] != e.srv.Issuer() {
		t.Errorf("id_token alg=%s claims=%v", h.Alg, claims)
	}
}

// checkAPIToken introspects an API access token as JSON and as a JWT and checks its binding.
func (e *testEnv) checkAPIToken(t *testing.T, meta map[string]any, c *testClient, at string, wantCnf map[string]any) {
	t.Helper()
	for _, asJWT := range []bool{false, true} {
		ti := e.introspect(t, meta, at, asJWT)
		cnf, _ := ti["cnf"].(map[string]any)
		if ti["active"] != true || ti["sub"] != testUser || ti["client_id"] != c.ID || ti["aud"] != interop.APIResource ||
			ti["scope"] != interop.APIScope || !maps.Equal(cnf, wantCnf) {
			t.Errorf("introspection (jwt=%v) = %v, want cnf %v", asJWT, ti, wantCnf)
		}
	}
}

func userinfoStatus(t *testing.T, hc *http.Client, meta map[string]any, authz, proof string) int {
	t.Helper()
	status, _ := userinfoDo(t, hc, meta, authz, proof)
	return status
}

func userinfo(t *testing.T, hc *http.Client, meta map[string]any, authz, proof string) map[string]any {
	t.Helper()
	status, body := userinfoDo(t, hc, meta, authz, proof)
	if status != http.StatusOK {
		t.Fatalf("userinfo: status %d: %s", status, body)
	}
	return decode(t, body)
}

func userinfoDo(t *testing.T, hc *http.Client, meta map[string]any, authz, proof string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, meta["userinfo_endpoint"].(string), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", authz)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
