package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/tlsx"
)

// Gateway is the OAuth proxy. It is safe for concurrent use.
type Gateway struct {
	cfg     Config
	log     *slog.Logger
	routes  []*route // longest prefix first
	servers []*asState
	cache   *tokenCache
	flight  singleflight.Group
	sem     chan struct{}
	breaker *breaker
	replay  *replayCache
	nonces  *nonceSource // nil unless DPoP.Nonce
	jwks    http.Handler // nil without a Signer

	atName, csrfName, csrfHeader, cookiePrefix string
	publicHost                                 string // host of PublicOrigin
	sessionJKT                                 string // thumbprint of SessionDPoPSigner, or ""

	altSvc atomic.Pointer[[]string] // Alt-Svc value, set by ServeHTTP3
}

type route struct {
	Route
	accept   uint8
	as       *asState
	upstream *url.URL
	proxy    http.Handler
}

type asState struct {
	AuthorizationServer
	idx uint16
}

// New checks cfg, fills defaults and builds the routes' upstream clients.
func New(cfg Config) (*Gateway, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := &Gateway{
		cfg: cfg, log: cfg.Logger,
		cache:   newTokenCache(cfg.Cache.MaxEntries),
		sem:     make(chan struct{}, cfg.MaxIntrospections),
		breaker: newBreaker(cfg.BreakerFailures, cfg.BreakerCooldown),
		replay:  newReplayCache(cfg.DPoP.ReplayEntries),
	}
	p := cfg.CookiePrefix
	g.atName, g.csrfName, g.csrfHeader = "__Host-"+p+"-at", "__Host-"+p+"-csrf", "X-"+p+"-Csrf"
	g.csrfHeader = http.CanonicalHeaderKey(g.csrfHeader)
	g.cookiePrefix = "__Host-" + p + "-"
	if u, err := url.Parse(cfg.PublicOrigin); err == nil {
		g.publicHost = u.Host
	}
	if cfg.DPoP.Nonce {
		n, err := newNonceSource(cfg.DPoP.NonceLifetime, cfg.Now)
		if err != nil {
			return nil, fmt.Errorf("gateway: nonce key: %w", err)
		}
		g.nonces = n
	}
	if cfg.SessionDPoPSigner != nil {
		jkt, err := jws.Thumbprint(cfg.SessionDPoPSigner.Public())
		if err != nil {
			return nil, fmt.Errorf("gateway: session DPoP key: %w", err)
		}
		g.sessionJKT = jkt
	}
	if cfg.Signer != nil {
		doc, err := jws.PublicJWKS(jws.PublicKey{Key: cfg.Signer.Public(), KeyID: cfg.Signer.KeyID(), Alg: cfg.Signer.Alg()})
		if err != nil {
			return nil, fmt.Errorf("gateway: jwks: %w", err)
		}
		g.jwks = jwksHandler(doc)
	}
	byName := map[string]*asState{}
	for i, as := range cfg.AuthorizationServers {
		s := &asState{AuthorizationServer: as, idx: uint16(i)}
		g.servers = append(g.servers, s)
		byName[as.Name] = s
	}
	for i := range cfg.Routes {
		rt, err := g.newRoute(&cfg.Routes[i], byName)
		if err != nil {
			return nil, err
		}
		g.routes = append(g.routes, rt)
	}
	sort.SliceStable(g.routes, func(i, j int) bool { return len(g.routes[i].Prefix) > len(g.routes[j].Prefix) })
	return g, nil
}

func (g *Gateway) newRoute(r *Route, byName map[string]*asState) (*route, error) {
	rt := &route{Route: *r}
	for _, c := range r.Credentials {
		switch c {
		case CredentialCookie:
			rt.accept |= acceptCookie
		case CredentialBearer:
			rt.accept |= acceptBearer
		case CredentialDPoP:
			rt.accept |= acceptDPoP
		}
	}
	if len(g.servers) > 0 {
		rt.as = g.servers[0]
		if r.AuthorizationServer != "" {
			rt.as = byName[r.AuthorizationServer]
		}
	}
	if r.Upstream != "" {
		u, err := url.Parse(r.Upstream)
		if err != nil {
			return nil, fmt.Errorf("gateway: route %q: %w", r.Prefix, err)
		}
		rt.upstream = u
		tr, err := UpstreamTransport(r)
		if err != nil {
			return nil, fmt.Errorf("gateway: route %q: %w", r.Prefix, err)
		}
		var rtr http.RoundTripper = tr
		if g.sessionJKT != "" {
			if rtr, err = g.newDPoPTransport(rt, tr); err != nil {
				return nil, fmt.Errorf("gateway: route %q: %w", r.Prefix, err)
			}
		}
		rt.proxy = g.newProxy(rt, rtr)
	}
	return rt, nil
}

