package fapi

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cillers/fapid/internal/jws"
)

// AuthMethod is the client authentication method at the token, PAR,
// revocation and introspection endpoints (FAPI 2.0 SP 5.3.3.1-2).
type AuthMethod string

const (
	// AuthPrivateKeyJWT: RFC 7523 client assertion signed by Config.Signer,
	// aud = issuer as a string, fresh jti per call (OIDC Core §9).
	AuthPrivateKeyJWT AuthMethod = "private_key_jwt"
	// AuthTLSClientAuth: RFC 8705 §2 PKI mutual TLS; only client_id is sent,
	// the certificate comes from Config.HTTPClient's tls.Config.
	AuthTLSClientAuth AuthMethod = "tls_client_auth"
)

// SenderConstraint is how access tokens are bound to the client (FAPI 2.0 SP
// 5.3.3.1-1).
type SenderConstraint string

const (
	// SenderMTLS: certificate-bound tokens (RFC 8705 §3), token_type Bearer.
	SenderMTLS SenderConstraint = "mtls"
	// SenderDPoP: DPoP-bound tokens (RFC 9449), token_type DPoP.
	SenderDPoP SenderConstraint = "dpop"
)

// ResponseMode selects the authorization response format.
type ResponseMode string

const (
	// ResponseModeQuery: code, state and iss in the query (RFC 9207).
	ResponseModeQuery ResponseMode = "query"
	// ResponseModeJWT: a JARM "response" JWT (response_mode=jwt).
	ResponseModeJWT ResponseMode = "jwt"
)

// Defaults.
const (
	DefaultClockSkew          = 60 * time.Second // FAPI 2.0 SP Note 4: ≤ 60 s; CASES H09
	DefaultIDTokenMaxAge      = time.Hour        // iat older than this is refused
	DefaultJWKSRefetch        = 5 * time.Minute  // the same unknown kid refetches at most this often
	DefaultJWKSMinRefetch     = time.Second      // any unknown kid refetches at most this often
	DefaultRequestObjectLife  = 5 * time.Minute  // exp = nbf + 5 min (MS 5.3.2: ≤ 60 min)
	DefaultClientAssertionTTL = 60 * time.Second
)

// Config configures a Client. It must not change after NewClient.
type Config struct {
	// Issuer is the authorization server's issuer identifier, compared byte
	// for byte with the discovery document and every iss. Must be https.
	Issuer string
	// ClientID is this client's identifier at the authorization server.
	ClientID string
	// AuthMethod: zero means AuthPrivateKeyJWT.
	AuthMethod AuthMethod
	// Signer is the client's key: client assertions (private_key_jwt) and
	// request objects (JAR). Required for private_key_jwt and for PAR.
	Signer *jws.Signer
	// DPoPSigner is the default DPoP key (SenderDPoP) when a call does not
	// pass its own. May be nil when every call passes one.
	DPoPSigner *jws.Signer
	// HTTPClient carries the TLS policy and, for mTLS, the client
	// certificate. The Client copies it and turns redirects off. nil means a
	// client with a 10 s timeout and the default transport.
	HTTPClient *http.Client
	// UseMTLSAliases: call the mtls_endpoint_aliases (RFC 8705 §5) when
	// present. Set it whenever the client uses mTLS (client auth or binding).
	UseMTLSAliases bool
	// SenderConstraint: zero means SenderMTLS.
	SenderConstraint SenderConstraint
	// ResponseMode: zero means ResponseModeQuery.
	ResponseMode ResponseMode
	// Scopes requested by default, sent as one space-separated string in
	// this order. Include "openid" for OpenID Connect (then a nonce is sent
	// and an ID token is required).
	Scopes []string
	// Resources (RFC 8707) sent in the request object and the code exchange.
	Resources []string
	// RedirectURI registered for this client (https). Needed for PAR.
	RedirectURI string
	// PostLogoutRedirectURI for EndSessionURL (https, optional).
	PostLogoutRedirectURI string
	// IntrospectionMode: zero means IntrospectionJSON.
	IntrospectionMode IntrospectionMode
	// ClockSkew tolerated on exp/nbf/iat; zero means DefaultClockSkew.
	ClockSkew time.Duration
	// IDTokenMaxAge: ID tokens with an older iat are refused; zero means
	// DefaultIDTokenMaxAge.
	IDTokenMaxAge time.Duration
	// JWKSRefetchInterval: zero means DefaultJWKSRefetch.
	JWKSRefetchInterval time.Duration
	// Now and Rand: nil means time.Now and crypto/rand.
	Now  func() time.Time
	Rand io.Reader
}

// Client speaks FAPI 2.0 to one authorization server as one client. It is
// safe for concurrent use.
type Client struct {
	cfg   Config
	hc    *http.Client
	now   func() time.Time
	rand  io.Reader
	meta  atomic.Pointer[Metadata]
	jwks  atomic.Pointer[JWKSCache]
	disMu sync.Mutex // serialises Discover
	nonce nonceStore
}

