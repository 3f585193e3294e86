package fapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// IntrospectionMode selects the introspection answer format.
type IntrospectionMode string

const (
	// IntrospectionJSON: RFC 7662 JSON (Accept: application/json).
	IntrospectionJSON IntrospectionMode = "json"
	// IntrospectionJWT: RFC 9701 signed answer (Accept:
	// application/token-introspection+jwt), FAPI 2.0 MS 5.5.2.
	IntrospectionJWT IntrospectionMode = "rfc9701"
	// IntrospectionCurity: Curity's phantom-token answer (Accept:
	// application/jwt): 200 with the access token as a JWT, 204 = inactive.
	IntrospectionCurity IntrospectionMode = "curity"
)

// TypIntrospection is the RFC 9701 §5 "typ".
const TypIntrospection = "token-introspection+jwt"

// Confirmation is the "cnf" of a sender-constrained token.
type Confirmation struct {
	X5TS256 string `json:"x5t#S256"` // RFC 8705 §3.1 certificate thumbprint
	JKT     string `json:"jkt"`      // RFC 9449 §6.1 DPoP key thumbprint
}

// UnmarshalJSON decodes cnf with the same strictness as the claims
// (no duplicate or case-variant member names).
func (c *Confirmation) UnmarshalJSON(b []byte) error {
	type plain Confirmation
	var p plain
	if _, err := decodeObject(b, &p); err != nil {
		return fmt.Errorf("cnf: %w", err)
	}
	*c = Confirmation(p)
	return nil
}

// Introspection is the answer about one token. When Active is false no
// other field is meaningful. Callers must still check Expiry (never trust a
// token, or cache it, past exp: RFC 7662 §4) and the cnf binding.
type Introspection struct {
	Active bool
	// JWT is the signed answer as received: RFC 9701 the introspection
	// response JWT; Curity the access token as a JWT. Empty in JSON mode.
	JWT       string
	Scope     string // space-separated
	ClientID  string
	Subject   string
	Username  string
	Audience  []string
	Issuer    string
	TokenType string
	ID        string
	Expiry    time.Time // zero when absent
	IssuedAt  time.Time
	NotBefore time.Time
	CNF       Confirmation
	// Claims holds every member of the token information as raw JSON.
	Claims map[string]json.RawMessage
	// MaxAge from the answer's Cache-Control max-age (see CacheMaxAge).
	// HasMaxAge is false when the header has no max-age.
	MaxAge    time.Duration
	HasMaxAge bool
}

// Scopes splits Scope.
func (i *Introspection) Scopes() []string { return strings.Fields(i.Scope) }

type introspectionJSON struct {
	Active    *bool         `json:"active"`
	Scope     scopeString   `json:"scope"`
	ClientID  string        `json:"client_id"`
	Username  string        `json:"username"`
	TokenType string        `json:"token_type"`
	Expiry    *NumericDate  `json:"exp"`
	IssuedAt  *NumericDate  `json:"iat"`
	NotBefore *NumericDate  `json:"nbf"`
	Subject   string        `json:"sub"`
	Audience  Audience      `json:"aud"`
	Issuer    string        `json:"iss"`
	ID        string        `json:"jti"`
	CNF       *Confirmation `json:"cnf"`
}

// scopeString accepts the RFC 7662 space-separated string, or an array of
// strings (some servers).
type scopeString string

func (s *scopeString) UnmarshalJSON(b []byte) error {
	var a Audience
	if err := a.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("%w: scope must be a string", ErrMalformed)
	}
	*s = scopeString(strings.Join(a, " "))
	return nil
}

