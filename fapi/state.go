package fapi

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
)

// randomBytes is the entropy of every value this package generates: state,
// nonce, PKCE verifier, jti (FAPI 2.0 SP 5.4.1-4 asks for ≥ 128 bits).
const randomBytes = 32

// RandomValue returns base64url (no padding) of 32 bytes read from r: 43
// URL-safe characters, within the suite's 43-character nonce advice and the
// 64-character OIDC limit (FAPI 2.0 SP 5.3.3.2-7).
func RandomValue(r io.Reader) (string, error) {
	var b [randomBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("fapi: reading randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// LoginState is what a client must remember between PAR and the callback.
// It holds secrets (the PKCE verifier): the agent seals it (internal/seal)
// into its login cookie and drops it after one use, so that a state can
// never be redeemed twice.
type LoginState struct {
	Issuer       string `json:"iss"`                // AS the flow was started with
	ClientID     string `json:"cid"`                // client the flow was started as
	State        string `json:"state"`              // RFC 6749 §10.12 CSRF protection
	Nonce        string `json:"nonce,omitempty"`    // OIDC Core §3.1.2.1; only with scope openid
	CodeVerifier string `json:"cv"`                 // RFC 7636
	RedirectURI  string `json:"ru"`                 // sent again at the token endpoint
	ResponseMode string `json:"rm"`                 // "query" or "jwt"
	DPoPJKT      string `json:"dpop_jkt,omitempty"` // RFC 7638 thumbprint of the DPoP key used at PAR
}

// newLoginState draws state, nonce (for OpenID Connect) and PKCE.
func (c *Client) newLoginState(scopes []string) (LoginState, PKCE, error) {
	state, err := RandomValue(c.rand)
	if err != nil {
		return LoginState{}, PKCE{}, err
	}
	var nonce string
	if oidc(scopes) {
		if nonce, err = RandomValue(c.rand); err != nil {
			return LoginState{}, PKCE{}, err
		}
	}
	pk, err := NewPKCE(c.rand)
	if err != nil {
		return LoginState{}, PKCE{}, err
	}
	return LoginState{
		Issuer: c.cfg.Issuer, ClientID: c.cfg.ClientID, State: state, Nonce: nonce,
		CodeVerifier: pk.Verifier, RedirectURI: c.cfg.RedirectURI, ResponseMode: string(c.cfg.ResponseMode),
	}, pk, nil
}

// check refuses a login state made for another server or client, or
// without the values the callback needs.
func (ls *LoginState) check(c *Client) error {
	switch {
	case ls.Issuer != c.cfg.Issuer:
		return fmt.Errorf("%w: login state is for issuer %q, client is for %q", ErrConfig, ls.Issuer, c.cfg.Issuer)
	case ls.ClientID != c.cfg.ClientID:
		return fmt.Errorf("%w: login state is for client %q, not %q", ErrConfig, ls.ClientID, c.cfg.ClientID)
	case ls.State == "":
		return fmt.Errorf("%w: login state has no state", ErrConfig)
	case ls.RedirectURI == "":
		return fmt.Errorf("%w: login state has no redirect uri", ErrConfig)
	}
	return validVerifier(ls.CodeVerifier)
}

// equalSecret compares two strings in constant time (for equal lengths).
func equalSecret(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
