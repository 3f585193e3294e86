package tlsx

import "net/http"

// hstsValue is two years with subdomains (RFC 6797 §6.1). "preload" is left
// to the operator, since preloading commits the whole registrable domain.
const hstsValue = "max-age=63072000; includeSubDomains"

// HSTS sets Strict-Transport-Security on every response before next runs,
// so the header is present however next writes (FAPI 2.0 Security Profile
// §5.2.3: browser-facing endpoints must prevent TLS stripping). Browsers
// honour it only over HTTPS (RFC 6797 §8.1), so serve it on TLS listeners.
func HSTS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", hstsValue)
		next.ServeHTTP(w, r)
	})
}
