package fapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cillers/fapid/internal/jws"
)

// TokenResponse is a validated token endpoint answer (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken string
	// TokenType is "Bearer" or "DPoP" (normalised; the server's spelling is
	// compared case-insensitively, RFC 6749 §5.1).
	TokenType string
	// RefreshToken: the new one; after Refresh, the old one when the server
	// sent none (no rotation). Empty when none was ever issued.
	RefreshToken string
	// Rotated: the server returned a new refresh token.
	Rotated bool
	// IDToken is the validated ID token, nil when none was returned.
	IDToken *IDToken
	// Scope granted, when the server said; empty otherwise (then the
	// requested scope applies, RFC 6749 §5.1).
	Scope string
	// ExpiresIn is zero when the server sent no expires_in (it is optional).
	ExpiresIn time.Duration
	// ExpiresAt = now + ExpiresIn; zero when ExpiresIn is.
	ExpiresAt time.Time
}

type tokenJSON struct {
	AccessToken  string       `json:"access_token"`
	TokenType    string       `json:"token_type"`
	ExpiresIn    *flexSeconds `json:"expires_in"`
	RefreshToken string       `json:"refresh_token"`
	IDToken      string       `json:"id_token"`
	Scope        string       `json:"scope"`
}

// flexSeconds accepts a JSON number or a numeric string (seen in the wild).
type flexSeconds int64

func (f *flexSeconds) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%w: expires_in must be a non-negative integer", ErrMalformed)
	}
	*f = flexSeconds(n)
	return nil
}

// ExchangeCode redeems an authorization code (RFC 6749 §4.1.3) with the
// PKCE verifier and redirect_uri of the login, client authentication and,
// with SenderDPoP, a DPoP proof from the same key as at PAR (dpop nil means
// Config.DPoPSigner). The answer's token_type must fit the sender constraint;
// with OpenID Connect (a nonce was sent) the ID token is required and
// validated. Redeem each code once, right away (codes live ≤ 60 s).
func (c *Client) ExchangeCode(ctx context.Context, code string, ls LoginState, dpop *jws.Signer) (*TokenResponse, error) {
	if err := ls.check(c); err != nil {
		return nil, err
	}
	if code == "" {
		return nil, fmt.Errorf("%w: empty code", ErrConfig)
	}
	key, err := c.dpopKey(dpop)
	if err != nil {
		return nil, err
	}
	if ls.DPoPJKT != "" {
		if key == nil {
			return nil, fmt.Errorf("%w: login used DPoP, no DPoP key now", ErrDPoPBinding)
		}
		if jkt, err := jws.Thumbprint(key.Public()); err != nil || jkt != ls.DPoPJKT {
			return nil, fmt.Errorf("%w: DPoP key differs from the one used at PAR", ErrDPoPBinding)
		}
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {ls.RedirectURI},
		"code_verifier": {ls.CodeVerifier},
	}
	addResources(form, c.cfg.Resources)
	tr, err := c.tokenCall(ctx, form, key)
	if err != nil {
		return nil, err
	}
	res, err := c.finishTokens(tr, "")
	if err != nil {
		return nil, err
	}
	switch {
	case tr.IDToken != "":
		if res.IDToken, err = c.ValidateIDToken(ctx, tr.IDToken, IDTokenOptions{Nonce: ls.Nonce}); err != nil {
			return nil, err
		}
	case ls.Nonce != "":
		return nil, invalid(ErrInvalidTokenResponse, ErrMissingClaim, "no id_token for an OpenID Connect request")
	}
	return res, nil
}

// RefreshRequest is a refresh token grant (RFC 6749 §6).
type RefreshRequest struct {
	RefreshToken string
	// Scopes to narrow to; nil sends no scope (the original grant applies).
	Scopes []string
	// Resources (RFC 8707); nil sends Config.Resources.
	Resources []string
	// DPoP key (SenderDPoP); nil means Config.DPoPSigner.
	DPoP *jws.Signer
	// Subject of the session: a returned ID token must have the same sub.
	Subject string
}

