package fapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/cillers/fapid/internal/jws"
)

func TestPKCE(t *testing.T) {
	// RFC 7636 Appendix B.
	if got := PKCEChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Fatalf("challenge %s", got)
	}
	p, err := NewPKCE(&detRand{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Verifier) != 43 || p.Method != "S256" || p.Challenge != PKCEChallenge(p.Verifier) {
		t.Fatalf("bad PKCE %+v", p)
	}
	if err := validVerifier(p.Verifier); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"short", strings.Repeat("a", 129), strings.Repeat("a", 42) + "!"} {
		if validVerifier(v) == nil {
			t.Errorf("verifier %q accepted", v)
		}
	}
}

func TestRandomValue(t *testing.T) {
	r := &detRand{}
	a, _ := RandomValue(r)
	b, _ := RandomValue(r)
	if len(a) != 43 || a == b || strings.ContainsAny(a, "+/=") {
		t.Fatalf("bad values %q %q", a, b)
	}
	if _, err := RandomValue(strings.NewReader("too short")); err == nil {
		t.Fatal("short read accepted")
	}
}

// verifyClientJWT checks a JWT signed by the test client key.
func verifyClientJWT(t *testing.T, jwt string) (map[string]any, jws.Header) {
	t.Helper()
	k := keys(t)
	set := jws.NewKeySet(jws.PublicKey{Key: &k.client.PublicKey, KeyID: "client-1", Alg: jws.ES256})
	payload, h, err := jws.Verify(jwt, set)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m, h
}

