package gateway

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/tlsx"
)

// Credential is a way a route accepts an access token.
type Credential string

const (
	// CredentialCookie: the agent's sealed __Host-<prefix>-at cookie, with
	// the Origin and CSRF rules (see the package doc).
	CredentialCookie Credential = "cookie"
	// CredentialBearer: Authorization: Bearer (RFC 6750 §2.1).
	CredentialBearer Credential = "bearer"
	// CredentialDPoP: Authorization: DPoP plus a DPoP proof (RFC 9449 §7.1).
	CredentialDPoP Credential = "dpop"
)

// ForwardMode says which JWT the gateway sends upstream.
type ForwardMode string

const (
	// ForwardReceived forwards the JWT the authorization server returned
	// (Curity's phantom token, or the RFC 9701 introspection JWT).
	ForwardReceived ForwardMode = "received"
	// ForwardMint forwards an RFC 9068 at+jwt signed with Config.Signer.
	ForwardMint ForwardMode = "mint"
)

// Defaults; a zero Config field means the default.
const (
	DefaultCookiePrefix          = "fapid"
	DefaultCacheEntries          = 100_000
	DefaultCacheMaxTTL           = time.Minute
	DefaultNegativeTTL           = 5 * time.Second
	DefaultCacheSkew             = 2 * time.Second
	DefaultIntrospectionTimeout  = 2 * time.Second
	DefaultMaxIntrospections     = 64
	DefaultBreakerFailures       = 5
	DefaultBreakerCooldown       = 5 * time.Second
	DefaultMaxHeaderBytes        = 16 << 10
	DefaultMaxSessionCookieBytes = 48 << 10
	DefaultMaxTokenLength        = 4096
	DefaultMinTokenLength        = 16
	DefaultForwardAuthHeader     = "X-Auth-JWT"
	DefaultDPoPNonceLifetime     = 5 * time.Minute
	DefaultReplayEntries         = 100_000
	maxNegativeTTL               = 30 * time.Second
)

