package fapi

import (
	"encoding/json"
	"fmt"
	"net/url"
)

// ClientAssertionType is the RFC 7523 §2.2 client_assertion_type.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// clientAssertionClaims are the RFC 7523 §3 claims of a private_key_jwt
// assertion. aud is the issuer as a plain string (FAPI 2.0 SP 5.3.3.1-5).
type clientAssertionClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ID        string `json:"jti"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expiry    int64  `json:"exp"`
}

// ClientAssertion returns a fresh private_key_jwt client assertion: iss =
// sub = client_id, aud = issuer (a string), a new jti on every call, iat =
// nbf = now, exp = now + 60 s, signed by Config.Signer.
func (c *Client) ClientAssertion() (string, error) {
	if c.cfg.Signer == nil {
		return "", fmt.Errorf("%w: no Signer for private_key_jwt", ErrConfig)
	}
	jti, err := RandomValue(c.rand)
	if err != nil {
		return "", err
	}
	now := c.now().Unix()
	payload, err := json.Marshal(clientAssertionClaims{
		Issuer: c.cfg.ClientID, Subject: c.cfg.ClientID, Audience: c.cfg.Issuer, ID: jti,
		IssuedAt: now, NotBefore: now, Expiry: now + int64(DefaultClientAssertionTTL.Seconds()),
	})
	if err != nil {
		return "", err
	}
	jwt, err := c.cfg.Signer.Sign(payload, signOpts(""))
	if err != nil {
		return "", fmt.Errorf("fapi: signing client assertion: %w", err)
	}
	return jwt, nil
}

// authenticate adds client authentication to a back-channel form:
// client_id always (RFC 8705 §2 needs it for tls_client_auth; RFC 7523
// allows it), plus the assertion for private_key_jwt. mTLS itself is the
// HTTP client's business.
func (c *Client) authenticate(form url.Values) error {
	form.Set("client_id", c.cfg.ClientID)
	if c.cfg.AuthMethod != AuthPrivateKeyJWT {
		return nil
	}
	a, err := c.ClientAssertion()
	if err != nil {
		return err
	}
	form.Set("client_assertion_type", ClientAssertionType)
	form.Set("client_assertion", a)
	return nil
}