// Introspect asks the introspection endpoint about token (RFC 7662 §2.1:
// POST token= with client authentication; hint, when non-empty, is sent as
// token_type_hint). The answer format follows Config.IntrospectionMode. An
// unreachable or failing server is ErrUnavailable; an answer that does not
// verify is ErrInvalidIntrospection.
func (c *Client) Introspect(ctx context.Context, token, hint string) (*Introspection, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: empty token", ErrConfig)
	}
	endpoint, err := c.endpoint(ctx, "introspection_endpoint", func(m *Metadata) string { return m.IntrospectionEndpoint })
	if err != nil {
		return nil, err
	}
	accept := map[IntrospectionMode]string{
		IntrospectionJSON:   "application/json",
		IntrospectionJWT:    "application/token-introspection+jwt",
		IntrospectionCurity: "application/jwt",
	}[c.cfg.IntrospectionMode]
	res, err := c.postForm(ctx, formCall{
		endpoint: "introspection", url: endpoint, accept: accept,
		form: func() (url.Values, error) {
			form := url.Values{"token": {token}}
			if hint != "" {
				form.Set("token_type_hint", hint)
			}
			return form, c.authenticate(form)
		},
	})
	if err != nil {
		return nil, err
	}
	in, err := c.parseIntrospection(ctx, res)
	if err != nil {
		return nil, err
	}
	in.MaxAge, in.HasMaxAge = CacheMaxAge(res.header)
	return in, nil
}

// parseIntrospection dispatches on mode, status and media type.
func (c *Client) parseIntrospection(ctx context.Context, res *response) (*Introspection, error) {
	mode := c.cfg.IntrospectionMode
	if mode == IntrospectionCurity && res.status == http.StatusNoContent {
		return &Introspection{Active: false}, nil
	}
	if res.status != http.StatusOK {
		return nil, c.errorFrom("introspection", res)
	}
	mt := res.mediaType()
	switch {
	case mode == IntrospectionJWT:
		if mt != "application/token-introspection+jwt" {
			return nil, invalid(ErrInvalidIntrospection, ErrMalformed, "content type %q, want application/token-introspection+jwt", mt)
		}
		return c.parseIntrospectionJWT(ctx, string(res.body))
	case mode == IntrospectionCurity && mt == "application/jwt":
		return c.parseCurityJWT(ctx, string(res.body))
	default:
		return parseIntrospectionJSON(res.body)
	}
}

// ParseIntrospectionJSON parses an RFC 7662 §2.2 answer: "active" must be a
// boolean; anything but true is inactive.
func parseIntrospectionJSON(body []byte) (*Introspection, error) {
	var ij introspectionJSON
	raw, err := decodeObject(body, &ij)
	if err != nil {
		return nil, invalidCause(ErrInvalidIntrospection, ErrMalformed, err, "body")
	}
	if ij.Active == nil {
		return nil, invalid(ErrInvalidIntrospection, ErrMissingClaim, "no active member")
	}
	if !*ij.Active {
		return &Introspection{Active: false}, nil
	}
	return ij.result(raw), nil
}

func (ij *introspectionJSON) result(raw map[string]json.RawMessage) *Introspection {
	in := &Introspection{
		Active: true, Scope: string(ij.Scope), ClientID: ij.ClientID, Subject: ij.Subject,
		Username: ij.Username, Audience: ij.Audience, Issuer: ij.Issuer, TokenType: ij.TokenType,
		ID: ij.ID, Claims: raw,
	}
	if ij.CNF != nil {
		in.CNF = *ij.CNF
	}
	for _, p := range []struct {
		dst *time.Time
		src *NumericDate
	}{{&in.Expiry, ij.Expiry}, {&in.IssuedAt, ij.IssuedAt}, {&in.NotBefore, ij.NotBefore}} {
		if p.src != nil {
			*p.dst = p.src.Time
		}
	}
	return in
}

// parseIntrospectionJWT verifies an RFC 9701 answer: signature with the AS
// JWKS (allowed algs only), typ token-introspection+jwt, iss = issuer, aud
// containing our client_id, iat present, not ahead by more than the clock
// skew and not older than twice the skew;
// then the token_introspection member is read as RFC 7662 JSON.
func (c *Client) parseIntrospectionJWT(ctx context.Context, jwt string) (*Introspection, error) {
	ks, err := c.keys(ctx)
	if err != nil {
		return nil, err
	}
	payload, h, err := ks.Verify(ctx, jwt)
	if err != nil {
		return nil, invalidCause(ErrInvalidIntrospection, ErrSignature, err, "response JWT")
	}
	if normalizeTyp(h.Typ) != TypIntrospection {
		return nil, invalid(ErrInvalidIntrospection, ErrMalformed, "typ %q is not %s", h.Typ, TypIntrospection)
	}
	var cl struct {
		registeredClaims
		TokenIntrospection json.RawMessage `json:"token_introspection"`
	}
	if _, err := decodeObject(payload, &cl); err != nil {
		return nil, invalidCause(ErrInvalidIntrospection, ErrMalformed, err, "claims")
	}
	if err := c.checkIssuerAudience(ErrInvalidIntrospection, &cl.registeredClaims, true); err != nil {
		return nil, err
	}
	tr := timeRules{now: c.now(), skew: c.cfg.ClockSkew, maxAge: c.cfg.ClockSkew}
	if err := tr.check(ErrInvalidIntrospection, &cl.registeredClaims, false, true); err != nil {
		return nil, err
	}
	if len(cl.TokenIntrospection) == 0 {
		return nil, invalid(ErrInvalidIntrospection, ErrMissingClaim, "no token_introspection")
	}
	in, err := parseIntrospectionJSON(cl.TokenIntrospection)
	if err != nil {
		return nil, err
	}
	in.JWT = jwt
	return in, nil
}

