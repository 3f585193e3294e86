package jws

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

const claims = `{"iss":"https://as.example.test","sub":"alice","aud":"client-1"}`

// asKeySet is a JWKS like an authorization server publishes: an RSA key and an
// EC key (no alg members), plus an Ed25519 key.
func asKeySet(t *testing.T) *KeySet {
	k := keys(t)
	return mustKeySet(t, jwks(
		jwkJSON(t, &k.rsa.PublicKey, "rsa-1", ""),
		jwkJSON(t, &k.p256.PublicKey, "ec-1", ""),
		jwkJSON(t, k.ed.Public(), "ed-1", ""),
	))
}

func hs256(key []byte, header, payload string) string {
	in := signingInput(header, payload)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// H08: every algorithm but PS256, ES256, EdDSA is refused with ErrAlgorithm.
func TestVerifyRefusesForbiddenAlgorithms(t *testing.T) {
	k := keys(t)
	ks := asKeySet(t)
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pubJWK := jwkJSON(t, &k.rsa.PublicKey, "rsa-1", "")
	secret := []byte("client-secret-that-is-long-enough-for-hs256")
	tests := map[string]string{
		"none empty sig":         token(`{"alg":"none"}`, claims, nil),
		"none with kid":          token(`{"alg":"none","kid":"rsa-1"}`, claims, nil),
		"None":                   token(`{"alg":"None"}`, claims, nil),
		"NONE":                   token(`{"alg":"NONE"}`, claims, nil),
		"empty alg":              token(`{"alg":""}`, claims, nil),
		"missing alg":            token(`{"kid":"rsa-1"}`, claims, make([]byte, 64)),
		"HS256 client secret":    joseSign(t, jose.HS256, secret, "", nil, claims),
		"HS256 public key PEM":   hs256(pubPEM, `{"alg":"HS256","kid":"rsa-1"}`, claims),
		"HS256 public key DER":   hs256(pubDER, `{"alg":"HS256","kid":"rsa-1"}`, claims),
		"HS256 public key JWK":   hs256([]byte(pubJWK), `{"alg":"HS256","kid":"rsa-1"}`, claims),
		"HS384":                  joseSign(t, jose.HS384, append(secret, secret...), "", nil, claims),
		"HS512":                  joseSign(t, jose.HS512, append(secret, secret...), "", nil, claims),
		"RS256 valid JWKS key":   joseSign(t, jose.RS256, k.rsa, "rsa-1", nil, claims),
		"RS384":                  joseSign(t, jose.RS384, k.rsa, "rsa-1", nil, claims),
		"RS512":                  joseSign(t, jose.RS512, k.rsa, "rsa-1", nil, claims),
		"PS384":                  joseSign(t, jose.PS384, k.rsa, "rsa-1", nil, claims),
		"PS512":                  joseSign(t, jose.PS512, k.rsa, "rsa-1", nil, claims),
		"ES384":                  joseSign(t, jose.ES384, k.p384, "ec-1", nil, claims),
		"ES512":                  joseSign(t, jose.ES512, k.p521, "ec-1", nil, claims),
		"ES256K":                 token(`{"alg":"ES256K","kid":"ec-1"}`, claims, make([]byte, 64)),
		"Ed25519 (RFC 9864)":     token(`{"alg":"Ed25519","kid":"ed-1"}`, claims, make([]byte, 64)),
		"lowercase es256":        token(`{"alg":"es256","kid":"ec-1"}`, claims, make([]byte, 64)),
		"padded alg":             token(`{"alg":"ES256 ","kid":"ec-1"}`, claims, make([]byte, 64)),
		"NUL in alg":             token(`{"alg":"ES256\u0000","kid":"ec-1"}`, claims, make([]byte, 64)),
		"ML-DSA-44":              token(`{"alg":"ML-DSA-44"}`, claims, make([]byte, 64)),
		"dir (JWE alg in JWS)":   token(`{"alg":"dir"}`, claims, make([]byte, 64)),
		"RSA-OAEP in JWS":        token(`{"alg":"RSA-OAEP"}`, claims, make([]byte, 256)),
		"HS256 with real kid ec": hs256([]byte("x"), `{"alg":"HS256","kid":"ec-1"}`, claims),
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := Verify(tok, ks)
			wantErr(t, err, ErrAlgorithm)
			_, _, _, err = VerifyEmbedded(tok)
			wantErr(t, err, ErrAlgorithm)
		})
	}
}

