package fapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Revoke revokes a token at the revocation endpoint (RFC 7009 §2.1) with
// client authentication; hint ("refresh_token" or "access_token") is sent
// as token_type_hint when non-empty. Revoking the refresh token ends the
// grant. 200 is success, whatever the token's state was.
func (c *Client) Revoke(ctx context.Context, token, hint string) error {
	if token == "" {
		return fmt.Errorf("%w: empty token", ErrConfig)
	}
	endpoint, err := c.endpoint(ctx, "revocation_endpoint", func(m *Metadata) string { return m.RevocationEndpoint })
	if err != nil {
		return err
	}
	res, err := c.postForm(ctx, formCall{
		endpoint: "revocation", url: endpoint, accept: "application/json",
		form: func() (url.Values, error) {
			form := url.Values{"token": {token}}
			if hint != "" {
				form.Set("token_type_hint", hint)
			}
			return form, c.authenticate(form)
		},
	})
	if err != nil {
		return err
	}
	if res.status != http.StatusOK {
		return c.errorFrom("revocation", res)
	}
	return nil
}
