package oidf

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
)

// serverJWKS makes the suite's server.jwks: one fresh RSA 2048 PS256 key
// with its private members (RFC 7518 §6.3.2), for the test authorization
// server only. With it the suite signs every module of a plan with the same
// key and kid, as the research note (§4.2) recommends; without it the suite
// makes a new key per module. The key is written out by hand because
// go-jose may only be used by internal/jws, internal/keys and pki, and
// internal/jws never serialises private keys.
func serverJWKS() (json.RawMessage, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	enc := func(i *big.Int) string { return base64.RawURLEncoding.EncodeToString(i.Bytes()) }
	jwk := map[string]string{
		"kty": "RSA", "use": "sig", "alg": "PS256", "kid": "fapid-suite-op-ps256",
		"n": enc(k.N), "e": enc(big.NewInt(int64(k.E))), "d": enc(k.D),
		"p": enc(k.Primes[0]), "q": enc(k.Primes[1]),
		"dp": enc(k.Precomputed.Dp), "dq": enc(k.Precomputed.Dq), "qi": enc(k.Precomputed.Qinv),
	}
	return json.Marshal(map[string]any{"keys": []any{jwk}})
}
