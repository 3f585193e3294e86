package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
)

// NewFAPIIntrospector adapts a fapi.Client to Introspector. The client's
// Config.IntrospectionMode selects the mode: "curity" (Accept:
// application/jwt; 200 = the token as a JWT, 204 = inactive), "rfc9701"
// (signed answer, typ/iss/aud/iat checked) or "json" (RFC 7662). Its
// HTTPClient carries the gateway's client certificate when the
// authorization server authenticates it with tls_client_auth.
//
// Errors map to the gateway's: unreachable, slow, 5xx, 429 and unparseable
// answers → ErrUnavailable (503); a JWS that fails verification (bad
// signature, refused alg such as none/HS256/RS256, unknown key) or names
// the wrong iss/aud, or is stale → ErrUntrustedAnswer (502 and an alert);
// other statuses (401 for our credentials, 404) and configuration
// problems → ErrBadAnswer (502).
func NewFAPIIntrospector(c *fapi.Client) Introspector {
	return IntrospectorFunc(func(ctx context.Context, token string) (*Introspection, error) {
		in, err := c.Introspect(ctx, token, "access_token")
		if err != nil {
			return nil, mapFAPIError(err)
		}
		return fromFAPI(in), nil
	})
}

func mapFAPIError(err error) error {
	var kind error
	switch {
	case errors.Is(err, fapi.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		kind = ErrUnavailable
	case errors.Is(err, fapi.ErrSignature) && errors.Is(err, jws.ErrMalformed):
		kind = ErrUnavailable // not a JWS at all: garbage (CASES H12)
	case errors.Is(err, fapi.ErrSignature), errors.Is(err, fapi.ErrIssuerMismatch),
		errors.Is(err, fapi.ErrAudience), errors.Is(err, fapi.ErrExpired), errors.Is(err, fapi.ErrNotYetValid):
		kind = ErrUntrustedAnswer
	case errors.Is(err, fapi.ErrMalformed), errors.Is(err, fapi.ErrMissingClaim), errors.Is(err, fapi.ErrTooLarge):
		kind = ErrUnavailable
	case errors.Is(err, fapi.ErrUnexpectedResponse), errors.Is(err, fapi.ErrConfig),
		errors.Is(err, fapi.ErrMetadata), errors.Is(err, fapi.ErrNoEndpoint):
		kind = ErrBadAnswer
	default:
		kind = ErrUnavailable
	}
	return fmt.Errorf("%w: %w", kind, err)
}

func fromFAPI(in *fapi.Introspection) *Introspection {
	if !in.Active {
		return &Introspection{Active: false}
	}
	return &Introspection{
		Active: true,
		JWT:    in.JWT,
		Claims: Claims{
			Issuer: in.Issuer, Subject: in.Subject, ClientID: in.ClientID,
			Audience: in.Audience, Scope: in.Scopes(),
			Expiry: in.Expiry, IssuedAt: in.IssuedAt,
			CnfX5t: in.CNF.X5TS256, CnfJkt: in.CNF.JKT,
		},
		// fapi reports Cache-Control no-store and no-cache as max-age 0.
		// Those are HTTP-cache directives servers put on every OAuth
		// answer (node-oidc-provider on introspection, like RFC 6749 §5.1
		// on token answers); they say nothing about how long the token's
		// state may be kept (DESIGN §4: max-age, exp and Cache.MaxTTL
		// bound that). Honouring them would turn the cache off for most
		// servers. So a zero max-age is no bound; until fapi tells the
		// two apart, an explicit max-age=0 is read the same way.
		MaxAge: in.MaxAge, HasMaxAge: in.HasMaxAge,
	}
}
