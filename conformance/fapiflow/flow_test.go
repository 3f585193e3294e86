package fapiflow_test

import (
	"errors"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
)

// variant is one of the six client configurations fapid supports.
type variant struct {
	client  string // client id, also the subtest name
	auth    fapi.AuthMethod
	sender  fapi.SenderConstraint
	mode    fapi.ResponseMode
	alg     string // what the client signs and the server signs for it (request objects, ID tokens, JARM)
	dpopAlg string // DPoP proof algorithm (DPoP variants)
}

var variants = []variant{
	{"pkjwt-mtls-jarm", fapi.AuthPrivateKeyJWT, fapi.SenderMTLS, fapi.ResponseModeJWT, interop.PS256, ""},
	{"pkjwt-mtls-plain", fapi.AuthPrivateKeyJWT, fapi.SenderMTLS, fapi.ResponseModeQuery, interop.ES256, ""},
	{"tls-mtls-jarm", fapi.AuthTLSClientAuth, fapi.SenderMTLS, fapi.ResponseModeJWT, interop.ES256, ""},
	{"tls-mtls-plain", fapi.AuthTLSClientAuth, fapi.SenderMTLS, fapi.ResponseModeQuery, interop.PS256, ""},
	{"pkjwt-dpop-jarm", fapi.AuthPrivateKeyJWT, fapi.SenderDPoP, fapi.ResponseModeJWT, interop.PS256, jws.ES256},
	{"pkjwt-dpop-plain", fapi.AuthPrivateKeyJWT, fapi.SenderDPoP, fapi.ResponseModeQuery, interop.ES256, jws.EdDSA},
}

// introspectors are the resource-server views used on every token: both auth methods, both
// answer formats, both signing algorithms of RFC 9701 answers.
var introspectors = []struct {
	id   string
	mode fapi.IntrospectionMode
}{
	{rsTLS, fapi.IntrospectionJSON},
	{rsTLS, fapi.IntrospectionJWT},
	{rsPKJWT, fapi.IntrospectionJSON},
	{rsPKJWT, fapi.IntrospectionJWT},
}

// rsView is one introspecting client.
type rsView struct {
	name string
	mode fapi.IntrospectionMode
	c    *fapi.Client
}

func (e *testEnv) rsViews(t *testing.T) []rsView {
	t.Helper()
	var out []rsView
	for _, in := range introspectors {
		out = append(out, rsView{in.id + "/" + string(in.mode), in.mode, e.introspector(t, in.id, in.mode)})
	}
	return out
}

// TestLifecycle runs, for each variant, the whole life of a login through fapi.Client:
// Discover → PAR (signed request object) → login and consent → HandleCallback → ExchangeCode (ID
// token validated) → Introspect (JSON and RFC 9701, cnf binding) → Refresh (rotated) → UserInfo →
// Revoke (introspection then says inactive) → EndSessionURL, followed in the same browser.
func TestLifecycle(t *testing.T) {
	e := need(t)
	rs := e.rsViews(t)
	for _, v := range variants {
		t.Run(v.client, func(t *testing.T) {
			t.Parallel()
			e.lifecycle(t, v, rs)
		})
	}
}

func (e *testEnv) lifecycle(t *testing.T, v variant, rs []rsView) {
	ctx := t.Context()
	p := e.parties[v.client]
	c := e.agent(t, v.client)
	meta := e.discover(t, c)
	browser := e.srv.NewBrowser()
	fl := e.login(t, c, v, browser)

	e.checkIDToken(t, c, v, fl)
	e.checkIntrospection(t, rs, fl.tok.AccessToken, e.wantToken(t, v, true))

	tok2, err := c.Refresh(ctx, fapi.RefreshRequest{
		RefreshToken: fl.tok.RefreshToken, Resources: []string{}, // no resource: a userinfo token
		Subject: fl.tok.IDToken.Subject,
	})
	if err != nil {
		t.Fatalf("Refresh: %v\nserver: %s", err, e.stderr.String())
	}
	checkRotated(t, c, fl.tok, tok2)
	e.checkIntrospection(t, rs[:1], tok2.AccessToken, e.wantToken(t, v, false))
	e.checkInactive(t, rs, "rotated-out refresh token", fl.tok.RefreshToken)

	e.checkUserInfo(t, c, v, p, fl.tok, tok2)
	e.checkRevoke(t, c, rs, fl.tok, tok2)
	e.checkEndSession(t, c, meta, p, browser, fl.tok.IDToken.Raw)
}

