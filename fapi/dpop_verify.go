package fapi

import (
	"net/url"
	"strings"
	"time"

	"github.com/cillers/fapid/internal/jws"
)

// Resource-server defaults for DPoP proof iat (RFC 9449 §11.1; the
// conformance suite expects ±10 s accepted and ±1 h refused).
const (
	DefaultDPoPMaxAge    = 60 * time.Second
	DefaultDPoPMaxFuture = 30 * time.Second
	maxDPoPProof         = 16 << 10
	maxJTI               = 256
)

// DPoPCheck is what a resource server (the gateway) knows about a request.
type DPoPCheck struct {
	// Method of the request (htm must equal it exactly).
	Method string
	// URL of the request as the client addressed it (https://host/path).
	// Query and fragment are ignored; scheme and host are compared
	// case-insensitively and a default port is ignored.
	URL string
	// AccessToken presented with the proof: ath must equal its hash.
	// Empty means ath is not checked (authorization-server use).
	AccessToken string
	// JKT, when set, is the token's cnf.jkt: the proof key must have it.
	JKT string
	// Now: zero means time.Now.
	Now time.Time
	// MaxAge / MaxFuture bound iat; zero means the defaults (60 s / 30 s).
	MaxAge, MaxFuture time.Duration
	// NonceValid, when set, makes a nonce mandatory: a proof without one or
	// with one it rejects fails with ErrDPoPNonce (answer use_dpop_nonce).
	NonceValid func(nonce string) bool
}

// VerifiedDPoPProof is the outcome of a successful check.
type VerifiedDPoPProof struct {
	JKT      string // RFC 7638 thumbprint of the proof key
	JTI      string // for the caller's replay cache
	IssuedAt time.Time
	// ReplayUntil is when the proof falls out of the iat window; keep its
	// jti (with JKT) in the replay cache at least until then.
	ReplayUntil time.Time
	Nonce       string
}

type dpopProofClaims struct {
	ID        string       `json:"jti"`
	Method    string       `json:"htm"`
	URL       string       `json:"htu"`
	IssuedAt  *NumericDate `json:"iat"`
	ATHash    string       `json:"ath"`
	Nonce     string       `json:"nonce"`
	Expiry    *NumericDate `json:"exp"`
	NotBefore *NumericDate `json:"nbf"`
}

// VerifyDPoPProof runs the RFC 9449 §4.3 checks on one DPoP header value:
// well-formed JWS with typ dpop+jwt, an allowed alg (PS256/ES256/EdDSA) and
// a public embedded jwk that verifies the signature; jti, htm, htu and iat
// present; htm equal to the method; htu equal to the request URL (query and
// fragment ignored); the nonce when required; iat inside the window (and
// exp/nbf when present); ath equal to the token's hash; the key thumbprint
// equal to cnf.jkt. Replay (jti) is the caller's job. The caller must also
// refuse a request with more than one DPoP header.
func VerifyDPoPProof(proof string, chk DPoPCheck) (*VerifiedDPoPProof, error) {
	if chk.Now.IsZero() {
		chk.Now = time.Now()
	}
	if chk.MaxAge <= 0 {
		chk.MaxAge = DefaultDPoPMaxAge
	}
	if chk.MaxFuture <= 0 {
		chk.MaxFuture = DefaultDPoPMaxFuture
	}
	if len(proof) > maxDPoPProof {
		return nil, invalid(ErrInvalidDPoPProof, ErrTooLarge, "proof over %d bytes", maxDPoPProof)
	}
	payload, h, jkt, err := jws.VerifyEmbedded(proof)
	if err != nil {
		return nil, invalidCause(ErrInvalidDPoPProof, ErrSignature, err, "proof")
	}
	if normalizeTyp(h.Typ) != TypDPoP {
		return nil, invalid(ErrInvalidDPoPProof, ErrMalformed, "typ %q is not %s", h.Typ, TypDPoP)
	}
	var cl dpopProofClaims
	if _, err := decodeObject(payload, &cl); err != nil {
		return nil, invalidCause(ErrInvalidDPoPProof, ErrMalformed, err, "claims")
	}
	if err := checkProofClaims(&cl, chk); err != nil {
		return nil, err
	}
	if chk.JKT != "" && !equalSecret(jkt, chk.JKT) {
		return nil, invalid(ErrInvalidDPoPProof, ErrDPoPBinding, "proof key is not the token's cnf.jkt")
	}
	return &VerifiedDPoPProof{
		JKT: jkt, JTI: cl.ID, IssuedAt: cl.IssuedAt.Time,
		ReplayUntil: cl.IssuedAt.Add(chk.MaxAge), Nonce: cl.Nonce,
	}, nil
}

func checkProofClaims(cl *dpopProofClaims, chk DPoPCheck) error {
	switch {
	case cl.ID == "" || cl.Method == "" || cl.URL == "" || cl.IssuedAt == nil:
		return invalid(ErrInvalidDPoPProof, ErrMissingClaim, "jti, htm, htu and iat are required")
	case len(cl.ID) > maxJTI:
		return invalid(ErrInvalidDPoPProof, ErrMalformed, "jti over %d bytes", maxJTI)
	case cl.Method != chk.Method:
		return invalid(ErrInvalidDPoPProof, ErrMalformed, "htm %q is not the request method %q", cl.Method, chk.Method)
	}
	want, err := canonicalHTU(chk.URL)
	if err != nil {
		return invalidCause(ErrInvalidDPoPProof, ErrConfig, err, "request URL")
	}
	if got, err := canonicalHTU(cl.URL); err != nil || got != want {
		return invalid(ErrInvalidDPoPProof, ErrMalformed, "htu does not match the request URL %q", want)
	}
	if chk.NonceValid != nil && (cl.Nonce == "" || !chk.NonceValid(cl.Nonce)) {
		return invalid(ErrInvalidDPoPProof, ErrDPoPNonce, "missing or stale nonce")
	}
	iat := cl.IssuedAt.Time
	if iat.Before(chk.Now.Add(-chk.MaxAge)) {
		return invalid(ErrInvalidDPoPProof, ErrExpired, "iat %s older than %s", stamp(iat), chk.MaxAge)
	}
	if iat.After(chk.Now.Add(chk.MaxFuture)) {
		return invalid(ErrInvalidDPoPProof, ErrNotYetValid, "iat %s more than %s ahead", stamp(iat), chk.MaxFuture)
	}
	if cl.Expiry != nil && chk.Now.After(cl.Expiry.Add(chk.MaxFuture)) {
		return invalid(ErrInvalidDPoPProof, ErrExpired, "exp %s passed", stamp(cl.Expiry.Time))
	}
	if cl.NotBefore != nil && cl.NotBefore.After(chk.Now.Add(chk.MaxFuture)) {
		return invalid(ErrInvalidDPoPProof, ErrNotYetValid, "nbf %s ahead", stamp(cl.NotBefore.Time))
	}
	if chk.AccessToken != "" {
		if cl.ATHash == "" {
			return invalid(ErrInvalidDPoPProof, ErrMissingClaim, "no ath")
		}
		if !equalSecret(cl.ATHash, AccessTokenHash(chk.AccessToken)) {
			return invalid(ErrInvalidDPoPProof, ErrMalformed, "ath does not match the access token")
		}
	}
	return nil
}

// canonicalHTU normalises a URL for the htu comparison (RFC 9449 §4.3 point
// 9, RFC 3986 §6.2.2–6.2.3): scheme and host lower-cased, default port
// dropped, empty path made "/", query and fragment removed.
func canonicalHTU(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "", ErrMalformed
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}
