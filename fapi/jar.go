package fapi

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/cillers/fapid/internal/jws"
)

// TypRequestObject is the JWT "typ" of request objects (RFC 9101 §10.8).
const TypRequestObject = "oauth-authz-req+jwt"

// AuthorizationRequest holds the per-login choices; the protocol values
// (state, nonce, PKCE, redirect_uri, response type and mode) come from the
// Client and cannot be overridden (CASES H01).
type AuthorizationRequest struct {
	// Scopes: nil means Config.Scopes. Sent space-separated in this order.
	Scopes []string
	// Resources (RFC 8707): nil means Config.Resources.
	Resources []string
	// Extra authorization parameters, e.g. prompt, login_hint, acr_values,
	// ui_locales, max_age (an integer), claims (a JSON object) or
	// authorization_details (a JSON array). Protocol parameters are refused
	// with ErrReservedParameter.
	Extra map[string]string
	// DPoP key for the PAR call (SenderDPoP): nil means Config.DPoPSigner.
	// Use the same key at the token endpoint.
	DPoP *jws.Signer
}

// reservedParams may not appear in AuthorizationRequest.Extra.
var reservedParams = map[string]bool{
	"iss": true, "aud": true, "sub": true, "iat": true, "nbf": true, "exp": true, "jti": true,
	"client_id": true, "response_type": true, "response_mode": true, "redirect_uri": true,
	"scope": true, "state": true, "nonce": true, "code_challenge": true,
	"code_challenge_method": true, "request": true, "request_uri": true, "resource": true,
	"dpop_jkt": true, "client_assertion": true, "client_assertion_type": true,
	"registration": true, "client_secret": true,
}

const (
	maxExtraParams     = 32
	maxExtraValueBytes = 4096
)

// RequestObject returns the signed request object (RFC 9101, FAPI 2.0
// Message Signing 5.3.2) for a login: header typ oauth-authz-req+jwt;
// claims iss = client_id, aud = issuer, client_id, iat = nbf = now,
// exp = nbf + 5 min, a fresh jti, response_type=code, response_mode=jwt
// with JARM, redirect_uri, scope, state, nonce (OpenID Connect only),
// code_challenge + S256, resource, and the extra parameters.
func (c *Client) RequestObject(ls LoginState, req AuthorizationRequest) (string, error) {
	if c.cfg.Signer == nil {
		return "", fmt.Errorf("%w: request objects need a Signer", ErrConfig)
	}
	claims, err := c.requestClaims(ls, req)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("fapi: request object: %w", err)
	}
	jwt, err := c.cfg.Signer.Sign(payload, signOpts(TypRequestObject))
	if err != nil {
		return "", fmt.Errorf("fapi: signing request object: %w", err)
	}
	return jwt, nil
}

func (c *Client) requestClaims(ls LoginState, req AuthorizationRequest) (map[string]any, error) {
	if err := ls.check(c); err != nil {
		return nil, err
	}
	claims := make(map[string]any, 20)
	if err := addExtra(claims, req.Extra); err != nil {
		return nil, err
	}
	jti, err := RandomValue(c.rand)
	if err != nil {
		return nil, err
	}
	now := c.now().Unix()
	scopes := req.Scopes
	if scopes == nil {
		scopes = c.cfg.Scopes
	}
	claims["iss"] = c.cfg.ClientID
	claims["aud"] = c.cfg.Issuer
	claims["client_id"] = c.cfg.ClientID
	claims["iat"] = now
	claims["nbf"] = now
	claims["exp"] = now + int64(DefaultRequestObjectLife.Seconds())
	claims["jti"] = jti
	claims["response_type"] = "code"
	if ls.ResponseMode == string(ResponseModeJWT) {
		claims["response_mode"] = "jwt"
	}
	claims["redirect_uri"] = ls.RedirectURI
	if len(scopes) > 0 {
		claims["scope"] = strings.Join(scopes, " ")
	}
	claims["state"] = ls.State
	if ls.Nonce != "" {
		claims["nonce"] = ls.Nonce
	}
	claims["code_challenge"] = PKCEChallenge(ls.CodeVerifier)
	claims["code_challenge_method"] = "S256"
	res := req.Resources
	if res == nil {
		res = c.cfg.Resources
	}
	if err := setResource(claims, res); err != nil {
		return nil, err
	}
	return claims, nil
}

// setResource puts one resource as a string, several as an array.
func setResource(claims map[string]any, res []string) error {
	for _, r := range res {
		if err := checkResource(r); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	switch len(res) {
	case 0:
	case 1:
		claims["resource"] = res[0]
	default:
		claims["resource"] = res
	}
	return nil
}

// addExtra copies the extra parameters, typing the few that are not strings.
func addExtra(claims map[string]any, extra map[string]string) error {
	if len(extra) > maxExtraParams {
		return fmt.Errorf("%w: more than %d extra parameters", ErrReservedParameter, maxExtraParams)
	}
	for k, v := range extra {
		if reservedParams[k] || !validParamName(k) {
			return fmt.Errorf("%w: %q may not be set as an extra parameter", ErrReservedParameter, k)
		}
		if len(v) > maxExtraValueBytes {
			return fmt.Errorf("%w: extra parameter %q is too long", ErrReservedParameter, k)
		}
		switch k {
		case "max_age":
			n, err := strconv.ParseUint(v, 10, 31)
			if err != nil {
				return fmt.Errorf("%w: max_age must be a non-negative integer", ErrReservedParameter)
			}
			claims[k] = n
		case "claims", "authorization_details":
			open := "["
			if k == "claims" {
				open = "{"
			}
			if !json.Valid([]byte(v)) || !strings.HasPrefix(strings.TrimSpace(v), open) {
				return fmt.Errorf("%w: %s must be JSON (claims an object, authorization_details an array)", ErrReservedParameter, k)
			}
			claims[k] = json.RawMessage(v)
		default:
			claims[k] = v
		}
	}
	return nil
}

func validParamName(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func signOpts(typ string) jws.SignOptions { return jws.SignOptions{Typ: typ} }
