package api

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
)

// Sentinel reasons (logged, and matched by tests; never sent to clients).
var (
	ErrNoToken     = errors.New("api: no access token")
	ErrMalformed   = errors.New("api: malformed request or token")
	ErrTokenType   = errors.New("api: token typ not accepted")
	ErrIssuer      = errors.New("api: issuer mismatch")
	ErrAudience    = errors.New("api: audience mismatch")
	ErrExpired     = errors.New("api: token expired")
	ErrNotYetValid = errors.New("api: token not yet valid")
	ErrInactive    = errors.New("api: introspection says inactive")
	ErrUnbound     = errors.New("api: token is not sender-constrained")
	ErrCertBinding = errors.New("api: cnf x5t#S256 does not match the client certificate")
	ErrDPoP        = errors.New("api: DPoP proof refused")
	ErrNoPublicURL = errors.New("api: DPoP-bound token but no PublicURL configured")
	ErrUnavailable = errors.New("api: signing keys unavailable")
	ErrDPoPScheme  = errors.New("api: DPoP scheme used with a token that is not DPoP-bound")
)

// typIntrospection is the RFC 9701 §5 typ.
const typIntrospection = "token-introspection+jwt"

// tokenClaims are the access-token claims the API reads.
type tokenClaims struct {
	Issuer    string            `json:"iss"`
	Subject   string            `json:"sub"`
	Audience  fapi.Audience     `json:"aud"`
	Expiry    *fapi.NumericDate `json:"exp"`
	NotBefore *fapi.NumericDate `json:"nbf"`
	IssuedAt  *fapi.NumericDate `json:"iat"`
	Scope     string            `json:"scope"`
	ClientID  string            `json:"client_id"`
	CNF       *fapi.Confirmation
	Active    *bool
}

// verified is the outcome of authorize.
type verified struct {
	claims        tokenClaims
	issuer        string
	certBound     bool
	dpopBound     bool
	introspection bool
}

// authorize runs every check on the request's token.
func (a *API) authorize(r *http.Request, leaf *x509.Certificate) (*verified, *failure) {
	cred, err := extractCredential(r.Header)
	if err != nil {
		if errors.Is(err, ErrNoToken) {
			return nil, &failure{status: http.StatusUnauthorized, reason: err}
		}
		return nil, &failure{status: http.StatusBadRequest, code: "invalid_request", reason: err}
	}
	bad := func(err error) (*verified, *failure) {
		return nil, &failure{status: http.StatusUnauthorized, code: "invalid_token", dpop: cred.dpop, reason: err}
	}
	payload, h, err := a.jwks.Verify(r.Context(), cred.token)
	if err != nil {
		if isTokenError(err) {
			return bad(err)
		}
		return nil, &failure{status: http.StatusServiceUnavailable, code: "temporarily_unavailable",
			reason: fmt.Errorf("%w: %w", ErrUnavailable, err)}
	}
	v, err := a.checkClaims(payload, h.Typ)
	if err != nil {
		return bad(err)
	}
	cnf := v.claims.CNF
	if cnf == nil || (cnf.X5TS256 == "" && cnf.JKT == "") {
		if cred.dpop {
			return bad(ErrDPoPScheme)
		}
		if !a.cfg.AllowUnbound {
			return bad(ErrUnbound)
		}
		return v, nil
	}
	if cnf.X5TS256 != "" {
		if !equalString(cnf.X5TS256, CertThumbprint(leaf)) {
			return bad(ErrCertBinding)
		}
		v.certBound = true
	}
	if cnf.JKT != "" {
		if err := a.checkDPoP(r, cred.token, cnf.JKT); err != nil {
			return nil, &failure{status: http.StatusUnauthorized, code: "invalid_dpop_proof", dpop: true, reason: err}
		}
		v.dpopBound = true
	} else if cred.dpop {
		return bad(ErrDPoPScheme)
	}
	return v, nil
}

