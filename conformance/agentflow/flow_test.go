package agentflow_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/cookies"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/tlsx"
)

// spa is the single-page application's side: a browser fetch with
// credentials from the SPA origin, keeping cookies as a browser would.
type spa struct {
	t    *testing.T
	a    *agentUnderTest
	jar  *cookiejar.Jar
	hc   *http.Client
	csrf string
}

func newSPA(t *testing.T, e *testEnv, a *agentUnderTest) *spa {
	jar, _ := cookiejar.New(nil)
	tc, err := tlsx.ClientConfig(tlsx.ClientOptions{RootCAs: e.ca.RootPool()})
	if err != nil {
		t.Fatal(err)
	}
	return &spa{t: t, a: a, jar: jar, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}}
}

type result struct {
	status     int
	body       []byte
	header     http.Header
	setCookies []string
}

func (r result) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %.300q: %v", r.body, err)
	}
	return m
}

func (s *spa) call(method, path, body string, hdr ...string) result {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.a.url+"/"+path, rd)
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
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if res.Header.Get("Strict-Transport-Security") == "" {
		s.t.Fatal("no HSTS header")
	}
	return result{status: res.StatusCode, body: b, header: res.Header, setCookies: res.Header["Set-Cookie"]}
}

// open returns the data of one of the agent's cookies in the jar.
func (s *spa) open(kind string) string {
	s.t.Helper()
	u, _ := url.Parse(s.a.url + "/")
	r, _ := http.NewRequest("GET", u.String(), nil)
	for _, c := range s.jar.Cookies(u) {
		r.AddCookie(c)
	}
	name := "__Host-fapid-" + kind
	v, err := cookies.Join(r, name)
	if err != nil {
		s.t.Fatalf("cookie %s: %v", name, err)
	}
	data, err := s.a.sealer.Open(name, v)
	if err != nil {
		s.t.Fatalf("cookie %s does not open: %v", name, err)
	}
	return string(data)
}

func (s *spa) cookieValues() []string {
	u, _ := url.Parse(s.a.url + "/")
	var out []string
	for _, c := range s.jar.Cookies(u) {
		out = append(out, c.Value)
	}
	return out
}

// TestLifecycle runs the whole session against the real server for JARM and
// plain responses, mTLS- and DPoP-bound tokens: start → login (headless user
// agent) → end → session → userInfo → claims → refresh (rotation, and ten at
// once collapsing into one grant) → logout (end-session URL, every cookie
// cleared) — and reads the captured log for secrets.
func TestLifecycle(t *testing.T) {
	e := need(t)
	for _, v := range variants {
		t.Run(v.client, func(t *testing.T) {
			t.Parallel()
			a := e.startAgent(t, v)
			f := &flow{t: t, e: e, v: v, a: a, s: newSPA(t, e, a)}
			f.login()
			f.read()
			f.refresh()
			f.refreshTogether()
			f.logout()
			f.checkLog()
		})
	}
}

// flow is one session of the lifecycle test.
type flow struct {
	t       *testing.T
	e       *testEnv
	v       variant
	a       *agentUnderTest
	s       *spa
	browser *interop.Browser
	secrets []string // everything that must never reach the log
}

func (f *flow) keep(secrets ...string) { f.secrets = append(f.secrets, secrets...) }