// Handler serves the gateway: /.well-known/jwks.json (when minting), the
// forward-auth endpoint (when ForwardAuthPath is set) and the routes.
// Every answer carries Strict-Transport-Security (FAPI 2.0 §5.2.3).
func (g *Gateway) Handler() http.Handler { return tlsx.HSTS(http.HandlerFunc(g.serve)) }

// ForwardAuthHandler serves only the forward-auth endpoint, for a listener
// of its own (only trusted proxies should reach it).
func (g *Gateway) ForwardAuthHandler() http.Handler { return http.HandlerFunc(g.forwardAuth) }

func (g *Gateway) match(p string) *route {
	for _, rt := range g.routes {
		if matchPrefix(p, rt.Prefix) {
			return rt
		}
	}
	return nil
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	if v := g.altSvc.Load(); v != nil && r.TLS != nil && r.ProtoMajor < 3 {
		w.Header()["Alt-Svc"] = *v
	}
	if g.headerTooLarge(r) {
		writeError(w, r, &apiError{status: http.StatusRequestHeaderFieldsTooLarge, code: codeHeaderTooLarge}, "")
		return
	}
	rawPath, ok := requestPath(r)
	if !ok {
		writeError(w, r, errBadRequest(), "")
		return
	}
	p, err := canonicalPath(rawPath)
	if err != nil {
		writeError(w, r, errBadRequest(), "")
		return
	}
	switch {
	case p == "/.well-known/jwks.json" && g.jwks != nil:
		g.jwks.ServeHTTP(w, r)
		return
	case g.cfg.ForwardAuthPath != "" && p == g.cfg.ForwardAuthPath:
		g.forwardAuth(w, r)
		return
	}
	rt := g.match(p)
	if rt == nil || rt.proxy == nil {
		writeError(w, r, &apiError{status: http.StatusNotFound, code: codeNotFound}, "")
		return
	}
	if g.preflight(w, r, rt) {
		return
	}
	clientIP, trusted := g.clientIP(r)
	f := &forward{path: p, clientIP: clientIP, trusted: trusted}
	if !rt.Anonymous {
		rq := &request{r: r, method: r.Method, rawPath: rawPath, clientCert: leafDER(r), proxied: true}
		e, cred, ae := g.authorize(w, rq, rt)
		if ae != nil {
			setCORS(w.Header(), g.corsOrigin(r, rt))
			writeError(w, r, ae, g.cfg.Realm)
			return
		}
		if cred.kind == CredentialCookie {
			f.cors = g.corsOrigin(r, rt)
		}
		f.jwt, f.bearer = e.jwt, e.bearer
		// A token bound to the deployment key goes upstream with a proof
		// the gateway signs (DESIGN §4 step 6); authorize has refused
		// every other jkt-bound token the route cannot forward.
		f.dpop = e.jkt != "" && e.jkt == g.sessionJKT
	}
	rt.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), forwardKey{}, f)))
}

// authorize runs steps 2–5 of DESIGN §4 for one request: credential,
// cache or introspection, expiry, audience, sender constraint, scope.
func (g *Gateway) authorize(w http.ResponseWriter, rq *request, rt *route) (*entry, credential, *apiError) {
	cred, ae := g.extract(rq, rt.accept)
	if ae != nil {
		return nil, cred, ae
	}
	sch := schemesFor(rt.accept)
	if cred.kind == CredentialDPoP {
		sch = schemeDPoP
	} else if cred.kind == CredentialBearer {
		sch = schemeBearer
	}
	e, err := g.lookup(rq.r.Context(), rt.as, cred.token)
	if err != nil {
		return nil, cred, g.introspectionFailure(rt, err)
	}
	now := g.cfg.Now().UnixNano()
	if e.negative || (e.exp != 0 && now >= e.exp) {
		return nil, cred, &apiError{status: 401, code: codeInvalidToken, schemes: sch}
	}
	if rt.Audience != "" && !contains(e.aud, rt.Audience) {
		return nil, cred, &apiError{status: 401, code: codeInvalidToken, schemes: sch}
	}
	if ae := g.checkBinding(w, rq, cred, e, sch); ae != nil {
		return nil, cred, ae
	}
	if e.x5t == "" && e.jkt == "" && !rt.AllowUnbound {
		return nil, cred, &apiError{status: 401, code: codeInvalidToken, schemes: sch} // FAPI 2.0 §5.3.4
	}
	if ae := g.checkForwardable(rq, e, rt, sch); ae != nil {
		return nil, cred, ae
	}
	for _, s := range rt.Scopes {
		if !contains(e.scopes, s) {
			return nil, cred, &apiError{status: 403, code: codeInsufficient, schemes: sch, scope: strings.Join(rt.Scopes, " ")}
		}
	}
	return e, cred, nil
}

