package fapi

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func gatewayClient(as *fakeAS, mode IntrospectionMode) *Client {
	return as.client(func(c *Config) {
		c.ClientID = "gateway-rs"
		c.AuthMethod = AuthTLSClientAuth
		c.Signer = nil
		c.IntrospectionMode = mode
	})
}

func activeInfo(as *fakeAS) map[string]any {
	return map[string]any{
		"active": true, "sub": "alice", "client_id": "client-1", "exp": t0.Unix() + 300, "iat": t0.Unix(),
		"iss": as.issuer, "aud": "https://api.example.test/", "scope": "api:read api:write",
		"cnf": map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}, "token_type": "Bearer",
	}
}

func TestIntrospectJSON(t *testing.T) {
	as := newFakeAS(t)
	as.handle("/introspect", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "application/json" || r.PostForm.Get("token") != "at-1" || r.PostForm.Get("client_id") != "gateway-rs" {
			t.Errorf("request %v %v", r.Header, r.PostForm)
		}
		w.Header().Set("Cache-Control", "private, max-age=120")
		writeJSON(w, 200, activeInfo(as))
	})
	in, err := gatewayClient(as, IntrospectionJSON).Introspect(context.Background(), "at-1", "access_token")
	if err != nil {
		t.Fatal(err)
	}
	if !in.Active || in.Subject != "alice" || in.ClientID != "client-1" || in.CNF.X5TS256 == "" || len(in.Scopes()) != 2 ||
		!in.Expiry.Equal(t0.Add(300*time.Second)) || in.Audience[0] != "https://api.example.test/" ||
		!in.HasMaxAge || in.MaxAge != 120*time.Second || in.JWT != "" {
		t.Fatalf("%+v", in)
	}
	if got := as.requests("/introspect")[0].Form.Get("token_type_hint"); got != "access_token" {
		t.Errorf("hint %q", got)
	}
}

func TestIntrospectJSONAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   any
		active bool
		want   []error
	}{
		{"inactive", 200, map[string]any{"active": false}, false, nil},
		{"active missing", 200, map[string]any{"sub": "alice"}, false, []error{ErrInvalidIntrospection, ErrMissingClaim}},
		{"active string", 200, map[string]any{"active": "true"}, false, []error{ErrInvalidIntrospection, ErrMalformed}},
		{"scope array tolerated", 200, map[string]any{"active": true, "scope": []string{"a", "b"}}, true, nil},
		{"cnf not object", 200, map[string]any{"active": true, "cnf": "x"}, false, []error{ErrMalformed}},
		{"not json", 200, "garbage", false, []error{ErrInvalidIntrospection}},
		{"500", 500, map[string]any{}, false, []error{ErrUnavailable}},
		{"503", 503, nil, false, []error{ErrUnavailable}},
		{"invalid_client", 401, map[string]any{"error": "invalid_client"}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := newFakeAS(t)
			as.handle("/introspect", func(w http.ResponseWriter, r *http.Request) {
				if s, ok := tc.body.(string); ok {
					w.WriteHeader(tc.status)
					_, _ = w.Write([]byte(s))
					return
				}
				writeJSON(w, tc.status, tc.body)
			})
			in, err := gatewayClient(as, IntrospectionJSON).Introspect(context.Background(), "at-1", "")
			switch {
			case tc.status == 401:
				if oe, ok := asOAuth(err); !ok || oe.Code != "invalid_client" {
					t.Fatalf("got %v", err)
				}
			case tc.want == nil:
				if err != nil {
					t.Fatal(err)
				}
				if in.Active != tc.active {
					t.Fatalf("active %v", in.Active)
				}
			default:
				wantErr(t, err, tc.want...)
			}
		})
	}
}

