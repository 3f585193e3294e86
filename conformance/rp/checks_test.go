package rp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/cillers/fapid/conformance/rp"
	"github.com/cillers/fapid/internal/jws"
)

// TestChecksInsideEveryModule makes fapid's agent misbehave in one way at a
// time — by rewriting what it sends (re-signed with its own keys) or its
// configuration — and checks that the happy path then FAILS with the check
// the suite runs inside every module.
func TestChecksInsideEveryModule(t *testing.T) {
	cases := []struct {
		name    string
		variant string
		mutate  func(env *rp.TargetEnv)
		want    string // in the failure reason
	}{
		{"client assertion aud as an array", "pkjwt+mtls/oidc/signed/plain",
			rewriteForms(func(env *rp.TargetEnv, ep string, f url.Values) {
				resign(env.Agent.FAPI.Signer, f, "client_assertion", "", func(c map[string]any) { c["aud"] = []any{c["aud"]} })
			}), "not the issuer as a string"},
		{"client assertion jti reused", "pkjwt+mtls/oidc/signed/plain", reuseAssertion(), "jti reused"},
		{"no mTLS alias with tls_client_auth", "mtls+mtls/oauth/signed/plain",
			func(env *rp.TargetEnv) { env.Agent.FAPI.UseMTLSAliases = false }, "not its mtls_endpoint_aliases entry"},
		{"scope in another order", "pkjwt+dpop/oidc/signed/jarm",
			func(env *rp.TargetEnv) { env.Agent.FAPI.Scopes = []string{"accounts", "openid"} }, "not exactly the configured"},
		{"PKCE method plain", "pkjwt+dpop/oidc/signed/plain",
			rewriteForms(func(env *rp.TargetEnv, ep string, f url.Values) {
				resign(env.Agent.FAPI.Signer, f, "request", "oauth-authz-req+jwt", func(c map[string]any) { c["code_challenge_method"] = "plain" })
			}), "not S256"},
		{"request object without nbf", "mtls+mtls/oidc/signed/plain",
			rewriteForms(func(env *rp.TargetEnv, ep string, f url.Values) {
				resign(env.Agent.FAPI.Signer, f, "request", "oauth-authz-req+jwt", func(c map[string]any) { delete(c, "nbf") })
			}), "without nbf"},
		{"DPoP htu not exactly the endpoint URL", "pkjwt+dpop/oauth/signed/plain",
			rewriteProof(func(c map[string]any) { c["htu"] = strings.Replace(c["htu"].(string), "https://", "HTTPS://", 1) }), "htu"},
		{"DPoP ath at the authorization server", "mtls+dpop/oidc/signed/plain",
			rewriteProof(func(c map[string]any) {
				if _, ok := c["ath"]; !ok {
					c["ath"] = "AAAA"
				}
			}), "ath at an authorization-server endpoint"},
		{"access token in the query", "pkjwt+mtls/oauth/signed/plain", tokenInQuery(), "access token in the query"},
		{"extra authorization parameter", "pkjwt+dpop/oidc/signed/plain", nil, "only client_id and request_uri"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := rp.ParseVariantFilter(tc.variant)
			if err != nil {
				t.Fatal(err)
			}
			target := func(ctx context.Context, env rp.TargetEnv) (http.Handler, error) {
				if tc.mutate != nil {
					tc.mutate(&env)
				}
				h, err := rp.AgentTarget(ctx, env)
				if tc.mutate == nil && h != nil {
					h = extraAuthorizationParam(h)
				}
				return h, err
			}
			rep, err := rp.Run(t.Context(), rp.Options{Plans: []rp.Plan{rp.MessageSigning}, Variants: []rp.VariantFilter{f},
				Modules: []string{"test-happy-path"}, Target: target})
			if err != nil {
				t.Fatal(err)
			}
			res := rep.Results[0]
			if res.Status != rp.Failed || !strings.Contains(res.Reason, tc.want) {
				t.Fatalf("%s %s: %s, want FAILED with %q", res.Variant, res.Module, res.Reason, tc.want)
			}
			t.Logf("%s: FAILED: %s", tc.name, res.Reason)
		})
	}
}

// mutator rewrites requests on their way to the authorization server.
type mutator struct {
	base http.RoundTripper
	fn   func(r *http.Request, body []byte) []byte
}

func (m *mutator) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
	}
	body = m.fn(r, body)
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	return m.base.RoundTrip(r)
}

func withMutator(env *rp.TargetEnv, fn func(r *http.Request, body []byte) []byte) {
	hc := *env.Agent.FAPI.HTTPClient
	hc.Transport = &mutator{base: hc.Transport, fn: fn}
	env.Agent.FAPI.HTTPClient = &hc
}

// rewriteForms edits the form of every PAR and token request.
func rewriteForms(edit func(env *rp.TargetEnv, ep string, f url.Values)) func(*rp.TargetEnv) {
	return func(env *rp.TargetEnv) {
		withMutator(env, func(r *http.Request, body []byte) []byte {
			if r.Method != http.MethodPost {
				return body
			}
			f, _ := url.ParseQuery(string(body))
			edit(env, r.URL.Path, f)
			return []byte(f.Encode())
		})
	}
}

