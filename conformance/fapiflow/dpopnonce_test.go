package fapiflow_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/fapi"
)

// TestDPoPNonce runs the DPoP variants against a second server that demands server-provided
// DPoP nonces (RFC 9449 §8 at the authorization server, §9 at userinfo). fapi must retry exactly
// once with the nonce it was given — at PAR, at the token endpoint (with a fresh client
// assertion) and at userinfo (a 401 WWW-Authenticate challenge) — and then reuse the nonce it
// has without a round trip.
func TestDPoPNonce(t *testing.T) {
	e := need(t)
	o := e.opts
	o.Dir, o.DPoPNonce = t.TempDir(), true
	stderr := &syncBuffer{}
	o.Stderr = stderr
	start := time.Now()
	srv, err := interop.Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("nonce server ready in %v", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if interop.GroupAlive(srv.PID()) {
			t.Error("nonce server's process group alive after Stop")
		}
	})
	for _, v := range variants {
		if v.sender != fapi.SenderDPoP {
			continue
		}
		t.Run(v.client, func(t *testing.T) {
			t.Parallel()
			nonceFlow(t, srv, stderr, e.parties[v.client], v)
		})
	}
}

func nonceFlow(t *testing.T, srv *interop.Server, stderr *syncBuffer, p *party, v variant) {
	ctx := t.Context()
	rec := newRecorder(p.http)
	cfg := p.agentConfig(srv.Issuer())
	cfg.HTTPClient = rec.client
	c := newClient(t, cfg)

	st, err := c.PushAuthorizationRequest(ctx, fapi.AuthorizationRequest{Extra: map[string]string{"prompt": "consent"}})
	if err != nil {
		t.Fatalf("PushAuthorizationRequest: %v\nserver: %s", err, stderr.String())
	}
	rec.wantRetry(t, "/request", http.StatusBadRequest, http.StatusCreated)
	cb, err := srv.Login(ctx, st.URL, testUser)
	if err != nil {
		t.Fatalf("Login: %v\nserver: %s", err, stderr.String())
	}
	ar, err := c.HandleCallback(ctx, cb, st.Login)
	if err != nil {
		t.Fatalf("HandleCallback: %v", err)
	}
	tok, err := c.ExchangeCode(ctx, ar.Code, st.Login, nil)
	if err != nil {
		t.Fatalf("ExchangeCode: %v\nserver: %s", err, stderr.String())
	}
	rec.wantReused(t, "/token", http.StatusOK)

	// A second client instance (an agent after a restart) has no nonce yet: the token endpoint
	// answers 400 use_dpop_nonce, the retry carries the nonce and a new client assertion.
	rec2 := newRecorder(p.http)
	cfg.HTTPClient = rec2.client
	c2 := newClient(t, cfg)
	tok2, err := c2.Refresh(ctx, fapi.RefreshRequest{RefreshToken: tok.RefreshToken, Resources: []string{}})
	if err != nil {
		t.Fatalf("Refresh: %v\nserver: %s", err, stderr.String())
	}
	rec2.wantRetry(t, "/token", http.StatusBadRequest, http.StatusOK)
	if tok2.TokenType != "DPoP" || !tok2.Rotated {
		t.Errorf("refresh: token_type %q rotated %v", tok2.TokenType, tok2.Rotated)
	}

	// A third instance meets the nonce demand first at userinfo: 401 with a DPoP challenge.
	rec3 := newRecorder(p.http)
	cfg.HTTPClient = rec3.client
	ui, err := newClient(t, cfg).UserInfo(ctx, tok2.AccessToken, fapi.UserInfoOptions{Subject: tok.IDToken.Subject})
	if err != nil {
		t.Fatalf("UserInfo: %v\nserver: %s", err, stderr.String())
	}
	rec3.wantRetry(t, "/me", http.StatusUnauthorized, http.StatusOK)
	if ui.Subject != testUser {
		t.Errorf("userinfo sub %q", ui.Subject)
	}

	// And a fourth through DoResource, the resource-server path (the retry there is its own code).
	rec4 := newRecorder(p.http)
	cfg.HTTPClient = rec4.client
	checkDoResource(t, newClient(t, cfg), tok2.AccessToken)
	rec4.wantRetry(t, "/me", http.StatusUnauthorized, http.StatusOK)
}

