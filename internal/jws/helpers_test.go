package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// testKeys are generated once per test binary; RSA generation is the slow part.
type testKeys struct {
	rsa, rsa2 *rsa.PrivateKey // 2048 bits
	rsa1024   *rsa.PrivateKey
	p256      *ecdsa.PrivateKey
	p256b     *ecdsa.PrivateKey
	p384      *ecdsa.PrivateKey
	p521      *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
	ed2       ed25519.PrivateKey
}

var keysOnce = sync.OnceValue(func() *testKeys {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	k := &testKeys{}
	var err error
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa1024, err = rsa.GenerateKey(rand.Reader, 1024)
	must(err)
	k.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.p256b, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	k.p521, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	_, k.ed2, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	return k
})

func keys(t testing.TB) *testKeys {
	t.Helper()
	return keysOnce()
}

// token assembles a compact JWS from a raw header JSON, a payload and signature
// bytes, with no checks: the attacker's view.
func token(header, payload string, sig []byte) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(sig)
}

// signingInput returns header.payload for a raw header and payload.
func signingInput(header, payload string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
}

// joseSign signs with go-jose directly, with any algorithm it supports: used to
// produce tokens this package must refuse.
func joseSign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, extra map[jose.HeaderKey]any, payload string) string {
	t.Helper()
	opts := &jose.SignerOptions{ExtraHeaders: extra}
	if kid != "" {
		opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("go-jose NewSigner(%s): %v", alg, err)
	}
	obj, err := s.Sign([]byte(payload))
	if err != nil {
		t.Fatalf("go-jose Sign(%s): %v", alg, err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustSigner(t testing.TB, key crypto.Signer, kid string) *Signer {
	t.Helper()
	s, err := NewSigner(key, kid)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	return s
}

func mustSign(t testing.TB, s *Signer, payload string, opts SignOptions) string {
	t.Helper()
	out, err := s.Sign([]byte(payload), opts)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return out
}

// jwkJSON returns the JWK JSON of key (public or private) with kid and alg.
func jwkJSON(t testing.TB, key any, kid, alg string) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jwks(members ...string) []byte {
	out := `{"keys":[`
	for i, m := range members {
		if i > 0 {
			out += ","
		}
		out += m
	}
	return []byte(out + `]}`)
}

func mustKeySet(t testing.TB, doc []byte) *KeySet {
	t.Helper()
	ks, err := ParseKeySet(doc)
	if err != nil {
		t.Fatalf("ParseKeySet: %v", err)
	}
	return ks
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}