func TestIntrospectRFC9701(t *testing.T) {
	as := newFakeAS(t)
	now := t0.Unix()
	resp := func(h map[string]any) map[string]any {
		m := map[string]any{"iss": as.issuer, "aud": "gateway-rs", "iat": now, "token_introspection": activeInfo(as)}
		for k, v := range h {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	const typ = "token-introspection+jwt"
	for _, tc := range []struct {
		name   string
		jwt    string
		ctype  string
		active bool
		want   []error
	}{
		{"ok", as.sign(resp(nil), typ), "", true, nil},
		{"ok application/ typ", as.sign(resp(nil), "application/token-introspection+jwt"), "", true, nil},
		{"inactive", as.sign(resp(map[string]any{"token_introspection": map[string]any{"active": false}}), typ), "", false, nil},
		{"typ missing", as.sign(resp(nil), ""), "", false, []error{ErrMalformed}},
		{"typ JWT", as.sign(resp(nil), "JWT"), "", false, []error{ErrMalformed}},
		{"iss wrong", as.sign(resp(map[string]any{"iss": as.issuer + "/"}), typ), "", false, []error{ErrIssuerMismatch}},
		{"iss missing", as.sign(resp(map[string]any{"iss": nil}), typ), "", false, []error{ErrIssuerMismatch}},
		{"aud other RS", as.sign(resp(map[string]any{"aud": "other-rs"}), typ), "", false, []error{ErrAudience}},
		{"aud missing", as.sign(resp(map[string]any{"aud": nil}), typ), "", false, []error{ErrAudience}},
		{"iat missing", as.sign(resp(map[string]any{"iat": nil}), typ), "", false, []error{ErrMissingClaim}},
		{"iat stale", as.sign(resp(map[string]any{"iat": now - 600}), typ), "", false, []error{ErrExpired}},
		{"iat future", as.sign(resp(map[string]any{"iat": now + 600}), typ), "", false, []error{ErrNotYetValid}},
		{"no token_introspection", as.sign(resp(map[string]any{"token_introspection": nil}), typ), "", false, []error{ErrMissingClaim}},
		{"active missing inside", as.sign(resp(map[string]any{"token_introspection": map[string]any{"sub": "x"}}), typ), "", false, []error{ErrMissingClaim}},
		{"RS256", rs256JWT(t, resp(nil)), "", false, []error{ErrSignature}},
		{"alg none", noneJWT(t, resp(nil)), "", false, []error{ErrSignature}},
		{"bad signature", corrupt(as.sign(resp(nil), typ)), "", false, []error{ErrSignature}},
		{"JSON answer refused", "", "application/json", false, []error{ErrInvalidIntrospection}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as.handle("/introspect", func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Accept") != "application/token-introspection+jwt" {
					t.Errorf("accept %q", r.Header.Get("Accept"))
				}
				if tc.ctype != "" {
					writeJSON(w, 200, activeInfo(as))
					return
				}
				w.Header().Set("Content-Type", "application/token-introspection+jwt")
				_, _ = w.Write([]byte(tc.jwt))
			})
			in, err := gatewayClient(as, IntrospectionJWT).Introspect(context.Background(), "at-1", "")
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if in.Active != tc.active || (tc.active && (in.JWT != tc.jwt || in.CNF.X5TS256 == "")) {
					t.Fatalf("%+v", in)
				}
				return
			}
			wantErr(t, err, append(tc.want, ErrInvalidIntrospection)...)
		})
	}
}

func TestIntrospectCurity(t *testing.T) {
	as := newFakeAS(t)
	atClaims := activeInfo(as)
	delete(atClaims, "active")
	phantom := as.sign(atClaims, "at+jwt")
	for _, tc := range []struct {
		name   string
		h      http.HandlerFunc
		active bool
		want   []error
	}{
		{"200 JWT", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/jwt")
			w.Header().Set("Cache-Control", "max-age=30")
			_, _ = w.Write([]byte(phantom))
		}, true, nil},
		{"204 inactive", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, false, nil},
		{"200 JSON inactive", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]any{"active": false}) }, false, nil},
		{"RS256 JWT", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/jwt")
			_, _ = w.Write([]byte(rs256JWT(t, atClaims)))
		}, false, []error{ErrInvalidIntrospection, ErrSignature}},
		{"expired JWT", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/jwt")
			c := activeInfo(as)
			c["exp"] = t0.Unix() - 3600
			_, _ = w.Write([]byte(as.sign(c, "")))
		}, false, []error{ErrInvalidIntrospection, ErrExpired}},
		{"wrong issuer", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/jwt")
			c := activeInfo(as)
			c["iss"] = "https://other.example"
			_, _ = w.Write([]byte(as.sign(c, "")))
		}, false, []error{ErrIssuerMismatch}},
		{"502", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }, false, []error{ErrUnavailable}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as.handle("/introspect", func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Accept") != "application/jwt" {
					t.Errorf("accept %q", r.Header.Get("Accept"))
				}
				tc.h(w, r)
			})
			in, err := gatewayClient(as, IntrospectionCurity).Introspect(context.Background(), "at-1", "")
			if tc.want != nil {
				wantErr(t, err, tc.want...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if in.Active != tc.active {
				t.Fatalf("active %v", in.Active)
			}
			if tc.active && (in.JWT != phantom || in.Subject != "alice" || in.MaxAge != 30*time.Second || in.CNF.X5TS256 == "") {
				t.Fatalf("%+v", in)
			}
		})
	}
}

func TestCacheMaxAge(t *testing.T) {
	for _, tc := range []struct {
		h    []string
		want time.Duration
		ok   bool
	}{
		{nil, 0, false},
		{[]string{"max-age=300"}, 300 * time.Second, true},
		{[]string{"private, max-age=60"}, 60 * time.Second, true},
		{[]string{`max-age="45"`}, 45 * time.Second, true},
		{[]string{"Max-Age=10"}, 10 * time.Second, true},
		{[]string{"max-age=60", "no-store"}, 60 * time.Second, true},
		{[]string{"no-cache"}, 0, false},
		{[]string{"no-store"}, 0, false},
		{[]string{"max-age=0"}, 0, true},
		{[]string{"max-age=abc"}, 0, true},
		{[]string{"max-age=-1"}, 0, true},
		{[]string{"public"}, 0, false},
		{[]string{"s-maxage=100"}, 0, false},
	} {
		h := http.Header{}
		for _, v := range tc.h {
			h.Add("Cache-Control", v)
		}
		got, ok := CacheMaxAge(h)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: %v %v, want %v %v", tc.h, got, ok, tc.want, tc.ok)
		}
	}
}