// exchange is one request through the recorder, as far as DPoP is concerned.
type exchange struct {
	path        string
	status      int
	proof       bool   // a DPoP proof was sent
	proofNonce  string // its nonce claim
	proofJTI    string
	assertion   string // jti of the client assertion in the form, if any
	serverNonce string // DPoP-Nonce answered
	errCode     string // error in the JSON body or the WWW-Authenticate challenge
}

// recorder is an http.RoundTripper that logs exchanges and passes them on unchanged.
type recorder struct {
	base   http.RoundTripper
	client *http.Client
	mu     sync.Mutex
	log    []exchange
}

func newRecorder(hc *http.Client) *recorder {
	r := &recorder{base: hc.Transport}
	r.client = &http.Client{Timeout: hc.Timeout, Transport: r}
	return r
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	ex := exchange{path: req.URL.Path}
	if p := req.Header.Get("DPoP"); p != "" {
		ex.proof = true
		cl := jwtClaims(p)
		ex.proofNonce, ex.proofJTI = cl.Nonce, cl.JTI
	}
	if req.GetBody != nil {
		if body, err := req.GetBody(); err == nil {
			b, _ := io.ReadAll(body)
			if form, err := url.ParseQuery(string(b)); err == nil && form.Has("client_assertion") {
				ex.assertion = jwtClaims(form.Get("client_assertion")).JTI
			}
		}
	}
	res, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	ex.status, ex.serverNonce = res.StatusCode, res.Header.Get("DPoP-Nonce")
	var oe struct{ Error string }
	if json.Unmarshal(body, &oe) == nil && oe.Error != "" {
		ex.errCode = oe.Error
	} else if strings.Contains(res.Header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`) {
		ex.errCode = "use_dpop_nonce"
	}
	r.mu.Lock()
	r.log = append(r.log, ex)
	r.mu.Unlock()
	return res, nil
}

// jwtClaims reads nonce and jti from a compact JWS payload (inspection only, nothing verified).
func jwtClaims(compact string) (cl struct{ Nonce, JTI string }) {
	if parts := strings.Split(compact, "."); len(parts) == 3 {
		if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			json.Unmarshal(b, &cl)
		}
	}
	return cl
}

func (r *recorder) calls(path string) []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []exchange
	for _, ex := range r.log {
		if ex.path == path {
			out = append(out, ex)
		}
	}
	return out
}

// wantRetry: exactly two calls to path — the first with a proof but no nonce, refused with
// use_dpop_nonce and a DPoP-Nonce; the second with a new proof carrying that nonce, accepted.
func (r *recorder) wantRetry(t *testing.T, path string, refused, ok int) {
	t.Helper()
	got := r.calls(path)
	if len(got) != 2 {
		t.Fatalf("%s: %d calls, want 2 (refusal and retry): %s", path, len(got), describe(got))
	}
	first, second := got[0], got[1]
	if !first.proof || first.proofNonce != "" || first.status != refused || first.errCode != "use_dpop_nonce" || first.serverNonce == "" {
		t.Errorf("%s: first call %s, want a proof without nonce refused %d use_dpop_nonce with a DPoP-Nonce", path, describe(got[:1]), refused)
	}
	if !second.proof || second.proofNonce != first.serverNonce || second.status != ok || second.proofJTI == first.proofJTI {
		t.Errorf("%s: retry %s, want a new proof with the server's nonce, answered %d", path, describe(got[1:]), ok)
	}
	if first.assertion != "" && (second.assertion == "" || second.assertion == first.assertion) {
		t.Errorf("%s: the retry must carry a new client assertion (fresh jti)", path)
	}
}

// wantReused: one call to path, its proof already carrying a nonce (learnt earlier), accepted.
func (r *recorder) wantReused(t *testing.T, path string, ok int) {
	t.Helper()
	got := r.calls(path)
	if len(got) != 1 || !got[0].proof || got[0].proofNonce == "" || got[0].status != ok {
		t.Errorf("%s: %s, want one call whose proof carries the known nonce, answered %d", path, describe(got), ok)
	}
}

func describe(log []exchange) string {
	var b strings.Builder
	for _, ex := range log {
		fmt.Fprintf(&b, "[%s %d proof=%v nonce=%v assertion=%v error=%q server-nonce=%v] ",
			ex.path, ex.status, ex.proof, ex.proofNonce != "", ex.assertion != "", ex.errCode, ex.serverNonce != "")
	}
	return b.String()
}