// login: start (PAR; the URL carries client_id and request_uri only), the
// user at the server, end (the response validated, cookies set); the same
// response again is refused.
func (f *flow) login() {
	t, s, e := f.t, f.s, f.e
	res := s.call("POST", "login/start", `{"extraParams":[{"key":"prompt","value":"consent"}]}`)
	if res.status != 200 {
		t.Fatalf("login/start: %d %s\nserver: %s", res.status, res.body, e.stderr.String())
	}
	authURL, _ := res.json(t)["authorizationRequestUrl"].(string)
	au, _ := url.Parse(authURL)
	if q := au.Query(); len(q) != 2 || q.Get("client_id") != f.v.client || !strings.HasPrefix(q.Get("request_uri"), "urn:ietf:params:oauth:request_uri:") {
		t.Fatalf("authorization URL %q", authURL)
	}
	f.keep(s.cookieValues()...)
	f.browser = e.srv.NewBrowser()
	cb, err := f.browser.Login(t.Context(), authURL, testUser)
	if err != nil {
		t.Fatalf("login: %v\nserver: %s", err, e.stderr.String())
	}
	cq, _ := url.Parse(cb)
	if jarm := f.v.mode == fapi.ResponseModeJWT; jarm != cq.Query().Has("response") || !jarm && (!cq.Query().Has("code") || !cq.Query().Has("iss")) {
		t.Fatalf("callback parameters %v", cq.Query())
	}
	f.keep(cq.RawQuery)
	body, _ := json.Marshal(map[string]string{"pageUrl": cb})
	res = s.call("POST", "login/end", string(body))
	le := res.json(t)
	if res.status != 200 || le["handled"] != true || le["isLoggedIn"] != true {
		t.Fatalf("login/end: %d %s\nserver: %s", res.status, res.body, e.stderr.String())
	}
	s.csrf, _ = le["csrf"].(string)
	for _, line := range res.setCookies {
		checkCookie(t, line)
	}
	if r := s.call("POST", "login/end", string(body)); r.status != 400 || r.json(t)["code"] != "invalid_request" {
		t.Fatalf("replayed login/end: %d %s", r.status, r.body)
	}
	at := s.open("at")
	f.keep(at, s.open("rt"), s.open("id"), s.csrf)
	f.keep(s.cookieValues()...)
	checkBinding(t, e, f.v, at)
}

// read: session, userInfo (through the bound token) and claims.
func (f *flow) read() {
	t, s, e := f.t, f.s, f.e
	res := s.call("GET", "session", "")
	sess := res.json(t)
	claims, _ := sess["idTokenClaims"].(map[string]any)
	exp, _ := sess["accessTokenExpiresIn"].(float64)
	if res.status != 200 || sess["isLoggedIn"] != true || claims["sub"] != testUser || exp <= 0 || exp > 300 {
		t.Fatalf("session: %d %s", res.status, res.body)
	}
	res = s.call("GET", "userInfo", "")
	if ui := res.json(t); res.status != 200 || ui["sub"] != testUser || ui["email"] != testUser+"@example.test" {
		t.Fatalf("userInfo: %d %s\nserver: %s", res.status, res.body, e.stderr.String())
	}
	res = s.call("GET", "claims", "")
	if cl := res.json(t); res.status != 200 || cl["sub"] != testUser || cl["aud"] != f.v.client || cl["nonce"] == nil || cl["iss"] != e.srv.Issuer() {
		t.Fatalf("claims: %d %s", res.status, res.body)
	}
}

// refresh: new access token, rotated refresh token, still bound.
func (f *flow) refresh() {
	t, s, e := f.t, f.s, f.e
	at, rt := s.open("at"), s.open("rt")
	res := s.call("POST", "refresh", "", "x-fapid-csrf", s.csrf)
	if res.status != 204 {
		t.Fatalf("refresh: %d %s\nserver: %s", res.status, res.body, e.stderr.String())
	}
	at2, rt2 := s.open("at"), s.open("rt")
	if at2 == at || rt2 == rt {
		t.Fatal("refresh did not replace the access token and rotate the refresh token")
	}
	f.keep(at2, rt2, s.open("id"))
	checkBinding(t, e, f.v, at2)
	if r := s.call("GET", "userInfo", ""); r.status != 200 {
		t.Fatalf("userInfo after refresh: %d %s", r.status, r.body)
	}
}

