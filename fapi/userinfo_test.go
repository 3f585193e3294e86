package fapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestUserInfo(t *testing.T) {
	as := newFakeAS(t)
	c := as.client()
	as.handle("/me", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at-1" {
			t.Errorf("authorization %q", r.Header.Get("Authorization"))
		}
		writeJSON(w, 200, map[string]any{"sub": "alice", "email": "alice@example.test"})
	})
	ui, err := c.UserInfo(context.Background(), "at-1", UserInfoOptions{Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if ui.Subject != "alice" || string(ui.Claims["email"]) != `"alice@example.test"` || ui.JWT != "" {
		t.Fatalf("%+v", ui)
	}
	_, err = c.UserInfo(context.Background(), "at-1", UserInfoOptions{Subject: "bob"})
	wantErr(t, err, ErrInvalidUserInfo, ErrSubject)
	if _, err := c.UserInfo(context.Background(), "", UserInfoOptions{}); err == nil {
		t.Fatal("empty token accepted")
	}
}

func TestUserInfoSigned(t *testing.T) {
	as := newFakeAS(t)
	c := as.client()
	claims := map[string]any{"sub": "alice", "iss": as.issuer, "aud": "client-1", "email": "a@x"}
	for _, tc := range []struct {
		name string
		jwt  string
		want []error
	}{
		{"ok", as.sign(claims, ""), nil},
		{"no aud", as.sign(map[string]any{"sub": "alice", "iss": as.issuer}, ""), []error{ErrAudience}},
		{"wrong iss", as.sign(map[string]any{"sub": "alice", "iss": "https://x", "aud": "client-1"}, ""), []error{ErrIssuerMismatch}},
		{"alg none", noneJWT(t, claims), []error{ErrSignature}},
		{"RS256", rs256JWT(t, claims), []error{ErrSignature}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as.handle("/me", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/jwt")
				_, _ = w.Write([]byte(tc.jwt))
			})
			ui, err := c.UserInfo(context.Background(), "at-1", UserInfoOptions{})
			if tc.want == nil {
				if err != nil || ui.JWT != tc.jwt || ui.Subject != "alice" {
					t.Fatalf("%+v %v", ui, err)
				}
				return
			}
			wantErr(t, err, append(tc.want, ErrInvalidUserInfo)...)
		})
	}
}

func TestUserInfoErrors(t *testing.T) {
	as := newFakeAS(t)
	c := as.client()
	as.handle("/me", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="invalid token provided"`)
		w.WriteHeader(401)
	})
	_, err := c.UserInfo(context.Background(), "at-1", UserInfoOptions{})
	if oe, ok := asOAuth(err); !ok || oe.Status != 401 || oe.Code != "invalid_token" || oe.Endpoint != "userinfo" {
		t.Fatalf("got %v", err)
	}
	as.handle("/me", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]any{"email": "x"}) })
	_, err = c.UserInfo(context.Background(), "at-1", UserInfoOptions{})
	wantErr(t, err, ErrInvalidUserInfo, ErrMissingClaim)
}

func TestUserInfoDPoP(t *testing.T) {
	as := newFakeAS(t)
	n := 0
	as.handle("/me", func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			w.Header().Set("DPoP-Nonce", "ui-nonce")
			w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce"`)
			w.WriteHeader(401)
			return
		}
		writeJSON(w, 200, map[string]any{"sub": "alice"})
	})
	c := dpopClient(as)
	if _, err := c.UserInfo(context.Background(), "at-1", UserInfoOptions{}); err != nil {
		t.Fatal(err)
	}
	r := as.requests("/me")[1]
	p := payloadOf(t, r.Header.Get("DPoP"))
	if r.Header.Get("Authorization") != "DPoP at-1" || p["ath"] != AccessTokenHash("at-1") || p["nonce"] != "ui-nonce" || p["htm"] != "GET" {
		t.Fatalf("%v %v", r.Header, p)
	}
}

func TestRevoke(t *testing.T) {
	as := newFakeAS(t)
	as.handle("/revoke", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	c := as.client()
	if err := c.Revoke(context.Background(), "rt-1", "refresh_token"); err != nil {
		t.Fatal(err)
	}
	f := as.requests("/revoke")[0].Form
	if f.Get("token") != "rt-1" || f.Get("token_type_hint") != "refresh_token" || f.Get("client_assertion") == "" {
		t.Fatalf("form %v", f)
	}
	as.handle("/revoke", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 400, map[string]any{"error": "unsupported_token_type"})
	})
	if oe, ok := asOAuth(c.Revoke(context.Background(), "rt-1", "")); !ok || oe.Code != "unsupported_token_type" {
		t.Fatal("want OAuthError")
	}
	as.handle("/revoke", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	wantErr(t, c.Revoke(context.Background(), "rt-1", ""), ErrUnavailable)
}

func TestEndSessionURL(t *testing.T) {
	as := newFakeAS(t)
	c := as.client()
	s, err := c.EndSessionURL(context.Background(), "id.token.hint", "st")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(s)
	q := u.Query()
	if !strings.HasPrefix(s, as.issuer+"/session/end?") || q.Get("id_token_hint") != "id.token.hint" || q.Get("client_id") != "client-1" ||
		q.Get("post_logout_redirect_uri") != "https://app.example.test/bye" || q.Get("state") != "st" || len(q) != 4 {
		t.Fatalf("%s", s)
	}
	s, _ = c.EndSessionURL(context.Background(), "", "")
	if u, _ := url.Parse(s); len(u.Query()) != 2 {
		t.Fatalf("%s", s)
	}
	delete(as.meta, "end_session_endpoint")
	c2 := as.client()
	_, err = c2.EndSessionURL(context.Background(), "", "")
	wantErr(t, err, ErrNoEndpoint)
}
