package jws

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func TestNewSigner(t *testing.T) {
	k := keys(t)
	for _, tc := range []struct {
		key crypto.Signer
		alg string
	}{{k.rsa, PS256}, {k.p256, ES256}, {k.ed, EdDSA}} {
		s, err := NewSigner(tc.key, "kid-1")
		if err != nil {
			t.Fatal(err)
		}
		if s.Alg() != tc.alg || s.KeyID() != "kid-1" || !samePublicKey(s.Public(), tc.key.Public()) {
			t.Errorf("%s: got alg %s kid %s", tc.alg, s.Alg(), s.KeyID())
		}
	}
	for name, key := range map[string]crypto.Signer{"P-384": k.p384, "P-521": k.p521, "RSA 1024": k.rsa1024, "nil": nil} {
		if _, err := NewSigner(key, ""); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSignHeaders(t *testing.T) {
	k := keys(t)
	s := mustSigner(t, k.p256, "kid-1")
	tok := mustSign(t, s, claims, SignOptions{Typ: "oauth-authz-req+jwt", Extra: map[string]any{"cty": "JWT", "x-n": 7}})
	h, _, _ := split3(tok)
	raw, _ := base64.RawURLEncoding.DecodeString(h)
	var hdr map[string]any
	if err := json.Unmarshal(raw, &hdr); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"alg": "ES256", "kid": "kid-1", "typ": "oauth-authz-req+jwt", "cty": "JWT", "x-n": float64(7)}
	if len(hdr) != len(want) {
		t.Fatalf("header = %v", hdr)
	}
	for name, v := range want {
		if hdr[name] != v {
			t.Errorf("header[%s] = %v, want %v", name, hdr[name], v)
		}
	}
	// No kid header when kid is empty.
	tok = mustSign(t, mustSigner(t, k.p256, ""), claims, SignOptions{})
	h, _, _ = split3(tok)
	if raw, _ := base64.RawURLEncoding.DecodeString(h); string(raw) != `{"alg":"ES256"}` {
		t.Errorf("header = %s", raw)
	}
	for name := range reservedHeader {
		if _, err := s.Sign([]byte(claims), SignOptions{Extra: map[string]any{name: "x"}}); err == nil {
			t.Errorf("Extra %q accepted", name)
		}
	}
}

// PS256 uses a salt as long as the hash (RFC 7518 §3.5), which strict verifiers
// require; go-jose's cryptosigner would use the maximum.
func TestSignPS256SaltLength(t *testing.T) {
	k := keys(t)
	tok := mustSign(t, mustSigner(t, k.rsa, "rsa"), claims, SignOptions{})
	h, p, s := split3(tok)
	sig, _ := base64.RawURLEncoding.DecodeString(s)
	digest := sha256.Sum256([]byte(h + "." + p))
	if err := rsa.VerifyPSS(&k.rsa.PublicKey, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: 32}); err != nil {
		t.Fatalf("salt length is not 32: %v", err)
	}
}

// Tokens we sign verify with go-jose directly (interop), and through an opaque
// crypto.Signer (the shape of an HSM key).
func TestSignInterop(t *testing.T) {
	k := keys(t)
	for _, key := range []crypto.Signer{k.rsa, k.p256, k.ed} {
		s := mustSigner(t, hsmLike{key}, "kid")
		tok := mustSign(t, s, claims, SignOptions{})
		obj, err := jose.ParseSignedCompact(tok, joseAlgs)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := obj.Verify(key.Public()); err != nil {
			t.Errorf("%s: go-jose verify: %v", s.Alg(), err)
		}
	}
}

// hsmLike hides the concrete key type, as a PKCS#11 signer would.
type hsmLike struct{ k crypto.Signer }

func (h hsmLike) Public() crypto.PublicKey { return h.k.Public() }
func (h hsmLike) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return h.k.Sign(r, d, o)
}

func TestEcdsaRawSignature(t *testing.T) {
	for _, der := range [][]byte{nil, {0x30, 0x00}, {0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01}, {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00}} {
		if _, err := ecdsaRawSignature(der, 32); err == nil {
			t.Errorf("accepted %x", der)
		}
	}
	out, err := ecdsaRawSignature([]byte{0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x07}, 32)
	if err != nil || len(out) != 64 || out[31] != 5 || out[63] != 7 {
		t.Fatalf("got %x, %v", out, err)
	}
}
