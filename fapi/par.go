package fapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/cillers/fapid/internal/jws"
)

// AuthorizationStart is the outcome of a pushed authorization request.
type AuthorizationStart struct {
	// URL sends the browser to the authorization endpoint with only
	// client_id and request_uri (FAPI 2.0 SP 5.3.3.2-6).
	URL        string
	RequestURI string
	// ExpiresAt = now + expires_in: the request_uri is single-use and
	// short-lived (< 600 s, SP 5.3.2.2); redirect right away.
	ExpiresAt time.Time
	// Login must be kept (sealed) until the callback.
	Login LoginState
}

// parResponse is the RFC 9126 §2.2 success body.
type parResponse struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  *int64 `json:"expires_in"`
}

// PushAuthorizationRequest starts a login: it draws state, nonce and PKCE,
// signs a request object (RFC 9101) and pushes it with client
// authentication (and a DPoP proof with SenderDPoP) to the PAR endpoint
// (RFC 9126), expecting 201 {request_uri, expires_in}. A use_dpop_nonce
// answer is retried once with the server's nonce and with a newly signed
// request object and client assertion. Error answers come back as
// *OAuthError.
func (c *Client) PushAuthorizationRequest(ctx context.Context, req AuthorizationRequest) (*AuthorizationStart, error) {
	if c.cfg.RedirectURI == "" {
		return nil, fmt.Errorf("%w: no redirect uri configured", ErrConfig)
	}
	parURL, err := c.endpoint(ctx, "pushed_authorization_request_endpoint",
		func(m *Metadata) string { return m.PushedAuthorizationRequestEndpoint })
	if err != nil {
		return nil, err
	}
	authURL, err := c.endpoint(ctx, "authorization_endpoint", func(m *Metadata) string { return m.AuthorizationEndpoint })
	if err != nil {
		return nil, err
	}
	key, err := c.dpopKey(req.DPoP)
	if err != nil {
		return nil, err
	}
	scopes := req.Scopes
	if scopes == nil {
		scopes = c.cfg.Scopes
	}
	ls, _, err := c.newLoginState(scopes)
	if err != nil {
		return nil, err
	}
	if key != nil {
		if ls.DPoPJKT, err = jws.Thumbprint(key.Public()); err != nil {
			return nil, fmt.Errorf("%w: DPoP key: %w", ErrConfig, err)
		}
	}
	// form runs once per attempt: a DPoP-nonce retry carries a new request
	// object (jti, iat/nbf/exp) and client assertion, never a replay of the
	// first. The first run happens before anything is sent, so a bad
	// request (ErrReservedParameter, ErrConfig) costs no round trip.
	res, err := c.postForm(ctx, formCall{
		endpoint: "par", url: parURL, accept: "application/json", dpop: key,
		form: func() (url.Values, error) {
			ro, err := c.RequestObject(ls, req)
			if err != nil {
				return nil, err
			}
			form := url.Values{"request": {ro}}
			return form, c.authenticate(form)
		},
	})
	if err != nil {
		return nil, err
	}
	var pr parResponse
	if _, err := c.expectJSON("par", res, http.StatusCreated, &pr); err != nil {
		return nil, err
	}
	if pr.RequestURI == "" || len(pr.RequestURI) > 2048 {
		return nil, fmt.Errorf("fapi: par endpoint: %w: request_uri missing or over 2048 bytes", ErrUnexpectedResponse)
	}
	if pr.ExpiresIn == nil || *pr.ExpiresIn <= 0 {
		return nil, fmt.Errorf("fapi: par endpoint: %w: expires_in missing or not positive", ErrUnexpectedResponse)
	}
	u, err := AuthorizationURL(authURL, c.cfg.ClientID, pr.RequestURI)
	if err != nil {
		return nil, err
	}
	return &AuthorizationStart{
		URL: u, RequestURI: pr.RequestURI,
		ExpiresAt: c.now().Add(time.Duration(*pr.ExpiresIn) * time.Second), Login: ls,
	}, nil
}

// AuthorizationURL adds client_id and request_uri (and nothing else) to the
// authorization endpoint, keeping any query the endpoint already has.
func AuthorizationURL(authorizationEndpoint, clientID, requestURI string) (string, error) {
	u, err := url.Parse(authorizationEndpoint)
	if err != nil {
		return "", fmt.Errorf("%w: authorization endpoint: %v", ErrMetadata, err)
	}
	q := u.Query()
	q.Set("client_id", clientID)
	q.Set("request_uri", requestURI)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