// Config configures a Gateway. It must not change after New. Every zero
// value is either the default named above or the secure choice.
type Config struct {
	// Routes, matched by the longest Prefix on the canonical path. At least
	// one is required.
	Routes []Route
	// AuthorizationServers the routes trust. Required unless every route is
	// Anonymous. The first one is the default for routes that name none.
	AuthorizationServers []AuthorizationServer

	// Cookies opens the agent's sealed cookies (an *internal/seal.Sealer).
	// Required when a route accepts CredentialCookie.
	Cookies Opener
	// CookiePrefix makes the names __Host-<prefix>-at / -csrf and the CSRF
	// header x-<prefix>-csrf. Zero means "fapid".
	CookiePrefix string
	// TrustedOrigins are the exact Origin values (scheme://host[:port]) a
	// cookie request may carry; required with CredentialCookie.
	TrustedOrigins []string
	// SessionCertificate is the client certificate the agent uses at the
	// authorization server: cookie-borne tokens bound with cnf.x5t#S256 are
	// bound to it, and routes normally present it upstream too. nil means
	// such cookie tokens are refused.
	SessionCertificate tlsx.Source
	// SessionDPoPSigner is the deployment DPoP key: the agent's
	// fapi.Config.DPoPSigner, the same key (file or HSM). Cookie-borne tokens
	// bound with cnf.jkt are accepted only when jkt is this key's RFC 7638
	// thumbprint, and the gateway proves possession of it to the upstream:
	// it forwards "Authorization: DPoP <JWT>" with a DPoP proof it signs
	// for the upstream request (RFC 9449 §7.1; see Route.UpstreamPublicURL).
	// nil means such cookie tokens are refused.
	SessionDPoPSigner *jws.Signer

	// TrustedProxies may set X-Forwarded-*, X-Original-Method/-URI and
	// X-Client-Cert. Empty (the default) trusts nobody.
	TrustedProxies []netip.Prefix
	// PublicOrigin is the gateway's external origin (https://api.example.test).
	// DPoP proofs must name it in htu; the Host header is never trusted for
	// that. Required when a route accepts CredentialDPoP; also the default
	// MintIssuer.
	PublicOrigin string

	// Signer signs minted at+jwt (ForwardMint); its public key is served at
	// /.well-known/jwks.json. Required when an authorization server uses
	// ForwardMint.
	Signer *jws.Signer
	// MintIssuer is the iss of minted tokens; zero means PublicOrigin.
	MintIssuer string

	Cache CacheConfig

	// IntrospectionTimeout bounds one introspection (the answer to the
	// client then is 503). Zero means 2 s.
	IntrospectionTimeout time.Duration
	// MaxIntrospections bounds concurrent introspection calls; requests
	// beyond it wait within their deadline. Zero means 64.
	MaxIntrospections int
	// BreakerFailures consecutive unavailable answers open the circuit
	// breaker for BreakerCooldown; meanwhile new tokens get 503 at once.
	// Zero means 5 and 5 s.
	BreakerFailures int
	BreakerCooldown time.Duration

	DPoP DPoPConfig

	// MaxHeaderBytes caps the decoded request header block (names plus
	// values); over it the answer is 431 on every protocol. Zero means
	// 16 KiB. The servers made by HTTPServer and ServeHTTP3 cap the wire
	// header block at twice this.
	MaxHeaderBytes int
	// MaxSessionCookieBytes caps the agent's own __Host-<prefix>-* cookies,
	// which are not counted in MaxHeaderBytes (a large ID token legitimately
	// takes ~16 KB sealed). Zero means 48 KiB.
	MaxSessionCookieBytes int
	// MaxTokenLength caps an access token; zero means 4096. Tokens shorter
	// than 16 characters are refused without introspection.
	MaxTokenLength int

	// ForwardAuthPath, when set, mounts the forward-auth endpoint at this
	// exact path in Handler. ForwardAuthHandler serves it on its own too.
	ForwardAuthPath string
	// ForwardAuthHeader carries the JWT in a forward-auth 200 answer; zero
	// means X-Auth-JWT. It is also stripped from proxied requests.
	ForwardAuthHeader string

	// Realm, when set, is added to WWW-Authenticate challenges.
	Realm string
	// Logger receives operational events (never tokens); nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// CacheConfig bounds the token cache (RFC 7662 §4).
type CacheConfig struct {
	// MaxEntries bounds the number of cached tokens; zero means 100 000.
	MaxEntries int
	// MaxTTL caps a positive entry (also when the answer has no exp);
	// zero means 1 minute.
	MaxTTL time.Duration
	// NegativeTTL keeps inactive answers; zero means 5 s, at most 30 s.
	NegativeTTL time.Duration
	// Skew is subtracted from exp: an entry is dropped that long before the
	// token expires. Zero means 2 s.
	Skew time.Duration
}

// DPoPConfig tunes RFC 9449 proof checks.
type DPoPConfig struct {
	// Nonce makes server nonces mandatory (RFC 9449 §9).
	Nonce bool
	// NonceLifetime; zero means 5 minutes.
	NonceLifetime time.Duration
	// MaxAge and MaxFuture bound the proof iat; zero means fapi defaults
	// (60 s and 30 s).
	MaxAge, MaxFuture time.Duration
	// ReplayEntries bounds the jti replay cache; zero means 100 000. When
	// it is full of live entries new proofs are refused (503), never
	// accepted unchecked.
	ReplayEntries int
}

// Route maps a path prefix to an upstream.
type Route struct {
	// Prefix is a canonical path prefix ("/api/" or "/api"); "/api" also
	// matches "/api/x" but not "/apix".
	Prefix string
	// Upstream is the https URL requests are sent to; the canonical request
	// path is appended to its path. Empty means the route is served only
	// through forward-auth (proxying answers 404).
	Upstream string
	// UpstreamCAs verifies the upstream certificate; nil means system roots.
	UpstreamCAs *x509.CertPool
	// UpstreamCertificate is the client certificate presented upstream
	// (normally Config.SessionCertificate, so the API can check cnf).
	UpstreamCertificate tlsx.Source
	// UpstreamServerName overrides the name verified in the upstream
	// certificate.
	UpstreamServerName string
	// UpstreamPublicURL is the https URL the upstream believes it is
	// called at, when that differs from Upstream (another host name, a
	// port or path prefix rewritten by a load balancer). Proofs the gateway
	// signs for the upstream (Config.SessionDPoPSigner) name it in htu, with
	// the forwarded path appended exactly as for Upstream. Zero means
	// Upstream.
	UpstreamPublicURL string
	// UpstreamTrustsGatewayDPoP declares that the upstream relies on the
	// gateway's RFC 9449 check for tokens bound (cnf.jkt) to a key the
	// client holds itself (mobile and partner clients): the gateway cannot
	// sign a proof with that key, and the client's own proof names the
	// gateway (htu) and the opaque token (ath), so no proof the upstream
	// could check exists. With it, such tokens are forwarded as
	// "Authorization: Bearer <JWT>" without a DPoP header, and the upstream
	// must accept a jkt-bound JWT without a proof from the gateway alone
	// (authenticated by mutual TLS). Without it (the zero value) they are
	// refused with 401 invalid_token at the gateway, rather than sent where
	// a conforming upstream refuses them (RFC 9449 §7.2). Forward-auth
	// applies the same rule to every jkt-bound token, since the proxy, not
	// the gateway, then makes the upstream request.
	UpstreamTrustsGatewayDPoP bool
	// StripPrefix removes Prefix (keeping a leading "/") before forwarding.
	StripPrefix bool

	// Anonymous routes need no token; credentials are still stripped.
	Anonymous bool
	// Credentials accepted; required unless Anonymous.
	Credentials []Credential
	// Scopes that must all be in the token's scope, checked every request.
	Scopes []string
	// Audience, when set, must be one of the token's aud values.
	Audience string
	// AuthorizationServer names the AS whose tokens this route accepts;
	// zero means the first one.
	AuthorizationServer string
	// AllowUnbound accepts tokens without cnf. FAPI 2.0 (§5.3.4) requires
	// sender-constrained tokens, so the zero value refuses them.
	AllowUnbound bool
}

// AuthorizationServer is one issuer whose tokens the gateway introspects.
type AuthorizationServer struct {
	// Name identifies it to routes and in the cache key; required, unique.
	Name string
	// Introspector asks it about tokens (see NewFAPIIntrospector).
	Introspector Introspector
	// Forward: zero means ForwardReceived when the answer carries a JWT,
	// else 502. Use ForwardMint for RFC 7662 JSON mode.
	Forward ForwardMode
}

// withDefaults returns a copy of c with defaults filled in.
func (c Config) withDefaults() Config {
	def := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	defInt := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	if c.CookiePrefix == "" {
		c.CookiePrefix = DefaultCookiePrefix
	}
	defInt(&c.Cache.MaxEntries, DefaultCacheEntries)
	def(&c.Cache.MaxTTL, DefaultCacheMaxTTL)
	def(&c.Cache.NegativeTTL, DefaultNegativeTTL)
	def(&c.Cache.Skew, DefaultCacheSkew)
	def(&c.IntrospectionTimeout, DefaultIntrospectionTimeout)
	defInt(&c.MaxIntrospections, DefaultMaxIntrospections)
	defInt(&c.BreakerFailures, DefaultBreakerFailures)
	def(&c.BreakerCooldown, DefaultBreakerCooldown)
	def(&c.DPoP.NonceLifetime, DefaultDPoPNonceLifetime)
	defInt(&c.DPoP.ReplayEntries, DefaultReplayEntries)
	defInt(&c.MaxHeaderBytes, DefaultMaxHeaderBytes)
	defInt(&c.MaxSessionCookieBytes, DefaultMaxSessionCookieBytes)
	defInt(&c.MaxTokenLength, DefaultMaxTokenLength)
	if c.ForwardAuthHeader == "" {
		c.ForwardAuthHeader = DefaultForwardAuthHeader
	}
	if c.MintIssuer == "" {
		c.MintIssuer = c.PublicOrigin
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate reports every problem in a defaulted Config; it changes nothing.
func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("gateway: "+format, args...)) }
	if len(c.Routes) == 0 {
		bad("no routes")
	}
	if !validPrefix(c.CookiePrefix) {
		bad("cookie prefix %q: want letters, digits and '-'", c.CookiePrefix)
	}
	for _, o := range c.TrustedOrigins {
		if !validOrigin(o) {
			bad("trusted origin %q is not scheme://host[:port]", o)
		}
	}
	if c.PublicOrigin != "" && !validOrigin(c.PublicOrigin) {
		bad("public origin %q is not https://host[:port]", c.PublicOrigin)
	}
	names := map[string]bool{}
	mint := false
	for i, as := range c.AuthorizationServers {
		switch {
		case as.Name == "":
			bad("authorization server %d has no name", i)
		case names[as.Name]:
			bad("authorization server %q listed twice", as.Name)
		case as.Introspector == nil:
			bad("authorization server %q has no introspector", as.Name)
		}
		names[as.Name] = true
		switch as.Forward {
		case "", ForwardReceived:
		case ForwardMint:
			mint = true
		default:
			bad("authorization server %q: forward mode %q", as.Name, as.Forward)
		}
	}
	if mint && c.Signer == nil {
		bad("forward mode mint needs a Signer")
	}
	if mint && c.MintIssuer == "" {
		bad("forward mode mint needs MintIssuer or PublicOrigin")
	}
	prefixes := map[string]bool{}
	for i := range c.Routes {
		errs = append(errs, c.validateRoute(&c.Routes[i], names)...)
		if prefixes[c.Routes[i].Prefix] {
			bad("route prefix %q listed twice", c.Routes[i].Prefix)
		}
		prefixes[c.Routes[i].Prefix] = true
	}
	if c.Cache.NegativeTTL > maxNegativeTTL || c.Cache.NegativeTTL < 0 {
		bad("negative TTL %s outside (0, %s]", c.Cache.NegativeTTL, maxNegativeTTL)
	}
	if c.Cache.MaxEntries < 0 || c.MaxIntrospections < 0 || c.BreakerFailures < 0 || c.DPoP.ReplayEntries < 0 {
		bad("negative limit")
	}
	if c.Cache.MaxTTL < 0 || c.Cache.Skew < 0 || c.IntrospectionTimeout < 0 || c.BreakerCooldown < 0 {
		bad("negative duration")
	}
	if c.MaxHeaderBytes < 4096 || c.MaxTokenLength < DefaultMinTokenLength {
		bad("MaxHeaderBytes must be at least 4096 and MaxTokenLength at least %d", DefaultMinTokenLength)
	}
	if c.ForwardAuthPath != "" && (!strings.HasPrefix(c.ForwardAuthPath, "/") || canonicalizeOrEmpty(c.ForwardAuthPath) != c.ForwardAuthPath) {
		bad("forward-auth path %q is not a canonical path", c.ForwardAuthPath)
	}
	return errors.Join(errs...)
}

