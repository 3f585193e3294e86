package jws

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"
)

// Decoy keys that share the token's kid must not be chosen for the wrong alg.
func TestSelectDecoysSharingKid(t *testing.T) {
	k := keys(t)
	rsaSigner := mustSigner(t, k.rsa, "k1")
	ecSigner := mustSigner(t, k.p256, "k1")
	edSigner := mustSigner(t, k.ed, "k1")
	tests := []struct {
		name    string
		doc     []byte
		signer  *Signer
		wantErr error
	}{
		{"RSA and EC share kid: ES256", jwks(jwkJSON(t, &k.rsa.PublicKey, "k1", ""), jwkJSON(t, &k.p256.PublicKey, "k1", "")), ecSigner, nil},
		{"RSA and EC share kid: PS256", jwks(jwkJSON(t, &k.p256.PublicKey, "k1", ""), jwkJSON(t, &k.rsa.PublicKey, "k1", "")), rsaSigner, nil},
		{"P-384 decoy before P-256", jwks(jwkJSON(t, &k.p384.PublicKey, "k1", ""), jwkJSON(t, &k.p256.PublicKey, "k1", "")), ecSigner, nil},
		{"P-521 and P-384 decoys", jwks(jwkJSON(t, &k.p521.PublicKey, "k1", ""), jwkJSON(t, &k.p256.PublicKey, "k1", ""), jwkJSON(t, &k.p384.PublicKey, "k1", "")), ecSigner, nil},
		{"Ed25519 and EC share kid", jwks(jwkJSON(t, &k.p256.PublicKey, "k1", ""), jwkJSON(t, k.ed.Public(), "k1", "")), edSigner, nil},
		{"oct decoy", jwks(`{"kty":"oct","kid":"k1","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}`, jwkJSON(t, &k.p256.PublicKey, "k1", "")), ecSigner, nil},
		{"RS256-tagged decoy is ignored", jwks(jwkJSON(t, &k.rsa2.PublicKey, "k1", "RS256"), jwkJSON(t, &k.rsa.PublicKey, "k1", "PS256")), rsaSigner, nil},
		{"signer's key tagged RS256 is ignored", jwks(jwkJSON(t, &k.rsa.PublicKey, "k1", "RS256"), jwkJSON(t, &k.rsa2.PublicKey, "k1", "PS256")), rsaSigner, ErrSignature},
		{"enc-use decoy", jwks(strings.Replace(jwkJSON(t, &k.rsa2.PublicKey, "k1", ""), `{`, `{"use":"enc",`, 1), jwkJSON(t, &k.rsa.PublicKey, "k1", "")), rsaSigner, nil},
		{"RSA 1024 decoy", jwks(jwkJSON(t, &k.rsa1024.PublicKey, "k1", ""), jwkJSON(t, &k.rsa.PublicKey, "k1", "")), rsaSigner, nil},
		{"only a P-384 key under kid", jwks(jwkJSON(t, &k.p384.PublicKey, "k1", "")), ecSigner, ErrNoKey},
		{"only an RSA 1024 key under kid", jwks(jwkJSON(t, &k.rsa1024.PublicKey, "k1", "")), rsaSigner, ErrNoKey},
		{"EC key tagged PS256 is ignored", jwks(jwkJSON(t, &k.p256.PublicKey, "k1", "PS256")), ecSigner, ErrNoKey},
		{"two P-256 share kid", jwks(jwkJSON(t, &k.p256.PublicKey, "k1", ""), jwkJSON(t, &k.p256b.PublicKey, "k1", "")), ecSigner, ErrAmbiguousKey},
		{"two RSA share kid", jwks(jwkJSON(t, &k.rsa.PublicKey, "k1", ""), jwkJSON(t, &k.rsa2.PublicKey, "k1", "PS256")), rsaSigner, ErrAmbiguousKey},
		{"same key twice", jwks(jwkJSON(t, &k.p256.PublicKey, "k1", ""), jwkJSON(t, &k.p256.PublicKey, "k1", "ES256")), ecSigner, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks := mustKeySet(t, tc.doc)
			_, _, err := Verify(mustSign(t, tc.signer, claims, SignOptions{}), ks)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			wantErr(t, err, tc.wantErr)
		})
	}
}

