package config

import "time"

// AuthorizationServer is the one authorization server (Curity in
// production) that the agent and the gateway talk to. Its discovery
// document is authoritative; the issuer is compared byte for byte.
type AuthorizationServer struct {
	Issuer string `yaml:"issuer"`
	// CAFile verifies the server's TLS certificate; empty means system roots.
	CAFile string `yaml:"ca_file"`
	// UseMTLSEndpointAliases calls RFC 8705 §5 aliases when published
	// (default true).
	UseMTLSEndpointAliases *bool `yaml:"use_mtls_endpoint_aliases"`
}

// OAuthClient is one client registration at the authorization server.
type OAuthClient struct {
	ID   string `yaml:"id"`
	Auth string `yaml:"auth"` // private_key_jwt, tls_client_auth
	// Key signs request objects and private_key_jwt assertions.
	Key   SecretRef `yaml:"key"`
	KeyID string    `yaml:"key_id"`
	// Certificate names the client certificate (under certificates) used
	// for mTLS to the authorization server: tls_client_auth and RFC 8705
	// certificate-bound tokens.
	Certificate string `yaml:"certificate"`
}

// Session is the browser session shared by the agent (which writes the
// cookies) and the gateway (which reads them).
type Session struct {
	CookiePrefix string `yaml:"cookie_prefix"` // default fapid
	// Keys are files of 64 hex characters (32 random bytes, `fapid keygen`
	// style: `openssl rand -hex 32`). The first seals; all open (rotation).
	Keys []SecretRef `yaml:"keys"`
	// TrustedOrigins are the exact origins of the single-page apps.
	TrustedOrigins []string `yaml:"trusted_origins"`
}

// Agent is the OAuth Agent (token handler) mode.
type Agent struct {
	Listener string      `yaml:"listener"`
	BasePath string      `yaml:"base_path"` // default /oauth-agent
	Client   OAuthClient `yaml:"client"`
	// SenderConstraint: mtls (RFC 8705) or dpop (RFC 9449).
	SenderConstraint string `yaml:"sender_constraint"`
	// DPoPKey is the deployment DPoP key (sender_constraint: dpop).
	DPoPKey SecretRef `yaml:"dpop_key"`
	// ResponseMode: jarm or query (code + iss, RFC 9207).
	ResponseMode          string   `yaml:"response_mode"`
	Scopes                []string `yaml:"scopes"`
	Resources             []string `yaml:"resources"`
	RedirectURI           string   `yaml:"redirect_uri"`
	PostLogoutRedirectURI string   `yaml:"post_logout_redirect_uri"`
	// Compat: "" or curity-v1 (read and write Curity's Gen-1 cookies).
	Compat string `yaml:"compat"`
}

// Gateway is the OAuth proxy + phantom token mode.
type Gateway struct {
	Listener string `yaml:"listener"`
	// PublicOrigin is the gateway's external origin; DPoP proofs name it.
	PublicOrigin string `yaml:"public_origin"`
	// HTTP3 also serves HTTP/3 on the listener's UDP port (default true).
	HTTP3         *bool         `yaml:"http3"`
	Introspection Introspection `yaml:"introspection"`
	// SigningKey signs the RFC 9068 tokens the gateway mints (forward: mint).
	SigningKey   SecretRef `yaml:"signing_key"`
	SigningKeyID string    `yaml:"signing_key_id"`
	// SessionCertificate is the agent's client identity (under
	// certificates): cookie tokens bound with cnf.x5t#S256 are bound to it.
	SessionCertificate string `yaml:"session_certificate"`
	// TrustedProxies (CIDR prefixes) may set X-Forwarded-* and forward-auth
	// headers. Empty trusts nobody.
	TrustedProxies  []string     `yaml:"trusted_proxies"`
	ForwardAuthPath string       `yaml:"forward_auth_path"`
	DPoPNonce       bool         `yaml:"dpop_nonce"`
	Cache           GatewayCache `yaml:"cache"`
	Routes          []Route      `yaml:"routes"`
}

// Introspection is how the gateway turns opaque tokens into JWTs.
type Introspection struct {
	Client  OAuthClient   `yaml:"client"`
	Mode    string        `yaml:"mode"`    // curity, rfc9701, json
	Forward string        `yaml:"forward"` // received, mint
	Timeout time.Duration `yaml:"timeout"`
}

// GatewayCache bounds the token cache.
type GatewayCache struct {
	MaxEntries  int           `yaml:"max_entries"`
	MaxTTL      time.Duration `yaml:"max_ttl"`
	NegativeTTL time.Duration `yaml:"negative_ttl"`
}

// Route sends a path prefix to an upstream API over mTLS.
type Route struct {
	Prefix     string `yaml:"prefix"`
	Upstream   string `yaml:"upstream"`
	UpstreamCA string `yaml:"upstream_ca"`
	// UpstreamCertificate (under certificates) is presented upstream;
	// default gateway.session_certificate.
	UpstreamCertificate string `yaml:"upstream_certificate"`
	UpstreamServerName  string `yaml:"upstream_server_name"`
	// UpstreamPublicURL is the upstream's URL as the API sees it (the htu of
	// the DPoP proofs the gateway signs); default upstream.
	UpstreamPublicURL string `yaml:"upstream_public_url"`
	// UpstreamTrustsGatewayDPoP forwards tokens bound to a client's own DPoP
	// key as Bearer, for an upstream that relies on the gateway's proof check.
	UpstreamTrustsGatewayDPoP bool     `yaml:"upstream_trusts_gateway_dpop"`
	StripPrefix               bool     `yaml:"strip_prefix"`
	Anonymous                 bool     `yaml:"anonymous"`
	Credentials               []string `yaml:"credentials"` // cookie, bearer, dpop
	Scopes                    []string `yaml:"scopes"`
	Audience                  string   `yaml:"audience"`
}