// discover runs Discover and checks what the variants rely on.
func (e *testEnv) discover(t *testing.T, c *fapi.Client) *fapi.Metadata {
	t.Helper()
	m, err := c.Discover(t.Context())
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	iss := e.srv.Issuer()
	if m.Issuer != iss || m.PushedAuthorizationRequestEndpoint != iss+"/request" || m.TokenEndpoint != iss+"/token" ||
		m.EndSessionEndpoint != iss+"/session/end" {
		t.Errorf("metadata: issuer %q, PAR %q, token %q, end session %q", m.Issuer,
			m.PushedAuthorizationRequestEndpoint, m.TokenEndpoint, m.EndSessionEndpoint)
	}
	if !m.RequirePushedAuthorizationRequests || !m.AuthorizationResponseIssParameterSupported ||
		!m.TLSClientCertificateBoundAccessTokens || !slices.Equal(m.CodeChallengeMethodsSupported, []string{"S256"}) {
		t.Errorf("metadata lacks a FAPI 2.0 capability: %+v", m)
	}
	return m
}

// flow is one completed login.
type flow struct {
	start    *fapi.AuthorizationStart
	callback string
	resp     *fapi.AuthorizationResponse
	tok      *fapi.TokenResponse
}

// login runs PAR, the headless login and consent, the callback and the code exchange.
func (e *testEnv) login(t *testing.T, c *fapi.Client, v variant, b *interop.Browser) *flow {
	t.Helper()
	ctx := t.Context()
	fl := &flow{}
	var err error
	// offline_access needs prompt=consent at oidc-provider, or no refresh token is issued.
	if fl.start, err = c.PushAuthorizationRequest(ctx, fapi.AuthorizationRequest{Extra: map[string]string{"prompt": "consent"}}); err != nil {
		t.Fatalf("PushAuthorizationRequest: %v\nserver: %s", err, e.stderr.String())
	}
	e.checkStart(t, c, v, fl.start)
	if fl.callback, err = b.Login(ctx, fl.start.URL, testUser); err != nil {
		t.Fatalf("Login: %v\nserver: %s", err, e.stderr.String())
	}
	e.checkCallbackShape(t, c, v, fl)
	if fl.resp, err = c.HandleCallback(ctx, fl.callback, fl.start.Login); err != nil {
		t.Fatalf("HandleCallback: %v", err)
	}
	if fl.resp.JARM != (v.mode == fapi.ResponseModeJWT) || fl.resp.Issuer != e.srv.Issuer() ||
		fl.resp.State != fl.start.Login.State || fl.resp.Code == "" {
		t.Errorf("authorization response: JARM %v, issuer %q, state matches %v, code present %v",
			fl.resp.JARM, fl.resp.Issuer, fl.resp.State == fl.start.Login.State, fl.resp.Code != "")
	}
	if v.sender == fapi.SenderDPoP {
		// Another DPoP key than at PAR is refused locally: nothing is sent, the code stays good.
		other, err := newDPoPKey("")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ExchangeCode(ctx, fl.resp.Code, fl.start.Login, other); !errors.Is(err, fapi.ErrDPoPBinding) {
			t.Errorf("ExchangeCode with another DPoP key: %v, want ErrDPoPBinding", err)
		}
	}
	if fl.tok, err = c.ExchangeCode(ctx, fl.resp.Code, fl.start.Login, nil); err != nil {
		t.Fatalf("ExchangeCode: %v\nserver: %s", err, e.stderr.String())
	}
	checkTokens(t, c, v, fl)
	return fl
}

