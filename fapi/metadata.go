package fapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Metadata is the authorization server metadata (OIDC Discovery 1.0 §3,
// RFC 8414 §2) this package uses. Endpoint fields hold the URLs this client
// calls: when Config.UseMTLSAliases is set, the mtls_endpoint_aliases
// (RFC 8705 §5) have already replaced the plain ones.
type Metadata struct {
	Issuer                                     string            `json:"issuer"`
	AuthorizationEndpoint                      string            `json:"authorization_endpoint"`
	TokenEndpoint                              string            `json:"token_endpoint"`
	PushedAuthorizationRequestEndpoint         string            `json:"pushed_authorization_request_endpoint"`
	JWKSURI                                    string            `json:"jwks_uri"`
	UserinfoEndpoint                           string            `json:"userinfo_endpoint"`
	RevocationEndpoint                         string            `json:"revocation_endpoint"`
	IntrospectionEndpoint                      string            `json:"introspection_endpoint"`
	EndSessionEndpoint                         string            `json:"end_session_endpoint"`
	MTLSEndpointAliases                        map[string]string `json:"mtls_endpoint_aliases"`
	AuthorizationResponseIssParameterSupported bool              `json:"authorization_response_iss_parameter_supported"`
	RequirePushedAuthorizationRequests         bool              `json:"require_pushed_authorization_requests"`
	TLSClientCertificateBoundAccessTokens      bool              `json:"tls_client_certificate_bound_access_tokens"`
	ResponseModesSupported                     []string          `json:"response_modes_supported"`
	CodeChallengeMethodsSupported              []string          `json:"code_challenge_methods_supported"`
	TokenEndpointAuthMethodsSupported          []string          `json:"token_endpoint_auth_methods_supported"`
	DPoPSigningAlgValuesSupported              []string          `json:"dpop_signing_alg_values_supported"`
	ScopesSupported                            []string          `json:"scopes_supported"`
}

// Well-known paths.
const (
	wellKnownOIDC  = "/.well-known/openid-configuration"
	wellKnownOAuth = "/.well-known/oauth-authorization-server"
)

// aliasable maps metadata names to the fields mtls_endpoint_aliases may
// replace: the endpoints this client calls directly (not the browser-facing
// authorization and end-session endpoints, nor jwks_uri).
func (m *Metadata) aliasable() map[string]*string {
	return map[string]*string{
		"token_endpoint":                        &m.TokenEndpoint,
		"pushed_authorization_request_endpoint": &m.PushedAuthorizationRequestEndpoint,
		"userinfo_endpoint":                     &m.UserinfoEndpoint,
		"revocation_endpoint":                   &m.RevocationEndpoint,
		"introspection_endpoint":                &m.IntrospectionEndpoint,
	}
}

// Discover fetches the metadata from the issuer's OpenID Connect discovery
// document (issuer + "/.well-known/openid-configuration"), falling back to
// RFC 8414 (".well-known/oauth-authorization-server" inserted before the
// issuer path) on 404. The document's issuer must equal Config.Issuer byte
// for byte (FAPI 2.0 SP 5.3.3.1-11, RFC 8414 §3.3) and every endpoint must
// be https. On success the metadata replace any earlier ones and the JWKS
// cache starts empty (keys are fetched again on next use); on failure the
// earlier ones stay. Call it again whenever the server may have changed.
func (c *Client) Discover(ctx context.Context) (*Metadata, error) {
	c.disMu.Lock()
	defer c.disMu.Unlock()
	m, err := c.discoverLocked(ctx)
	if err != nil {
		return nil, err
	}
	cp := *m
	return &cp, nil
}

func (c *Client) discoverLocked(ctx context.Context) (*Metadata, error) {
	m, err := c.fetchMetadata(ctx, oidcDiscoveryURL(c.cfg.Issuer))
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		m, err = c.fetchMetadata(ctx, oauthDiscoveryURL(c.cfg.Issuer))
	}
	if err != nil {
		return nil, err
	}
	// Fresh metadata, fresh keys: the JWKS is fetched again on next use.
	c.jwks.Store(NewJWKSCache(m.JWKSURI, c.hc, JWKSOptions{
		RefetchInterval: c.cfg.JWKSRefetchInterval, Now: c.now,
	}))
	c.meta.Store(m)
	return m, nil
}

func oidcDiscoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + wellKnownOIDC
}

func oauthDiscoveryURL(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return issuer + wellKnownOAuth
	}
	u.Path = wellKnownOAuth + u.Path
	u.RawPath = ""
	if u.Path == wellKnownOAuth+"/" {
		u.Path = wellKnownOAuth
	}
	return u.String()
}

func (c *Client) fetchMetadata(ctx context.Context, docURL string) (*Metadata, error) {
	res, err := get(ctx, c.hc, "discovery", docURL, "application/json")
	if err != nil {
		return nil, err
	}
	if res.status != http.StatusOK {
		return nil, &HTTPError{Endpoint: "discovery", Status: res.status}
	}
	m := new(Metadata)
	if _, err := decodeObject(res.body, m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMetadata, err)
	}
	if err := c.checkMetadata(m); err != nil {
		return nil, err
	}
	return m, nil
}

// checkMetadata enforces the exact issuer, https endpoints and applies the
// mTLS aliases.
func (c *Client) checkMetadata(m *Metadata) error {
	if m.Issuer != c.cfg.Issuer {
		return invalid(ErrMetadata, ErrIssuerMismatch,
			"discovery issuer %q does not equal configured issuer %q", m.Issuer, c.cfg.Issuer)
	}
	urls := map[string]string{
		"authorization_endpoint": m.AuthorizationEndpoint,
		"jwks_uri":               m.JWKSURI,
		"end_session_endpoint":   m.EndSessionEndpoint,
	}
	for name, p := range m.aliasable() {
		urls[name] = *p
	}
	for name, u := range m.MTLSEndpointAliases {
		urls["mtls_endpoint_aliases."+name] = u
	}
	for name, u := range urls {
		if u == "" {
			continue
		}
		if err := checkHTTPS(u); err != nil {
			return invalidCause(ErrMetadata, ErrInsecureURL, err, "%s", name)
		}
	}
	if c.cfg.UseMTLSAliases {
		for name, p := range m.aliasable() {
			if a := m.MTLSEndpointAliases[name]; a != "" {
				*p = a
			}
		}
	}
	return nil
}

// metadata returns the discovered metadata, discovering on first use.
func (c *Client) metadata(ctx context.Context) (*Metadata, error) {
	if m := c.meta.Load(); m != nil {
		return m, nil
	}
	c.disMu.Lock()
	defer c.disMu.Unlock()
	if m := c.meta.Load(); m != nil { // another caller discovered meanwhile
		return m, nil
	}
	return c.discoverLocked(ctx)
}

// Metadata returns the current metadata, discovering on first use.
func (c *Client) Metadata(ctx context.Context) (*Metadata, error) {
	m, err := c.metadata(ctx)
	if err != nil {
		return nil, err
	}
	cp := *m
	return &cp, nil
}

// endpoint returns a named endpoint or ErrNoEndpoint.
func (c *Client) endpoint(ctx context.Context, name string, pick func(*Metadata) string) (string, error) {
	m, err := c.metadata(ctx)
	if err != nil {
		return "", err
	}
	u := pick(m)
	if u == "" {
		return "", fmt.Errorf("%w: %s", ErrNoEndpoint, name)
	}
	return u, nil
}

// keys returns the JWKS cache of the authorization server.
func (c *Client) keys(ctx context.Context) (*JWKSCache, error) {
	m, err := c.metadata(ctx)
	if err != nil {
		return nil, err
	}
	if m.JWKSURI == "" {
		return nil, fmt.Errorf("%w: jwks_uri", ErrNoEndpoint)
	}
	return c.jwks.Load(), nil
}

// checkHTTPS accepts an absolute https URL with a host, no user info and no
// fragment (FAPI 2.0 SP 5.2.1-1).
func checkHTTPS(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %q does not parse", ErrInsecureURL, raw)
	}
	if u.Scheme != "https" || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%w: %q", ErrInsecureURL, raw)
	}
	if u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("%w: %q has user info or a fragment", ErrInsecureURL, raw)
	}
	return nil
}

// checkResource accepts an RFC 8707 resource indicator: an absolute URI
// without a fragment.
func checkResource(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("%w: %q is not an absolute URI without fragment", ErrMalformed, raw)
	}
	return nil
}
