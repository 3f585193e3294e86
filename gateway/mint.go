package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cillers/fapid/internal/jws"
)

// TypAccessToken is the RFC 9068 §2.1 typ of minted tokens.
const TypAccessToken = "at+jwt"

type mintedClaims struct {
	Issuer   string     `json:"iss"`
	Subject  string     `json:"sub"`
	Audience []string   `json:"aud,omitempty"`
	Expiry   int64      `json:"exp"`
	IssuedAt int64      `json:"iat"`
	ID       string     `json:"jti"`
	ClientID string     `json:"client_id,omitempty"`
	Scope    string     `json:"scope,omitempty"`
	CNF      *mintedCNF `json:"cnf,omitempty"`
}

type mintedCNF struct {
	X5t string `json:"x5t#S256,omitempty"`
	Jkt string `json:"jkt,omitempty"`
}

// mint signs an RFC 9068 JWT access token from introspected claims: iss is
// the gateway (MintIssuer), sub the subject (or the client id for a
// client-credentials token, §2.2), aud, client_id, scope and cnf as
// introspected, a fresh jti, iat now and exp the token's exp (or now +
// Cache.MaxTTL when it has none). It runs once per cache fill.
func (g *Gateway) mint(in *Introspection, now time.Time) (string, error) {
	c := &in.Claims
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("gateway: mint: %w", err)
	}
	exp := now.Add(g.cfg.Cache.MaxTTL)
	if !c.Expiry.IsZero() {
		exp = c.Expiry
	}
	mc := mintedClaims{
		Issuer: g.cfg.MintIssuer, Subject: c.Subject, Audience: c.Audience,
		Expiry: exp.Unix(), IssuedAt: now.Unix(), ID: base64.RawURLEncoding.EncodeToString(jti[:]),
		ClientID: c.ClientID, Scope: strings.Join(c.Scope, " "),
	}
	if mc.Subject == "" {
		mc.Subject = c.ClientID
	}
	if c.CnfX5t != "" || c.CnfJkt != "" {
		mc.CNF = &mintedCNF{X5t: c.CnfX5t, Jkt: c.CnfJkt}
	}
	payload, err := json.Marshal(mc)
	if err != nil {
		return "", fmt.Errorf("gateway: mint: %w", err)
	}
	jwt, err := g.cfg.Signer.Sign(payload, jws.SignOptions{Typ: TypAccessToken})
	if err != nil {
		return "", fmt.Errorf("gateway: mint: %w", err)
	}
	return jwt, nil
}

// jwksHandler serves the gateway's public signing key (GET and HEAD).
func jwksHandler(doc []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, r, &apiError{status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed}, "")
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("Content-Length", strconv.Itoa(len(doc)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(doc)
		}
	}
}