// resign replaces the JWT in form field name with one whose claims edit
// changed, signed again with the client's key.
func resign(s *jws.Signer, f url.Values, name, typ string, edit func(map[string]any)) {
	jwt := f.Get(name)
	if jwt == "" {
		return
	}
	c := payload(jwt)
	edit(c)
	b, _ := json.Marshal(c)
	out, err := s.Sign(b, jws.SignOptions{Typ: typ})
	if err == nil {
		f.Set(name, out)
	}
}

func payload(jwt string) map[string]any {
	parts := strings.Split(jwt, ".")
	var c map[string]any
	if len(parts) == 3 {
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		_ = json.Unmarshal(b, &c)
	}
	if c == nil {
		c = map[string]any{}
	}
	return c
}

// reuseAssertion sends the first client assertion again on later calls.
func reuseAssertion() func(*rp.TargetEnv) {
	var mu sync.Mutex
	var first string
	return rewriteForms(func(_ *rp.TargetEnv, _ string, f url.Values) {
		mu.Lock()
		defer mu.Unlock()
		if first == "" {
			first = f.Get("client_assertion")
		} else if f.Has("client_assertion") {
			f.Set("client_assertion", first)
		}
	})
}

// rewriteProof edits every DPoP proof's claims and signs it again with the
// deployment DPoP key.
func rewriteProof(edit func(map[string]any)) func(*rp.TargetEnv) {
	return func(env *rp.TargetEnv) {
		key := env.Agent.FAPI.DPoPSigner
		withMutator(env, func(r *http.Request, body []byte) []byte {
			if p := r.Header.Get("DPoP"); p != "" {
				c := payload(p)
				edit(c)
				b, _ := json.Marshal(c)
				if out, err := key.Sign(b, jws.SignOptions{Typ: "dpop+jwt", EmbedJWK: true}); err == nil {
					r.Header.Set("DPoP", out)
				}
			}
			return body
		})
	}
}

// tokenInQuery copies the access token into the resource call's query.
func tokenInQuery() func(*rp.TargetEnv) {
	return func(env *rp.TargetEnv) {
		withMutator(env, func(r *http.Request, body []byte) []byte {
			if scheme, at, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && scheme == "Bearer" {
				q := r.URL.Query()
				q.Set("access_token", at)
				r.URL.RawQuery = q.Encode()
			}
			return body
		})
	}
}

// extraAuthorizationParam adds prompt=login to the authorization URL the
// agent hands the SPA.
func extraAuthorizationParam(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/login/start") {
			h.ServeHTTP(w, r)
			return
		}
		rec := &recorder{h: http.Header{}}
		h.ServeHTTP(rec, r)
		var m map[string]any
		if json.Unmarshal(rec.body.Bytes(), &m) == nil {
			if u, ok := m["authorizationRequestUrl"].(string); ok {
				m["authorizationRequestUrl"] = u + "&prompt=login"
			}
		}
		for k, v := range rec.h {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.status)
		json.NewEncoder(w).Encode(m)
	})
}

type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(s int)           { r.status = s }

// TestUnsignedPAR covers the harness's unsigned path: a client that pushes
// plain parameters (the agent's request object taken apart) passes the
// unsigned tls_client_auth variant, which is SKIPPED for fapid's agent, and
// fails the signed one.
func TestUnsignedPAR(t *testing.T) {
	t.Parallel()
	unsign := rewriteForms(func(_ *rp.TargetEnv, ep string, f url.Values) {
		ro := f.Get("request")
		if !strings.HasSuffix(ep, "/par") || ro == "" {
			return
		}
		f.Del("request")
		for k, v := range payload(ro) {
			switch k {
			case "iss", "aud", "iat", "nbf", "exp", "jti":
			default:
				if s, ok := v.(string); ok {
					f.Set(k, s)
				}
			}
		}
	})
	target := func(ctx context.Context, env rp.TargetEnv) (http.Handler, error) {
		unsign(&env)
		return rp.AgentTarget(ctx, env)
	}
	for variant, want := range map[string]rp.Status{"mtls+mtls/oidc/unsigned/plain": rp.Passed, "mtls+mtls/oidc/signed/plain": rp.Failed} {
		f, _ := rp.ParseVariantFilter(variant)
		rep, err := rp.Run(t.Context(), rp.Options{Plans: []rp.Plan{rp.MessageSigning}, Variants: []rp.VariantFilter{f},
			Modules: []string{"test-happy-path"}, Target: target, UnsignedPAR: true})
		if err != nil {
			t.Fatal(err)
		}
		if res := rep.Results[0]; res.Status != want {
			t.Errorf("%s: %s (%s), want %s", variant, res.Status, res.Reason, want)
		}
	}
}
