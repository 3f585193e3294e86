package gateway

import (
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
)

// forwardAuth runs the gateway pipeline for a request another proxy holds
// (nginx auth_request, Traefik forwardAuth, Envoy ext_authz HTTP, Kong):
// 200 with the JWT in ForwardAuthHeader, or the same error answers as the
// proxy path. Only Config.TrustedProxies may call it (others get 403, as
// the answer carries the JWT); they send the original method and URI
// (X-Original-Method/-URI, or Traefik's X-Forwarded-Method/-Uri; missing →
// 400) and, for certificate-bound tokens, the client certificate
// (X-Client-Cert: nginx $ssl_client_escaped_cert) or connect with it.
func (g *Gateway) forwardAuth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if g.headerTooLarge(r) {
		writeError(w, r, &apiError{status: http.StatusRequestHeaderFieldsTooLarge, code: codeHeaderTooLarge}, "")
		return
	}
	if _, trusted := g.peer(r); !trusted {
		// The answer carries the JWT: only the proxies in front of the APIs
		// may ask.
		writeError(w, r, &apiError{status: http.StatusForbidden, code: codeForbidden}, "")
		return
	}
	method, uri, ok := originalRequest(r.Header)
	if !ok {
		writeError(w, r, errBadRequest(), "")
		return
	}
	cert := leafDER(r)
	if v := r.Header["X-Client-Cert"]; len(v) == 1 {
		der, ok := escapedCertDER(v[0])
		if !ok {
			writeError(w, r, errBadRequest(), "")
			return
		}
		cert = der
	}
	if !validMethod(method) || uri == "" || uri[0] != '/' {
		writeError(w, r, errBadRequest(), "")
		return
	}
	rawPath := uri
	if i := strings.IndexByte(rawPath, '?'); i >= 0 {
		rawPath = rawPath[:i]
	}
	p, err := canonicalPath(rawPath)
	if err != nil {
		writeError(w, r, errBadRequest(), "")
		return
	}
	rt := g.match(p)
	if rt == nil {
		writeError(w, r, &apiError{status: http.StatusNotFound, code: codeNotFound}, "")
		return
	}
	if rt.Anonymous {
		w.WriteHeader(http.StatusOK)
		return
	}
	rq := &request{r: r, method: method, rawPath: rawPath, clientCert: cert}
	e, _, ae := g.authorize(w, rq, rt)
	if ae != nil {
		writeError(w, r, ae, g.cfg.Realm)
		return
	}
	w.Header().Set(g.cfg.ForwardAuthHeader, e.jwt)
	w.WriteHeader(http.StatusOK)
}

// originalRequest reads the original method and URI a proxy sent along.
func originalRequest(h http.Header) (method, uri string, ok bool) {
	for _, names := range [][2]string{{"X-Original-Method", "X-Original-Uri"}, {"X-Forwarded-Method", "X-Forwarded-Uri"}} {
		m, u := h[names[0]], h[names[1]]
		if len(m) == 1 && len(u) == 1 {
			return m[0], u[0], true
		}
	}
	return "", "", false
}

// escapedCertDER decodes a URL-escaped PEM certificate (nginx
// $ssl_client_escaped_cert) to DER. The proxy verified the chain.
func escapedCertDER(v string) ([]byte, bool) {
	if v == "" {
		return nil, true
	}
	if len(v) > 16<<10 {
		return nil, false
	}
	s, err := url.QueryUnescape(v)
	if err != nil {
		return nil, false
	}
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, false
	}
	return b.Bytes, true
}

// validMethod: an RFC 9110 token of upper-case letters, at most 16 bytes.
func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}