// checkStart: the authorization URL carries only client_id and request_uri (FAPI 2.0 SP
// 5.3.3.2-6), the request_uri is the server's, and the login state fits the variant.
func (e *testEnv) checkStart(t *testing.T, c *fapi.Client, v variant, s *fapi.AuthorizationStart) {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if base := u.Scheme + "://" + u.Host + u.Path; base != e.srv.Issuer()+"/auth" || len(q) != 2 ||
		q.Get("client_id") != v.client || q.Get("request_uri") != s.RequestURI {
		t.Errorf("authorization URL %s?%v", base, q)
	}
	if !strings.HasPrefix(s.RequestURI, "urn:ietf:params:oauth:request_uri:") {
		t.Errorf("request_uri %q", s.RequestURI)
	}
	if d := time.Until(s.ExpiresAt); d <= 0 || d > 600*time.Second {
		t.Errorf("request_uri expires in %v, want (0, 600s]", d)
	}
	ls := s.Login
	if ls.Issuer != e.srv.Issuer() || ls.ClientID != v.client || ls.ResponseMode != string(v.mode) ||
		ls.State == "" || ls.Nonce == "" || ls.CodeVerifier == "" {
		t.Errorf("login state: issuer %q client %q mode %q, state/nonce/verifier set %v/%v/%v", ls.Issuer,
			ls.ClientID, ls.ResponseMode, ls.State != "", ls.Nonce != "", ls.CodeVerifier != "")
	}
	wantJKT := ""
	if v.sender == fapi.SenderDPoP {
		wantJKT = thumbprint(t, e.parties[v.client].dpop)
	}
	if ls.DPoPJKT != wantJKT {
		t.Errorf("login state dpop_jkt %q, want %q", ls.DPoPJKT, wantJKT)
	}
}

// checkCallbackShape looks at the raw callback and checks that fapi refuses it for a login
// state it does not belong to: another state (CSRF), or the other response mode (a JARM client
// must never take a plain response, nor a plain client a JARM one).
func (e *testEnv) checkCallbackShape(t *testing.T, c *fapi.Client, v variant, fl *flow) {
	t.Helper()
	u, err := url.Parse(fl.callback)
	if err != nil {
		t.Fatal(err)
	}
	if base := u.Scheme + "://" + u.Host + u.Path; base != e.parties[v.client].spec.RedirectURIs[0] {
		t.Errorf("callback went to %q", base)
	}
	q := u.Query()
	jarm := v.mode == fapi.ResponseModeJWT
	if jarm && (len(q) != 1 || q.Get("response") == "") || !jarm && (q.Get("code") == "" || q.Get("iss") == "" || q.Has("response")) {
		t.Errorf("callback parameters %v for response mode %s", slices.Sorted(maps.Keys(q)), v.mode)
	}
	ctx := t.Context()
	other := fl.start.Login
	other.State = strings.Repeat("A", 43)
	if _, err := c.HandleCallback(ctx, fl.callback, other); !errors.Is(err, fapi.ErrState) ||
		!errors.Is(err, fapi.ErrInvalidAuthorizationResponse) {
		t.Errorf("callback with another login's state: %v, want ErrState", err)
	}
	switched := fl.start.Login
	switched.ResponseMode = string(fapi.ResponseModeJWT)
	if jarm {
		switched.ResponseMode = string(fapi.ResponseModeQuery)
	}
	if _, err := c.HandleCallback(ctx, fl.callback, switched); !errors.Is(err, fapi.ErrInvalidAuthorizationResponse) {
		t.Errorf("callback under the other response mode: %v, want ErrInvalidAuthorizationResponse", err)
	}
	for name, tc := range tamperings(e.srv.Issuer(), jarm) {
		_, err := c.HandleCallback(ctx, tamper(t, fl.callback, tc.edit), fl.start.Login)
		if !errors.Is(err, tc.want) || !errors.Is(err, fapi.ErrInvalidAuthorizationResponse) {
			t.Errorf("callback with %s: %v, want %v", name, err, tc.want)
		}
	}
}