func TestSelect(t *testing.T) {
	k := keys(t)
	ks := NewKeySet(
		PublicKey{Key: &k.p256.PublicKey, KeyID: "ec"},
		PublicKey{Key: &k.rsa.PublicKey, KeyID: "rsa", Alg: PS256},
		PublicKey{Key: k.ed.Public(), KeyID: "ed", Alg: EdDSA},
	)
	if ks.Len() != 3 {
		t.Fatalf("Len = %d", ks.Len())
	}
	got, err := ks.Select("ec", ES256)
	if err != nil || !samePublicKey(got, &k.p256.PublicKey) {
		t.Fatalf("Select(ec, ES256) = %v, %v", got, err)
	}
	got, err = ks.Select("", EdDSA)
	if err != nil || !samePublicKey(got, k.ed.Public()) {
		t.Fatalf("Select('', EdDSA) = %v, %v", got, err)
	}
	for _, alg := range []string{"RS256", "HS256", "none", "", "ES384"} {
		_, err := ks.Select("rsa", alg)
		wantErr(t, err, ErrAlgorithm)
	}
	_, err = ks.Select("ec", PS256)
	wantErr(t, err, ErrNoKey)
	_, err = (*KeySet)(nil).Select("ec", ES256)
	wantErr(t, err, ErrNoKey)
	if (*KeySet)(nil).Len() != 0 {
		t.Fatal("nil Len")
	}
}

func TestNewKeySetIgnoresUnusableKeys(t *testing.T) {
	k := keys(t)
	ks := NewKeySet(
		PublicKey{Key: k.p256, KeyID: "private"},                       // private key
		PublicKey{Key: &k.p384.PublicKey, KeyID: "p384"},               // curve
		PublicKey{Key: &k.rsa1024.PublicKey, KeyID: "small"},           // size
		PublicKey{Key: &k.rsa.PublicKey, KeyID: "rs256", Alg: "RS256"}, // alg
		PublicKey{Key: &k.p256.PublicKey, KeyID: "mismatch", Alg: PS256},
		PublicKey{Key: []byte("secret"), KeyID: "oct"},
		PublicKey{Key: nil, KeyID: "nil"},
		PublicKey{Key: (*ecdsa.PublicKey)(nil)},
		PublicKey{Key: (*rsa.PublicKey)(nil)},
		PublicKey{Key: &k.p256.PublicKey, KeyID: "ok"},
	)
	if ks.Len() != 1 {
		t.Fatalf("Len = %d, want 1", ks.Len())
	}
}

func TestParseKeySetIgnoresUnusableKeys(t *testing.T) {
	k := keys(t)
	pub := jwkJSON(t, &k.p256.PublicKey, "ok", "")
	with := func(jwk, member string) string { return strings.Replace(jwk, "{", "{"+member+",", 1) }
	doc := jwks(
		pub,
		jwkJSON(t, k.p256, "private-ec", ""),
		jwkJSON(t, k.rsa, "private-rsa", ""),
		jwkJSON(t, k.ed, "private-ed", ""),
		with(jwkJSON(t, &k.p256b.PublicKey, "d-member", ""), `"d":"AA"`),
		`{"kty":"oct","kid":"oct","k":"c2VjcmV0"}`,
		with(jwkJSON(t, &k.p256b.PublicKey, "enc", ""), `"use":"enc"`),
		with(jwkJSON(t, &k.p256b.PublicKey, "ops", ""), `"key_ops":["encrypt"]`),
		jwkJSON(t, &k.rsa.PublicKey, "rs256", "RS256"),
		jwkJSON(t, &k.rsa1024.PublicKey, "small", ""),
		jwkJSON(t, &k.p384.PublicKey, "p384", ""),
		`{"kty":"OKP","crv":"X25519","kid":"x25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`,
		`{"kty":"AKP","alg":"ML-DSA-44","kid":"pq","pub":"AA"}`,
		`{"kty":"EC","crv":"P-256","kid":"off-curve","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"kty":"RSA","kid":"bad"}`,
		`"not an object"`,
		`{"kty":"EC","kid":"dup","kid":"dup2"}`,
		with(jwkJSON(t, &k.p256b.PublicKey, "sig-ops", ""), `"key_ops":["verify"],"use":"sig"`),
	)
	ks := mustKeySet(t, doc)
	if ks.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (ok, sig-ops)", ks.Len())
	}
	if _, err := ks.Select("ok", ES256); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Select("sig-ops", ES256); err != nil {
		t.Fatal(err)
	}
}

