package fapiflow_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/fapi"
)

// tokenWant is what introspection must say about an active access token.
type tokenWant struct {
	clientID  string
	tokenType string // "Bearer" or "DPoP"
	x5t, jkt  string // the cnf binding: exactly one is set
	api       bool   // an API token (aud = interop.APIResource), not a userinfo token
}

func (e *testEnv) wantToken(t *testing.T, v variant, api bool) tokenWant {
	t.Helper()
	p := e.parties[v.client]
	w := tokenWant{clientID: v.client, tokenType: "Bearer", api: api}
	if v.sender == fapi.SenderDPoP {
		w.tokenType, w.jkt = "DPoP", thumbprint(t, p.dpop)
	} else {
		w.x5t = p.x5t()
	}
	return w
}

// checkIntrospection asks every resource-server view about an active access token.
func (e *testEnv) checkIntrospection(t *testing.T, rs []rsView, token string, w tokenWant) {
	t.Helper()
	for _, r := range rs {
		in, err := r.c.Introspect(t.Context(), token, "access_token")
		if err != nil {
			t.Errorf("Introspect as %s: %v\nserver: %s", r.name, err, e.stderr.String())
			continue
		}
		if !in.Active || in.Subject != testUser || in.ClientID != w.clientID || in.Issuer != e.srv.Issuer() ||
			!strings.EqualFold(in.TokenType, w.tokenType) || time.Until(in.Expiry) <= 0 {
			t.Errorf("introspection as %s: active %v sub %q client_id %q iss %q token_type %q exp %v", r.name,
				in.Active, in.Subject, in.ClientID, in.Issuer, in.TokenType, in.Expiry)
		}
		if !slices.Contains(in.Scopes(), interop.APIScope) {
			t.Errorf("introspection as %s: scope %q lacks %s", r.name, in.Scope, interop.APIScope)
		}
		if w.api != slices.Contains(in.Audience, interop.APIResource) {
			t.Errorf("introspection as %s: aud %q, API token %v", r.name, in.Audience, w.api)
		}
		if in.CNF.X5TS256 != w.x5t || in.CNF.JKT != w.jkt {
			t.Errorf("introspection as %s: cnf %+v, want x5t#S256 %q jkt %q", r.name, in.CNF, w.x5t, w.jkt)
		}
		if in.HasMaxAge { // the server says Cache-Control: no-store, and no max-age
			t.Errorf("introspection as %s: cache max-age %v, want none", r.name, in.MaxAge)
		}
		if (in.JWT != "") != (r.mode == fapi.IntrospectionJWT) {
			t.Errorf("introspection as %s: signed answer present %v", r.name, in.JWT != "")
		}
	}
}

// checkInactive: every view says the token is not active.
func (e *testEnv) checkInactive(t *testing.T, rs []rsView, what, token string) {
	t.Helper()
	for _, r := range rs {
		in, err := r.c.Introspect(t.Context(), token, "")
		if err != nil {
			t.Errorf("Introspect %s as %s: %v", what, r.name, err)
		} else if in.Active {
			t.Errorf("introspection as %s: %s is active", r.name, what)
		}
	}
}

// checkIDToken validates the code exchange's ID token again through ValidateIDToken, and
// checks that the same real token fails for the wrong nonce, subject or client.
func (e *testEnv) checkIDToken(t *testing.T, c *fapi.Client, v variant, fl *flow) {
	t.Helper()
	ctx := t.Context()
	raw := fl.tok.IDToken.Raw
	if alg := jwtAlg(t, raw); alg != v.alg {
		t.Errorf("ID token alg %q, want %q", alg, v.alg)
	}
	id, err := c.ValidateIDToken(ctx, raw, fapi.IDTokenOptions{Nonce: fl.start.Login.Nonce, Subject: testUser})
	if err != nil || id.Subject != testUser {
		t.Fatalf("ValidateIDToken: %v", err)
	}
	if _, err := c.ValidateIDToken(ctx, raw, fapi.IDTokenOptions{Nonce: strings.Repeat("n", 43)}); !errors.Is(err, fapi.ErrNonce) ||
		!errors.Is(err, fapi.ErrInvalidIDToken) {
		t.Errorf("ID token with another nonce: %v, want ErrNonce", err)
	}
	if _, err := c.ValidateIDToken(ctx, raw, fapi.IDTokenOptions{Subject: "mallory"}); !errors.Is(err, fapi.ErrSubject) {
		t.Errorf("ID token for another subject: %v, want ErrSubject", err)
	}
	other := variants[(slices.IndexFunc(variants, func(o variant) bool { return o.client == v.client })+1)%len(variants)]
	if _, err := e.agent(t, other.client).ValidateIDToken(ctx, raw, fapi.IDTokenOptions{}); !errors.Is(err, fapi.ErrAudience) {
		t.Errorf("ID token validated by client %s: %v, want ErrAudience", other.client, err)
	}
}

