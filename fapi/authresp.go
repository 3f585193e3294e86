package fapi

import (
	"context"
	"net/url"
)

// maxCallbackURL caps the callback URL (a JARM response is a few KB).
const maxCallbackURL = 32 << 10

// CallbackParams are the OAuth parameters found in a callback URL's query.
// Nothing in it is validated yet.
type CallbackParams struct {
	Code             string
	State            string
	Iss              string
	Error            string
	ErrorDescription string
	ErrorURI         string
	Response         string // JARM response JWT
}

// IsResponse reports whether the URL carries an authorization response at
// all: code+state, error+state, or a JARM response. A page load without them
// is not an error.
func (p *CallbackParams) IsResponse() bool {
	return p.Response != "" || (p.State != "" && (p.Code != "" || p.Error != ""))
}

// callbackNames are the parameters that may occur at most once (RFC 6749 §3.1).
var callbackNames = []string{"code", "state", "iss", "error", "error_description", "error_uri", "response"}

// ParseCallback extracts the OAuth parameters from a callback URL's query.
// It refuses oversized URLs, bad percent-encoding and repeated parameters.
func ParseCallback(callbackURL string) (*CallbackParams, error) {
	if len(callbackURL) > maxCallbackURL {
		return nil, invalid(ErrInvalidAuthorizationResponse, ErrTooLarge, "callback URL over %d bytes", maxCallbackURL)
	}
	u, err := url.Parse(callbackURL)
	if err != nil {
		return nil, invalid(ErrInvalidAuthorizationResponse, ErrMalformed, "callback URL does not parse")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, invalid(ErrInvalidAuthorizationResponse, ErrMalformed, "callback query does not parse")
	}
	for _, n := range callbackNames {
		if len(q[n]) > 1 {
			return nil, invalid(ErrInvalidAuthorizationResponse, ErrMalformed, "parameter %q repeated", n)
		}
	}
	return &CallbackParams{
		Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss"),
		Error: q.Get("error"), ErrorDescription: q.Get("error_description"), ErrorURI: q.Get("error_uri"),
		Response: q.Get("response"),
	}, nil
}

// AuthorizationResponse is a validated authorization response.
type AuthorizationResponse struct {
	Code   string
	State  string
	Issuer string
	JARM   bool // it came as a verified JARM response
}

// HandleCallback validates the authorization response in callbackURL
// against the login state and returns the code to redeem. With a JARM login
// (response_mode=jwt) only a verified "response" JWT is accepted (JARM §4.4;
// see ValidateJARM); otherwise iss (RFC 9207, always required under FAPI
// 2.0 SP 5.3.3.2-5) must equal the issuer exactly and state must equal the
// one sent (constant-time). An error answer becomes *OAuthError (after the
// same iss and state checks). The caller must make the login state
// single-use.
func (c *Client) HandleCallback(ctx context.Context, callbackURL string, ls LoginState) (*AuthorizationResponse, error) {
	if err := ls.check(c); err != nil {
		return nil, err
	}
	p, err := ParseCallback(callbackURL)
	if err != nil {
		return nil, err
	}
	if ls.ResponseMode == string(ResponseModeJWT) {
		if p.Response == "" {
			if p.Error != "" { // some errors cannot be JWT-secured; still check iss and state
				return nil, c.checkPlain(p, ls)
			}
			return nil, invalid(ErrInvalidAuthorizationResponse, ErrMissingClaim, "JARM response expected, none present")
		}
		if p.Code != "" || p.State != "" || p.Iss != "" || p.Error != "" {
			return nil, invalid(ErrInvalidAuthorizationResponse, ErrMalformed, "JARM response mixed with plain parameters")
		}
		return c.ValidateJARM(ctx, p.Response, ls)
	}
	if p.Response != "" {
		return nil, invalid(ErrInvalidAuthorizationResponse, ErrMalformed, "JARM response in a query-mode login")
	}
	if err := c.checkPlain(p, ls); err != nil {
		return nil, err
	}
	return &AuthorizationResponse{Code: p.Code, State: p.State, Issuer: p.Iss}, nil
}

// checkPlain applies RFC 9207 then the state check, then maps error answers.
func (c *Client) checkPlain(p *CallbackParams, ls LoginState) error {
	if p.Iss == "" {
		return invalid(ErrInvalidAuthorizationResponse, ErrIssuerMismatch, "no iss parameter (RFC 9207)")
	}
	if p.Iss != ls.Issuer {
		return invalid(ErrInvalidAuthorizationResponse, ErrIssuerMismatch, "iss %q does not equal issuer %q", p.Iss, ls.Issuer)
	}
	if err := checkState(ErrInvalidAuthorizationResponse, p.State, ls.State); err != nil {
		return err
	}
	if p.Error != "" {
		return &OAuthError{Endpoint: "authorization", Code: p.Error, Description: p.ErrorDescription, URI: p.ErrorURI}
	}
	if p.Code == "" {
		return invalid(ErrInvalidAuthorizationResponse, ErrMissingClaim, "no code")
	}
	return nil
}

func checkState(kind error, got, want string) error {
	if got == "" {
		return invalid(kind, ErrState, "no state")
	}
	if want == "" || !equalSecret(got, want) {
		return invalid(kind, ErrState, "state differs from the one sent")
	}
	return nil
}