// Refresh uses a refresh token. With rotation the new refresh token is
// returned (Rotated); when none comes back the old one is kept (FAPI 2.0 SP
// 5.3.3.1-6). An invalid_grant answer is an *OAuthError: the session is over.
// A returned ID token is validated (no nonce; same sub when Subject is set).
func (c *Client) Refresh(ctx context.Context, r RefreshRequest) (*TokenResponse, error) {
	if r.RefreshToken == "" {
		return nil, fmt.Errorf("%w: empty refresh token", ErrConfig)
	}
	key, err := c.dpopKey(r.DPoP)
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.RefreshToken}}
	if len(r.Scopes) > 0 {
		form.Set("scope", strings.Join(r.Scopes, " "))
	}
	res := r.Resources
	if res == nil {
		res = c.cfg.Resources
	}
	addResources(form, res)
	tr, err := c.tokenCall(ctx, form, key)
	if err != nil {
		return nil, err
	}
	out, err := c.finishTokens(tr, r.RefreshToken)
	if err != nil {
		return nil, err
	}
	if tr.IDToken != "" {
		if out.IDToken, err = c.ValidateIDToken(ctx, tr.IDToken, IDTokenOptions{Subject: r.Subject}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func addResources(form url.Values, res []string) {
	for _, r := range res {
		form.Add("resource", r)
	}
}

// tokenCall posts to the token endpoint and decodes a 200 answer.
func (c *Client) tokenCall(ctx context.Context, form url.Values, key *jws.Signer) (*tokenJSON, error) {
	tokenURL, err := c.endpoint(ctx, "token_endpoint", func(m *Metadata) string { return m.TokenEndpoint })
	if err != nil {
		return nil, err
	}
	res, err := c.postForm(ctx, formCall{
		endpoint: "token", url: tokenURL, accept: "application/json", dpop: key,
		form: func() (url.Values, error) {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			return f, c.authenticate(f)
		},
	})
	if err != nil {
		return nil, err
	}
	if res.status != http.StatusOK {
		return nil, c.errorFrom("token", res)
	}
	return parseTokenJSON(res.body)
}

// parseTokenJSON decodes and checks the shape of a token answer.
func parseTokenJSON(body []byte) (*tokenJSON, error) {
	var tr tokenJSON
	if _, err := decodeObject(body, &tr); err != nil {
		return nil, invalidCause(ErrInvalidTokenResponse, ErrMalformed, err, "body")
	}
	if tr.AccessToken == "" {
		return nil, invalid(ErrInvalidTokenResponse, ErrMissingClaim, "no access_token")
	}
	if !isB64Token(tr.AccessToken) {
		return nil, invalid(ErrInvalidTokenResponse, ErrMalformed, "access_token is not an RFC 6750 b64token")
	}
	if tr.RefreshToken != "" && !isB64Token(tr.RefreshToken) {
		return nil, invalid(ErrInvalidTokenResponse, ErrMalformed, "refresh_token has characters outside the b64token set")
	}
	return &tr, nil
}

// finishTokens checks token_type against the sender constraint and applies
// refresh-token rotation.
func (c *Client) finishTokens(tr *tokenJSON, oldRT string) (*TokenResponse, error) {
	want := c.TokenScheme()
	if !strings.EqualFold(tr.TokenType, want) {
		return nil, invalid(ErrInvalidTokenResponse, ErrTokenType, "token_type %q, want %q for sender constraint %s",
			tr.TokenType, want, c.cfg.SenderConstraint)
	}
	out := &TokenResponse{AccessToken: tr.AccessToken, TokenType: want, RefreshToken: tr.RefreshToken, Scope: tr.Scope}
	if tr.RefreshToken != "" {
		out.Rotated = oldRT != "" && tr.RefreshToken != oldRT
	} else {
		out.RefreshToken = oldRT
	}
	if tr.ExpiresIn != nil && *tr.ExpiresIn > 0 {
		out.ExpiresIn = time.Duration(*tr.ExpiresIn) * time.Second
		out.ExpiresAt = c.now().Add(out.ExpiresIn)
	}
	return out, nil
}

// isB64Token checks RFC 6750 §2.1: 1*( ALPHA / DIGIT / "-" / "." / "_" /
// "~" / "+" / "/" ) *"=". Anything else could not be sent in a header safely.
func isB64Token(s string) bool {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0 {
			i++
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
