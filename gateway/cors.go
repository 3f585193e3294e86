package gateway

import (
	"net/http"
	"strings"
)

// CORS for browser (cookie) routes: the SPA runs on a trusted origin and
// calls the API host with credentials. Only exact trusted origins get
// Access-Control-Allow-Origin; others get no CORS headers, so the browser
// refuses to show them the answer.

const corsMethods = "GET, HEAD, POST, PUT, PATCH, DELETE"

// preflight answers a CORS preflight on a cookie route and reports whether
// it did. Preflights carry no credentials, so they never reach upstream.
func (g *Gateway) preflight(w http.ResponseWriter, r *http.Request, rt *route) bool {
	if r.Method != http.MethodOptions || rt.accept&acceptCookie == 0 || len(r.Header["Access-Control-Request-Method"]) == 0 {
		return false
	}
	h := w.Header()
	h.Set("Vary", "Origin, Access-Control-Request-Headers")
	if g.trustedOrigin(r) {
		h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Allow-Methods", corsMethods)
		if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" && headerList(rh) {
			h.Set("Access-Control-Allow-Headers", rh)
		}
		h.Set("Access-Control-Max-Age", "600")
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

// corsOrigin is the origin to allow on an answer to r, or "".
func (g *Gateway) corsOrigin(r *http.Request, rt *route) string {
	if rt.accept&acceptCookie == 0 || !g.trustedOrigin(r) {
		return ""
	}
	return r.Header["Origin"][0]
}

func setCORS(h http.Header, origin string) {
	if origin == "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
}

// headerList: a comma-separated list of header names (RFC 9110 tokens).
func headerList(s string) bool {
	if len(s) > 1024 {
		return false
	}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return false
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
