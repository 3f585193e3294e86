package gatewayflow_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/examples/api"
	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
)

// result is an answer as the caller saw it.
type result struct {
	status int
	header http.Header
	body   []byte
}

// answer decodes the API's 200 answer: what it verified.
func (r result) answer(t *testing.T) api.Answer {
	t.Helper()
	var a api.Answer
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s (WWW-Authenticate %q)", r.status, r.body, r.header.Values("WWW-Authenticate"))
	}
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("API answer %.300q: %v", r.body, err)
	}
	return a
}

// refused checks a refusal: status, the exact challenges and the code.
func (r result) refused(t *testing.T, status int, code string, challenges ...string) {
	t.Helper()
	var b struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.body, &b)
	if r.status != status || b.Code != code || !slices.Equal(r.header.Values("WWW-Authenticate"), challenges) {
		t.Fatalf("got %d %s, WWW-Authenticate %q; want %d %s, %q", r.status, r.body, r.header.Values("WWW-Authenticate"),
			status, code, challenges)
	}
}

func do(t *testing.T, hc *http.Client, method, url string, hdr ...string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, res)
}

func read(t *testing.T, res *http.Response) result {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{status: res.StatusCode, header: res.Header, body: b}
}

// claims decodes a JWT's header and payload (the API has verified it).
func claims(t *testing.T, jwt string) (typ string, payload map[string]any) {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %d parts", len(parts))
	}
	var h struct {
		Typ string `json:"typ"`
	}
	for i, dst := range []any{&h, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, dst) != nil {
			t.Fatalf("JWT part %d does not decode", i)
		}
	}
	return h.Typ, payload
}

// cnfOf is the cnf of a forwarded JWT: an RFC 9701 answer's
// token_introspection.cnf, or a token's own.
func cnfOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	typ, p := claims(t, jwt)
	if typ == fapi.TypIntrospection {
		p, _ = p["token_introspection"].(map[string]any)
	}
	cnf, _ := p["cnf"].(map[string]any)
	return cnf
}

// spa is the browser side: credentialed fetches from the SPA origin to
// the one origin serving the agent and the gateway, cookies kept.
type spa struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func (s *spa) call(method, path, body string, hdr ...string) result {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Origin", spaOrigin)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := s.hc.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	return read(s.t, res)
}

// login runs the agent's login against the real server: login/start, the
// user at the server (headless user agent), login/end.
func (e *testEnv) login(t *testing.T, s *stack) *spa {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc, err := e.httpClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc.Jar = jar
	b := &spa{t: t, base: s.url, hc: hc}
	res := b.call("POST", s.agent.BasePath()+"/login/start", "{}")
	var start struct {
		URL string `json:"authorizationRequestUrl"`
	}
	if err := json.Unmarshal(res.body, &start); res.status != 200 || err != nil {
		t.Fatalf("login/start: %d %s\nserver: %s", res.status, res.body, e.stderr)
	}
	cb, err := e.srv.NewBrowser().Login(t.Context(), start.URL, testUser)
	if err != nil {
		t.Fatalf("login: %v\nserver: %s", err, e.stderr)
	}
	page, _ := json.Marshal(map[string]string{"pageUrl": cb})
	res = b.call("POST", s.agent.BasePath()+"/login/end", string(page))
	var end struct {
		LoggedIn bool   `json:"isLoggedIn"`
		CSRF     string `json:"csrf"`
	}
	if err := json.Unmarshal(res.body, &end); res.status != 200 || err != nil || !end.LoggedIn || end.CSRF == "" {
		t.Fatalf("login/end: %d %s\nserver: %s", res.status, res.body, e.stderr)
	}
	b.csrf = end.CSRF
	return b
}

