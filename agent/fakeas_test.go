package agent

import (
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/tlsx"
)

// fakeAS is a small FAPI 2.0 authorization server over real TLS (a
// certificate from the test CA) whose answers tests can bend: the point of
// these tests is misbehaviour the reference server will not produce.
type fakeAS struct {
	t      testing.TB
	issuer string
	srv    *http.Server

	mu       sync.Mutex
	signer   *jws.Signer // signs ID tokens and JARM
	jwks     []byte
	discIss  string // discovery "issuer" (default: issuer)
	pars     []parCall
	codes    map[string]*grantState
	ats      map[string]string // access token → sub
	rts      map[string]bool   // live refresh tokens
	tokenErr *asAnswer         // answer for the code grant instead of tokens
	refErr   *asAnswer         // answer for the refresh grant instead of tokens
	uiStatus int               // userinfo status override
	// idClaims edits the ID token claims; signID replaces its signing.
	idClaims  func(map[string]any)
	signID    func(payload []byte) string
	groups    int // this many group claims make the ID token big (CASES H05)
	refreshID bool
	noRT      bool
	gate      chan struct{} // refresh grants wait for it when set

	jkts map[string]string // endpoint → thumbprint of the last DPoP proof key

	refreshes atomic.Int32 // refresh grants received
	tokens    atomic.Int32 // code grants received
	revokes   atomic.Int32
	userinfos atomic.Int32
}

// asAnswer is a canned token-endpoint answer.
type asAnswer struct {
	status int
	body   string
}

type parCall struct {
	form   url.Values
	claims map[string]any // the request object's payload (signature not checked here)
	uri    string
}

type grantState struct {
	par  parCall
	used bool
}

func newFakeAS(t testing.TB) *fakeAS {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := tlsx.ServerConfig(tlsx.ServerOptions{Source: tlsx.NewHolder(testEnv.asCert)})
	if err != nil {
		t.Fatal(err)
	}
	as := &fakeAS{t: t, issuer: "https://" + ln.Addr().String(), codes: map[string]*grantState{},
		ats: map[string]string{}, rts: map[string]bool{}, jkts: map[string]string{}}
	as.setSigner(testEnv.asES256, "as-es256")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", as.discovery)
	mux.HandleFunc("GET /jwks", as.serveJWKS)
	mux.HandleFunc("POST /par", as.par)
	mux.HandleFunc("POST /token", as.token)
	mux.HandleFunc("GET /userinfo", as.userinfo)
	mux.HandleFunc("POST /revoke", func(w http.ResponseWriter, r *http.Request) { as.revokes.Add(1) })
	as.srv = &http.Server{Handler: mux, ErrorLog: nil, ReadHeaderTimeout: 5 * time.Second}
	go as.srv.Serve(tls.NewListener(ln, cfg))
	t.Cleanup(func() { as.srv.Close() })
	return as
}

// setSigner makes key the server's signing key; the JWKS holds it and, as
// decoys, the other test keys' public halves (RS256 among them, CASES H08).
func (as *fakeAS) setSigner(key crypto.Signer, kid string) {
	as.mu.Lock()
	defer as.mu.Unlock()
	signer, err := jws.NewSigner(key, kid)
	if err != nil {
		as.t.Fatal(err)
	}
	as.signer = signer
	keys := []jws.PublicKey{{Key: signer.Public(), KeyID: kid, Alg: signer.Alg()}}
	keys = append(keys, jws.PublicKey{Key: testEnv.asRSA.Public(), KeyID: "as-rsa", Alg: ""})
	doc, err := jws.PublicJWKS(keys...)
	if err != nil {
		as.t.Fatal(err)
	}
	as.jwks = doc
}

func (as *fakeAS) discovery(w http.ResponseWriter, _ *http.Request) {
	as.mu.Lock()
	iss := as.discIss
	as.mu.Unlock()
	if iss == "" {
		iss = as.issuer
	}
	writeTestJSON(w, 200, map[string]any{
		"issuer": iss, "authorization_endpoint": as.issuer + "/authorize", "token_endpoint": as.issuer + "/token",
		"pushed_authorization_request_endpoint": as.issuer + "/par", "jwks_uri": as.issuer + "/jwks",
		"userinfo_endpoint": as.issuer + "/userinfo", "revocation_endpoint": as.issuer + "/revoke",
		"end_session_endpoint": as.issuer + "/logout", "authorization_response_iss_parameter_supported": true,
	})
}