// A header whose alg is not a string is refused before key work.
func TestVerifyRefusesNonStringAlg(t *testing.T) {
	for _, h := range []string{`{"alg":null}`, `{"alg":1}`, `{"alg":["ES256"]}`, `{"alg":{"x":1}}`, `{"alg":true}`} {
		_, _, err := Verify(token(h, claims, make([]byte, 64)), asKeySet(t))
		if err == nil {
			t.Errorf("%s: accepted", h)
		}
	}
}

// A valid PS256, ES256 and EdDSA token from the same JWKS is accepted (H08 control).
func TestVerifyAcceptsAllowedAlgorithms(t *testing.T) {
	k := keys(t)
	ks := asKeySet(t)
	for _, s := range []*Signer{
		mustSigner(t, k.rsa, "rsa-1"), mustSigner(t, k.p256, "ec-1"), mustSigner(t, k.ed, "ed-1"),
	} {
		t.Run(s.Alg(), func(t *testing.T) {
			tok := mustSign(t, s, claims, SignOptions{Typ: "JWT"})
			payload, h, err := Verify(tok, ks)
			if err != nil {
				t.Fatal(err)
			}
			if string(payload) != claims || h.Alg != s.Alg() || h.Kid != s.KeyID() || h.Typ != "JWT" || h.JWK != nil {
				t.Fatalf("got %q %+v", payload, h)
			}
		})
	}
}

// JWE is refused as such, whatever its algorithms (including PBES2 with zip).
func TestVerifyRefusesJWE(t *testing.T) {
	k := keys(t)
	enc := func(alg jose.KeyAlgorithm, key any, zip bool) string {
		opts := &jose.EncrypterOptions{}
		if zip {
			opts.Compression = jose.DEFLATE
		}
		e, err := jose.NewEncrypter(jose.A128GCM, jose.Recipient{Algorithm: alg, Key: key}, opts)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := e.Encrypt([]byte(claims))
		if err != nil {
			t.Fatal(err)
		}
		s, err := obj.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := map[string]string{
		"PBES2 zip":      enc(jose.PBES2_HS256_A128KW, []byte("password"), true),
		"RSA-OAEP-256":   enc(jose.RSA_OAEP_256, &k.rsa.PublicKey, false),
		"ECDH-ES":        enc(jose.ECDH_ES, &k.p256.PublicKey, false),
		"dir":            enc(jose.DIRECT, make([]byte, 16), false),
		"5 empty parts":  "....",
		"enc in 3 parts": token(`{"alg":"ES256","enc":"A256GCM","kid":"ec-1"}`, claims, make([]byte, 64)),
		"none enc":       token(`{"alg":"none","enc":"A256GCM"}`, claims, nil),
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := Verify(tok, asKeySet(t))
			wantErr(t, err, ErrEncrypted)
			_, _, _, err = VerifyEmbedded(tok)
			wantErr(t, err, ErrEncrypted)
		})
	}
}

// Header parameters that would let the token pick its key, or change
// processing, are refused; an empty crit list is tolerated.
func TestVerifyHeaderParameters(t *testing.T) {
	k := keys(t)
	ks := asKeySet(t)
	s := mustSigner(t, k.p256, "ec-1")
	pubJWK := jwkJSON(t, &k.p256.PublicKey, "", "")
	refused := map[string]map[string]any{
		"jku":           {"jku": "https://evil.example/jwks"},
		"x5u":           {"x5u": "https://evil.example/cert.pem"},
		"x5c":           {"x5c": []string{"MIIB"}},
		"crit exp":      {"crit": []string{"exp"}},
		"crit b64":      {"crit": []string{"b64"}},
		"crit null":     {"crit": nil},
		"crit string":   {"crit": "exp"},
		"b64 false":     {"b64": false},
		"zip":           {"zip": "DEF"},
		"cty (control)": {"cty": "JWT"}, // control for the loop below: accepted
	}
	for name, extra := range refused {
		t.Run(name, func(t *testing.T) {
			hdr := map[jose.HeaderKey]any{}
			for k, v := range extra {
				hdr[jose.HeaderKey(k)] = v
			}
			tok := joseSign(t, jose.ES256, k.p256, "ec-1", hdr, claims)
			_, _, err := Verify(tok, ks)
			if name == "cty (control)" {
				if err != nil {
					t.Fatalf("cty refused: %v", err)
				}
				return
			}
			wantErr(t, err, ErrMalformed)
		})
	}
	t.Run("jwk in Verify", func(t *testing.T) {
		tok := mustSign(t, s, claims, SignOptions{EmbedJWK: true})
		_, _, err := Verify(tok, mustKeySet(t, jwks(pubJWK)))
		wantErr(t, err, ErrMalformed)
	})
	t.Run("crit empty", func(t *testing.T) {
		tok := joseSign(t, jose.ES256, k.p256, "ec-1", map[jose.HeaderKey]any{"crit": []string{}}, claims)
		if _, _, err := Verify(tok, ks); err != nil {
			t.Fatal(err)
		}
	})
}