// jwtAlg reads the alg of a compact JWS header (inspection only; fapi did the verifying).
func jwtAlg(t *testing.T, compact string) string {
	t.Helper()
	return jwtHeader(t, compact).Alg
}

// decodeSegment decodes one base64url JSON segment of a compact JWS.
func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// checkRotated: the refresh answer carries a new refresh token and a new access token.
func checkRotated(t *testing.T, c *fapi.Client, old, tok *fapi.TokenResponse) {
	t.Helper()
	if !tok.Rotated || tok.RefreshToken == "" || tok.RefreshToken == old.RefreshToken {
		t.Errorf("refresh: rotated %v, new refresh token differs %v", tok.Rotated, tok.RefreshToken != old.RefreshToken)
	}
	if tok.AccessToken == "" || tok.AccessToken == old.AccessToken || tok.TokenType != c.TokenScheme() {
		t.Errorf("refresh: new access token %v, token_type %q", tok.AccessToken != old.AccessToken, tok.TokenType)
	}
	if tok.IDToken != nil && tok.IDToken.Subject != testUser {
		t.Errorf("refreshed ID token sub %q", tok.IDToken.Subject)
	}
}

// checkUserInfo calls userinfo with the (bound) userinfo token, then checks the refusals: the
// wrong expected subject, the API token (it has an audience), and the token without its binding
// (another client certificate, or another DPoP key).
func (e *testEnv) checkUserInfo(t *testing.T, c *fapi.Client, v variant, p *party, tok, tok2 *fapi.TokenResponse) {
	t.Helper()
	ctx := t.Context()
	ui, err := c.UserInfo(ctx, tok2.AccessToken, fapi.UserInfoOptions{Subject: tok.IDToken.Subject})
	if err != nil {
		t.Fatalf("UserInfo: %v\nserver: %s", err, e.stderr.String())
	}
	if ui.Subject != testUser || string(ui.Claims["sub"]) != `"`+testUser+`"` {
		t.Errorf("userinfo sub %q, claims %v", ui.Subject, ui.Claims)
	}
	checkDoResource(t, c, tok2.AccessToken)
	if _, err := c.UserInfo(ctx, tok2.AccessToken, fapi.UserInfoOptions{Subject: "mallory"}); !errors.Is(err, fapi.ErrSubject) ||
		!errors.Is(err, fapi.ErrInvalidUserInfo) {
		t.Errorf("userinfo for another subject: %v, want ErrSubject", err)
	}
	// The API token has neither the openid scope nor the userinfo audience: 403 insufficient_scope.
	wantRefused(t, "userinfo with the API token", http.StatusForbidden, func() error {
		_, err := c.UserInfo(ctx, tok.AccessToken, fapi.UserInfoOptions{})
		return err
	})
	wantRefused(t, "userinfo without the token's binding", http.StatusUnauthorized, func() error {
		if v.sender == fapi.SenderDPoP {
			other, err := newDPoPKey("")
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.UserInfo(ctx, tok2.AccessToken, fapi.UserInfoOptions{DPoP: other})
			return err
		}
		cfg := p.agentConfig(e.srv.Issuer())
		cfg.HTTPClient = e.parties[rsTLS].http // another client's certificate
		_, err := newClient(t, cfg).UserInfo(ctx, tok2.AccessToken, fapi.UserInfoOptions{})
		return err
	})
}

