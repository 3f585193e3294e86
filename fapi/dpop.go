package fapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cillers/fapid/internal/jws"
)

// TypDPoP is the "typ" of DPoP proofs (RFC 9449 §4.2).
const TypDPoP = "dpop+jwt"

// DPoPProof describes one proof to make.
type DPoPProof struct {
	// Method is the HTTP method (htm).
	Method string
	// URL is the target URL; htu is it without query and fragment, otherwise
	// exactly as given (no normalisation, RFC 9449 §4.2).
	URL string
	// AccessToken sets ath = base64url(SHA-256(token)). Only toward resource
	// servers, never at PAR or the token endpoint.
	AccessToken string
	// Nonce is the latest DPoP-Nonce the server sent, if any.
	Nonce string
	// Now and Rand: zero/nil mean time.Now and crypto/rand.
	Now  time.Time
	Rand io.Reader
}

type dpopClaims struct {
	ID       string `json:"jti"`
	Method   string `json:"htm"`
	URL      string `json:"htu"`
	IssuedAt int64  `json:"iat"`
	ATHash   string `json:"ath,omitempty"`
	Nonce    string `json:"nonce,omitempty"`
}

// NewDPoPProof signs a DPoP proof JWT (RFC 9449 §4.2): header typ dpop+jwt,
// alg from the key, the public jwk embedded; claims jti (32 random bytes),
// htm, htu, iat = now, and ath / nonce when given.
func NewDPoPProof(key *jws.Signer, p DPoPProof) (string, error) {
	if key == nil {
		return "", fmt.Errorf("%w: no DPoP key", ErrConfig)
	}
	if p.Method == "" || p.URL == "" {
		return "", fmt.Errorf("%w: DPoP proof needs method and URL", ErrConfig)
	}
	if p.Now.IsZero() {
		p.Now = time.Now()
	}
	if p.Rand == nil {
		p.Rand = rand.Reader
	}
	jti, err := RandomValue(p.Rand)
	if err != nil {
		return "", err
	}
	cl := dpopClaims{ID: jti, Method: p.Method, URL: htu(p.URL), IssuedAt: p.Now.Unix(), Nonce: p.Nonce}
	if p.AccessToken != "" {
		cl.ATHash = AccessTokenHash(p.AccessToken)
	}
	payload, err := json.Marshal(cl)
	if err != nil {
		return "", err
	}
	proof, err := key.Sign(payload, jws.SignOptions{Typ: TypDPoP, EmbedJWK: true})
	if err != nil {
		return "", fmt.Errorf("fapi: signing DPoP proof: %w", err)
	}
	return proof, nil
}

// AccessTokenHash is the DPoP "ath": base64url(SHA-256(ASCII(token))).
func AccessTokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// htu cuts the query and fragment off a URL, changing nothing else.
func htu(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

// proofFor makes the proof for a request this client sends, with the nonce
// last seen from that server.
func (c *Client) proofFor(key *jws.Signer, req *http.Request, accessToken string) (string, error) {
	return NewDPoPProof(key, DPoPProof{
		Method: req.Method, URL: req.URL.String(), AccessToken: accessToken,
		Nonce: c.nonce.get(originOf(req.URL)), Now: c.now(), Rand: c.rand,
	})
}

// validNonce checks the RFC 9449 §8.1 nonce syntax: 1*NQCHAR.
func validNonce(n string) bool {
	if n == "" || len(n) > 512 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