func (c *Config) validateRoute(r *Route, asNames map[string]bool) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("gateway: route %q: "+format, append([]any{r.Prefix}, args...)...))
	}
	if !strings.HasPrefix(r.Prefix, "/") || canonicalizeOrEmpty(r.Prefix) != r.Prefix {
		bad("prefix is not a canonical path")
	}
	if r.Upstream != "" && !validUpstreamURL(r.Upstream) {
		bad("upstream must be an https URL without query")
	}
	switch {
	case r.UpstreamPublicURL == "":
	case r.Upstream == "":
		bad("upstream public URL without an upstream")
	case !validUpstreamURL(r.UpstreamPublicURL):
		bad("upstream public URL must be an https URL without query")
	}
	if r.Anonymous {
		return errs
	}
	if len(r.Credentials) == 0 {
		bad("no credentials accepted and not anonymous")
	}
	for _, cr := range r.Credentials {
		switch cr {
		case CredentialBearer:
		case CredentialDPoP:
			if c.PublicOrigin == "" {
				bad("dpop needs PublicOrigin (the htu origin)")
			}
		case CredentialCookie:
			if c.Cookies == nil || len(c.TrustedOrigins) == 0 {
				bad("cookie needs Cookies and TrustedOrigins")
			}
		default:
			bad("unknown credential %q", cr)
		}
	}
	if len(c.AuthorizationServers) == 0 {
		bad("no authorization server configured")
	} else if r.AuthorizationServer != "" && !asNames[r.AuthorizationServer] {
		bad("unknown authorization server %q", r.AuthorizationServer)
	}
	if slices.Contains(r.Scopes, "") {
		bad("empty scope")
	}
	return errs
}

// validUpstreamURL: an absolute https URL with a host and no query,
// fragment or user information.
func validUpstreamURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.RawQuery == "" && !u.ForceQuery &&
		u.Fragment == "" && u.User == nil
}

func validPrefix(p string) bool {
	if p == "" || len(p) > 64 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validOrigin: an RFC 6454 serialised origin, http(s), no path.
func validOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil && o == u.Scheme+"://"+u.Host
}
