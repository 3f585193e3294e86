package spa

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/cillers/fapid/internal/tlsx"
)

//go:embed static/index.html static/app.js static/app.css
var static embed.FS

// CallbackPath is the SPA's redirect target after login (its redirect_uri
// is the SPA origin + CallbackPath); it serves index.html, and the page
// strips the authorization response from the address bar.
const CallbackPath = "/callback"

// Config is the content of config.json.
type Config struct {
	// OAuthAgentBaseURL is the agent's base URL, e.g.
	// https://api.example.test:8443/oauth-agent (no trailing slash).
	OAuthAgentBaseURL string `json:"oauthAgentBaseUrl"`
	// APIBaseURL is the API's base URL through the gateway, e.g.
	// https://api.example.test:8443/api; the page calls APIBaseURL + "/hello".
	APIBaseURL string `json:"apiBaseUrl"`
	// CookiePrefix names the CSRF header x-<CookiePrefix>-csrf.
	CookiePrefix string `json:"cookiePrefix"`
}

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ParseConfig decodes and checks config.json: the three members, nothing
// else, both URLs absolute https without query or fragment, and a cookie
// prefix of letters, digits, "-" and "_".
func ParseConfig(configJSON []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(configJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("spa: config.json: %w", err)
	}
	if dec.More() {
		return Config{}, errors.New("spa: config.json: trailing data")
	}
	for name, v := range map[string]string{"oauthAgentBaseUrl": c.OAuthAgentBaseURL, "apiBaseUrl": c.APIBaseURL} {
		if _, err := origin(v); err != nil {
			return Config{}, fmt.Errorf("spa: config.json: %s: %w", name, err)
		}
	}
	if !prefixRE.MatchString(c.CookiePrefix) {
		return Config{}, fmt.Errorf("spa: config.json: cookiePrefix %q is not [A-Za-z0-9_-]{1,64}", c.CookiePrefix)
	}
	return c, nil
}

// origin returns the serialised origin of an absolute https URL.
func origin(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", err
	case u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "":
		return "", fmt.Errorf("%q is not an absolute https URL", raw)
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(u.Path, "/"):
		return "", fmt.Errorf("%q must have no query, fragment or trailing slash", raw)
	case strings.ContainsAny(raw, " ;,'\"\\"):
		return "", fmt.Errorf("%q has characters not allowed in a CSP source", raw)
	}
	return "https://" + strings.ToLower(u.Host), nil
}

// CSP returns the Content-Security-Policy for a configuration.
func CSP(c Config) string {
	connect := []string{"'self'"}
	for _, raw := range []string{c.OAuthAgentBaseURL, c.APIBaseURL} {
		if o, err := origin(raw); err == nil && !contains(connect, o) {
			connect = append(connect, o)
		}
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
		"connect-src " + strings.Join(connect, " ") + "; object-src 'none'; base-uri 'none'; " +
		"form-action 'none'; frame-ancestors 'none'"
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

type file struct {
	body  []byte
	ctype string
}

// New returns the handler for a config.json, or an error when it is
// invalid. The config is served as given (after validation).
func New(configJSON []byte) (http.Handler, error) {
	c, err := ParseConfig(configJSON)
	if err != nil {
		return nil, err
	}
	read := func(name string) []byte {
		b, err := static.ReadFile("static/" + name)
		if err != nil {
			panic("spa: embedded file missing: " + name) // impossible: go:embed lists it
		}
		return b
	}
	index := file{read("index.html"), "text/html; charset=utf-8"}
	files := map[string]file{
		"/":            index,
		"/index.html":  index,
		CallbackPath:   index,
		"/app.js":      {read("app.js"), "text/javascript; charset=utf-8"},
		"/app.css":     {read("app.css"), "text/css; charset=utf-8"},
		"/config.json": {bytes.Clone(configJSON), "application/json"},
	}
	csp := CSP(c)
	return tlsx.HSTS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		h.Set("Cache-Control", "no-cache")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		f, ok := files[r.URL.Path]
		if !ok {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		h.Set("Content-Type", f.ctype)
		h.Set("Content-Length", strconv.Itoa(len(f.body)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(f.body)
		}
	})), nil
}

// Handler is [New] for callers that cannot handle an error: with an
// invalid config every request answers 500 (and nothing else is served).
func Handler(configJSON []byte) http.Handler {
	h, err := New(configJSON)
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "invalid SPA configuration", http.StatusInternalServerError)
		})
	}
	return h
}