type tampering struct {
	edit func(url.Values)
	want error
}

// tamperings are edits of a real callback that HandleCallback must refuse.
func tamperings(issuer string, jarm bool) map[string]tampering {
	if jarm {
		return map[string]tampering{
			"a changed JARM signature": {func(q url.Values) {
				parts := strings.Split(q.Get("response"), ".")
				sig := []byte(parts[2])
				i := len(sig) / 2 // a middle character: every bit of it is signature
				sig[i] = map[bool]byte{true: 'B', false: 'A'}[sig[i] == 'A']
				q.Set("response", parts[0]+"."+parts[1]+"."+string(sig))
			}, fapi.ErrSignature},
			"JARM plus a plain code": {func(q url.Values) { q.Set("code", "x") }, fapi.ErrMalformed},
		}
	}
	return map[string]tampering{
		"iss with a trailing slash": {func(q url.Values) { q.Set("iss", issuer+"/") }, fapi.ErrIssuerMismatch},
		"no iss":                    {func(q url.Values) { q.Del("iss") }, fapi.ErrIssuerMismatch},
		"no state":                  {func(q url.Values) { q.Del("state") }, fapi.ErrState},
		"a repeated code":           {func(q url.Values) { q.Add("code", "x") }, fapi.ErrMalformed},
	}
}

func tamper(t *testing.T, callback string, edit func(url.Values)) string {
	t.Helper()
	u, err := url.Parse(callback)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	edit(q)
	u.RawQuery = q.Encode()
	return u.String()
}

// checkTokens: token type fits the sender constraint, the access token is opaque, a refresh
// token and a validated ID token for this login came back.
func checkTokens(t *testing.T, c *fapi.Client, v variant, fl *flow) {
	t.Helper()
	tok := fl.tok
	want := map[fapi.SenderConstraint]string{fapi.SenderMTLS: "Bearer", fapi.SenderDPoP: "DPoP"}[v.sender]
	if tok.TokenType != want || c.TokenScheme() != want {
		t.Errorf("token_type %q, scheme %q, want %q", tok.TokenType, c.TokenScheme(), want)
	}
	if tok.AccessToken == "" || strings.Count(tok.AccessToken, ".") == 2 {
		t.Error("access token missing or a JWT (want opaque)")
	}
	if tok.RefreshToken == "" || tok.Rotated {
		t.Errorf("refresh token present %v, rotated %v", tok.RefreshToken != "", tok.Rotated)
	}
	if !slices.Contains(strings.Fields(tok.Scope), interop.APIScope) {
		t.Errorf("scope %q lacks %s", tok.Scope, interop.APIScope)
	}
	if tok.ExpiresIn <= 0 || tok.ExpiresIn > 300*time.Second || time.Until(tok.ExpiresAt) <= 0 {
		t.Errorf("expires_in %v, expires at %v", tok.ExpiresIn, tok.ExpiresAt)
	}
	id := tok.IDToken
	if id == nil {
		t.Fatal("no ID token")
	}
	if id.Subject != testUser || id.Issuer != c.Issuer() || !slices.Contains(id.Audience, v.client) ||
		id.Nonce != fl.start.Login.Nonce || time.Until(id.Expiry) <= 0 {
		t.Errorf("ID token: sub %q iss %q aud %q nonce matches %v exp %v", id.Subject, id.Issuer, id.Audience,
			id.Nonce == fl.start.Login.Nonce, id.Expiry)
	}
}

func thumbprint(t *testing.T, s *jws.Signer) string {
	t.Helper()
	jkt, err := jws.Thumbprint(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return jkt
}