func TestRequestObjectClaimsExact(t *testing.T) {
	as := newFakeAS(t)
	c := as.client(func(c *Config) {
		c.ResponseMode = ResponseModeJWT
		c.Resources = []string{"https://api.example.test/"}
	})
	ls := as.loginState(ResponseModeJWT)
	ro, err := c.RequestObject(ls, AuthorizationRequest{Extra: map[string]string{
		"prompt": "consent", "max_age": "300", "claims": `{"id_token":{"acr":null}}`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	m, h := verifyClientJWT(t, ro)
	if h.Typ != "oauth-authz-req+jwt" || h.Alg != "ES256" || h.Kid != "client-1" {
		t.Fatalf("header %+v", h)
	}
	now := t0.Unix()
	want := map[string]string{
		"iss": "client-1", "aud": as.issuer, "client_id": "client-1",
		"iat": itoa(now), "nbf": itoa(now), "exp": itoa(now + 300),
		"response_type": "code", "response_mode": "jwt", "redirect_uri": "https://app.example.test/cb",
		"scope": "openid api:read", "state": "state-123", "nonce": "nonce-123",
		"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256",
		"resource": "https://api.example.test/", "prompt": "consent", "max_age": "300",
		"claims": "map[id_token:map[acr:<nil>]]",
	}
	got := map[string]string{}
	for k, v := range m {
		if k == "jti" {
			if s, _ := v.(string); len(s) != 43 {
				t.Errorf("jti %v", v)
			}
			continue
		}
		got[k] = toString(v)
	}
	if len(got) != len(want) {
		t.Errorf("claims %v, want keys %v", keysOf(got), keysOf(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := m["max_age"].(json.Number); !ok {
		t.Errorf("max_age is not a number: %T", m["max_age"])
	}
	// Plain mode: no response_mode; several resources become an array.
	c2 := as.client(func(c *Config) { c.Resources = []string{"https://a.test/", "https://b.test/"} })
	ro, err = c2.RequestObject(as.loginState(ResponseModeQuery), AuthorizationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	m, _ = verifyClientJWT(t, ro)
	if _, ok := m["response_mode"]; ok {
		t.Error("response_mode in query mode")
	}
	if r, ok := m["resource"].([]any); !ok || len(r) != 2 {
		t.Errorf("resource %v", m["resource"])
	}
}

func TestRequestObjectReservedParams(t *testing.T) {
	as := newFakeAS(t)
	c := as.client()
	for _, p := range []string{"redirect_uri", "client_id", "response_type", "state", "nonce", "code_challenge",
		"request_uri", "response_mode", "scope", "iss", "aud", "exp", "bad name", ""} {
		_, err := c.RequestObject(as.loginState(ResponseModeQuery), AuthorizationRequest{Extra: map[string]string{p: "x"}})
		wantErr(t, err, ErrReservedParameter)
	}
	for k, v := range map[string]string{"max_age": "-1", "claims": "[1]", "authorization_details": `{"a":1}`} {
		_, err := c.RequestObject(as.loginState(ResponseModeQuery), AuthorizationRequest{Extra: map[string]string{k: v}})
		wantErr(t, err, ErrReservedParameter)
	}
}

func TestClientAssertion(t *testing.T) {
	as := newFakeAS(t)
	c := as.client()
	a1, err := c.ClientAssertion()
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := c.ClientAssertion()
	m1, h := verifyClientJWT(t, a1)
	m2, _ := verifyClientJWT(t, a2)
	if h.Typ != "" {
		t.Errorf("typ %q", h.Typ)
	}
	if aud, ok := m1["aud"].(string); !ok || aud != as.issuer {
		t.Fatalf("aud %#v is not the issuer as a string", m1["aud"])
	}
	if m1["iss"] != "client-1" || m1["sub"] != "client-1" {
		t.Errorf("iss/sub %v %v", m1["iss"], m1["sub"])
	}
	if m1["jti"] == m2["jti"] || len(toString(m1["jti"])) != 43 {
		t.Errorf("jti not fresh: %v %v", m1["jti"], m2["jti"])
	}
	if toString(m1["iat"]) != itoa(t0.Unix()) || toString(m1["exp"]) != itoa(t0.Unix()+60) || toString(m1["nbf"]) != itoa(t0.Unix()) {
		t.Errorf("times iat=%v nbf=%v exp=%v", m1["iat"], m1["nbf"], m1["exp"])
	}
}

func parOK(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusCreated, map[string]any{"request_uri": "urn:ietf:params:oauth:request_uri:abc", "expires_in": 60})
}

func TestPushAuthorizationRequest(t *testing.T) {
	as := newFakeAS(t)
	as.handle("/par", parOK)
	c := as.client()
	start, err := c.PushAuthorizationRequest(context.Background(), AuthorizationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(start.URL)
	q := u.Query()
	if u.Path != "/auth" || len(q) != 2 || q.Get("client_id") != "client-1" || q.Get("request_uri") != "urn:ietf:params:oauth:request_uri:abc" {
		t.Fatalf("authorization URL %s", start.URL)
	}
	if !start.ExpiresAt.Equal(t0.Add(60e9)) {
		t.Errorf("expires at %v", start.ExpiresAt)
	}
	ls := start.Login
	if ls.Issuer != as.issuer || ls.State == "" || ls.Nonce == "" || ls.State == ls.Nonce || len(ls.CodeVerifier) != 43 || ls.DPoPJKT != "" {
		t.Errorf("login state %+v", ls)
	}
	reqs := as.requests("/par")
	if len(reqs) != 1 {
		t.Fatalf("%d PAR calls", len(reqs))
	}
	f := reqs[0].Form
	if got := sortedKeys(f); strings.Join(got, ",") != "client_assertion,client_assertion_type,client_id,request" {
		t.Errorf("PAR form keys %v", got)
	}
	if f.Get("client_assertion_type") != ClientAssertionType {
		t.Error("assertion type")
	}
	m, _ := verifyClientJWT(t, f.Get("request"))
	if m["state"] != ls.State || m["nonce"] != ls.Nonce || m["code_challenge"] != PKCEChallenge(ls.CodeVerifier) {
		t.Error("request object does not match login state")
	}
	if reqs[0].Header.Get("DPoP") != "" {
		t.Error("DPoP header without DPoP")
	}
}

func TestPushAuthorizationRequestTLSClientAuth(t *testing.T) {
	as := newFakeAS(t)
	as.handle("/par", parOK)
	c := as.client(func(c *Config) { c.AuthMethod = AuthTLSClientAuth })
	if _, err := c.PushAuthorizationRequest(context.Background(), AuthorizationRequest{Scopes: []string{"api:read"}}); err != nil {
		t.Fatal(err)
	}
	f := as.requests("/par")[0].Form
	if got := sortedKeys(f); strings.Join(got, ",") != "client_id,request" {
		t.Errorf("PAR form keys %v", got)
	}
	m, _ := verifyClientJWT(t, f.Get("request"))
	if _, ok := m["nonce"]; ok {
		t.Error("nonce sent without openid scope")
	}
}

func TestPushAuthorizationRequestAnswers(t *testing.T) {
	for name, tc := range map[string]struct {
		h    http.HandlerFunc
		want []error
	}{
		"200 instead of 201": {func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, map[string]any{"request_uri": "urn:x", "expires_in": 60})
		}, []error{ErrUnexpectedResponse}},
		"no request_uri": {func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 201, map[string]any{"expires_in": 60})
		}, []error{ErrUnexpectedResponse}},
		"no expires_in": {func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 201, map[string]any{"request_uri": "urn:x"})
		}, []error{ErrUnexpectedResponse}},
		"negative expires_in": {func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 201, map[string]any{"request_uri": "urn:x", "expires_in": -5})
		}, []error{ErrUnexpectedResponse}},
		"invalid_request": {func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": "Request Object must be used"})
		}, nil},
		"invalid_client": {func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 401, map[string]any{"error": "invalid_client"})
		}, nil},
		"503": {func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, []error{ErrUnavailable}},
	} {
		t.Run(name, func(t *testing.T) {
			as := newFakeAS(t)
			as.handle("/par", tc.h)
			_, err := as.client().PushAuthorizationRequest(context.Background(), AuthorizationRequest{})
			if err == nil {
				t.Fatal("no error")
			}
			wantErr(t, err, tc.want...)
			if tc.want == nil {
				oe, ok := asOAuth(err)
				if !ok || oe.Endpoint != "par" || oe.Status < 400 {
					t.Fatalf("want *OAuthError, got %v", err)
				}
			}
		})
	}
}

// A request object that cannot be built fails before anything is sent.
func TestPushAuthorizationRequestBadExtraNoCall(t *testing.T) {
	as := newFakeAS(t)
	as.handle("/par", parOK)
	_, err := as.client().PushAuthorizationRequest(context.Background(),
		AuthorizationRequest{Extra: map[string]string{"state": "x"}})
	wantErr(t, err, ErrReservedParameter)
	if n := len(as.requests("/par")); n != 0 {
		t.Fatalf("%d PAR calls for a refused request", n)
	}
}

func TestPushAuthorizationRequestNeedsRedirect(t *testing.T) {
	as := newFakeAS(t)
	_, err := as.client(func(c *Config) { c.RedirectURI = "" }).PushAuthorizationRequest(context.Background(), AuthorizationRequest{})
	wantErr(t, err, ErrConfig)
}

func sortedKeys(v url.Values) []string {
	var k []string
	for n := range v {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

func keysOf(m map[string]string) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}
