package fapi

import (
	"errors"
	"fmt"
	"strconv"
)

// Kinds of failure. Every error returned by this package wraps at least one of
// these (errors.Is), so callers can map them to HTTP answers without string
// matching. Validation errors additionally wrap a reason sentinel (below).
var (
	// ErrConfig: the Config or a call argument is unusable (programming or
	// deployment error, not the authorization server's fault).
	ErrConfig = errors.New("fapi: invalid configuration")
	// ErrMetadata: the discovery document is unusable (see also ErrIssuerMismatch,
	// ErrInsecureURL).
	ErrMetadata = errors.New("fapi: invalid authorization server metadata")
	// ErrNoEndpoint: the metadata does not advertise an endpoint a call needs.
	ErrNoEndpoint = errors.New("fapi: endpoint not advertised in metadata")
	// ErrUnavailable: the server could not be reached, timed out, or answered
	// 5xx / 429. Retrying later may help (gateway: 503; agent: 502).
	ErrUnavailable = errors.New("fapi: server unavailable")
	// ErrUnexpectedResponse: the server answered with a status or body this
	// protocol does not allow (wrong status, malformed JSON, missing fields).
	ErrUnexpectedResponse = errors.New("fapi: unexpected response")

	// ErrInvalidAuthorizationResponse: the front-channel callback (code+iss
	// or JARM) failed validation. Never redeem the code.
	ErrInvalidAuthorizationResponse = errors.New("fapi: invalid authorization response")
	// ErrInvalidJARM: the JARM response JWT failed validation. It wraps
	// ErrInvalidAuthorizationResponse.
	ErrInvalidJARM = fmt.Errorf("%w: JARM response", ErrInvalidAuthorizationResponse)
	// ErrInvalidIDToken: the ID token failed validation.
	ErrInvalidIDToken = errors.New("fapi: invalid id token")
	// ErrInvalidTokenResponse: the token endpoint answer failed validation.
	ErrInvalidTokenResponse = errors.New("fapi: invalid token response")
	// ErrInvalidUserInfo: the userinfo answer failed validation.
	ErrInvalidUserInfo = errors.New("fapi: invalid userinfo response")
	// ErrInvalidIntrospection: the introspection answer failed validation
	// (bad signature, typ, iss, aud, iat, or body). Gateway: 502, alert.
	ErrInvalidIntrospection = errors.New("fapi: invalid introspection response")
	// ErrInvalidDPoPProof: an incoming DPoP proof failed RFC 9449 §4.3 checks
	// (resource-server side). Answer 401 error="invalid_dpop_proof".
	ErrInvalidDPoPProof = errors.New("fapi: invalid DPoP proof")
)

// Reasons. A validation error wraps its kind (above) and one of these.
var (
	// ErrIssuerMismatch: an issuer (discovery "issuer", RFC 9207 "iss", JWT
	// "iss") differs from the configured issuer, or is missing.
	ErrIssuerMismatch = errors.New("fapi: issuer mismatch")
	// ErrInsecureURL: an endpoint or configured URL is not https.
	ErrInsecureURL = errors.New("fapi: URL is not https")
	// ErrAudience: "aud" (or "azp") does not name the expected party.
	ErrAudience = errors.New("fapi: audience mismatch")
	// ErrExpired: "exp" is in the past (beyond the clock skew), or "iat" is too old.
	ErrExpired = errors.New("fapi: expired")
	// ErrNotYetValid: "nbf" or "iat" is in the future beyond the clock skew.
	ErrNotYetValid = errors.New("fapi: not yet valid")
	// ErrMissingClaim: a required claim or parameter is absent.
	ErrMissingClaim = errors.New("fapi: missing claim")
	// ErrMalformed: a claim or parameter has the wrong type or format.
	ErrMalformed = errors.New("fapi: malformed")
	// ErrState: the "state" differs from the one sent, or is missing.
	ErrState = errors.New("fapi: state mismatch")
	// ErrNonce: the ID token "nonce" differs from the one sent, or is missing.
	ErrNonce = errors.New("fapi: nonce mismatch")
	// ErrSubject: "sub" differs from the expected subject (refreshed ID token,
	// userinfo).
	ErrSubject = errors.New("fapi: subject mismatch")
	// ErrTokenType: "token_type" is neither Bearer nor DPoP, or does not fit
	// the configured sender constraint.
	ErrTokenType = errors.New("fapi: token type mismatch")
	// ErrSignature: a JWS could not be verified (wraps the internal/jws cause:
	// jws.ErrAlgorithm for none/HS256/RS256, jws.ErrSignature, jws.ErrNoKey...).
	ErrSignature = errors.New("fapi: signature not verified")
	// ErrTooLarge: an input exceeds the size this package accepts.
	ErrTooLarge = errors.New("fapi: input too large")
	// ErrDPoPNonce: a DPoP nonce is required. From the client side: the server
	// still demanded a (new) nonce after the one retry. From VerifyDPoPProof:
	// the proof lacks a valid server nonce; answer error="use_dpop_nonce" with
	// a fresh DPoP-Nonce header.
	ErrDPoPNonce = errors.New("fapi: DPoP nonce required")
	// ErrDPoPBinding: the proof is valid but signed by another key than the
	// token is bound to (cnf.jkt), or than the one used at PAR.
	ErrDPoPBinding = errors.New("fapi: DPoP key mismatch")
	// ErrReservedParameter: an extra authorization parameter would override a
	// protocol parameter (redirect_uri, state, ...). Answer 400.
	ErrReservedParameter = errors.New("fapi: reserved parameter")
)

