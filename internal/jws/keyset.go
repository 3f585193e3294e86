package jws

import (
	"crypto"
	"encoding/json"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// PublicKey is a verification key with the metadata a JWKS would carry.
// Alg may be empty; when set it must be the one algorithm the key fits.
type PublicKey struct {
	Key   crypto.PublicKey
	KeyID string
	Alg   string
}

// KeySet holds public verification keys. It is immutable after construction
// and safe for concurrent use.
type KeySet struct {
	keys []entry
}

type entry struct {
	key crypto.PublicKey
	kid string
	alg string // the one algorithm the key fits, never empty
}

// NewKeySet returns a KeySet of the given keys. Keys that are not public keys
// of a type fapid uses, or whose Alg does not fit the key, are left out (check
// Len when that matters).
func NewKeySet(keys ...PublicKey) *KeySet {
	ks := &KeySet{}
	for _, k := range keys {
		alg := algForKey(k.Key)
		if alg == "" || (k.Alg != "" && k.Alg != alg) {
			continue
		}
		ks.keys = append(ks.keys, entry{key: k.Key, kid: k.KeyID, alg: alg})
	}
	return ks
}

// privateMembers are JWK members that carry private or symmetric key material
// (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// ParseKeySet parses a JWK Set document (RFC 7517 §5). Keys with a private
// part, with an alg other than PS256/ES256/EdDSA, with "use" other than "sig",
// with "key_ops" lacking "verify", or of a type, curve or size that fits none
// of the allowed algorithms are ignored, not an error. A document that is not a
// JSON object with a "keys" array is ErrMalformed.
func ParseKeySet(jwksJSON []byte) (*KeySet, error) {
	if len(jwksJSON) > MaxKeySetSize {
		return nil, fmt.Errorf("%w: JWKS larger than %d bytes", ErrMalformed, MaxKeySetSize)
	}
	doc, err := parseObject(jwksJSON)
	if err != nil {
		return nil, fmt.Errorf("%w: JWKS: %w", ErrMalformed, err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(doc["keys"], &raws); err != nil || raws == nil {
		return nil, fmt.Errorf("%w: JWKS has no \"keys\" array", ErrMalformed)
	}
	if len(raws) > MaxKeySetKeys {
		return nil, fmt.Errorf("%w: JWKS lists %d keys, more than %d", ErrMalformed, len(raws), MaxKeySetKeys)
	}
	ks := &KeySet{}
	for _, raw := range raws {
		if e, ok := parseVerificationJWK(raw); ok {
			ks.keys = append(ks.keys, e)
		}
	}
	return ks, nil
}

// parseVerificationJWK parses one JWKS member; ok is false for keys to ignore.
func parseVerificationJWK(raw json.RawMessage) (entry, bool) {
	m, err := parseObject(raw)
	if err != nil || hasPrivateMembers(m) {
		return entry{}, false
	}
	if use, ok := m["use"]; ok && string(use) != `"sig"` {
		return entry{}, false
	}
	if ops, ok := m["key_ops"]; ok {
		var list []string
		if json.Unmarshal(ops, &list) != nil || !contains(list, "verify") {
			return entry{}, false
		}
	}
	var jwk jose.JSONWebKey
	// Safe on untrusted input here: private members were refused above.
	if err := jwk.UnmarshalJSON(raw); err != nil || !jwk.Valid() || !jwk.IsPublic() {
		return entry{}, false
	}
	alg := algForKey(jwk.Key)
	if alg == "" || (jwk.Algorithm != "" && jwk.Algorithm != alg) {
		return entry{}, false
	}
	return entry{key: jwk.Key, kid: jwk.KeyID, alg: alg}, true
}

func hasPrivateMembers(m map[string]json.RawMessage) bool {
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Len returns the number of usable keys in the set.
func (ks *KeySet) Len() int {
	if ks == nil {
		return 0
	}
	return len(ks.keys)
}

// Select returns the one key that fits a token with the given kid and alg.
// A key fits when its kid equals kid (when kid is empty, any key is a
// candidate) and its key type, curve and size fit alg (PS256: RSA ≥ 2048 bits,
// ES256: EC P-256, EdDSA: Ed25519), which also means its "alg", if it had one,
// equals alg. No fitting key is ErrNoKey, more than one distinct key is
// ErrAmbiguousKey.
// A disallowed alg is ErrAlgorithm.
func (ks *KeySet) Select(kid, alg string) (crypto.PublicKey, error) {
	if !Allowed(alg) {
		return nil, fmt.Errorf("%w: %s", ErrAlgorithm, short(alg))
	}
	var found crypto.PublicKey
	n := 0
	if ks != nil {
		for _, e := range ks.keys {
			if e.alg != alg || (kid != "" && e.kid != kid) {
				continue
			}
			if found != nil && samePublicKey(found, e.key) {
				continue // the same key listed twice is one candidate
			}
			found = e.key
			n++
		}
	}
	switch {
	case n == 0:
		return nil, fmt.Errorf("%w: kid %s, alg %s", ErrNoKey, short(kid), alg)
	case n > 1:
		return nil, fmt.Errorf("%w: %d keys fit kid %s, alg %s", ErrAmbiguousKey, n, short(kid), alg)
	}
	return found, nil
}

// PublicJWK returns the public JWK of pub with kid, alg and "use":"sig". An
// empty alg is filled with the one algorithm the key fits; a non-empty alg must
// be that algorithm. Private keys are refused, so a JWKS can never leak one.
func PublicJWK(pub crypto.PublicKey, kid, alg string) (json.RawMessage, error) {
	fit := algForKey(pub)
	if fit == "" {
		return nil, fmt.Errorf("%w: %s key is not usable with PS256, ES256 or EdDSA", ErrAlgorithm, describeKey(pub))
	}
	if alg == "" {
		alg = fit
	} else if alg != fit {
		return nil, fmt.Errorf("%w: %s key does not fit %s", ErrAlgorithm, describeKey(pub), short(alg))
	}
	jwk := jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: alg, Use: "sig"}
	b, err := jwk.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("jws: encoding %s key: %w", describeKey(pub), err)
	}
	return b, nil
}

// PublicJWKS returns a JWK Set document ({"keys":[…]}) of the given public keys,
// each with kid, alg and "use":"sig".
func PublicJWKS(keys ...PublicKey) ([]byte, error) {
	doc := struct {
		Keys []json.RawMessage `json:"keys"`
	}{Keys: make([]json.RawMessage, 0, len(keys))}
	for _, k := range keys {
		jwk, err := PublicJWK(k.Key, k.KeyID, k.Alg)
		if err != nil {
			return nil, fmt.Errorf("%w (JWKS key %s)", err, short(k.KeyID))
		}
		doc.Keys = append(doc.Keys, jwk)
	}
	return json.Marshal(doc)
}