// isTokenError tells a bad token (401) from a JWKS outage (503).
func isTokenError(err error) bool {
	for _, e := range []error{jws.ErrAlgorithm, jws.ErrMalformed, jws.ErrNoKey, jws.ErrAmbiguousKey,
		jws.ErrSignature, jws.ErrEncrypted} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// CertThumbprint is the RFC 8705 §3.1 x5t#S256 of a certificate:
// base64url (no padding) of the SHA-256 of its DER encoding.
func CertThumbprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func equalString(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// checkClaims checks typ, iss, aud and the time claims.
func (a *API) checkClaims(payload []byte, typ string) (*verified, error) {
	v := &verified{}
	switch strings.TrimPrefix(strings.ToLower(typ), "application/") {
	case "", "jwt", "at+jwt":
		c, err := parseClaims(payload)
		if err != nil {
			return nil, err
		}
		v.claims, v.issuer = *c, c.Issuer
	case typIntrospection:
		c, outerIss, err := parseIntrospection(payload)
		if err != nil {
			return nil, err
		}
		v.claims, v.issuer, v.introspection = *c, outerIss, true
	default:
		return nil, fmt.Errorf("%w: %q", ErrTokenType, shorten(typ))
	}
	c := &v.claims
	if v.issuer != a.cfg.Issuer || (c.Issuer != "" && c.Issuer != a.cfg.Issuer) {
		return nil, fmt.Errorf("%w: got %q, want %q", ErrIssuer, shorten(v.issuer), a.cfg.Issuer)
	}
	if a.cfg.Audience != "" && !c.Audience.Contains(a.cfg.Audience) {
		return nil, fmt.Errorf("%w: %q not in aud", ErrAudience, a.cfg.Audience)
	}
	now := a.cfg.Now()
	switch {
	case c.Expiry == nil:
		return nil, fmt.Errorf("%w: no exp", ErrMalformed)
	case now.After(c.Expiry.Add(ClockSkew)):
		return nil, fmt.Errorf("%w: exp %s", ErrExpired, c.Expiry.UTC().Format("2006-01-02T15:04:05Z"))
	case c.NotBefore != nil && c.NotBefore.After(now.Add(ClockSkew)):
		return nil, fmt.Errorf("%w: nbf ahead", ErrNotYetValid)
	case c.IssuedAt != nil && c.IssuedAt.After(now.Add(ClockSkew)):
		return nil, fmt.Errorf("%w: iat ahead", ErrNotYetValid)
	}
	return v, nil
}

// parseClaims decodes a claims object strictly: one JSON object, no member
// name twice, names matched exactly (encoding/json would bind "ISS" to iss).
func parseClaims(payload []byte) (*tokenClaims, error) {
	m, err := members(payload)
	if err != nil {
		return nil, err
	}
	c := &tokenClaims{}
	fields := []struct {
		name string
		dst  any
	}{
		{"iss", &c.Issuer}, {"sub", &c.Subject}, {"aud", &c.Audience}, {"exp", &c.Expiry},
		{"nbf", &c.NotBefore}, {"iat", &c.IssuedAt}, {"scope", &c.Scope},
		{"client_id", &c.ClientID}, {"cnf", &c.CNF}, {"active", &c.Active},
	}
	for _, f := range fields {
		raw, ok := m[f.name]
		if !ok || bytes.Equal(raw, []byte("null")) {
			continue
		}
		if err := json.Unmarshal(raw, f.dst); err != nil {
			return nil, fmt.Errorf("%w: claim %s: %w", ErrMalformed, f.name, err)
		}
	}
	return c, nil
}

// parseIntrospection reads an RFC 9701 introspection JWT: the outer iss
// (the authorization server) and the token's claims in token_introspection,
// which must say active.
func parseIntrospection(payload []byte) (*tokenClaims, string, error) {
	m, err := members(payload)
	if err != nil {
		return nil, "", err
	}
	var iss string
	if raw, ok := m["iss"]; ok {
		if err := json.Unmarshal(raw, &iss); err != nil {
			return nil, "", fmt.Errorf("%w: iss: %w", ErrMalformed, err)
		}
	}
	inner, ok := m["token_introspection"]
	if !ok {
		return nil, "", fmt.Errorf("%w: no token_introspection", ErrMalformed)
	}
	c, err := parseClaims(inner)
	if err != nil {
		return nil, "", err
	}
	if c.Active == nil || !*c.Active {
		return nil, "", ErrInactive
	}
	return c, iss, nil
}

// members splits one JSON object into its members, refusing duplicates and
// trailing data.
func members(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: claims are not a JSON object", ErrMalformed)
	}
	out := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: claims: %w", ErrMalformed, err)
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, fmt.Errorf("%w: claims: %w", ErrMalformed, err)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%w: duplicate claim %q", ErrMalformed, shorten(key))
		}
		out[key] = val
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrMalformed, err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("%w: trailing data after claims", ErrMalformed)
	}
	return out, nil
}

// shorten keeps log lines bounded for attacker-chosen strings.
func shorten(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
