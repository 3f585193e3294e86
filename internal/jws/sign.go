package jws

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	jose "github.com/go-jose/go-jose/v4"
)

// Signer produces compact JWS with one key. The algorithm is derived from the
// key: EC P-256 → ES256, RSA of 2048 to 8192 bits → PS256, Ed25519 → EdDSA.
// A Signer is safe for concurrent use if its crypto.Signer is.
type Signer struct {
	key crypto.Signer
	pub crypto.PublicKey
	alg string
	kid string
}

// SignOptions are the per-token header choices.
type SignOptions struct {
	// Typ is the "typ" header (e.g. "dpop+jwt", "oauth-authz-req+jwt"); omitted when empty.
	Typ string
	// EmbedJWK puts the public JWK in the header (DPoP, RFC 9449 §4.2) and omits "kid".
	EmbedJWK bool
	// Extra header parameters. Names this package sets or refuses (alg, kid, typ,
	// jwk, jku, x5u, x5c, x5t, x5t#S256, crit, b64, zip, enc) are an error.
	Extra map[string]any
}

// reservedHeader are names Extra may not set.
var reservedHeader = map[string]bool{
	"alg": true, "kid": true, "typ": true, "jwk": true, "jku": true, "x5u": true,
	"x5c": true, "x5t": true, "x5t#S256": true, "crit": true, "b64": true,
	"zip": true, "enc": true,
}

// NewSigner returns a Signer for key with the given kid (may be empty).
func NewSigner(key crypto.Signer, kid string) (*Signer, error) {
	if key == nil {
		return nil, errors.New("jws: nil signing key")
	}
	pub := key.Public()
	alg := algForKey(pub)
	if alg == "" {
		return nil, fmt.Errorf("%w: %s key is not usable with PS256, ES256 or EdDSA", ErrAlgorithm, describeKey(pub))
	}
	return &Signer{key: key, pub: pub, alg: alg, kid: kid}, nil
}

// Alg returns the signing algorithm: PS256, ES256 or EdDSA.
func (s *Signer) Alg() string { return s.alg }

// KeyID returns the kid put in headers.
func (s *Signer) KeyID() string { return s.kid }

// Public returns the public key.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// Sign signs payload (already-marshalled JSON claims) and returns a compact JWS.
func (s *Signer) Sign(payload []byte, opts SignOptions) (string, error) {
	so := &jose.SignerOptions{EmbedJWK: opts.EmbedJWK}
	if opts.Typ != "" {
		so.WithType(jose.ContentType(opts.Typ))
	}
	if !opts.EmbedJWK && s.kid != "" {
		so.WithHeader("kid", s.kid)
	}
	for name, v := range opts.Extra {
		if reservedHeader[name] {
			return "", fmt.Errorf("jws: header parameter %q cannot be set as extra", name)
		}
		so.WithHeader(jose.HeaderKey(name), v)
	}
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(s.alg), Key: opaque{s}}, so)
	if err != nil {
		return "", fmt.Errorf("jws: signer: %w", err)
	}
	obj, err := js.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("jws: sign: %w", err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("jws: serialize: %w", err)
	}
	return out, nil
}

// opaque adapts Signer to go-jose's OpaqueSigner. It is used instead of
// go-jose/cryptosigner because that one signs PS256 with the maximum salt
// length, while RFC 7518 §3.5 requires a salt as long as the hash (and some
// verifiers insist on it).
type opaque struct{ s *Signer }

func (o opaque) Public() *jose.JSONWebKey { return &jose.JSONWebKey{Key: o.s.pub} }

func (o opaque) Algs() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.SignatureAlgorithm(o.s.alg)}
}

func (o opaque) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if string(alg) != o.s.alg {
		return nil, fmt.Errorf("%w: key signs %s, not %s", ErrAlgorithm, o.s.alg, short(string(alg)))
	}
	switch o.s.alg {
	case EdDSA:
		return o.s.key.Sign(rand.Reader, payload, crypto.Hash(0))
	case PS256:
		h := sha256.Sum256(payload)
		return o.s.key.Sign(rand.Reader, h[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	case ES256:
		h := sha256.Sum256(payload)
		der, err := o.s.key.Sign(rand.Reader, h[:], crypto.SHA256)
		if err != nil {
			return nil, err
		}
		return ecdsaRawSignature(der, 32)
	}
	return nil, ErrAlgorithm
}

// ecdsaRawSignature converts an ASN.1 DER ECDSA signature to the fixed-size
// r‖s form of RFC 7518 §3.4.
func ecdsaRawSignature(der []byte, size int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 || sig.R == nil || sig.S == nil ||
		sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 8*size || sig.S.BitLen() > 8*size {
		return nil, errors.New("jws: signer returned a malformed ECDSA signature")
	}
	out := make([]byte, 2*size)
	sig.R.FillBytes(out[:size])
	sig.S.FillBytes(out[size:])
	return out, nil
}