// ValidationError reports one failed check. It wraps its Kind (for example
// ErrInvalidIDToken), its Reason (for example ErrAudience) and, if any, the
// underlying Cause (for example jws.ErrAlgorithm). Detail never contains
// tokens, codes or keys; it may contain issuers, client ids and claim names.
type ValidationError struct {
	Kind   error
	Reason error
	Detail string
	Cause  error
}

func (e *ValidationError) Error() string {
	s := e.Kind.Error()
	if e.Reason != nil {
		s += ": " + trimPrefix(e.Reason.Error())
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns Kind, Reason and Cause for errors.Is / errors.As.
func (e *ValidationError) Unwrap() []error {
	errs := []error{e.Kind}
	if e.Reason != nil {
		errs = append(errs, e.Reason)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

func invalid(kind, reason error, format string, args ...any) error {
	return &ValidationError{Kind: kind, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

func invalidCause(kind, reason, cause error, format string, args ...any) error {
	return &ValidationError{Kind: kind, Reason: reason, Detail: fmt.Sprintf(format, args...), Cause: cause}
}

func trimPrefix(s string) string {
	const p = "fapi: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// OAuthError is an OAuth 2.0 error answer (RFC 6749 §4.1.2.1, §5.2; RFC 6750
// §3; RFC 9449 §7.1): from an endpoint (Status is the HTTP status) or from
// the front channel (Endpoint "authorization", Status 0). errors.Is(err,
// ErrDPoPNonce) holds when Code is "use_dpop_nonce".
type OAuthError struct {
	Endpoint    string // "par", "token", "userinfo", "revocation", "introspection", "resource", "authorization"
	Status      int    // HTTP status; 0 for front-channel errors
	Code        string // the "error" value, e.g. "invalid_grant"
	Description string // "error_description", as sent by the server
	URI         string // "error_uri"
}

func (e *OAuthError) Error() string {
	s := "fapi: " + e.Endpoint + " error " + strconv.Quote(e.Code)
	if e.Status != 0 {
		s += " (HTTP " + strconv.Itoa(e.Status) + ")"
	}
	if e.Description != "" {
		s += ": " + strconv.Quote(e.Description)
	}
	return s
}

// Is reports ErrDPoPNonce for "use_dpop_nonce" and ErrUnavailable for
// "temporarily_unavailable"/"server_error" or a 5xx status.
func (e *OAuthError) Is(target error) bool {
	switch target {
	case ErrDPoPNonce:
		return e.Code == "use_dpop_nonce"
	case ErrUnavailable:
		return e.Code == "temporarily_unavailable" || e.Code == "server_error" || e.Status >= 500
	}
	return false
}

// HTTPError is an answer whose status the protocol step does not expect and
// that carries no OAuth error body. It wraps ErrUnavailable for 5xx and 429,
// ErrUnexpectedResponse otherwise. The body is never included.
type HTTPError struct {
	Endpoint string
	Status   int
}

func (e *HTTPError) Error() string {
	return "fapi: " + e.Endpoint + " endpoint answered HTTP " + strconv.Itoa(e.Status)
}

func (e *HTTPError) Unwrap() error {
	if e.Status >= 500 || e.Status == 429 {
		return ErrUnavailable
	}
	return ErrUnexpectedResponse
}
