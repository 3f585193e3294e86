package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// The three signature algorithms fapid accepts and produces (FAPI 2.0 §5.4).
const (
	PS256 = "PS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// Limits applied before any decoding.
const (
	// MaxCompactSize is the largest compact JWS, in bytes, that Verify and
	// VerifyEmbedded look at. A 12 KB ID token fits comfortably.
	MaxCompactSize = 64 << 10
	// MaxHeaderSize is the largest base64url protected header accepted.
	MaxHeaderSize = 8 << 10
	// MaxKeySetSize is the largest JWKS document ParseKeySet accepts.
	MaxKeySetSize = 1 << 20
	// MaxKeySetKeys is the largest number of keys a JWKS may list.
	MaxKeySetKeys = 256

	minRSABits = 2048
	maxRSABits = 8192
)

// Sentinel errors. Every error returned by this package wraps one of them.
var (
	// ErrAlgorithm: the "alg" is not PS256, ES256 or EdDSA, or does not fit the key.
	ErrAlgorithm = errors.New("jws: algorithm not allowed")
	// ErrMalformed: not a well-formed compact JWS, or a header this package refuses.
	ErrMalformed = errors.New("jws: malformed")
	// ErrNoKey: no verification key fits the token's kid, alg and key type.
	ErrNoKey = errors.New("jws: no matching key")
	// ErrAmbiguousKey: more than one verification key fits the token.
	ErrAmbiguousKey = errors.New("jws: more than one matching key")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("jws: invalid signature")
	// ErrEncrypted: the input is a JWE, which fapid never accepts where a JWS is expected.
	ErrEncrypted = errors.New("jws: encrypted JWT (JWE) not accepted")
)

// joseAlgs is the allowlist again, in go-jose's terms: the second line of defence.
var joseAlgs = []jose.SignatureAlgorithm{jose.PS256, jose.ES256, jose.EdDSA}

// Allowed reports whether alg is one of PS256, ES256, EdDSA (exact, case-sensitive).
func Allowed(alg string) bool {
	switch alg {
	case PS256, ES256, EdDSA:
		return true
	}
	return false
}

// algForKey returns the one algorithm a public key fits, or "" when the key is
// of a type, curve or size fapid does not use. Each key fits exactly one alg.
func algForKey(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return ""
		}
		// FIPS 186-5 §A.1.1: an odd public exponent of at least 65537. A tiny
		// exponent in a client's DPoP key would make its proofs forgeable.
		if bits := k.N.BitLen(); bits >= minRSABits && bits <= maxRSABits && k.E >= 65537 && k.E%2 == 1 {
			return PS256
		}
	case *ecdsa.PublicKey:
		if k != nil && k.Curve == elliptic.P256() {
			return ES256
		}
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return EdDSA
		}
	}
	return ""
}

// keyFits reports whether pub may verify or produce signatures with alg.
func keyFits(pub crypto.PublicKey, alg string) bool {
	return alg != "" && algForKey(pub) == alg
}

// describeKey names a key's type for error messages, never its value.
func describeKey(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k != nil && k.N != nil {
			return fmt.Sprintf("RSA %d bits", k.N.BitLen())
		}
		return "RSA"
	case *ecdsa.PublicKey:
		if k != nil && k.Curve != nil {
			return "EC " + k.Curve.Params().Name
		}
		return "EC"
	case ed25519.PublicKey:
		return "Ed25519"
	default:
		return fmt.Sprintf("%T", pub)
	}
}

// isPublicKey reports whether v is one of the public key types this package handles.
func isPublicKey(v crypto.PublicKey) bool {
	switch v.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return true
	}
	return false
}

// Thumbprint returns the RFC 7638 JWK thumbprint of pub (SHA-256 over the
// required members in lexicographic order), base64url without padding. pub must
// be an *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	if !isPublicKey(pub) {
		return "", fmt.Errorf("jws: thumbprint: unsupported key type %T", pub)
	}
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("jws: thumbprint of %s key: %w", describeKey(pub), err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// short quotes an attacker-supplied string for an error message, truncated.
func short(s string) string {
	const max = 40
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