func (as *fakeAS) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	as.mu.Lock()
	doc := as.jwks
	as.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write(doc)
}

// checkDPoP verifies a DPoP proof when the request has one (RFC 9449 §4.3)
// and remembers its key's thumbprint; false means answer 400.
func (as *fakeAS) checkDPoP(w http.ResponseWriter, r *http.Request, endpoint, at string) bool {
	proof := r.Header.Get("DPoP")
	if proof == "" {
		return true
	}
	p, err := fapi.VerifyDPoPProof(proof, fapi.DPoPCheck{Method: r.Method, URL: as.issuer + r.URL.Path, AccessToken: at})
	if err != nil {
		writeTestJSON(w, 400, map[string]string{"error": "invalid_dpop_proof"})
		return false
	}
	as.mu.Lock()
	as.jkts[endpoint] = p.JKT
	as.mu.Unlock()
	return true
}

func (as *fakeAS) par(w http.ResponseWriter, r *http.Request) {
	if !as.checkDPoP(w, r, "par", "") {
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("client_id") == "" {
		writeTestJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	payload, err := payloadOf(r.PostForm.Get("request"))
	if err != nil {
		writeTestJSON(w, 400, map[string]string{"error": "invalid_request_object"})
		return
	}
	var claims map[string]any
	json.Unmarshal(payload, &claims)
	pc := parCall{form: r.PostForm, claims: claims, uri: "urn:ietf:params:oauth:request_uri:" + randomString(as.t)}
	as.mu.Lock()
	as.pars = append(as.pars, pc)
	as.mu.Unlock()
	writeTestJSON(w, 201, map[string]any{"request_uri": pc.uri, "expires_in": 60})
}

// parCount is the number of pushed authorization requests received.
func (as *fakeAS) parCount() int {
	as.mu.Lock()
	defer as.mu.Unlock()
	return len(as.pars)
}

func (as *fakeAS) lastPAR() parCall {
	as.mu.Lock()
	defer as.mu.Unlock()
	if len(as.pars) == 0 {
		as.t.Fatal("no PAR received")
	}
	return as.pars[len(as.pars)-1]
}

// authorize plays the user at the authorization endpoint: it finds the
// pushed request behind authURL and returns the redirect back to the SPA,
// with code, state and iss in the query, or as a JARM response. edit may
// change the JARM claims; sign may replace the JARM signing.
func (as *fakeAS) authorize(authURL string, jarm bool, edit func(map[string]any), sign func([]byte) string) string {
	as.t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		as.t.Fatal(err)
	}
	q := u.Query()
	if len(q) != 2 || q.Get("client_id") == "" || q.Get("request_uri") == "" {
		as.t.Fatalf("authorization URL carries %v, want only client_id and request_uri", q)
	}
	as.mu.Lock()
	var pc *parCall
	for i := range as.pars {
		if as.pars[i].uri == q.Get("request_uri") {
			pc = &as.pars[i]
		}
	}
	if pc == nil {
		as.mu.Unlock()
		as.t.Fatal("unknown request_uri")
	}
	code := "code-" + randomString(as.t)
	as.codes[code] = &grantState{par: *pc}
	signer := as.signer
	as.mu.Unlock()
	state, _ := pc.claims["state"].(string)
	redirect, _ := pc.claims["redirect_uri"].(string)
	if !jarm {
		return redirect + "?" + url.Values{"code": {code}, "state": {state}, "iss": {as.issuer}}.Encode()
	}
	claims := map[string]any{"iss": as.issuer, "aud": pc.claims["client_id"], "exp": time.Now().Add(5 * time.Minute).Unix(),
		"code": code, "state": state}
	if edit != nil {
		edit(claims)
	}
	payload, _ := json.Marshal(claims)
	var resp string
	if sign != nil {
		resp = sign(payload)
	} else if resp, err = signer.Sign(payload, jws.SignOptions{}); err != nil {
		as.t.Fatal(err)
	}
	return redirect + "?" + url.Values{"response": {resp}}.Encode()
}

func (as *fakeAS) token(w http.ResponseWriter, r *http.Request) {
	if !as.checkDPoP(w, r, r.FormValue("grant_type"), "") {
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("client_id") == "" {
		writeTestJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		as.tokens.Add(1)
		as.codeGrant(w, r)
	case "refresh_token":
		as.refreshes.Add(1)
		as.refreshGrant(w, r)
	default:
		writeTestJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
	}
}

func (as *fakeAS) codeGrant(w http.ResponseWriter, r *http.Request) {
	as.mu.Lock()
	canned := as.tokenErr
	g := as.codes[r.PostForm.Get("code")]
	ok := g != nil && !g.used
	if ok {
		g.used = true
	}
	as.mu.Unlock()
	if canned != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(canned.status)
		w.Write([]byte(canned.body))
		return
	}
	if !ok {
		writeTestJSON(w, 400, map[string]string{"error": "invalid_grant"})
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != g.par.claims["code_challenge"] ||
		r.PostForm.Get("redirect_uri") != g.par.claims["redirect_uri"] {
		writeTestJSON(w, 400, map[string]string{"error": "invalid_grant"})
		return
	}
	nonce, _ := g.par.claims["nonce"].(string)
	as.issue(w, r, nonce, true)
}

func (as *fakeAS) refreshGrant(w http.ResponseWriter, r *http.Request) {
	as.mu.Lock()
	gate, canned := as.gate, as.refErr
	as.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if canned != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(canned.status)
		w.Write([]byte(canned.body))
		return
	}
	rt := r.PostForm.Get("refresh_token")
	as.mu.Lock()
	live := as.rts[rt]
	delete(as.rts, rt) // rotation: a refresh token works once
	withID := as.refreshID
	as.mu.Unlock()
	if !live {
		writeTestJSON(w, 400, map[string]string{"error": "invalid_grant"})
		return
	}
	as.issue(w, r, "", withID)
}

// issue answers with fresh tokens (and an ID token when withID).
func (as *fakeAS) issue(w http.ResponseWriter, r *http.Request, nonce string, withID bool) {
	at, rt := "at-"+randomString(as.t), "rt-"+randomString(as.t)
	as.mu.Lock()
	as.ats[at] = "alice"
	noRT := as.noRT
	if !noRT {
		as.rts[rt] = true
	}
	as.mu.Unlock()
	res := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 300}
	if r.Header.Get("DPoP") != "" {
		res["token_type"] = "DPoP"
	}
	if !noRT {
		res["refresh_token"] = rt
	}
	if withID {
		res["id_token"] = as.idToken(r.PostForm.Get("client_id"), nonce)
	}
	writeTestJSON(w, 200, res)
}

