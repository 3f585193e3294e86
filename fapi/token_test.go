package fapi

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func tokenHandler(as *fakeAS, body map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, body) }
}

func TestExchangeCode(t *testing.T) {
	as := newFakeAS(t)
	idt := as.sign(idClaims(as), "")
	as.handle("/token", tokenHandler(as, map[string]any{
		"access_token": "at-1", "token_type": "bEARER", "expires_in": 300,
		"refresh_token": "rt-1", "id_token": idt, "scope": "openid api:read",
	}))
	c := as.client(func(c *Config) { c.Resources = []string{"https://api.example.test/"} })
	ls := as.loginState(ResponseModeQuery)
	tok, err := c.ExchangeCode(context.Background(), "code-1", ls, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "at-1" || tok.TokenType != "Bearer" || tok.RefreshToken != "rt-1" || tok.Rotated ||
		tok.ExpiresIn != 300*time.Second || !tok.ExpiresAt.Equal(t0.Add(300*time.Second)) || tok.IDToken.Subject != "alice" {
		t.Fatalf("%+v", tok)
	}
	f := as.requests("/token")[0].Form
	for k, v := range map[string]string{
		"grant_type": "authorization_code", "code": "code-1", "redirect_uri": "https://app.example.test/cb",
		"code_verifier": ls.CodeVerifier, "client_id": "client-1", "resource": "https://api.example.test/",
		"client_assertion_type": ClientAssertionType,
	} {
		if f.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, f.Get(k), v)
		}
	}
}

func TestTokenResponseChecks(t *testing.T) {
	as := newFakeAS(t)
	idt := as.sign(idClaims(as), "")
	for _, tc := range []struct {
		name string
		mode SenderConstraint
		body map[string]any
		want []error
	}{
		{"no expires_in ok", SenderMTLS, map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": idt}, nil},
		{"expires_in string ok", SenderMTLS, map[string]any{"access_token": "a", "token_type": "bearer", "id_token": idt, "expires_in": "60"}, nil},
		{"DPoP in mTLS mode", SenderMTLS, map[string]any{"access_token": "a", "token_type": "DPoP", "id_token": idt}, []error{ErrTokenType}},
		{"Bearer in DPoP mode", SenderDPoP, map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": idt}, []error{ErrTokenType}},
		{"dPOP in DPoP mode ok", SenderDPoP, map[string]any{"access_token": "a", "token_type": "dPOP", "id_token": idt}, nil},
		{"odd token type", SenderMTLS, map[string]any{"access_token": "a", "token_type": "mac", "id_token": idt}, []error{ErrTokenType}},
		{"no token type", SenderMTLS, map[string]any{"access_token": "a", "id_token": idt}, []error{ErrTokenType}},
		{"no access token", SenderMTLS, map[string]any{"token_type": "Bearer", "id_token": idt}, []error{ErrMissingClaim}},
		{"header injection", SenderMTLS, map[string]any{"access_token": "a\r\nX: y", "token_type": "Bearer", "id_token": idt}, []error{ErrMalformed}},
		{"no id_token for openid", SenderMTLS, map[string]any{"access_token": "a", "token_type": "Bearer"}, []error{ErrMissingClaim}},
		{"bad id_token", SenderMTLS, map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": noneJWT(t, idClaims(as))}, []error{ErrInvalidIDToken}},
		{"negative expires_in", SenderMTLS, map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": idt, "expires_in": -1}, []error{ErrMalformed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as.handle("/token", tokenHandler(as, tc.body))
			c := as.client(func(c *Config) { c.SenderConstraint = tc.mode; c.DPoPSigner = keys(t).dpSigner })
			tok, err := c.ExchangeCode(context.Background(), "code-1", as.loginState(ResponseModeQuery), nil)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if tok.TokenType != c.TokenScheme() {
					t.Errorf("token type %s", tok.TokenType)
				}
				return
			}
			wantErr(t, err, tc.want...)
		})
	}
}

func TestRefreshRotation(t *testing.T) {
	as := newFakeAS(t)
	c := as.client()
	as.handle("/token", tokenHandler(as, map[string]any{"access_token": "at-2", "token_type": "Bearer", "refresh_token": "rt-2"}))
	tok, err := c.Refresh(context.Background(), RefreshRequest{RefreshToken: "rt-1"})
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "rt-2" || !tok.Rotated {
		t.Fatalf("rotation not applied: %+v", tok)
	}
	f := as.requests("/token")[0].Form
	if f.Get("grant_type") != "refresh_token" || f.Get("refresh_token") != "rt-1" || f.Has("scope") {
		t.Errorf("form %v", f)
	}
	// No new refresh token: keep the old one.
	as.handle("/token", tokenHandler(as, map[string]any{"access_token": "at-3", "token_type": "Bearer"}))
	tok, err = c.Refresh(context.Background(), RefreshRequest{RefreshToken: "rt-2"})
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "rt-2" || tok.Rotated || tok.AccessToken != "at-3" {
		t.Fatalf("old refresh token not kept: %+v", tok)
	}
	// invalid_grant: session over.
	as.handle("/token", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "grant request is invalid"})
	})
	_, err = c.Refresh(context.Background(), RefreshRequest{RefreshToken: "rt-2"})
	if oe, ok := asOAuth(err); !ok || oe.Code != "invalid_grant" || oe.Status != 400 {
		t.Fatalf("got %v", err)
	}
	// A refreshed ID token must keep the subject.
	m := idClaims(as)
	delete(m, "nonce")
	m["sub"] = "mallory"
	as.handle("/token", tokenHandler(as, map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": as.sign(m, "")}))
	_, err = c.Refresh(context.Background(), RefreshRequest{RefreshToken: "rt-2", Subject: "alice"})
	wantErr(t, err, ErrInvalidIDToken, ErrSubject)
}

func TestExchangeCodeServerDown(t *testing.T) {
	as := newFakeAS(t)
	as.handle("/token", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) })
	_, err := as.client().ExchangeCode(context.Background(), "c", as.loginState(ResponseModeQuery), nil)
	wantErr(t, err, ErrUnavailable)
	var he *HTTPError
	if !asType(err, &he) || he.Status != 502 {
		t.Fatalf("%v", err)
	}
}