// appToken is an access token an app got for itself with package fapi:
// PAR, the user at the server, the callback, the code exchange.
func (e *testEnv) appToken(t *testing.T, p *party) (*fapi.Client, string) {
	t.Helper()
	ctx := t.Context()
	c, err := fapi.NewClient(e.fapiConfig(p))
	if err != nil {
		t.Fatal(err)
	}
	start, err := c.PushAuthorizationRequest(ctx, fapi.AuthorizationRequest{})
	if err != nil {
		t.Fatalf("PAR: %v\nserver: %s", err, e.stderr)
	}
	cb, err := e.srv.NewBrowser().Login(ctx, start.URL, testUser)
	if err != nil {
		t.Fatalf("login: %v\nserver: %s", err, e.stderr)
	}
	resp, err := c.HandleCallback(ctx, cb, start.Login)
	if err != nil {
		t.Fatalf("callback: %v", err)
	}
	tok, err := c.ExchangeCode(ctx, resp.Code, start.Login, nil)
	if err != nil {
		t.Fatalf("code exchange: %v\nserver: %s", err, e.stderr)
	}
	return c, tok.AccessToken
}

// accessTokenTTL is the reference server's access-token lifetime (s).
const accessTokenTTL = 300

// checkAnswer: the API verified a token of client for the user, with the
// API's audience and scope, issued by iss, for this method and path.
func checkAnswer(t *testing.T, a api.Answer, client, iss, method, path string, introspectionJWT bool) {
	t.Helper()
	now := time.Now().Unix()
	if a.Subject != testUser || a.ClientID != client || a.Issuer != iss || !slices.Equal(a.Audience, []string{interop.APIResource}) ||
		a.Scope != interop.APIScope || a.Method != method || a.Path != path || a.IntrospectionToken != introspectionJWT ||
		a.Expiry <= now || a.Expiry > now+accessTokenTTL {
		t.Fatalf("API answer %+v; want sub %s, client %s, iss %s, scope %s, %s %s, introspection JWT %v, exp within %d s",
			a, testUser, client, iss, interop.APIScope, method, path, introspectionJWT, accessTokenTTL)
	}
}

// checkCertBound: the API saw our client certificate, checked cnf against
// it, and the thumbprint is the token's cnf.x5t#S256.
func (e *testEnv) checkCertBound(t *testing.T, a api.Answer, up *upstream) {
	t.Helper()
	_, s := up.rec.state()
	want := x5t(e.ours.Leaf)
	if cnf := cnfOf(t, s.jwt); !a.CertBound || a.DPoPBound || a.ClientCertSubject != e.ours.Leaf.Subject.String() ||
		s.certX5t != want || cnf["x5t#S256"] != want || len(cnf) != 1 || s.scheme != "Bearer" || len(s.dpop) != 0 {
		t.Fatalf("API answer %+v, upstream request %s with %d proofs, certificate %s, cnf %v; want our certificate %s",
			a, s.scheme, len(s.dpop), s.certX5t, cnf, want)
	}
}

// checkDPoPBound: the API verified a proof the gateway signed with the
// deployment key, the key the token is bound to.
func (e *testEnv) checkDPoPBound(t *testing.T, a api.Answer, up *upstream) {
	t.Helper()
	_, s := up.rec.state()
	jkt, err := jws.Thumbprint(e.deployment.Public())
	if err != nil {
		t.Fatal(err)
	}
	if cnf := cnfOf(t, s.jwt); !a.DPoPBound || a.CertBound || cnf["jkt"] != jkt || len(cnf) != 1 || s.scheme != "DPoP" ||
		len(s.dpop) != 1 || s.certX5t != x5t(e.ours.Leaf) {
		t.Fatalf("API answer %+v, upstream request %s with %d proofs, cnf %v; want DPoP bound to %s", a, s.scheme, len(s.dpop), cnf, jkt)
	}
	if _, _, proofKey, err := jws.VerifyEmbedded(s.dpop[0]); err != nil || proofKey != jkt {
		t.Fatalf("upstream proof key %s (%v), want the deployment key %s", proofKey, err, jkt)
	}
}