// Headers that are not a single duplicate-free JSON object are malformed, so
// our view and go-jose's cannot differ.
func TestVerifyMalformedHeaders(t *testing.T) {
	ks := asKeySet(t)
	for _, h := range []string{
		`{"alg":"none","alg":"ES256","kid":"ec-1"}`,
		`{"alg":"ES256","\u0061lg":"none","kid":"ec-1"}`,
		`{"alg":"ES256","kid":"ec-1","kid":"rsa-1"}`,
		`{"alg":"ES256","kid":"ec-1"}{}`,
		`{"alg":"ES256","kid":"ec-1"} x`,
		`[{"alg":"ES256"}]`,
		`null`,
		`"ES256"`,
		`{"alg":"ES256","kid":1}`,
		`{"alg":"ES256","typ":["JWT"]}`,
		`{"alg":"ES256" "kid":"ec-1"}`,
		`{"alg":"ES256",}`,
		``,
	} {
		_, _, err := Verify(token(h, claims, make([]byte, 64)), ks)
		wantErr(t, err, ErrMalformed)
	}
}

func TestVerifyMalformedCompact(t *testing.T) {
	k := keys(t)
	ks := asKeySet(t)
	good := mustSign(t, mustSigner(t, k.p256, "ec-1"), claims, SignOptions{})
	h, p, s := split3(good)
	tests := map[string]string{
		"empty":              "",
		"one part":           h,
		"two parts":          h + "." + p,
		"four parts":         good + ".x",
		"six parts":          good + ".x.y.z",
		"H07 7000 dots":      strings.Repeat(".", 7000),
		"3000 dots":          strings.Repeat(".", 3000),
		"JSON serialization": `{"payload":"` + p + `","protected":"` + h + `","signature":"` + s + `"}`,
		"padding":            h + "=." + p + "." + s,
		"std base64 char":    h + "." + p + "+." + s,
		"newline":            h[:4] + "\n" + h[4:] + "." + p + "." + s,
		"CR":                 h + "." + p + "\r." + s,
		"space":              " " + good,
		"empty header":       "." + p + "." + s,
		"too big":            h + "." + strings.Repeat("A", MaxCompactSize) + "." + s,
		"huge header":        strings.Repeat("e", MaxHeaderSize+1) + "." + p + "." + s,
		"non-canonical sig":  h + "." + p + "." + flipTrailingBits(s),
		"non-canonical body": h + "." + flipTrailingBits(p) + "." + s,
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := Verify(tok, ks)
			if err == nil {
				t.Fatal("accepted")
			}
			wantErr(t, err, ErrMalformed)
		})
	}
}

// flipTrailingBits changes the last base64url character so that only its unused
// low bits differ: a lenient decoder would yield the same bytes.
func flipTrailingBits(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	unused := map[int]int{2: 4, 3: 2}[len(s)%4]
	if unused == 0 {
		return s + "!" // no spare bits: fall back to an invalid character
	}
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last^1])
}

// H07: a token of 7000 dots costs next to nothing to refuse: it is refused
// before any decoding, allocating only its wrapped error. (Speed is
// measured by BenchmarkVerifyAbsurdToken, never in a timed test.)
func TestVerifyAbsurdTokenIsCheap(t *testing.T) {
	tok := strings.Repeat(".", 7000)
	ks := asKeySet(t)
	if _, _, err := Verify(tok, ks); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Verify(7000 dots) = %v, want ErrMalformed", err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = Verify(tok, ks) }); n > 8 { // a few for the wrapped error; no decoding (a decoded 7000-byte token would cost more)
		t.Fatalf("refusing 7000 dots allocates %v times per call", n)
	}
}

func BenchmarkVerifyAbsurdToken(b *testing.B) {
	tok := strings.Repeat(".", 7000)
	ks := NewKeySet()
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = Verify(tok, ks)
	}
}