// refreshTogether: ten tabs refresh at once. One grant reaches the server
// (which revokes the whole grant when a rotated-out refresh token comes
// back), so the session goes on working.
func (f *flow) refreshTogether() {
	t, s, e := f.t, f.s, f.e
	var wg sync.WaitGroup
	codes := make([]int, 10)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = s.call("POST", "refresh", "", "x-fapid-csrf", s.csrf).status
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 204 {
			t.Fatalf("concurrent refresh %d: %d\nserver: %s", i, c, e.stderr.String())
		}
	}
	f.keep(s.open("at"), s.open("rt"))
	if r := s.call("POST", "refresh", "", "x-fapid-csrf", s.csrf); r.status != 204 {
		t.Fatalf("refresh after the concurrent ones: %d %s (grant revoked?)", r.status, r.body)
	}
	if r := s.call("GET", "userInfo", ""); r.status != 200 {
		t.Fatalf("userInfo after the concurrent refreshes: %d %s", r.status, r.body)
	}
	f.keep(s.open("at"), s.open("rt"), s.open("id"))
	f.keep(s.cookieValues()...)
}

// logout: the end-session URL (client_id, no id_token_hint, the configured
// post_logout_redirect_uri), every cookie cleared with its attributes, the
// refresh token revoked, and the server's logout ends at the SPA.
func (f *flow) logout() {
	t, s, e := f.t, f.s, f.e
	var rec struct {
		RT string `json:"rt"`
	}
	json.Unmarshal([]byte(s.open("rt")), &rec)
	res := s.call("POST", "logout", "", "x-fapid-csrf", s.csrf)
	endSession, _ := res.json(t)["url"].(string)
	lu, err := url.Parse(endSession)
	postLogout := f.a.party.spec.PostLogoutRedirectURIs[0]
	if res.status != 200 || err != nil || !strings.HasPrefix(endSession, e.srv.Issuer()+"/session/end?") ||
		lu.Query().Has("id_token_hint") || lu.Query().Get("client_id") != f.v.client ||
		lu.Query().Get("post_logout_redirect_uri") != postLogout {
		t.Fatalf("logout: %d %s", res.status, res.body)
	}
	cleared := map[string]bool{}
	for _, line := range res.setCookies {
		c := checkCookie(t, line)
		if c.MaxAge >= 0 || c.Value != "" {
			t.Fatalf("logout set a cookie: %q", line)
		}
		cleared[c.Name] = true
	}
	for _, k := range []string{"login", "at", "rt", "id", "csrf"} {
		if !cleared["__Host-fapid-"+k] {
			t.Fatalf("logout did not clear __Host-fapid-%s: %q", k, res.setCookies)
		}
	}
	if left := s.cookieValues(); len(left) != 0 {
		t.Fatalf("%d cookies left after logout", len(left))
	}
	out, err := f.browser.Logout(t.Context(), endSession)
	if err != nil || out != postLogout {
		t.Fatalf("end session: %q, %v\nserver: %s", out, err, e.stderr.String())
	}
	if r := s.call("GET", "session", ""); r.status != 200 || r.json(t)["isLoggedIn"] != false {
		t.Fatalf("session after logout: %d %s", r.status, r.body)
	}
	if ti := introspect(t, e, rec.RT); ti["active"] != false {
		t.Fatalf("refresh token still active after logout: %v", ti)
	}
}

// checkLog: the agent logged the lifecycle and none of its secrets.
func (f *flow) checkLog() {
	logs := f.a.logs.String()
	if !strings.Contains(logs, "login completed") || !strings.Contains(logs, "tokens refreshed") || !strings.Contains(logs, "logout") {
		f.t.Fatalf("log lacks the lifecycle:\n%s", logs)
	}
	for _, secret := range append(f.secrets, f.a.keyText) {
		if secret != "" && strings.Contains(logs, secret) {
			f.t.Fatalf("the agent's log holds a token, code, cookie or key:\n%s", logs)
		}
	}
}

