package fapi

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
)

// PKCE is one RFC 7636 proof key: a fresh verifier per authorization
// request (FAPI 2.0 SP 5.3.3.2-3/4) and its S256 challenge.
type PKCE struct {
	Verifier  string // 43 characters: base64url of 32 random bytes (RFC 7636 §4.1, §7.1)
	Challenge string // BASE64URL(SHA256(ASCII(verifier))) (§4.2)
	Method    string // always "S256"
}

// NewPKCE makes a verifier from 32 bytes of r and its S256 challenge.
func NewPKCE(r io.Reader) (PKCE, error) {
	v, err := RandomValue(r)
	if err != nil {
		return PKCE{}, err
	}
	return PKCE{Verifier: v, Challenge: PKCEChallenge(v), Method: "S256"}, nil
}

// PKCEChallenge returns the S256 code challenge of a verifier.
func PKCEChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validVerifier checks RFC 7636 §4.1: 43–128 unreserved characters.
func validVerifier(v string) error {
	if len(v) < 43 || len(v) > 128 {
		return fmt.Errorf("%w: code verifier length %d outside 43..128", ErrConfig, len(v))
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return fmt.Errorf("%w: code verifier has a character outside the unreserved set", ErrConfig)
		}
	}
	return nil
}
