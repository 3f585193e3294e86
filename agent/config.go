package agent

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/cookies"
	"github.com/cillers/fapid/internal/seal"
)

// CSRFMode is how data-changing calls prove they come from the SPA.
type CSRFMode string

const (
	// CSRFToken: POST refresh and logout carry the x-<prefix>-csrf header,
	// equal to the sealed __Host-<prefix>-csrf cookie (Curity Gen-1).
	CSRFToken CSRFMode = "token"
	// CSRFCustomHeader: every call carries "token-handler-version: 1"
	// (Curity Gen-2). A cross-site page cannot send a custom header without
	// a CORS preflight, which only trusted origins pass.
	CSRFCustomHeader CSRFMode = "custom-header"
)

// Compat selects a foreign cookie format.
type Compat string

const (
	// CompatNone: the native format (see the package doc).
	CompatNone Compat = ""
	// CompatCurityV1: Curity's Gen-1 OAuth Agent cookies: names
	// <prefix>-{login,at,auth,id,csrf}, AES-256-GCM without AAD
	// (internal/seal.CurityV1), no chunking.
	CompatCurityV1 Compat = "curity-v1"
)

// Defaults; a zero Config field means the default.
const (
	DefaultBasePath           = "/oauth-agent"
	DefaultCookiePrefix       = "fapid"
	DefaultSessionLifetime    = 8 * time.Hour
	DefaultRefreshGrace       = 10 * time.Second
	DefaultMetadataMaxAge     = time.Hour
	DefaultRediscoverInterval = 30 * time.Second
	// LoginLifetime bounds a login: the sealed login cookie (state, nonce,
	// PKCE verifier) expires after it.
	LoginLifetime = 10 * time.Minute
	// CustomHeader is the Gen-2 request header and CustomHeaderValue its
	// only accepted value (CSRFCustomHeader).
	CustomHeader      = "Token-Handler-Version"
	CustomHeaderValue = "1"
)

// DefaultExtraParams are the authorization parameters a SPA may add in
// login/start when Config.ExtraParams is nil: none of them can redirect,
// widen or re-bind the request (CASES H01).
var DefaultExtraParams = []string{"prompt", "login_hint", "ui_locales", "acr_values", "max_age"}

// reservedParams are protocol parameters the SPA may never set, and that
// Config.ExtraParams may not allow (CASES H01). fapi refuses them too; the
// agent refuses them first, before any call to the authorization server.
var reservedParams = map[string]bool{
	"iss": true, "aud": true, "sub": true, "iat": true, "nbf": true, "exp": true, "jti": true,
	"client_id": true, "response_type": true, "response_mode": true, "redirect_uri": true,
	"scope": true, "state": true, "nonce": true, "code_challenge": true,
	"code_challenge_method": true, "request": true, "request_uri": true, "resource": true,
	"dpop_jkt": true, "client_assertion": true, "client_assertion_type": true,
	"registration": true, "client_secret": true, "post_logout_redirect_uri": true,
	"id_token_hint": true, "code": true, "code_verifier": true, "grant_type": true,
	"authorization_details": true,
}

// Config configures an Agent. It must not change after New. Every zero value
// is the default named above or the secure choice.
type Config struct {
	// FAPI is the client toward the authorization server. Required:
	// Issuer, ClientID, Signer (signed request objects), RedirectURI (the
	// SPA page that calls login/end; only ever taken from here, never from
	// a request: CASES H01, H02). PostLogoutRedirectURI is optional. With
	// SenderConstraint dpop, DPoPSigner is required: the deployment DPoP
	// key (see the package doc). Now and Rand default to the Agent's.
	FAPI fapi.Config
	// CookieKeys seal the cookies: the first seals, all open (rotation).
	// Required. With CompatCurityV1 they are Curity's 64-hex keys.
	CookieKeys []seal.Key
	// BasePath of the endpoints; zero means DefaultBasePath.
	BasePath string
	// CookiePrefix names the cookies __Host-<prefix>-… and the CSRF header
	// x-<prefix>-csrf; zero means DefaultCookiePrefix.
	CookiePrefix string
	// TrustedOrigins are the exact SPA origins (scheme://host[:port]) allowed
	// to call; required. No wildcard, no "null".
	TrustedOrigins []string
	// CSRF: zero means CSRFToken.
	CSRF CSRFMode
	// SessionLifetime is the absolute session length from login; refresh
	// does not extend it. Zero means DefaultSessionLifetime.
	SessionLifetime time.Duration
	// ExtraParams the SPA may pass in login/start; nil means
	// DefaultExtraParams. Protocol parameters are refused at New.
	ExtraParams []string
	// RefreshGrace keeps the outcome of a refresh for this long, so that a
	// late concurrent call with the same (now rotated) refresh token gets
	// the new cookies instead of replaying the old token. Zero means
	// DefaultRefreshGrace.
	RefreshGrace time.Duration
	// KeepGrantOnLogout skips revoking the refresh token at logout.
	KeepGrantOnLogout bool
	// LogoutIDTokenHint puts the ID token in the end-session URL as
	// id_token_hint. Off by default: the URL goes to the browser, and no JWT
	// ever reaches it; client_id identifies the client instead (OpenID
	// Connect RP-Initiated Logout 1.0 §2). Turn it on only for a server that
	// insists on the hint.
	LogoutIDTokenHint bool
	// MetadataMaxAge: discovery is repeated when older; zero means
	// DefaultMetadataMaxAge. RediscoverInterval is the least time between
	// discoveries forced by failures (unknown signing key, endpoint gone);
	// zero means DefaultRediscoverInterval.
	MetadataMaxAge     time.Duration
	RediscoverInterval time.Duration
	// Compat and, for CompatCurityV1, the Domain and Path Curity's agent
	// set its cookies with (zero Path means "/").
	Compat       Compat
	CompatDomain string
	CompatPath   string
	// Logger receives events (never tokens, codes or cookies); nil discards.
	Logger *slog.Logger
	// Now and Rand: nil means time.Now and crypto/rand.
	Now  func() time.Time
	Rand io.Reader
}