// TestCookieSession: a browser session obtained through the agent's real
// login reaches both APIs through the gateway: GET through RFC 9701
// introspection (the AS's signed answer forwarded), POST with the CSRF
// header through RFC 7662 introspection (a token minted by the gateway,
// verified against its JWKS). mTLS-bound sessions are checked by the API
// against the gateway's certificate, DPoP-bound ones against the proof
// the gateway signs with the deployment key.
func TestCookieSession(t *testing.T) {
	e := need(t)
	for _, spec := range []clientSpec{spaMTLS, spaDPoP} {
		t.Run(spec.id, func(t *testing.T) {
			t.Parallel()
			s := e.newStack(t, stackOptions{agent: e.parties[spec.id]})
			b := e.login(t, s)
			check := e.checkCertBound
			if spec.sender == fapi.SenderDPoP {
				check = e.checkDPoPBound
			}

			res := b.call("GET", "/api/accounts?page=2", "")
			a := res.answer(t)
			checkAnswer(t, a, spec.id, e.srv.Issuer(), "GET", "/api/accounts", true)
			check(t, a, s.apiAS)
			if res.header.Get("Access-Control-Allow-Origin") != spaOrigin || res.header.Get("Access-Control-Allow-Credentials") != "true" {
				t.Fatalf("CORS on the cookie answer: %v", res.header)
			}
			// Again: the cached JWT with a fresh proof (the API keeps a jti
			// replay cache), no second introspection.
			check(t, b.call("GET", "/api/accounts", "").answer(t), s.apiAS)
			if n := s.introspections["rfc9701"].Load(); n != 1 {
				t.Fatalf("%d introspections, want 1", n)
			}

			a = b.call("POST", "/mint/api/payments", "{}", "x-fapid-csrf", b.csrf).answer(t)
			checkAnswer(t, a, spec.id, s.url, "POST", "/api/payments", false)
			check(t, a, s.apiMint)
			if _, last := s.apiMint.rec.state(); last.path != "/api/payments" {
				t.Fatalf("upstream path %q", last.path)
			}
			if typ, _ := claims(t, lastJWT(s.apiMint)); typ != "at+jwt" {
				t.Fatalf("minted typ %q", typ)
			}
			// Without the CSRF header a POST never leaves the gateway.
			before, _ := s.apiMint.rec.state()
			b.call("POST", "/mint/api/payments", "{}").refused(t, 401, "unauthorized_request",
				`Bearer realm="fapid-gateway", error="invalid_token"`,
				`DPoP realm="fapid-gateway", error="invalid_token", algs="ES256 PS256 EdDSA"`)
			if after, _ := s.apiMint.rec.state(); after != before {
				t.Fatal("a POST without CSRF reached the API")
			}
		})
	}
}

func lastJWT(up *upstream) string {
	_, s := up.rec.state()
	return s.jwt
}

// TestBearerCertificateBound: an app using the gateway's client identity
// gets a certificate-bound token with fapi and sends it as Bearer over
// mTLS. Both APIs verify it, seeing our certificate with the thumbprint in
// cnf. Replayed from another client certificate, or none, it is refused
// at the gateway.
func TestBearerCertificateBound(t *testing.T) {
	e := need(t)
	t.Parallel()
	p := e.parties[appMTLS.id]
	s := e.newStack(t, stackOptions{})
	_, at := e.appToken(t, p)

	a := do(t, p.http, "GET", s.url+"/api/statements", "Authorization", "Bearer "+at).answer(t)
	checkAnswer(t, a, appMTLS.id, e.srv.Issuer(), "GET", "/api/statements", true)
	e.checkCertBound(t, a, s.apiAS)
	a = do(t, p.http, "DELETE", s.url+"/mint/api/statements/7", "Authorization", "Bearer "+at).answer(t)
	checkAnswer(t, a, appMTLS.id, s.url, "DELETE", "/api/statements/7", false)
	e.checkCertBound(t, a, s.apiMint)

	thief, err := e.httpClient(e.other)
	if err != nil {
		t.Fatal(err)
	}
	anon, err := e.httpClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := s.apiAS.rec.state()
	for _, hc := range []*http.Client{thief, anon} {
		do(t, hc, "GET", s.url+"/api/statements", "Authorization", "Bearer "+at).
			refused(t, 401, "invalid_token", `Bearer realm="fapid-gateway", error="invalid_token"`)
	}
	if after, _ := s.apiAS.rec.state(); after != before {
		t.Fatal("a replayed token reached the API")
	}
	if n := s.introspections["rfc9701"].Load(); n != 1 {
		t.Fatalf("%d introspections, want 1 (the binding is checked on the cached entry)", n)
	}
}

