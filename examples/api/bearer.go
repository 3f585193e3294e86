package api

import (
	"fmt"
	"net/http"
	"strings"
)

// MaxTokenSize bounds the access token accepted in the Authorization header.
const MaxTokenSize = 16 << 10

// credential is the access token of a request and the scheme it came with.
type credential struct {
	token string
	dpop  bool // "DPoP" scheme (RFC 9449 §7.1) rather than "Bearer"
}

// extractCredential reads "Authorization: Bearer <token>" (RFC 6750 §2.1)
// or "Authorization: DPoP <token>" (RFC 9449 §7.1): exactly one header
// line, the scheme case-insensitive, one or more spaces, then a b64token
// (RFC 6750 §2.1: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
// *"=") of at most MaxTokenSize bytes. A token anywhere else (query, body)
// is never read. No header at all is ErrNoToken; anything else wrong is
// ErrMalformed.
func extractCredential(h http.Header) (credential, error) {
	lines := h.Values("Authorization")
	switch len(lines) {
	case 0:
		return credential{}, ErrNoToken
	case 1:
	default:
		return credential{}, fmt.Errorf("%w: %d Authorization headers", ErrMalformed, len(lines))
	}
	return parseAuthorization(lines[0])
}

// parseAuthorization parses one Authorization header value.
func parseAuthorization(v string) (credential, error) {
	scheme, rest, ok := strings.Cut(v, " ")
	if !ok {
		if v == "" {
			return credential{}, ErrNoToken
		}
		return credential{}, fmt.Errorf("%w: Authorization has no credentials", ErrMalformed)
	}
	var c credential
	switch {
	case strings.EqualFold(scheme, "Bearer"):
	case strings.EqualFold(scheme, "DPoP"):
		c.dpop = true
	default:
		return credential{}, fmt.Errorf("%w: Authorization scheme is not Bearer or DPoP", ErrMalformed)
	}
	c.token = strings.TrimLeft(rest, " ")
	switch {
	case c.token == "":
		return credential{}, fmt.Errorf("%w: empty token", ErrMalformed)
	case len(c.token) > MaxTokenSize:
		return credential{}, fmt.Errorf("%w: token over %d bytes", ErrMalformed, MaxTokenSize)
	case !isB64Token(c.token):
		return credential{}, fmt.Errorf("%w: token is not a b64token", ErrMalformed)
	}
	return c, nil
}

// isB64Token reports whether s matches RFC 6750's b64token.
func isB64Token(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
