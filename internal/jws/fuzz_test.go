package jws

import (
	"errors"
	"strings"
	"testing"
)

// Every error returned must wrap one of the sentinels, and success must mean
// an allowed alg.
func checkFuzzResult(t *testing.T, h Header, err error) {
	if err != nil {
		for _, s := range []error{ErrAlgorithm, ErrMalformed, ErrNoKey, ErrAmbiguousKey, ErrSignature, ErrEncrypted} {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("error wraps no sentinel: %v", err)
	}
	if !Allowed(h.Alg) {
		t.Fatalf("accepted alg %q", h.Alg)
	}
}

func FuzzVerify(f *testing.F) {
	k := keys(f)
	ks := NewKeySet(
		PublicKey{Key: &k.rsa.PublicKey, KeyID: "rsa-1"},
		PublicKey{Key: &k.p256.PublicKey, KeyID: "ec-1"},
		PublicKey{Key: k.ed.Public(), KeyID: "ed-1"},
	)
	for _, s := range []*Signer{mustSigner(f, k.rsa, "rsa-1"), mustSigner(f, k.p256, "ec-1"), mustSigner(f, k.ed, "ed-1")} {
		f.Add(mustSign(f, s, claims, SignOptions{Typ: "JWT"}))
	}
	f.Add(token(`{"alg":"none"}`, claims, nil))
	f.Add(token(`{"alg":"ES256","kid":"ec-1","crit":[]}`, claims, make([]byte, 64)))
	f.Add(strings.Repeat(".", 100))
	f.Add("a.b.c.d.e")
	f.Fuzz(func(t *testing.T, tok string) {
		payload, h, err := Verify(tok, ks)
		checkFuzzResult(t, h, err)
		if err == nil && h.JWK != nil {
			t.Fatal("Verify returned an embedded key")
		}
		_ = payload
	})
}

func FuzzVerifyEmbedded(f *testing.F) {
	k := keys(f)
	for _, s := range []*Signer{mustSigner(f, k.rsa, ""), mustSigner(f, k.p256, ""), mustSigner(f, k.ed, "")} {
		f.Add(mustSign(f, s, proofClaims, SignOptions{Typ: "dpop+jwt", EmbedJWK: true}))
	}
	f.Add(token(`{"alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA"}}`, proofClaims, make([]byte, 64)))
	f.Fuzz(func(t *testing.T, tok string) {
		_, h, jkt, err := VerifyEmbedded(tok)
		checkFuzzResult(t, h, err)
		if err != nil {
			return
		}
		if want, terr := Thumbprint(h.JWK); terr != nil || want != jkt || !keyFits(h.JWK, h.Alg) {
			t.Fatalf("accepted with jkt %q (want %q, %v), key fits alg: %v", jkt, want, terr, keyFits(h.JWK, h.Alg))
		}
	})
}

func FuzzParseKeySet(f *testing.F) {
	k := keys(f)
	f.Add(jwks(jwkJSON(f, &k.rsa.PublicKey, "rsa", ""), jwkJSON(f, &k.p256.PublicKey, "ec", "ES256"), jwkJSON(f, k.ed.Public(), "ed", "")))
	f.Add(jwks(jwkJSON(f, k.p256, "private", ""), `{"kty":"oct","k":"AA"}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		ks, err := ParseKeySet(doc)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error is not ErrMalformed: %v", err)
			}
			return
		}
		for _, e := range ks.keys {
			if !isPublicKey(e.key) || algForKey(e.key) != e.alg {
				t.Fatalf("unusable key kept: %s", describeKey(e.key))
			}
			if _, err := PublicJWK(e.key, e.kid, e.alg); err != nil {
				t.Fatalf("kept key cannot be re-encoded: %v", err)
			}
		}
	})
}