// withDefaults returns a copy of c with the defaults filled in.
func (c Config) withDefaults() Config {
	if c.BasePath == "" {
		c.BasePath = DefaultBasePath
	}
	if c.CookiePrefix == "" {
		c.CookiePrefix = DefaultCookiePrefix
	}
	if c.CSRF == "" {
		c.CSRF = CSRFToken
	}
	if c.SessionLifetime == 0 {
		c.SessionLifetime = DefaultSessionLifetime
	}
	if c.ExtraParams == nil {
		c.ExtraParams = DefaultExtraParams
	}
	if c.RefreshGrace == 0 {
		c.RefreshGrace = DefaultRefreshGrace
	}
	if c.MetadataMaxAge == 0 {
		c.MetadataMaxAge = DefaultMetadataMaxAge
	}
	if c.RediscoverInterval == 0 {
		c.RediscoverInterval = DefaultRediscoverInterval
	}
	if c.CompatPath == "" {
		c.CompatPath = "/"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.FAPI.Now == nil {
		c.FAPI.Now = c.Now
	}
	if c.FAPI.Rand == nil {
		c.FAPI.Rand = c.Rand
	}
	c.TrustedOrigins = slices.Clone(c.TrustedOrigins)
	c.ExtraParams = slices.Clone(c.ExtraParams)
	c.CookieKeys = slices.Clone(c.CookieKeys)
	return c
}

// validate reports every problem in a defaulted Config; it changes nothing.
func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("agent: "+format, args...)) }
	if c.FAPI.RedirectURI == "" {
		bad("FAPI.RedirectURI is required (the SPA page that calls login/end)")
	}
	if c.FAPI.Signer == nil {
		bad("FAPI.Signer is required (signed request objects)")
	}
	if c.FAPI.SenderConstraint == fapi.SenderDPoP && c.FAPI.DPoPSigner == nil {
		bad("FAPI.DPoPSigner is required with sender constraint dpop (the deployment DPoP key)")
	}
	if len(c.CookieKeys) == 0 {
		bad("no cookie keys")
	}
	if !validBasePath(c.BasePath) {
		bad("base path %q: want /segment[/segment…] of letters, digits, '-', '_', '.'", c.BasePath)
	}
	if !validPrefix(c.CookiePrefix) {
		bad("cookie prefix %q: want 1-64 letters, digits and '-'", c.CookiePrefix)
	}
	if len(c.TrustedOrigins) == 0 {
		bad("no trusted origins")
	}
	for _, o := range c.TrustedOrigins {
		if !validOrigin(o) {
			bad("trusted origin %q is not scheme://host[:port]", o)
		}
	}
	if c.CSRF != CSRFToken && c.CSRF != CSRFCustomHeader {
		bad("csrf mode %q (want %q or %q)", c.CSRF, CSRFToken, CSRFCustomHeader)
	}
	if c.SessionLifetime < time.Minute || c.SessionLifetime > 30*24*time.Hour {
		bad("session lifetime %s outside [1m, 720h]", c.SessionLifetime)
	}
	for _, p := range c.ExtraParams {
		if reservedParams[p] || !validParamName(p) {
			bad("extra parameter %q may not be allowed: it is a protocol parameter or not a parameter name", p)
		}
	}
	if c.RefreshGrace < 0 || c.RefreshGrace > time.Minute {
		bad("refresh grace %s outside [0, 1m]", c.RefreshGrace)
	}
	if c.MetadataMaxAge < 0 || c.RediscoverInterval < 0 {
		bad("negative duration")
	}
	switch c.Compat {
	case CompatNone:
	case CompatCurityV1:
		if !strings.HasPrefix(c.CompatPath, "/") || strings.ContainsAny(c.CompatPath, ";, \t") {
			bad("compat path %q must be an absolute cookie path", c.CompatPath)
		}
		if c.CompatDomain != "" && !validDomain(c.CompatDomain) {
			bad("compat domain %q is not a host name", c.CompatDomain)
		}
	default:
		bad("compat %q (want %q or empty)", c.Compat, CompatCurityV1)
	}
	return errors.Join(errs...)
}

func validBasePath(p string) bool {
	if len(p) < 2 || len(p) > 128 || p[0] != '/' || strings.HasSuffix(p, "/") {
		return false
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(isAlnum(c) || c == '-' || c == '_' || c == '.') {
				return false
			}
		}
	}
	return true
}

func validPrefix(p string) bool {
	if p == "" || len(p) > 64 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if !(isAlnum(p[i]) || p[i] == '-') {
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

func validDomain(d string) bool {
	if len(d) > 253 || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			if !(isAlnum(label[i]) || label[i] == '-') {
				return false
			}
		}
	}
	return true
}

func validParamName(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(isAlnum(c) || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// MaxSealedValue is the largest sealed cookie value (in characters, before
// chunking) the agent writes and reads: as many pieces as internal/cookies
// joins (CASES H05: a 12 KB ID token fits). A reader of the agent's cookies
// (the gateway) needs a seal.Sealer with seal.WithMaxSize(MaxSealedValue)
// to open an access token that large.
const MaxSealedValue = cookies.MaxChunks * cookies.DefaultChunkSize

const maxSealed = MaxSealedValue
