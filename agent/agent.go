package agent

import (
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cillers/fapid/fapi"
)

// Agent is the OAuth Agent. It is safe for concurrent use.
type Agent struct {
	cfg        Config
	client     *fapi.Client
	jar        jar
	log        *slog.Logger
	now        func() time.Time
	rand       io.Reader
	origins    map[string]bool
	extra      map[string]bool
	csrfHeader string // canonical x-<prefix>-csrf
	routes     map[string]route
	disc       discovery
	states     usedStates
	refresher  refresher
}

// route is one endpoint below the base path.
type route struct {
	method  string
	handler func(*Agent, http.ResponseWriter, *http.Request)
}

var routeTable = map[string]route{
	"login/start": {http.MethodPost, (*Agent).loginStart},
	"login/end":   {http.MethodPost, (*Agent).loginEnd},
	"session":     {http.MethodGet, (*Agent).session},
	"userInfo":    {http.MethodGet, (*Agent).userInfo},
	"claims":      {http.MethodGet, (*Agent).claims},
	"refresh":     {http.MethodPost, (*Agent).refresh},
	"logout":      {http.MethodPost, (*Agent).logout},
}

// New checks cfg and returns an Agent. It makes no network call; call
// Discover to check the authorization server at start.
func New(cfg Config) (*Agent, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	client, err := fapi.NewClient(cfg.FAPI)
	if err != nil {
		return nil, err
	}
	a := &Agent{
		cfg: cfg, client: client, log: cfg.Logger, now: cfg.Now, rand: cfg.Rand,
		origins:    make(map[string]bool),
		extra:      make(map[string]bool),
		csrfHeader: http.CanonicalHeaderKey("x-" + cfg.CookiePrefix + "-csrf"),
		routes:     routeTable,
	}
	if cfg.Compat == CompatCurityV1 {
		a.jar, err = newCurityJar(cfg.CookieKeys, cfg.CookiePrefix, cfg.CompatDomain, cfg.CompatPath, cfg.BasePath, cfg.Now)
	} else {
		a.jar, err = newNativeJar(cfg.CookieKeys, cfg.CookiePrefix, cfg.Now)
	}
	if err != nil {
		return nil, err
	}
	for _, o := range cfg.TrustedOrigins {
		a.origins[o] = true
	}
	for _, p := range cfg.ExtraParams {
		a.extra[p] = true
	}
	a.disc.maxAge, a.disc.minWait = cfg.MetadataMaxAge, cfg.RediscoverInterval
	a.states.max = maxUsedStates
	a.refresher.grace, a.refresher.now = cfg.RefreshGrace, cfg.Now
	return a, nil
}

// Handler returns the agent's HTTP handler. It serves the endpoints below
// Config.BasePath and answers 404 elsewhere; mount it on BasePath+"/".
func (a *Agent) Handler() http.Handler { return a }

// BasePath returns the configured base path.
func (a *Agent) BasePath() string { return a.cfg.BasePath }

// ServeHTTP checks, in order: the route, CORS preflight, the method, the
// Origin (every call), the custom header (CSRFCustomHeader), then runs the
// endpoint, which checks cookies and CSRF.
func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Origin")
	trusted := a.trustedOrigin(r)
	if trusted {
		h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	rest, ok := strings.CutPrefix(r.URL.Path, a.cfg.BasePath+"/")
	rt, found := a.routes[rest]
	if !ok || !found || r.URL.RawPath != "" {
		a.writeError(w, r, newError(http.StatusNotFound, codeNotFound, nil))
		return
	}
	if r.Method == http.MethodOptions {
		a.preflight(w, r, rt, trusted)
		return
	}
	if r.Method != rt.method {
		h.Set("Allow", rt.method+", OPTIONS")
		a.writeError(w, r, newError(http.StatusMethodNotAllowed, codeMethod, nil))
		return
	}
	if !trusted {
		a.writeError(w, r, newError(http.StatusUnauthorized, codeUnauthorized, errors.New("origin missing or not trusted")))
		return
	}
	if a.cfg.CSRF == CSRFCustomHeader {
		if v := r.Header.Values(CustomHeader); len(v) != 1 || v[0] != CustomHeaderValue {
			a.writeError(w, r, newError(http.StatusUnauthorized, codeUnauthorized, errors.New("custom header missing or wrong")))
			return
		}
	}
	rt.handler(a, w, r)
}

// preflight answers a CORS preflight: 204 with the CORS headers for a
// trusted origin asking for the route's method, 401 otherwise.
func (a *Agent) preflight(w http.ResponseWriter, r *http.Request, rt route, trusted bool) {
	h := w.Header()
	h.Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
	m := r.Header.Values("Access-Control-Request-Method")
	if !trusted || len(m) != 1 || m[0] != rt.method {
		h.Del("Access-Control-Allow-Origin")
		h.Del("Access-Control-Allow-Credentials")
		a.writeError(w, r, newError(http.StatusUnauthorized, codeUnauthorized, errors.New("preflight from an untrusted origin or for another method")))
		return
	}
	h.Set("Access-Control-Allow-Methods", rt.method)
	h.Set("Access-Control-Allow-Headers", "accept, content-type, "+strings.ToLower(a.csrfHeader)+", "+strings.ToLower(CustomHeader))
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// trustedOrigin: exactly one Origin header, equal byte for byte to a
// trusted origin ("null" and wildcards never are).
func (a *Agent) trustedOrigin(r *http.Request) bool {
	o := r.Header["Origin"]
	return len(o) == 1 && a.origins[o[0]]
}

// requireSession loads the session and, when csrf is set and the agent is
// in CSRFToken mode, checks the CSRF header: exactly one, equal in constant
// time to the sealed CSRF cookie. No session is 401 unauthorized_request.
func (a *Agent) requireSession(r *http.Request, csrf bool) (*session, *apiError) {
	s, ae := a.loadSession(r)
	if ae != nil {
		return nil, ae
	}
	if s == nil {
		return nil, newError(http.StatusUnauthorized, codeUnauthorized, errors.New("no session cookies"))
	}
	if csrf && a.cfg.CSRF == CSRFToken {
		hdr := r.Header.Values(a.csrfHeader)
		if len(hdr) != 1 || subtle.ConstantTimeCompare([]byte(hdr[0]), []byte(s.csrf)) != 1 {
			return nil, newError(http.StatusUnauthorized, codeUnauthorized, errors.New("CSRF header missing or wrong"))
		}
	}
	return s, nil
}
