package fapi

import (
	"context"
)

// jarmClaims are the JARM §2.1/§2.2 response claims.
type jarmClaims struct {
	registeredClaims
	Code             string `json:"code"`
	State            string `json:"state"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorURI         string `json:"error_uri"`
}

// ValidateJARM validates a JARM response JWT (JARM §4.4, FAPI 2.0 Message
// Signing 5.4.2) in this order: signature with the authorization server's
// JWKS and an allowed alg (PS256/ES256/EdDSA only: none, HS256, RS256 are
// refused); iss equal to the issuer; aud containing client_id; exp present
// and not past (clock skew); then state (constant-time) and finally code,
// or an error answer as *OAuthError. Encrypted responses are refused.
func (c *Client) ValidateJARM(ctx context.Context, response string, ls LoginState) (*AuthorizationResponse, error) {
	if err := ls.check(c); err != nil {
		return nil, err
	}
	ks, err := c.keys(ctx)
	if err != nil {
		return nil, err
	}
	payload, h, err := ks.Verify(ctx, response)
	if err != nil {
		return nil, jarmInvalid(ErrSignature, err, "response JWT")
	}
	if foreignType(h.Typ) {
		return nil, jarmInvalid(ErrMalformed, nil, "typ %q is not a JARM response", h.Typ)
	}
	var cl jarmClaims
	if _, err := decodeObject(payload, &cl); err != nil {
		return nil, jarmInvalid(ErrMalformed, err, "claims")
	}
	if err := c.checkJARMClaims(&cl, ls); err != nil {
		return nil, err
	}
	if cl.Error != "" {
		return nil, &OAuthError{Endpoint: "authorization", Code: cl.Error, Description: cl.ErrorDescription, URI: cl.ErrorURI}
	}
	if cl.Code == "" {
		return nil, jarmInvalid(ErrMissingClaim, nil, "no code")
	}
	return &AuthorizationResponse{Code: cl.Code, State: cl.State, Issuer: cl.Issuer, JARM: true}, nil
}

func (c *Client) checkJARMClaims(cl *jarmClaims, ls LoginState) error {
	switch {
	case cl.Issuer == "":
		return jarmInvalid(ErrIssuerMismatch, nil, "no iss")
	case cl.Issuer != ls.Issuer:
		return jarmInvalid(ErrIssuerMismatch, nil, "iss %q does not equal issuer %q", cl.Issuer, ls.Issuer)
	case len(cl.Audience) == 0:
		return jarmInvalid(ErrAudience, nil, "no aud")
	case !cl.Audience.Contains(ls.ClientID):
		return jarmInvalid(ErrAudience, nil, "aud %q does not contain client id %q", []string(cl.Audience), ls.ClientID)
	}
	tr := timeRules{now: c.now(), skew: c.cfg.ClockSkew}
	if err := tr.check(ErrInvalidJARM, &cl.registeredClaims, true, false); err != nil {
		return err
	}
	return checkState(ErrInvalidJARM, cl.State, ls.State)
}

func jarmInvalid(reason, cause error, format string, args ...any) error {
	return invalidCause(ErrInvalidJARM, reason, cause, format, args...)
}
