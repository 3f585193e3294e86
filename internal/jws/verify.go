package jws

import (
	"crypto"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// Header is the part of a verified JWS protected header callers need.
type Header struct {
	Alg string
	Kid string
	Typ string
	// JWK is the embedded public key; set only by VerifyEmbedded.
	JWK crypto.PublicKey
}

// Verify verifies a compact JWS with a key from ks and returns its payload and
// header. In order, and before any key work: size caps; a JWE (five segments,
// or an "enc" header) is ErrEncrypted; an alg other than PS256/ES256/EdDSA is
// ErrAlgorithm; a header carrying jwk, jku, x5u, x5c, b64, zip or a non-empty
// crit is ErrMalformed. Then the key is selected by kid+alg+key type
// (KeySet.Select) and the signature checked (ErrSignature). When no key
// fits (ErrNoKey, ErrAmbiguousKey) h holds the header, unverified, so that
// a caller may refetch keys for its kid.
func Verify(compact string, ks *KeySet) (payload []byte, h Header, err error) {
	p, err := parseCompact(compact)
	if err != nil {
		return nil, Header{}, err
	}
	if _, ok := p.header["jwk"]; ok {
		return nil, Header{}, fmt.Errorf("%w: header parameter \"jwk\" not accepted", ErrMalformed)
	}
	key, err := ks.Select(p.kid, p.alg)
	if err != nil {
		return nil, Header{Alg: p.alg, Kid: p.kid, Typ: p.typ}, err
	}
	if _, err := verifySignature(compact, p, key); err != nil {
		return nil, Header{}, err
	}
	return p.payload, Header{Alg: p.alg, Kid: p.kid, Typ: p.typ}, nil
}

// VerifyEmbedded verifies a compact JWS whose protected header carries the
// public verification key as "jwk" (DPoP proofs, RFC 9449 §4.2). The same
// checks as Verify apply, except that "jwk" is required: it must be a public key
// (no private members) whose key type fits alg, and an "alg" member in it must
// equal the header's. jkt is the key's RFC 7638 SHA-256 thumbprint, base64url.
func VerifyEmbedded(compact string) (payload []byte, h Header, jkt string, err error) {
	p, err := parseCompact(compact)
	if err != nil {
		return nil, Header{}, "", err
	}
	raw, ok := p.header["jwk"]
	if !ok {
		return nil, Header{}, "", fmt.Errorf("%w: no embedded jwk", ErrMalformed)
	}
	m, err := parseObject(raw)
	if err != nil {
		return nil, Header{}, "", fmt.Errorf("%w: embedded jwk: %w", ErrMalformed, err)
	}
	if hasPrivateMembers(m) {
		return nil, Header{}, "", fmt.Errorf("%w: embedded jwk is not a public key", ErrMalformed)
	}
	for _, name := range []string{"x5c", "x5u"} {
		if _, ok := m[name]; ok {
			return nil, Header{}, "", fmt.Errorf("%w: embedded jwk member %q not accepted", ErrMalformed, name)
		}
	}
	var jwk jose.JSONWebKey
	// Safe on untrusted input here: private members were refused above.
	if err := jwk.UnmarshalJSON(raw); err != nil || !jwk.Valid() || !jwk.IsPublic() {
		return nil, Header{}, "", fmt.Errorf("%w: embedded jwk is not a valid public key", ErrMalformed)
	}
	if !keyFits(jwk.Key, p.alg) {
		return nil, Header{}, "", fmt.Errorf("%w: embedded %s key does not fit %s", ErrNoKey, describeKey(jwk.Key), p.alg)
	}
	if jwk.Algorithm != "" && jwk.Algorithm != p.alg {
		return nil, Header{}, "", fmt.Errorf("%w: embedded jwk is for %s, header says %s", ErrAlgorithm, short(jwk.Algorithm), p.alg)
	}
	obj, err := verifySignature(compact, p, jwk.Key)
	if err != nil {
		return nil, Header{}, "", err
	}
	// go-jose parsed the same jwk independently; it must be the same key.
	if ej := obj.Signatures[0].Header.JSONWebKey; ej == nil || !samePublicKey(ej.Key, jwk.Key) {
		return nil, Header{}, "", fmt.Errorf("%w: embedded jwk parsed inconsistently", ErrMalformed)
	}
	jkt, err = Thumbprint(jwk.Key)
	if err != nil {
		return nil, Header{}, "", err
	}
	return p.payload, Header{Alg: p.alg, Kid: p.kid, Typ: p.typ, JWK: jwk.Key}, jkt, nil
}

// verifySignature has go-jose parse the token again with the allowlist (second
// line of defence), cross-checks its view of the header with ours, and verifies.
func verifySignature(compact string, p *parsed, key crypto.PublicKey) (*jose.JSONWebSignature, error) {
	if !keyFits(key, p.alg) {
		return nil, fmt.Errorf("%w: %s key does not fit %s", ErrNoKey, describeKey(key), p.alg)
	}
	obj, err := jose.ParseSignedCompact(compact, joseAlgs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(obj.Signatures) != 1 {
		return nil, fmt.Errorf("%w: %d signatures", ErrMalformed, len(obj.Signatures))
	}
	jh := obj.Signatures[0].Header
	if jh.Algorithm != p.alg || jh.KeyID != p.kid {
		return nil, fmt.Errorf("%w: header parsed inconsistently", ErrMalformed)
	}
	if _, err := obj.Verify(key); err != nil {
		return nil, ErrSignature
	}
	return obj, nil
}

// samePublicKey compares two public keys of the types this package handles.
func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