// NewClient checks cfg and returns a Client. Discovery happens on the first
// call that needs metadata, or explicitly with Discover.
func NewClient(cfg Config) (*Client, error) {
	if cfg.AuthMethod == "" {
		cfg.AuthMethod = AuthPrivateKeyJWT
	}
	if cfg.SenderConstraint == "" {
		cfg.SenderConstraint = SenderMTLS
	}
	if cfg.ResponseMode == "" {
		cfg.ResponseMode = ResponseModeQuery
	}
	if cfg.IntrospectionMode == "" {
		cfg.IntrospectionMode = IntrospectionJSON
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	if cfg.IDTokenMaxAge == 0 {
		cfg.IDTokenMaxAge = DefaultIDTokenMaxAge
	}
	if cfg.JWKSRefetchInterval == 0 {
		cfg.JWKSRefetchInterval = DefaultJWKSRefetch
	}
	cfg.Scopes = slices.Clone(cfg.Scopes)
	cfg.Resources = slices.Clone(cfg.Resources)
	if err := validateConfig(&cfg); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, now: cfg.Now, rand: cfg.Rand}
	if c.now == nil {
		c.now = time.Now
	}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	if cfg.HTTPClient != nil {
		cp := *cfg.HTTPClient
		hc = &cp
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.hc = hc
	return c, nil
}

// validateConfig reports every problem at once.
func validateConfig(cfg *Config) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if err := checkHTTPS(cfg.Issuer); err != nil {
		bad("issuer: %w", err)
	}
	if cfg.ClientID == "" {
		bad("client id is empty")
	}
	switch cfg.AuthMethod {
	case AuthPrivateKeyJWT:
		if cfg.Signer == nil {
			bad("private_key_jwt needs a Signer")
		}
	case AuthTLSClientAuth:
	default:
		bad("unknown auth method %q", cfg.AuthMethod)
	}
	if cfg.SenderConstraint != SenderMTLS && cfg.SenderConstraint != SenderDPoP {
		bad("unknown sender constraint %q", cfg.SenderConstraint)
	}
	if cfg.ResponseMode != ResponseModeQuery && cfg.ResponseMode != ResponseModeJWT {
		bad("unknown response mode %q", cfg.ResponseMode)
	}
	switch cfg.IntrospectionMode {
	case IntrospectionJSON, IntrospectionJWT, IntrospectionCurity:
	default:
		bad("unknown introspection mode %q", cfg.IntrospectionMode)
	}
	if cfg.RedirectURI != "" {
		if err := checkHTTPS(cfg.RedirectURI); err != nil {
			bad("redirect uri: %w", err)
		}
	}
	if cfg.PostLogoutRedirectURI != "" {
		if err := checkHTTPS(cfg.PostLogoutRedirectURI); err != nil {
			bad("post-logout redirect uri: %w", err)
		}
	}
	for _, r := range cfg.Resources {
		if err := checkResource(r); err != nil {
			bad("resource: %w", err)
		}
	}
	if cfg.ClockSkew < 0 || cfg.ClockSkew > 5*time.Minute {
		bad("clock skew %s outside [0, 5m]", cfg.ClockSkew)
	}
	if cfg.IDTokenMaxAge < 0 || cfg.JWKSRefetchInterval < 0 {
		bad("negative duration")
	}
	return errors.Join(errs...)
}

// Issuer returns the configured issuer.
func (c *Client) Issuer() string { return c.cfg.Issuer }

// ClientID returns the configured client id.
func (c *Client) ClientID() string { return c.cfg.ClientID }

// SenderConstraint returns the configured sender constraint.
func (c *Client) SenderConstraint() SenderConstraint { return c.cfg.SenderConstraint }

// TokenScheme is the Authorization scheme for this client's access tokens:
// "DPoP" with SenderDPoP, "Bearer" otherwise.
func (c *Client) TokenScheme() string {
	if c.cfg.SenderConstraint == SenderDPoP {
		return "DPoP"
	}
	return "Bearer"
}

// dpopKey picks the call's DPoP key, or the default, when DPoP is in use.
// It returns nil without error when the client is not DPoP-bound.
func (c *Client) dpopKey(override *jws.Signer) (*jws.Signer, error) {
	if c.cfg.SenderConstraint != SenderDPoP {
		return nil, nil
	}
	if override != nil {
		return override, nil
	}
	if c.cfg.DPoPSigner != nil {
		return c.cfg.DPoPSigner, nil
	}
	return nil, fmt.Errorf("%w: DPoP sender constraint but no DPoP key", ErrConfig)
}

// oidc reports whether the scopes make this an OpenID Connect request.
func oidc(scopes []string) bool { return slices.Contains(scopes, "openid") }
