package gateway

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/cillers/fapid/internal/cookies"
)

// credential is the access token a request presents and how.
type credential struct {
	kind  Credential // "" when the request carries none
	token string
}

// Accepted-credential bits of a route.
const (
	acceptCookie uint8 = 1 << iota
	acceptBearer
	acceptDPoP
)

// schemesFor is the set of challenges for a route's header schemes.
func schemesFor(accept uint8) uint8 {
	var s uint8
	if accept&(acceptBearer|acceptCookie) != 0 {
		s |= schemeBearer
	}
	if accept&acceptDPoP != 0 {
		s |= schemeDPoP
	}
	return s
}

// extract finds the one credential of r that the route accepts. The
// Authorization header wins over the cookie; the query string is never
// read (RFC 6750 §2.3, FAPI 2.0 §5.3.4-2). Length and characters are
// checked before anything else touches the token.
func (g *Gateway) extract(rq *request, accept uint8) (credential, *apiError) {
	authz := rq.r.Header["Authorization"]
	switch {
	case len(authz) > 1, len(authz) == 1 && strings.Contains(authz[0], ","):
		// Two credentials, also as one header a proxy merged with a comma
		// (RFC 9110 §5.3): a malformed request (RFC 6750 §3.1).
		return credential{}, &apiError{status: 400, code: codeInvalidRequest, schemes: schemesFor(accept)}
	case len(authz) == 1:
		return g.fromHeader(authz[0], accept)
	case accept&acceptCookie != 0:
		return g.fromCookie(rq, accept)
	}
	return credential{}, &apiError{status: 401, code: codeInvalidToken, noErr: true, schemes: schemesFor(accept)}
}

func (g *Gateway) fromHeader(v string, accept uint8) (credential, *apiError) {
	scheme, token, _ := strings.Cut(v, " ")
	var kind Credential
	var bit, sch uint8
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		kind, bit, sch = CredentialBearer, acceptBearer, schemeBearer
	case strings.EqualFold(scheme, "DPoP"):
		kind, bit, sch = CredentialDPoP, acceptDPoP, schemeDPoP
	default:
		return credential{}, &apiError{status: 401, code: codeInvalidToken, noErr: true, schemes: schemesFor(accept)}
	}
	if accept&bit == 0 {
		return credential{}, &apiError{status: 401, code: codeInvalidToken, schemes: schemesFor(accept)}
	}
	token = strings.TrimLeft(token, " ")
	if !g.plausibleToken(token) {
		return credential{}, &apiError{status: 401, code: codeInvalidToken, schemes: sch}
	}
	return credential{kind: kind, token: token}, nil
}

// plausibleToken is the cheap test every token passes before any work:
// RFC 6750 §2.1 b64token characters, MinTokenLength..MaxTokenLength long,
// at most four '.' (a JWS or JWE), none leading, trailing or doubled, and
// '=' only as trailing padding.
func (g *Gateway) plausibleToken(t string) bool {
	if len(t) < DefaultMinTokenLength || len(t) > g.cfg.MaxTokenLength {
		return false
	}
	dots := 0
	pad := false
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '=':
			pad = true
			continue
		case pad:
			return false
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '~', c == '+', c == '/':
		case c == '.':
			dots++
			if dots > 4 || i == 0 || t[i-1] == '.' || i == len(t)-1 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// fromCookie reads the agent's sealed access-token cookie. Order: the
// cookie shape (cheap), then Origin (every call), then CSRF (every call
// that may change data), then decryption.
func (g *Gateway) fromCookie(rq *request, accept uint8) (credential, *apiError) {
	r := rq.r
	deny := &apiError{status: 401, code: codeUnauthorized, schemes: schemesFor(accept)}
	sealed, err := cookies.Join(r, g.atName)
	if errors.Is(err, cookies.ErrMissing) {
		return credential{}, &apiError{status: 401, code: codeInvalidToken, noErr: true, schemes: schemesFor(accept)}
	}
	if err != nil {
		return credential{}, deny
	}
	if !g.trustedOrigin(r) {
		return credential{}, deny
	}
	if !safeMethod(rq.method) && !g.csrfValid(r) {
		return credential{}, deny
	}
	raw, err := g.cfg.Cookies.Open(g.atName, sealed)
	if err != nil {
		// A session cookie that does not open (tampered, a chunk lost, an
		// old key) ends the session, as at the agent (CASES H05).
		deny.clear = g.sessionCookies(r)
		return credential{}, deny
	}
	token := string(raw)
	if !g.plausibleToken(token) {
		return credential{}, deny
	}
	return credential{kind: CredentialCookie, token: token}, nil
}

// trustedOrigin: exactly one Origin header, equal byte for byte to a
// trusted origin ("null" never is).
func (g *Gateway) trustedOrigin(r *http.Request) bool {
	o := r.Header["Origin"]
	return len(o) == 1 && slices.Contains(g.cfg.TrustedOrigins, o[0])
}

// csrfValid: exactly one x-<prefix>-csrf header equal, in constant time,
// to the data of the sealed __Host-<prefix>-csrf cookie.
func (g *Gateway) csrfValid(r *http.Request) bool {
	hdr := r.Header.Values(g.csrfHeader)
	if len(hdr) != 1 || hdr[0] == "" || len(hdr[0]) > 512 {
		return false
	}
	sealed, err := cookies.Join(r, g.csrfName)
	if err != nil {
		return false
	}
	want, err := g.cfg.Cookies.Open(g.csrfName, sealed)
	if err != nil || len(want) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hdr[0]), want) == 1
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// Opener opens sealed cookie values (internal/seal.Sealer implements it).
type Opener interface {
	Open(name, value string) ([]byte, error)
}

// sessionCookies returns expired copies of the agent's cookies (every chunk
// present in r), with the attributes the agent sets them with.
func (g *Gateway) sessionCookies(r *http.Request) []*http.Cookie {
	var out []*http.Cookie
	for _, suffix := range []string{"login", "at", "rt", "id", "csrf"} {
		out = append(out, cookies.Expire(r, g.cookiePrefix+suffix, 0)...)
	}
	return out
}