func (as *fakeAS) idToken(clientID, nonce string) string {
	now := time.Now()
	claims := map[string]any{"iss": as.issuer, "sub": "alice", "aud": clientID, "iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(), "auth_time": now.Unix(), "name": "Alice"}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	as.mu.Lock()
	edit, sign, groups, signer := as.idClaims, as.signID, as.groups, as.signer
	as.mu.Unlock()
	if groups > 0 {
		g := make([]string, groups)
		for i := range g {
			g[i] = fmt.Sprintf("group-%04d-of-the-organisation", i)
		}
		claims["groups"] = g
	}
	if edit != nil {
		edit(claims)
	}
	payload, _ := json.Marshal(claims)
	if sign != nil {
		return sign(payload)
	}
	s, err := signer.Sign(payload, jws.SignOptions{})
	if err != nil {
		as.t.Fatal(err)
	}
	return s
}

func (as *fakeAS) userinfo(w http.ResponseWriter, r *http.Request) {
	as.userinfos.Add(1)
	as.mu.Lock()
	status := as.uiStatus
	scheme, at := "", ""
	if s, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok {
		scheme, at = s, tok
	}
	sub, ok := as.ats[at]
	as.mu.Unlock()
	if scheme == "DPoP" && !as.checkDPoP(w, r, "userinfo", at) {
		return
	}
	switch {
	case status != 0:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeTestJSON(w, status, map[string]string{"error": "invalid_token"})
	case !ok || (scheme != "Bearer" && scheme != "DPoP"):
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(401)
	default:
		writeTestJSON(w, 200, map[string]any{"sub": sub, "email": sub + "@example.test", "name": "Alice"})
	}
}

func (as *fakeAS) set(f func(as *fakeAS)) {
	as.mu.Lock()
	defer as.mu.Unlock()
	f(as)
}

func writeTestJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func payloadOf(jwt string) ([]byte, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWS")
	}
	return base64.RawURLEncoding.DecodeString(parts[1])
}
