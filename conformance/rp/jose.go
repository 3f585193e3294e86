package rp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cillers/fapid/internal/jws"
)

// The test server signs good JWTs with internal/jws. The deliberately broken
// ones (alg none, RS256, a damaged signature) and the DPoP proofs of the
// gateway tests are built here by hand: base64url of header and payload, and
// crypto/rsa or crypto/ecdsa directly. go-jose is never imported here.

var b64 = base64.RawURLEncoding

// segment is base64url(JSON(v)).
func segment(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return b64.EncodeToString(b), nil
}

// signFunc signs a JWS signing input.
type signFunc func(input []byte) ([]byte, error)

// compactJWS builds header.payload.signature; sign nil leaves the signature
// empty (alg none).
func compactJWS(header, claims any, sign signFunc) (string, error) {
	h, err := segment(header)
	if err != nil {
		return "", err
	}
	p, err := segment(claims)
	if err != nil {
		return "", err
	}
	input := h + "." + p
	if sign == nil {
		return input + ".", nil
	}
	sig, err := sign([]byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// rs256 signs with RSASSA-PKCS1-v1_5 SHA-256 (RFC 7518 §3.3), an algorithm
// FAPI 2.0 forbids.
func rs256(key *rsa.PrivateKey) signFunc {
	return func(input []byte) ([]byte, error) {
		sum := sha256.Sum256(input)
		return rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	}
}

// ps256 signs with RSASSA-PSS SHA-256, salt length 32 (RFC 7518 §3.5).
func ps256(key *rsa.PrivateKey) signFunc {
	return func(input []byte) ([]byte, error) {
		sum := sha256.Sum256(input)
		return rsa.SignPSS(rand.Reader, key, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	}
}

// es256 signs with ECDSA P-256 SHA-256, the signature as r‖s (RFC 7518 §3.4).
func es256(key *ecdsa.PrivateKey) signFunc {
	return func(input []byte) ([]byte, error) {
		sum := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
		if err != nil {
			return nil, err
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out, nil
	}
}

// corruptSignature flips bits in the middle of a JWS signature.
func corruptSignature(jwt string) string {
	i := strings.LastIndexByte(jwt, '.')
	sig, err := b64.DecodeString(jwt[i+1:])
	if err != nil || len(sig) == 0 {
		return jwt + "AA"
	}
	sig[len(sig)/2] ^= 0x5a
	return jwt[:i+1] + b64.EncodeToString(sig)
}

// signWith signs claims with the server's good key through internal/jws.
func signWith(s *jws.Signer, claims any, typ string) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return s.Sign(payload, jws.SignOptions{Typ: typ})
}

// ecJWK is the public JWK of an EC P-256 key; withPrivate adds "d".
func ecJWK(key *ecdsa.PrivateKey, withPrivate bool) (map[string]any, error) {
	raw, err := key.PublicKey.Bytes() // 0x04 ‖ X ‖ Y
	if err != nil || len(raw) != 65 {
		return nil, fmt.Errorf("rp: encoding EC key: %v", err)
	}
	jwk := map[string]any{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(raw[1:33]), "y": b64.EncodeToString(raw[33:])}
	if withPrivate {
		d, err := key.Bytes()
		if err != nil {
			return nil, err
		}
		jwk["d"] = b64.EncodeToString(d)
	}
	return jwk, nil
}

// rsaJWK is the public JWK of an RSA key.
func rsaJWK(pub *rsa.PublicKey) map[string]any {
	e := []byte{byte(pub.E >> 16), byte(pub.E >> 8), byte(pub.E)}
	for len(e) > 1 && e[0] == 0 {
		e = e[1:]
	}
	return map[string]any{"kty": "RSA", "n": b64.EncodeToString(pub.N.Bytes()), "e": b64.EncodeToString(e)}
}

// claimsOf decodes the payload of a compact JWS without verifying it.
func claimsOf(jwt string) (map[string]json.RawMessage, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a compact JWS")
	}
	p, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(p, &m); err != nil {
		return nil, err
	}
	return m, nil
}
