package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/cillers/fapid/fapi"
)

// x5tLen is the length of base64url-no-pad SHA-256: 43 characters.
const x5tLen = 43

// thumbprint is RFC 8705 §3.1 x5t#S256 of a DER certificate, written into
// dst (which must hold x5tLen bytes) to keep the hot path allocation-free.
func thumbprint(dst []byte, der []byte) []byte {
	sum := sha256.Sum256(der)
	base64.RawURLEncoding.Encode(dst[:x5tLen], sum[:])
	return dst[:x5tLen]
}

// certMatches reports whether der's thumbprint equals cnf exactly. A hex,
// padded or otherwise mis-encoded cnf value never matches (CASES H13).
func certMatches(cnf string, der []byte) bool {
	if len(cnf) != x5tLen || len(der) == 0 {
		return false
	}
	var buf [x5tLen]byte
	return subtle.ConstantTimeCompare(thumbprint(buf[:], der), []byte(cnf)) == 1
}

// request is what the authorization pipeline knows about one request; for
// forward-auth it describes the original request.
type request struct {
	r          *http.Request
	method     string
	rawPath    string // as the client sent it (for DPoP htu)
	clientCert []byte // DER of the presenting client's leaf certificate
	proxied    bool   // the gateway itself forwards it (not forward-auth)
}

// checkBinding enforces the token's sender constraint on every request,
// cached or not (RFC 8705 §3, RFC 9449 §7); refusals challenge with sch,
// the credential's scheme (both of the route's for a cookie). A verified
// DPoP proof may set a fresh DPoP-Nonce on w.
func (g *Gateway) checkBinding(w http.ResponseWriter, rq *request, cred credential, e *entry, sch uint8) *apiError {
	invalid := &apiError{status: 401, code: codeInvalidToken, schemes: sch}
	if e.jkt != "" {
		switch cred.kind {
		case CredentialDPoP:
			if ae := g.verifyDPoP(w, rq, cred.token, e.jkt); ae != nil {
				return ae
			}
		case CredentialCookie:
			// The agent's sessions are bound to the deployment key, which
			// the browser never holds: the gateway proves possession
			// upstream. A cookie token bound to any other key is refused.
			if g.sessionJKT == "" || e.jkt != g.sessionJKT {
				return invalid
			}
		default:
			return invalid // a DPoP-bound token sent as Bearer (RFC 9449 §7.2)
		}
	} else if cred.kind == CredentialDPoP {
		return invalid // DPoP scheme with a token not bound to a key
	}
	if e.x5t != "" {
		der := rq.clientCert
		if cred.kind == CredentialCookie {
			der = g.sessionCertDER()
		}
		if !certMatches(e.x5t, der) {
			return invalid
		}
	}
	return nil
}

// checkForwardable refuses a cnf.jkt-bound token that cannot reach the
// upstream in a form the upstream can check: only a request the gateway
// forwards itself with a token bound to the deployment key gets a proof
// (signed by the gateway, see dpopTransport); any other jkt-bound token
// (a client's own key, or any through forward-auth) goes upstream as
// Bearer only on routes whose upstream trusts the gateway's DPoP check.
func (g *Gateway) checkForwardable(rq *request, e *entry, rt *route, sch uint8) *apiError {
	switch {
	case e.jkt == "":
		return nil
	case rq.proxied && e.jkt == g.sessionJKT:
		return nil
	case rt.UpstreamTrustsGatewayDPoP:
		return nil
	}
	g.log.Warn("DPoP-bound token refused: the route's upstream cannot check a proof of the client's key "+
		"(set UpstreamTrustsGatewayDPoP if it relies on the gateway)", "route", rt.Prefix, "forward_auth", !rq.proxied)
	return &apiError{status: 401, code: codeInvalidToken, schemes: sch}
}

// sessionCertDER is the leaf of Config.SessionCertificate, or nil.
func (g *Gateway) sessionCertDER() []byte {
	if g.cfg.SessionCertificate == nil {
		return nil
	}
	c, err := g.cfg.SessionCertificate.Certificate()
	if err != nil || c == nil || len(c.Certificate) == 0 {
		return nil
	}
	return c.Certificate[0]
}

// verifyDPoP runs RFC 9449 §4.3 on the request's one DPoP header, then the
// jti replay check and the nonce.
func (g *Gateway) verifyDPoP(w http.ResponseWriter, rq *request, token, jkt string) *apiError {
	proofs := rq.r.Header.Values("DPoP")
	bad := &apiError{status: 401, code: codeInvalidDPoP, schemes: schemeDPoP}
	switch len(proofs) {
	case 0:
		return bad
	case 1:
	default:
		return &apiError{status: 400, code: codeInvalidDPoP, schemes: schemeDPoP}
	}
	chk := fapi.DPoPCheck{
		Method: rq.method, URL: g.cfg.PublicOrigin + rq.rawPath, AccessToken: token, JKT: jkt,
		Now: g.cfg.Now(), MaxAge: g.cfg.DPoP.MaxAge, MaxFuture: g.cfg.DPoP.MaxFuture,
	}
	if g.nonces != nil {
		chk.NonceValid = g.nonces.valid
	}
	p, err := fapi.VerifyDPoPProof(proofs[0], chk)
	switch {
	case err == nil:
	case errors.Is(err, fapi.ErrDPoPNonce):
		return &apiError{status: 401, code: codeUseNonce, schemes: schemeDPoP, nonce: g.nonces.current()}
	case errors.Is(err, fapi.ErrDPoPBinding):
		return &apiError{status: 401, code: codeInvalidToken, schemes: schemeDPoP}
	default:
		return bad
	}
	switch g.replay.add(p.JKT, p.JTI, p.ReplayUntil, chk.Now) {
	case replayFresh:
	case replayFull:
		g.log.Warn("dpop replay cache full; refusing proofs")
		return &apiError{status: 503, code: codeUnavailable, retry: 1}
	default:
		return bad
	}
	if g.nonces != nil {
		w.Header().Set("DPoP-Nonce", g.nonces.current())
	}
	return nil
}
