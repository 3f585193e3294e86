package fapi

import (
	"context"
	"fmt"
	"net/url"
)

// EndSessionURL builds the RP-initiated logout URL (OpenID Connect
// RP-Initiated Logout 1.0 §2): the end_session_endpoint with id_token_hint
// (when given), client_id, post_logout_redirect_uri (from Config only, never
// from a request: no open redirect) and state (when given).
func (c *Client) EndSessionURL(ctx context.Context, idTokenHint, state string) (string, error) {
	endpoint, err := c.endpoint(ctx, "end_session_endpoint", func(m *Metadata) string { return m.EndSessionEndpoint })
	if err != nil {
		return "", err
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("%w: end_session_endpoint: %v", ErrMetadata, err)
	}
	q := u.Query()
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	}
	q.Set("client_id", c.cfg.ClientID)
	if c.cfg.PostLogoutRedirectURI != "" {
		q.Set("post_logout_redirect_uri", c.cfg.PostLogoutRedirectURI)
	}
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