func TestParseKeySetMalformed(t *testing.T) {
	many := make([]string, MaxKeySetKeys+1)
	for i := range many {
		many[i] = `{}`
	}
	for name, doc := range map[string]string{
		"empty":       "",
		"not json":    "keys",
		"array":       `[{"kty":"EC"}]`,
		"null":        `null`,
		"no keys":     `{}`,
		"keys null":   `{"keys":null}`,
		"keys object": `{"keys":{}}`,
		"dup keys":    `{"keys":[],"keys":[]}`,
		"trailing":    `{"keys":[]} {}`,
		"too many":    string(jwks(many...)),
		"too big":     `{"keys":[],"x":"` + strings.Repeat("a", MaxKeySetSize) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseKeySet([]byte(doc))
			wantErr(t, err, ErrMalformed)
		})
	}
	ks, err := ParseKeySet([]byte(`{"keys":[]}`))
	if err != nil || ks.Len() != 0 {
		t.Fatalf("empty set: %v %v", ks, err)
	}
}

func TestPublicJWKSRoundTrip(t *testing.T) {
	k := keys(t)
	doc, err := PublicJWKS(
		PublicKey{Key: &k.rsa.PublicKey, KeyID: "rsa"},
		PublicKey{Key: &k.p256.PublicKey, KeyID: "ec", Alg: ES256},
		PublicKey{Key: k.ed.Public(), KeyID: "ed"},
	)
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(doc, &parsed); err != nil {
		t.Fatal(err)
	}
	wantAlg := []string{PS256, ES256, EdDSA}
	for i, m := range parsed.Keys {
		if m["use"] != "sig" || m["alg"] != wantAlg[i] || m["kid"] == "" {
			t.Errorf("key %d: %v", i, m)
		}
		for _, private := range privateMembers {
			if _, ok := m[private]; ok {
				t.Errorf("key %d has private member %q", i, private)
			}
		}
	}
	ks := mustKeySet(t, doc)
	if ks.Len() != 3 {
		t.Fatalf("Len = %d", ks.Len())
	}
	for _, s := range []*Signer{mustSigner(t, k.rsa, "rsa"), mustSigner(t, k.p256, "ec"), mustSigner(t, k.ed, "ed")} {
		if _, _, err := Verify(mustSign(t, s, claims, SignOptions{}), ks); err != nil {
			t.Errorf("%s: %v", s.Alg(), err)
		}
	}
}

func TestPublicJWKRefusals(t *testing.T) {
	k := keys(t)
	for name, tc := range map[string]struct {
		key any
		alg string
	}{
		"private EC":        {k.p256, ""},
		"private RSA":       {k.rsa, ""},
		"private Ed25519":   {k.ed, ""},
		"P-384":             {&k.p384.PublicKey, ""},
		"RSA 1024":          {&k.rsa1024.PublicKey, ""},
		"alg mismatch":      {&k.p256.PublicKey, PS256},
		"alg RS256":         {&k.rsa.PublicKey, "RS256"},
		"symmetric":         {[]byte("secret"), ""},
		"nil":               {nil, ""},
		"nil typed pointer": {(*ecdsa.PublicKey)(nil), ""},
	} {
		t.Run(name, func(t *testing.T) {
			if b, err := PublicJWK(tc.key, "kid", tc.alg); err == nil {
				t.Fatalf("accepted: %s", b)
			}
		})
	}
	if _, err := PublicJWKS(PublicKey{Key: k.p256, KeyID: "x"}); err == nil {
		t.Fatal("PublicJWKS accepted a private key")
	}
	doc, err := PublicJWKS()
	if err != nil || string(doc) != `{"keys":[]}` {
		t.Fatalf("empty PublicJWKS = %s, %v", doc, err)
	}
}

func TestAllowed(t *testing.T) {
	for _, alg := range []string{PS256, ES256, EdDSA} {
		if !Allowed(alg) {
			t.Errorf("Allowed(%q) = false", alg)
		}
	}
	for _, alg := range []string{"", "none", "HS256", "RS256", "PS384", "ES384", "ES512", "Ed25519", "EDDSA", "ps256", "ES256K"} {
		if Allowed(alg) {
			t.Errorf("Allowed(%q) = true", alg)
		}
	}
}