// checkDoResource calls the userinfo endpoint as a protected resource through DoResource (the
// gateway-side API: Bearer with the bound certificate, or DPoP with a proof carrying ath).
func checkDoResource(t *testing.T, c *fapi.Client, accessToken string) {
	t.Helper()
	m, err := c.Metadata(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, m.UserinfoEndpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.DoResource(t.Context(), req, accessToken, nil)
	if err != nil {
		t.Fatalf("DoResource: %v", err)
	}
	defer res.Body.Close()
	var body struct{ Sub string }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK || body.Sub != testUser {
		t.Errorf("DoResource on userinfo: status %d, sub %q, %v", res.StatusCode, body.Sub, err)
	}
}

// wantRefused expects an *fapi.OAuthError with the given status from the userinfo endpoint.
func wantRefused(t *testing.T, what string, status int, call func() error) {
	t.Helper()
	err := call()
	var oe *fapi.OAuthError
	if !errors.As(err, &oe) || oe.Status != status || oe.Endpoint != "userinfo" || oe.Code == "" {
		t.Errorf("%s: %v, want an OAuthError with HTTP %d", what, err, status)
	}
	if errors.Is(err, fapi.ErrUnavailable) {
		t.Errorf("%s: a refusal must not count as unavailable", what)
	}
}

// checkRevoke revokes the refresh token: the grant ends, so introspection says every token of
// the login is inactive and the refresh token is refused. Revoking again still succeeds
// (RFC 7009 §2.2).
func (e *testEnv) checkRevoke(t *testing.T, c *fapi.Client, rs []rsView, tok, tok2 *fapi.TokenResponse) {
	t.Helper()
	ctx := t.Context()
	if err := c.Revoke(ctx, tok2.RefreshToken, "refresh_token"); err != nil {
		t.Fatalf("Revoke: %v\nserver: %s", err, e.stderr.String())
	}
	e.checkInactive(t, rs, "revoked refresh token", tok2.RefreshToken)
	e.checkInactive(t, rs[:1], "access token of the revoked grant", tok.AccessToken)
	e.checkInactive(t, rs[:1], "userinfo token of the revoked grant", tok2.AccessToken)
	if err := c.Revoke(ctx, tok2.RefreshToken, "refresh_token"); err != nil {
		t.Errorf("Revoke again: %v", err)
	}
	_, err := c.Refresh(ctx, fapi.RefreshRequest{RefreshToken: tok2.RefreshToken})
	wantInvalidGrant(t, "refresh with the revoked refresh token", err, tok2.RefreshToken)
}

func wantInvalidGrant(t *testing.T, what string, err error, secret string) {
	t.Helper()
	var oe *fapi.OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_grant" || oe.Status != http.StatusBadRequest || oe.Endpoint != "token" {
		t.Errorf("%s: %v, want invalid_grant (400)", what, err)
	}
	if errors.Is(err, fapi.ErrUnavailable) {
		t.Errorf("%s: invalid_grant must not count as unavailable", what)
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("%s: the error string contains the refresh token", what)
	}
}

// checkEndSession builds the RP-initiated logout URL and follows it in the login's browser.
func (e *testEnv) checkEndSession(t *testing.T, c *fapi.Client, m *fapi.Metadata, p *party, b *interop.Browser, idt string) {
	t.Helper()
	ctx := t.Context()
	var sb [16]byte
	rand.Read(sb[:])
	state := base64.RawURLEncoding.EncodeToString(sb[:])
	raw, err := c.EndSessionURL(ctx, idt, state)
	if err != nil {
		t.Fatalf("EndSessionURL: %v", err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	post := p.spec.PostLogoutRedirectURIs[0]
	if base := u.Scheme + "://" + u.Host + u.Path; base != m.EndSessionEndpoint || len(q) != 4 ||
		q.Get("id_token_hint") != idt || q.Get("post_logout_redirect_uri") != post ||
		q.Get("client_id") != p.spec.ID || q.Get("state") != state {
		t.Errorf("end-session URL %s with parameters %v", base, slices.Sorted(maps.Keys(q)))
	}
	out, err := b.Logout(ctx, raw)
	if err != nil {
		t.Fatalf("Logout: %v\nserver: %s", err, e.stderr.String())
	}
	if want := post + "?state=" + url.QueryEscape(state); out != want {
		t.Errorf("logout went to %q, want %q", out, want)
	}
}