// checkCookie: CASES H04 attributes on every Set-Cookie line, each within
// 4096 bytes (H05).
func checkCookie(t *testing.T, line string) *http.Cookie {
	t.Helper()
	c, err := http.ParseSetCookie(line)
	if err != nil {
		t.Fatalf("Set-Cookie %q: %v", line, err)
	}
	if !strings.HasPrefix(c.Name, "__Host-fapid-") || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode ||
		c.Path != "/" || c.Domain != "" || len(line) > 4096 {
		t.Fatalf("cookie attributes: %.200q", line)
	}
	return c
}

// checkBinding introspects the access token as the resource server and
// checks its sender constraint: the agent's certificate (mTLS) or its
// deployment DPoP key.
func checkBinding(t *testing.T, e *testEnv, v variant, at string) {
	t.Helper()
	ti := introspect(t, e, at)
	cnf, _ := ti["cnf"].(map[string]any)
	p := e.parties[v.client]
	want := map[string]any{"x5t#S256": p.x5t()}
	if v.sender == fapi.SenderDPoP {
		jkt, err := jws.Thumbprint(p.dpop.Public())
		if err != nil {
			t.Fatal(err)
		}
		want = map[string]any{"jkt": jkt}
	}
	if ti["active"] != true || ti["client_id"] != v.client || ti["sub"] != testUser || len(cnf) != 1 {
		t.Fatalf("introspection: %v", ti)
	}
	for k, val := range want {
		if cnf[k] != val {
			t.Fatalf("cnf %v, want %v", cnf, want)
		}
	}
	tt, _ := ti["token_type"].(string)
	if wantType := map[fapi.SenderConstraint]string{fapi.SenderMTLS: "Bearer", fapi.SenderDPoP: "DPoP"}[v.sender]; tt != "" && !strings.EqualFold(tt, wantType) {
		t.Fatalf("token_type %q, want %q", tt, wantType)
	}
}

func introspect(t *testing.T, e *testEnv, token string) map[string]any {
	t.Helper()
	rs := e.parties[rsClient]
	form := url.Values{"token": {token}, "client_id": {rsClient}}
	res, err := rs.http.PostForm(e.srv.Issuer()+"/token/introspection", form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil || res.StatusCode != 200 {
		t.Fatalf("introspection: %d %v", res.StatusCode, err)
	}
	return m
}

// TestLoginRequired: prompt=none without a session at the server comes back
// as login_required (in the query or inside JARM): 401 login_required, no
// session.
func TestLoginRequired(t *testing.T) {
	e := need(t)
	for _, v := range variants {
		t.Run(v.client, func(t *testing.T) {
			t.Parallel()
			a := e.startAgent(t, v)
			s := newSPA(t, e, a)
			res := s.call("POST", "login/start", `{"extraParams":[{"key":"prompt","value":"none"}]}`)
			authURL, _ := res.json(t)["authorizationRequestUrl"].(string)
			cb, err := e.srv.Login(t.Context(), authURL, testUser)
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			body, _ := json.Marshal(map[string]string{"pageUrl": cb})
			res = s.call("POST", "login/end", string(body))
			if res.status != 401 || res.json(t)["code"] != "login_required" {
				t.Fatalf("login/end: %d %s", res.status, res.body)
			}
			if left := s.cookieValues(); len(left) != 0 {
				t.Fatalf("cookies after a failed login: %d", len(left))
			}
			// A protocol parameter never reaches the server (CASES H01).
			res = s.call("POST", "login/start", `{"extraParams":[{"key":"redirect_uri","value":"https://evil.example/cb"}]}`)
			if res.status != 400 || res.json(t)["code"] != "invalid_request" {
				t.Fatalf("login/start with redirect_uri: %d %s", res.status, res.body)
			}
			if strings.Contains(e.stderr.String(), "evil.example") {
				t.Fatal("the server saw the injected redirect_uri")
			}
		})
	}
}
