package fapi

import (
	"context"
	"encoding/json"
	"time"
)

// IDToken is a validated ID token (OpenID Connect Core 1.0 §2).
type IDToken struct {
	Raw             string
	Issuer          string
	Subject         string
	Audience        []string
	AuthorizedParty string
	Expiry          time.Time
	IssuedAt        time.Time
	NotBefore       time.Time // zero when absent
	AuthTime        time.Time // zero when absent
	Nonce           string
	ACR             string
	AMR             []string
	SessionID       string
	// Claims holds every claim as raw JSON (for the agent's /claims).
	Claims map[string]json.RawMessage
}

// IDTokenOptions are the per-call expectations.
type IDTokenOptions struct {
	// Nonce sent in the authorization request. When non-empty the token's
	// nonce must equal it; when empty (refresh) a nonce is not required.
	Nonce string
	// Subject expected (refresh: the sub of the first ID token, OIDC Core
	// §12.2). Empty: not checked.
	Subject string
}

type idTokenClaims struct {
	registeredClaims
	AuthorizedParty string       `json:"azp"`
	Nonce           string       `json:"nonce"`
	AuthTime        *NumericDate `json:"auth_time"`
	ACR             string       `json:"acr"`
	AMR             []string     `json:"amr"`
	SessionID       string       `json:"sid"`
}

// ValidateIDToken validates an ID token (OIDC Core §3.1.3.7): the
// signature with the authorization server's JWKS and an allowed alg (FAPI
// 2.0 SP 5.4.1: PS256, ES256, EdDSA; none/HS*/RS* refused); iss equal to
// the issuer byte for byte; aud containing client_id; azp required when
// there are several audiences and, when present, equal to client_id; sub
// present; exp required and not past, nbf not ahead and iat not ahead by
// more than the clock skew (60 s default), iat not older than
// IDTokenMaxAge; nonce equal to the one sent.
func (c *Client) ValidateIDToken(ctx context.Context, raw string, opts IDTokenOptions) (*IDToken, error) {
	ks, err := c.keys(ctx)
	if err != nil {
		return nil, err
	}
	payload, h, err := ks.Verify(ctx, raw)
	if err != nil {
		return nil, invalidCause(ErrInvalidIDToken, ErrSignature, err, "id token")
	}
	if foreignType(h.Typ) {
		return nil, invalid(ErrInvalidIDToken, ErrMalformed, "typ %q is not an ID token", h.Typ)
	}
	return c.checkIDTokenPayload(raw, payload, opts)
}

// checkIDTokenPayload validates the claims of an already verified token.
func (c *Client) checkIDTokenPayload(raw string, payload []byte, opts IDTokenOptions) (*IDToken, error) {
	var cl idTokenClaims
	all, err := decodeObject(payload, &cl)
	if err != nil {
		return nil, invalidCause(ErrInvalidIDToken, ErrMalformed, err, "claims")
	}
	if err := c.checkIDTokenClaims(&cl, opts); err != nil {
		return nil, err
	}
	t := &IDToken{
		Raw: raw, Issuer: cl.Issuer, Subject: cl.Subject, Audience: cl.Audience,
		AuthorizedParty: cl.AuthorizedParty, Expiry: cl.Expiry.Time, IssuedAt: cl.IssuedAt.Time,
		Nonce: cl.Nonce, ACR: cl.ACR, AMR: cl.AMR, SessionID: cl.SessionID, Claims: all,
	}
	if cl.NotBefore != nil {
		t.NotBefore = cl.NotBefore.Time
	}
	if cl.AuthTime != nil {
		t.AuthTime = cl.AuthTime.Time
	}
	return t, nil
}

func (c *Client) checkIDTokenClaims(cl *idTokenClaims, opts IDTokenOptions) error {
	id := c.cfg.ClientID
	switch {
	case cl.Issuer == "":
		return invalid(ErrInvalidIDToken, ErrIssuerMismatch, "no iss")
	case cl.Issuer != c.cfg.Issuer:
		return invalid(ErrInvalidIDToken, ErrIssuerMismatch, "iss %q does not equal issuer %q", cl.Issuer, c.cfg.Issuer)
	case len(cl.Audience) == 0:
		return invalid(ErrInvalidIDToken, ErrAudience, "no aud")
	case !cl.Audience.Contains(id):
		return invalid(ErrInvalidIDToken, ErrAudience, "aud %q does not contain client id %q", []string(cl.Audience), id)
	case len(cl.Audience) > 1 && cl.AuthorizedParty == "":
		return invalid(ErrInvalidIDToken, ErrAudience, "several audiences %q and no azp", []string(cl.Audience))
	case cl.AuthorizedParty != "" && cl.AuthorizedParty != id:
		return invalid(ErrInvalidIDToken, ErrAudience, "azp %q is not client id %q", cl.AuthorizedParty, id)
	case cl.Subject == "":
		return invalid(ErrInvalidIDToken, ErrMissingClaim, "no sub")
	case opts.Subject != "" && cl.Subject != opts.Subject:
		return invalid(ErrInvalidIDToken, ErrSubject, "sub differs from the session's")
	}
	tr := timeRules{now: c.now(), skew: c.cfg.ClockSkew, maxAge: c.cfg.IDTokenMaxAge}
	if err := tr.check(ErrInvalidIDToken, &cl.registeredClaims, true, true); err != nil {
		return err
	}
	if opts.Nonce != "" {
		if cl.Nonce == "" {
			return invalid(ErrInvalidIDToken, ErrNonce, "no nonce")
		}
		if !equalSecret(cl.Nonce, opts.Nonce) {
			return invalid(ErrInvalidIDToken, ErrNonce, "nonce differs from the one sent")
		}
	}
	return nil
}
