package rp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/rp"
	"github.com/cillers/fapid/fapi"
)

// TestBrokenJARMAudCheckFails shows that the harness fails a client that
// skips one check. The agent has no switch to turn a check off, so the
// client here is a small BFF on package fapi that serves the agent's API
// and validates JARM responses itself: signature (allowed algorithms, the
// server's JWKS), iss, exp and state — everything but aud. The two aud
// modules must FAIL (the client redeems the code), the other six JARM
// modules and the happy path must PASS, and fapid's agent passes all of
// them.
func TestBrokenJARMAudCheckFails(t *testing.T) {
	t.Parallel()
	jarm := []string{
		"test-happy-path",
		"test-ensure-jarm-without-iss-fails", "test-ensure-jarm-with-invalid-iss-fails",
		"test-ensure-jarm-without-aud-fails", "test-ensure-jarm-with-invalid-aud-fails",
		"test-ensure-jarm-without-exp-fails", "test-ensure-jarm-with-expired-exp-fails",
		"test-ensure-jarm-with-invalid-sig-fails", "test-ensure-jarm-signature-is-not-none",
	}
	v, err := rp.ParseVariantFilter("pkjwt+dpop/oidc/signed/jarm")
	if err != nil {
		t.Fatal(err)
	}
	opts := rp.Options{Plans: []rp.Plan{rp.MessageSigning}, Variants: []rp.VariantFilter{v}, Modules: jarm}
	for _, target := range []string{"agent", "no-aud-check"} {
		o := opts
		if target == "no-aud-check" {
			o.Target = noAudCheckTarget
		}
		rep, err := rp.Run(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Results) != len(jarm) {
			t.Fatalf("%s: %d results, want %d", target, len(rep.Results), len(jarm))
		}
		for _, res := range rep.Results {
			want := rp.Passed
			if target == "no-aud-check" && strings.Contains(res.Module, "-aud-") {
				want = rp.Failed
			}
			if res.Status != want {
				t.Errorf("%s: %s: %s (%s), want %s", target, res.Module, res.Status, res.Reason, want)
			}
			if want == rp.Failed && !strings.Contains(res.Reason, "token endpoint after the faulty authorization response") {
				t.Errorf("%s: %s fails for another reason: %s", target, res.Module, res.Reason)
			}
			t.Logf("%-13s %-40s %s  %s", target, res.Module, res.Status, res.Reason)
		}
	}
}

// noAudCheckTarget is the deliberately broken client.
func noAudCheckTarget(ctx context.Context, env rp.TargetEnv) (http.Handler, error) {
	c, err := fapi.NewClient(env.Agent.FAPI)
	if err != nil {
		return nil, err
	}
	b := &noAudCheck{c: c, hc: env.Agent.FAPI.HTTPClient, base: env.Agent.BasePath + "/", logins: map[string]fapi.LoginState{}}
	if _, err := c.Discover(ctx); err != nil {
		return b, err
	}
	return b, nil
}

type noAudCheck struct {
	c      *fapi.Client
	hc     *http.Client
	base   string
	mu     sync.Mutex
	logins map[string]fapi.LoginState
	at     string
}

func (b *noAudCheck) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	switch strings.TrimPrefix(r.URL.Path, b.base) {
	case "login/start":
		st, err := b.c.PushAuthorizationRequest(ctx, fapi.AuthorizationRequest{})
		if err != nil {
			answer(w, 400, map[string]any{"code": "authorization_error"})
			return
		}
		b.mu.Lock()
		b.logins[st.Login.State] = st.Login
		b.mu.Unlock()
		answer(w, 200, map[string]any{"authorizationRequestUrl": st.URL})
	case "login/end":
		b.loginEnd(w, r)
	case "session":
		b.mu.Lock()
		answer(w, 200, map[string]any{"isLoggedIn": b.at != ""})
		b.mu.Unlock()
	case "userInfo":
		b.mu.Lock()
		at := b.at
		b.mu.Unlock()
		ui, err := b.c.UserInfo(ctx, at, fapi.UserInfoOptions{})
		if err != nil {
			answer(w, 401, map[string]any{"code": "unauthorized_request"})
			return
		}
		answer(w, 200, ui.Claims)
	default:
		http.NotFound(w, r)
	}
}

func (b *noAudCheck) loginEnd(w http.ResponseWriter, r *http.Request) {
	var in struct {
		PageURL string `json:"pageUrl"`
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	p, err := fapi.ParseCallback(in.PageURL)
	if err != nil || p.Response == "" {
		answer(w, 400, map[string]any{"code": "invalid_request"})
		return
	}
	code, ls, err := b.lenientJARM(r.Context(), p.Response)
	if err != nil {
		answer(w, 400, map[string]any{"code": "invalid_request", "message": err.Error()})
		return
	}
	tok, err := b.c.ExchangeCode(r.Context(), code, ls, nil)
	if err != nil {
		answer(w, 400, map[string]any{"code": "authorization_error"})
		return
	}
	b.mu.Lock()
	b.at = tok.AccessToken
	b.mu.Unlock()
	answer(w, 200, map[string]any{"handled": true, "isLoggedIn": true})
}

// lenientJARM is JARM §4.4 without the aud check.
func (b *noAudCheck) lenientJARM(ctx context.Context, jwt string) (string, fapi.LoginState, error) {
	m, err := b.c.Metadata(ctx)
	if err != nil {
		return "", fapi.LoginState{}, err
	}
	payload, _, err := fapi.NewJWKSCache(m.JWKSURI, b.hc, fapi.JWKSOptions{}).Verify(ctx, jwt)
	if err != nil {
		return "", fapi.LoginState{}, err
	}
	var cl struct {
		Iss, State, Code string
		Exp              *float64
	}
	if err := json.Unmarshal(payload, &cl); err != nil {
		return "", fapi.LoginState{}, err
	}
	b.mu.Lock()
	ls, ok := b.logins[cl.State]
	delete(b.logins, cl.State)
	b.mu.Unlock()
	switch {
	case cl.Iss != b.c.Issuer():
		return "", ls, errors.New("iss")
	case cl.Exp == nil || time.Unix(int64(*cl.Exp), 0).Before(time.Now()):
		return "", ls, errors.New("exp")
	case !ok:
		return "", ls, errors.New("state")
	}
	return cl.Code, ls, nil
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