func split3(tok string) (h, p, s string) {
	parts := strings.Split(tok, ".")
	return parts[0], parts[1], parts[2]
}

func TestVerifyTampered(t *testing.T) {
	k := keys(t)
	ks := asKeySet(t)
	for _, s := range []*Signer{mustSigner(t, k.rsa, "rsa-1"), mustSigner(t, k.p256, "ec-1"), mustSigner(t, k.ed, "ed-1")} {
		t.Run(s.Alg(), func(t *testing.T) {
			good := mustSign(t, s, claims, SignOptions{})
			h, p, sig := split3(good)
			otherPayload := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(claims, "alice", "mallory", 1)))
			sigBytes, _ := base64.RawURLEncoding.DecodeString(sig)
			for i := range sigBytes {
				flipped := append([]byte(nil), sigBytes...)
				flipped[i] ^= 0x01
				tok := h + "." + p + "." + base64.RawURLEncoding.EncodeToString(flipped)
				if _, _, err := Verify(tok, ks); err == nil {
					t.Fatalf("flipped signature byte %d accepted", i)
				}
			}
			_, _, err := Verify(h+"."+otherPayload+"."+sig, ks)
			wantErr(t, err, ErrSignature)
			_, _, err = Verify(h+"."+p+"."+base64.RawURLEncoding.EncodeToString(sigBytes[:len(sigBytes)-1]), ks)
			wantErr(t, err, ErrSignature)
			_, _, err = Verify(h+"."+p+".", ks)
			wantErr(t, err, ErrSignature)
		})
	}
}

func TestVerifyWrongKey(t *testing.T) {
	k := keys(t)
	// Same kid, different key material: signature does not verify.
	ks := mustKeySet(t, jwks(
		jwkJSON(t, &k.rsa2.PublicKey, "rsa-1", ""),
		jwkJSON(t, &k.p256b.PublicKey, "ec-1", ""),
		jwkJSON(t, k.ed2.Public(), "ed-1", ""),
	))
	for _, s := range []*Signer{mustSigner(t, k.rsa, "rsa-1"), mustSigner(t, k.p256, "ec-1"), mustSigner(t, k.ed, "ed-1")} {
		_, _, err := Verify(mustSign(t, s, claims, SignOptions{}), ks)
		wantErr(t, err, ErrSignature)
	}
	// Unknown kid.
	_, _, err := Verify(mustSign(t, mustSigner(t, k.p256, "other"), claims, SignOptions{}), ks)
	wantErr(t, err, ErrNoKey)
	// Empty or nil key set.
	_, _, err = Verify(mustSign(t, mustSigner(t, k.p256, "ec-1"), claims, SignOptions{}), nil)
	wantErr(t, err, ErrNoKey)
	_, _, err = Verify(mustSign(t, mustSigner(t, k.p256, "ec-1"), claims, SignOptions{}), NewKeySet())
	wantErr(t, err, ErrNoKey)
}

// An ES256 token whose kid names the AS's RSA key must not be checked with that
// RSA key, and vice versa (kid + alg + key type together).
func TestVerifyKidPointsAtWrongKeyType(t *testing.T) {
	k := keys(t)
	ks := asKeySet(t)
	_, _, err := Verify(mustSign(t, mustSigner(t, k.p256, "rsa-1"), claims, SignOptions{}), ks)
	wantErr(t, err, ErrNoKey)
	_, _, err = Verify(mustSign(t, mustSigner(t, k.rsa, "ec-1"), claims, SignOptions{}), ks)
	wantErr(t, err, ErrNoKey)
	_, _, err = Verify(mustSign(t, mustSigner(t, k.ed, "ec-1"), claims, SignOptions{}), ks)
	wantErr(t, err, ErrNoKey)
}

func TestVerifyNoKid(t *testing.T) {
	k := keys(t)
	s := mustSigner(t, k.p256, "")
	tok := mustSign(t, s, claims, SignOptions{})
	// One candidate for ES256 (the RSA and Ed25519 keys do not fit): accepted.
	if _, _, err := Verify(tok, asKeySet(t)); err != nil {
		t.Fatal(err)
	}
	// Two P-256 candidates: ambiguous.
	ks := mustKeySet(t, jwks(jwkJSON(t, &k.p256.PublicKey, "a", ""), jwkJSON(t, &k.p256b.PublicKey, "b", "")))
	_, _, err := Verify(tok, ks)
	wantErr(t, err, ErrAmbiguousKey)
}
