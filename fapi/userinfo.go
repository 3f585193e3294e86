package fapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/cillers/fapid/internal/jws"
)

// UserInfo is a validated userinfo answer (OIDC Core §5.3).
type UserInfo struct {
	Subject string
	// Claims holds every claim as raw JSON.
	Claims map[string]json.RawMessage
	// JWT is the signed answer when the server sent application/jwt.
	JWT string
}

// UserInfoOptions are the per-call choices.
type UserInfoOptions struct {
	// DPoP key (SenderDPoP); nil means Config.DPoPSigner.
	DPoP *jws.Signer
	// Subject of the ID token: the answer's sub must equal it (OIDC Core
	// §5.3.2). Empty: not checked.
	Subject string
}

// UserInfo calls the userinfo endpoint with the access token in the
// Authorization header (Bearer, or DPoP with a proof carrying ath and one
// nonce retry). A JSON answer is read as is; an application/jwt answer is
// verified with the AS JWKS and must carry iss = issuer and aud containing
// client_id. sub is required. A rejected token is an *OAuthError with
// Status 401 (for the agent: token_expired, refresh and retry).
func (c *Client) UserInfo(ctx context.Context, accessToken string, opts UserInfoOptions) (*UserInfo, error) {
	endpoint, err := c.endpoint(ctx, "userinfo_endpoint", func(m *Metadata) string { return m.UserinfoEndpoint })
	if err != nil {
		return nil, err
	}
	if !isB64Token(accessToken) {
		return nil, fmt.Errorf("%w: access token is empty or not a b64token", ErrConfig)
	}
	key, err := c.dpopKey(opts.DPoP)
	if err != nil {
		return nil, err
	}
	build := func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: userinfo URL: %v", ErrConfig, err)
		}
		req.Header.Set("Accept", "application/json, application/jwt")
		req.Header.Set("Authorization", c.TokenScheme()+" "+accessToken)
		return req, nil
	}
	res, err := c.sendWithDPoP("userinfo", build, key, accessToken)
	if err != nil {
		return nil, err
	}
	if res.status != http.StatusOK {
		return nil, c.errorFrom("userinfo", res)
	}
	ui, err := c.parseUserInfo(ctx, res)
	if err != nil {
		return nil, err
	}
	if opts.Subject != "" && ui.Subject != opts.Subject {
		return nil, invalid(ErrInvalidUserInfo, ErrSubject, "sub differs from the ID token's")
	}
	return ui, nil
}

func (c *Client) parseUserInfo(ctx context.Context, res *response) (*UserInfo, error) {
	ui := &UserInfo{}
	body := res.body
	if res.mediaType() == "application/jwt" {
		ks, err := c.keys(ctx)
		if err != nil {
			return nil, err
		}
		payload, h, err := ks.Verify(ctx, string(body))
		if err != nil {
			return nil, invalidCause(ErrInvalidUserInfo, ErrSignature, err, "userinfo JWT")
		}
		if foreignType(h.Typ) {
			return nil, invalid(ErrInvalidUserInfo, ErrMalformed, "typ %q is not a userinfo JWT", h.Typ)
		}
		var rc registeredClaims
		if _, err := decodeObject(payload, &rc); err != nil {
			return nil, invalidCause(ErrInvalidUserInfo, ErrMalformed, err, "claims")
		}
		if err := c.checkIssuerAudience(ErrInvalidUserInfo, &rc, true); err != nil {
			return nil, err
		}
		ui.JWT, body = string(body), payload
	}
	var cl struct {
		Subject string `json:"sub"`
	}
	raw, err := decodeObject(body, &cl)
	if err != nil {
		return nil, invalidCause(ErrInvalidUserInfo, ErrMalformed, err, "body")
	}
	if cl.Subject == "" {
		return nil, invalid(ErrInvalidUserInfo, ErrMissingClaim, "no sub")
	}
	ui.Subject, ui.Claims = cl.Subject, raw
	return ui, nil
}
