package jws

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

const proofClaims = `{"jti":"e1j3V_bKic8-LAEB","htm":"POST","htu":"https://as.example.test/token","iat":1700000000}`

// es256Token signs a raw header with an EC P-256 key, without any checks.
func es256Token(t testing.TB, key *ecdsa.PrivateKey, header, payload string) string {
	t.Helper()
	in := signingInput(header, payload)
	h := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func edToken(key ed25519.PrivateKey, header, payload string) string {
	in := signingInput(header, payload)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(in)))
}

func TestVerifyEmbeddedRoundTrip(t *testing.T) {
	k := keys(t)
	for _, s := range []*Signer{mustSigner(t, k.rsa, "ignored"), mustSigner(t, k.p256, "ignored"), mustSigner(t, k.ed, "ignored")} {
		t.Run(s.Alg(), func(t *testing.T) {
			tok := mustSign(t, s, proofClaims, SignOptions{Typ: "dpop+jwt", EmbedJWK: true})
			payload, h, jkt, err := VerifyEmbedded(tok)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := Thumbprint(s.Public())
			if string(payload) != proofClaims || h.Typ != "dpop+jwt" || h.Alg != s.Alg() || h.Kid != "" || jkt != want {
				t.Fatalf("got %q %+v %q", payload, h, jkt)
			}
			if !samePublicKey(h.JWK, s.Public()) {
				t.Fatal("header JWK is not the signer's key")
			}
			// The header must not carry kid next to jwk.
			hdr, _, _ := split3(tok)
			raw, _ := base64.RawURLEncoding.DecodeString(hdr)
			if strings.Contains(string(raw), `"kid"`) {
				t.Fatalf("kid present next to jwk: %s", raw)
			}
		})
	}
}