// parseCurityJWT verifies Curity's phantom-token answer: the access token
// as a JWT signed by the AS (allowed algs only), iss = issuer, exp present
// and not past. Its aud names the API, so aud is returned, not checked.
func (c *Client) parseCurityJWT(ctx context.Context, jwt string) (*Introspection, error) {
	ks, err := c.keys(ctx)
	if err != nil {
		return nil, err
	}
	payload, _, err := ks.Verify(ctx, jwt)
	if err != nil {
		return nil, invalidCause(ErrInvalidIntrospection, ErrSignature, err, "token JWT")
	}
	var ij introspectionJSON
	raw, err := decodeObject(payload, &ij)
	if err != nil {
		return nil, invalidCause(ErrInvalidIntrospection, ErrMalformed, err, "claims")
	}
	if ij.Active != nil && !*ij.Active {
		return &Introspection{Active: false}, nil
	}
	rc := registeredClaims{Issuer: ij.Issuer, Expiry: ij.Expiry, NotBefore: ij.NotBefore, IssuedAt: ij.IssuedAt}
	if err := c.checkIssuerAudience(ErrInvalidIntrospection, &rc, false); err != nil {
		return nil, err
	}
	tr := timeRules{now: c.now(), skew: c.cfg.ClockSkew}
	if err := tr.check(ErrInvalidIntrospection, &rc, true, false); err != nil {
		return nil, err
	}
	in := ij.result(raw)
	in.JWT = jwt
	return in, nil
}

// checkIssuerAudience: iss equal to the issuer; with wantAud, aud contains
// our client_id.
func (c *Client) checkIssuerAudience(kind error, rc *registeredClaims, wantAud bool) error {
	switch {
	case rc.Issuer == "":
		return invalid(kind, ErrIssuerMismatch, "no iss")
	case rc.Issuer != c.cfg.Issuer:
		return invalid(kind, ErrIssuerMismatch, "iss %q does not equal issuer %q", rc.Issuer, c.cfg.Issuer)
	case !wantAud:
		return nil
	case len(rc.Audience) == 0:
		return invalid(kind, ErrAudience, "no aud")
	case !rc.Audience.Contains(c.cfg.ClientID):
		return invalid(kind, ErrAudience, "aud %q does not contain client id %q", []string(rc.Audience), c.cfg.ClientID)
	}
	return nil
}

// CacheMaxAge reads max-age from Cache-Control (RFC 9111 §5.2.2.1); ok is
// false when there is none. no-store and no-cache are not read: they govern
// HTTP caches, and most authorization servers send them on every OAuth
// answer, while a resource server bounds its token cache by the token's exp
// and its own maximum (RFC 7662 §4). As Curity's phantom-token plugin does,
// only an explicit max-age lowers that bound; max-age=0 means "do not
// cache".
func CacheMaxAge(h http.Header) (maxAge time.Duration, ok bool) {
	for _, line := range h.Values("Cache-Control") {
		for _, d := range strings.Split(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "max-age":
				n, err := strconv.ParseUint(strings.Trim(strings.TrimSpace(val), `"`), 10, 32)
				if err != nil {
					return 0, true // unparseable: do not cache
				}
				maxAge, ok = time.Duration(n)*time.Second, true
			}
		}
	}
	return maxAge, ok
}