func (g *Gateway) introspectionFailure(rt *route, err error) *apiError {
	ie := classify(err)
	switch {
	case isUntrusted(ie):
		g.log.Error("ALERT: introspection answer failed verification", "alert", true,
			"authorization_server", rt.as.Name, "err", ie.err)
		return &apiError{status: http.StatusBadGateway, code: codeASError}
	case isBad(ie):
		g.log.Error("unusable introspection answer", "authorization_server", rt.as.Name, "err", ie.err)
		return &apiError{status: http.StatusBadGateway, code: codeASError}
	}
	g.log.Warn("authorization server unavailable", "authorization_server", rt.as.Name, "err", ie.err)
	wait := ie.retry
	if wait <= 0 {
		wait = g.cfg.BreakerCooldown
	}
	return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, retry: retrySeconds(wait)}
}

func isUntrusted(ie *introspectionError) bool { return errors.Is(ie.err, ErrUntrustedAnswer) }

func isBad(ie *introspectionError) bool {
	return errors.Is(ie.err, ErrBadAnswer) && !errors.Is(ie.err, ErrUnavailable)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// requestPath is the escaped path as the client sent it: the request
// target of an origin-form request (HTTP/1.1, and :path in HTTP/2 and 3),
// without the query; for an absolute-form target, its path. '*' and
// authority-form targets are refused.
func requestPath(r *http.Request) (string, bool) {
	t := r.RequestURI
	abs := len(t) > 8 && (strings.EqualFold(t[:7], "http://") || strings.EqualFold(t[:8], "https://"))
	if t == "" || abs { // "" only for requests not read by a server
		if r.URL == nil || r.URL.Opaque != "" {
			return "", false
		}
		t = r.URL.EscapedPath()
	}
	if t == "" || t[0] != '/' {
		return "", false
	}
	if i := strings.IndexByte(t, '?'); i >= 0 {
		t = t[:i]
	}
	return t, true
}

// HeaderLimit applies the gateway's header limits (see headerTooLarge) to
// another handler on the same listener, such as the agent, so that one
// host answers 431 for the same requests whatever the path.
func (g *Gateway) HeaderLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.headerTooLarge(r) {
			writeError(w, r, &apiError{status: http.StatusRequestHeaderFieldsTooLarge, code: codeHeaderTooLarge}, "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// headerTooLarge applies the decoded header limits: MaxHeaderBytes to the
// block without our own session cookies, and MaxSessionCookieBytes to those.
// The agent's cookies are counted apart because they are bounded by the
// agent (sealed, chunked, at most MaxSessionCookieBytes together) yet can
// legitimately exceed a general limit: a 12 KB ID token seals to about
// 16 KB (CASES H05), and __Host- cookies must use Path=/, so they reach the
// gateway on every request to the host.
func (g *Gateway) headerTooLarge(r *http.Request) bool {
	total, ours := headerBytes(r, g.cookiePrefix)
	return total-ours > g.cfg.MaxHeaderBytes || ours > g.cfg.MaxSessionCookieBytes
}

// headerBytes is the decoded size of the header block (names, values and
// 4 bytes per field for ": " and CRLF, plus the request target and Host),
// and how much of it is cookies whose names start with ourPrefix.
func headerBytes(r *http.Request, ourPrefix string) (total, ours int) {
	total = len(r.RequestURI) + len(r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			total += len(k) + len(v) + 4
		}
	}
	if ourPrefix != "" {
		for _, line := range r.Header["Cookie"] {
			for pair := range strings.SplitSeq(line, ";") {
				if p := strings.TrimLeft(pair, " "); strings.HasPrefix(p, ourPrefix) {
					ours += len(pair) + 1
				}
			}
		}
	}
	return total, ours
}

// leafDER is the client's leaf certificate on this connection, or nil.
func leafDER(r *http.Request) []byte {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil
	}
	return r.TLS.PeerCertificates[0].Raw
}

// wireHeaderBytes is the protocol-level header cap given to the HTTP/1.1,
// HTTP/2 and HTTP/3 servers: twice the decoded limit the handler enforces,
// so that a block a little over the limit gets the same 431 answer from
// the handler on every protocol (an HTTP/2 client refuses to send what
// exceeds the server's advertised limit), while memory stays bounded.
func (g *Gateway) wireHeaderBytes() int { return 2*g.cfg.MaxHeaderBytes + g.cfg.MaxSessionCookieBytes }

// HTTPServer returns an http.Server for the gateway's TCP listener with
// the header limit, timeouts and a clone of tlsConf (from
// internal/tlsx.ServerConfig) set. Serve it with ServeTLS(ln, "", "").
// The clone is the one ServeTLS modifies (it adds HTTP/2), so tlsConf can
// be given to ServeHTTP3 concurrently.
func (g *Gateway) HTTPServer(tlsConf *tls.Config) *http.Server {
	if tlsConf != nil {
		tlsConf = tlsConf.Clone()
	}
	return &http.Server{
		Handler:           g.Handler(),
		TLSConfig:         tlsConf,
		MaxHeaderBytes:    g.wireHeaderBytes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
}