func TestVerifyEmbeddedRefusals(t *testing.T) {
	k := keys(t)
	pubEC := jwkJSON(t, &k.p256.PublicKey, "", "")
	privEC := jwkJSON(t, k.p256, "", "")
	pubRSA := jwkJSON(t, &k.rsa.PublicKey, "", "")
	pubRSA1024 := jwkJSON(t, &k.rsa1024.PublicKey, "", "")
	pubP384 := jwkJSON(t, &k.p384.PublicKey, "", "")
	pubOtherEC := jwkJSON(t, &k.p256b.PublicKey, "", "")
	pubEd := jwkJSON(t, k.ed.Public(), "", "")
	privEd := jwkJSON(t, k.ed, "", "")
	withMember := func(jwk, member string) string { return strings.TrimSuffix(jwk, "}") + "," + member + "}" }
	hdr := func(jwk string) string { return `{"alg":"ES256","typ":"dpop+jwt","jwk":` + jwk + `}` }
	tests := []struct {
		name string
		tok  string
		want error
	}{
		{"private EC jwk", es256Token(t, k.p256, hdr(privEC), proofClaims), ErrMalformed},
		{"private Ed25519 jwk", edToken(k.ed, `{"alg":"EdDSA","jwk":`+privEd+`}`, proofClaims), ErrMalformed},
		{"oct jwk", es256Token(t, k.p256, hdr(`{"kty":"oct","k":"c2VjcmV0"}`), proofClaims), ErrMalformed},
		{"jwk with d member only", es256Token(t, k.p256, hdr(withMember(pubEC, `"d":"AA"`)), proofClaims), ErrMalformed},
		{"RSA jwk with ES256", es256Token(t, k.p256, hdr(pubRSA), proofClaims), ErrNoKey},
		{"P-384 jwk with ES256", es256Token(t, k.p256, hdr(pubP384), proofClaims), ErrNoKey},
		{"Ed25519 jwk with ES256", es256Token(t, k.p256, hdr(pubEd), proofClaims), ErrNoKey},
		{"EC jwk with EdDSA", edToken(k.ed, `{"alg":"EdDSA","jwk":`+pubEC+`}`, proofClaims), ErrNoKey},
		{"RSA 1024 jwk with PS256", token(`{"alg":"PS256","jwk":`+pubRSA1024+`}`, proofClaims, make([]byte, 256)), ErrNoKey},
		{"RSA jwk with e=3", token(`{"alg":"PS256","jwk":`+strings.Replace(pubRSA, `"e":"AQAB"`, `"e":"Aw"`, 1)+`}`, proofClaims, make([]byte, 256)), ErrNoKey},
		{"jwk alg mismatch", es256Token(t, k.p256, hdr(withMember(pubEC, `"alg":"ES384"`)), proofClaims), ErrAlgorithm},
		{"jwk with x5c", es256Token(t, k.p256, hdr(withMember(pubEC, `"x5c":["MIIB"]`)), proofClaims), ErrMalformed},
		{"jwk with x5u", es256Token(t, k.p256, hdr(withMember(pubEC, `"x5u":"https://evil.example"`)), proofClaims), ErrMalformed},
		{"jwk not object", es256Token(t, k.p256, hdr(`"`+pubEC+`"`), proofClaims), ErrMalformed},
		{"jwk garbage", es256Token(t, k.p256, hdr(`{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}`), proofClaims), ErrMalformed},
		{"no jwk", es256Token(t, k.p256, `{"alg":"ES256","typ":"dpop+jwt"}`, proofClaims), ErrMalformed},
		{"jwk of another key", es256Token(t, k.p256, hdr(pubOtherEC), proofClaims), ErrSignature},
		{"jku next to jwk", es256Token(t, k.p256, `{"alg":"ES256","jku":"https://evil.example","jwk":`+pubEC+`}`, proofClaims), ErrMalformed},
		{"crit", es256Token(t, k.p256, `{"alg":"ES256","crit":["htm"],"jwk":`+pubEC+`}`, proofClaims), ErrMalformed},
		{"duplicate jwk", es256Token(t, k.p256, `{"alg":"ES256","jwk":`+pubOtherEC+`,"jwk":`+pubEC+`}`, proofClaims), ErrMalformed},
		{"none", token(`{"alg":"none","jwk":`+pubEC+`}`, proofClaims, nil), ErrAlgorithm},
		{"HS256 with jwk", hs256([]byte(pubEC), `{"alg":"HS256","jwk":`+pubEC+`}`, proofClaims), ErrAlgorithm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := VerifyEmbedded(tc.tok)
			wantErr(t, err, tc.want)
		})
	}
	// Control: the same construction with the right public key verifies.
	if _, _, _, err := VerifyEmbedded(es256Token(t, k.p256, hdr(pubEC), proofClaims)); err != nil {
		t.Fatalf("control: %v", err)
	}
}

func TestVerifyEmbeddedTampered(t *testing.T) {
	k := keys(t)
	tok := mustSign(t, mustSigner(t, k.p256, ""), proofClaims, SignOptions{Typ: "dpop+jwt", EmbedJWK: true})
	h, p, s := split3(tok)
	var m map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(p)
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["htm"] = "GET"
	changed, _ := json.Marshal(m)
	_, _, _, err := VerifyEmbedded(h + "." + base64.RawURLEncoding.EncodeToString(changed) + "." + s)
	wantErr(t, err, ErrSignature)
}

// RFC 7638 §3.1 (RSA) and RFC 8037 §A.3 (Ed25519) thumbprint vectors.
func TestThumbprintVectors(t *testing.T) {
	rsaJWK := `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`
	edJWK := `{"crv":"Ed25519","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`
	for _, tc := range []struct{ jwk, want string }{
		{rsaJWK, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{edJWK, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
	} {
		// Parsed with the verification-key parser minus the alg filter: the RSA
		// vector says RS256, which a KeySet would (rightly) ignore.
		e, ok := parseVerificationJWK(json.RawMessage(strings.Replace(tc.jwk, `"alg":"RS256",`, "", 1)))
		if !ok {
			t.Fatalf("vector key not parsed: %s", tc.jwk)
		}
		got, err := Thumbprint(e.key)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("Thumbprint = %s, want %s", got, tc.want)
		}
	}
	if _, err := Thumbprint(keys(t).p256); err == nil {
		t.Error("Thumbprint accepted a private key")
	}
	if _, err := Thumbprint([]byte("secret")); err == nil {
		t.Error("Thumbprint accepted a symmetric key")
	}
}