// TestBearerClientDPoPKey: an app holding its own DPoP key. The gateway
// verifies its proofs (with gateway nonces, RFC 9449 §9), but no proof the
// API could check can go upstream: by default the gateway refuses (401
// before the API); on a route declared to trust the gateway the JWT goes
// as Bearer without a proof — and the example API, which checks cnf.jkt
// itself as RFC 9449 §7.2 requires, refuses it. So that declaration is
// only for upstreams that rely on the gateway.
func TestBearerClientDPoPKey(t *testing.T) {
	e := need(t)
	t.Parallel()
	p := e.parties[appDPoP.id]
	s := e.newStack(t, stackOptions{})
	c, at := e.appToken(t, p)
	get := func(path string) result {
		req, err := http.NewRequestWithContext(t.Context(), "GET", s.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.DoResource(t.Context(), req, at, nil)
		if err != nil {
			t.Fatal(err)
		}
		return read(t, res)
	}
	get("/api/accounts").refused(t, 401, "invalid_token",
		`DPoP realm="fapid-gateway", error="invalid_token", algs="ES256 PS256 EdDSA"`)
	if n, _ := s.apiAS.rec.state(); n != 0 {
		t.Fatalf("the API was called %d times", n)
	}
	if !strings.Contains(s.logs.String(), "DPoP-bound token refused") {
		t.Fatalf("refusal not logged:\n%s", s.logs)
	}

	get("/trusted/api/accounts").refused(t, 401, "invalid_dpop_proof",
		`DPoP realm="`+api.Realm+`", error="invalid_dpop_proof", algs="PS256 ES256 EdDSA"`)
	n, up := s.apiAS.rec.state()
	jkt, err := jws.Thumbprint(p.dpop.Public())
	if err != nil {
		t.Fatal(err)
	}
	if cnf := cnfOf(t, up.jwt); n != 1 || up.scheme != "Bearer" || len(up.dpop) != 0 || up.path != "/api/accounts" || cnf["jkt"] != jkt {
		t.Fatalf("upstream request: %d calls, %s with %d proofs to %s, cnf %v", n, up.scheme, len(up.dpop), up.path, cnf)
	}
}

// TestRevokedAfterTTL: a revoked token is served from the cache until its
// entry expires (RFC 7662 §4: the price of caching, bounded by
// Cache.MaxTTL), then refused after one more introspection, and the
// refusal is cached too.
func TestRevokedAfterTTL(t *testing.T) {
	e := need(t)
	t.Parallel()
	p := e.parties[appMTLS.id]
	clock := &offsetClock{}
	s := e.newStack(t, stackOptions{maxTTL: 2 * time.Second, clock: clock})
	c, at := e.appToken(t, p)
	call := func() result { return do(t, p.http, "GET", s.url+"/api/balance", "Authorization", "Bearer "+at) }
	calls := s.introspections["rfc9701"]

	if r := call(); r.status != 200 {
		t.Fatalf("%d %s\nlogs: %s\nserver: %s", r.status, r.body, s.logs, e.stderr)
	}
	if err := c.Revoke(t.Context(), at, "access_token"); err != nil {
		t.Fatalf("revoke: %v\nserver: %s", err, e.stderr)
	}
	call().answer(t)
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d introspections before the TTL, want 1", n)
	}
	clock.advance(2*time.Second + time.Millisecond)
	call().refused(t, 401, "invalid_token", `Bearer realm="fapid-gateway", error="invalid_token"`)
	call().refused(t, 401, "invalid_token", `Bearer realm="fapid-gateway", error="invalid_token"`)
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d introspections, want 2 (one after the TTL, the refusal cached)", n)
	}
}
