package interop

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The API resource (RFC 8707) the server knows, and the scope it grants for it. An access token
// issued for it is opaque and can only be understood by introspection.
const (
	APIResource = "https://api.example.test/"
	APIScope    = "api:read"
)

// Client authentication methods, sender constraints and signing algorithms a [Client] may use.
const (
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthTLSClientAuth = "tls_client_auth"

	SenderMTLS = "mtls"
	SenderDPoP = "dpop"

	PS256 = "PS256"
	ES256 = "ES256"
)

// Client describes one registered client of the reference server.
type Client struct {
	ID string
	// AuthMethod is AuthPrivateKeyJWT or AuthTLSClientAuth.
	AuthMethod string
	// SubjectDN is the RFC 4514 subject of the client certificate (as Go's pkix.Name.String()
	// writes it, e.g. "CN=agent,O=FAPI Demo"), required for tls_client_auth. Compared without
	// case and around-comma spaces.
	SubjectDN string
	// SenderConstraint is SenderMTLS or SenderDPoP (ignored for an Introspector).
	SenderConstraint string
	// JARM notes that the client asks for response_mode=jwt. The server accepts both JARM and
	// plain (code, state, iss in the query) responses from every client; the field documents the
	// intent for callers and signs JARM with SigningAlg either way.
	JARM                   bool
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// JWKS is the client's public JWKS document ({"keys":[...]}), needed for private_key_jwt and
	// for signed request objects (every non-introspector client).
	JWKS json.RawMessage
	// SigningAlg (PS256 or ES256, default ES256) is used for request objects, client assertions,
	// and for what the server signs for this client: ID tokens, JARM, RFC 9701 introspection.
	SigningAlg string
	// Introspector makes this a resource-server client: no grants, allowed to introspect any
	// token (usually with AuthTLSClientAuth).
	Introspector bool
}

// Options configure [Start].
type Options struct {
	// Dir is the state directory: the generated configuration and the OP's private JWKS
	// (op-jwks.json, created on first start and reused, so a restarted demo keeps its keys).
	Dir string
	// Host is the listen address and the issuer's host, default 127.0.0.1.
	Host string
	// Port to listen on; 0 lets the server pick a free port (see [Server.Issuer]).
	Port int
	// CAFile is the CA bundle client certificates must chain to (mTLS). Browser trusts it too
	// for the server certificate, so the server certificate should come from the same PKI.
	CAFile string
	// CertFile and KeyFile are the server's TLS certificate (chain PEM) and key.
	CertFile, KeyFile string
	Clients           []Client
	// DefaultResource makes requests without a resource parameter get APIResource, so the access
	// token is an opaque API token even when the client does not ask (Curity's behaviour). Off,
	// such a request gets a token for userinfo only.
	DefaultResource bool
	// DPoPNonce makes the server require server-provided DPoP nonces (RFC 9449 §8, §9).
	DPoPNonce bool
	// Stderr receives the server's stderr (warnings and "*.error" events; never tokens).
	Stderr io.Writer
	// Node is the node binary, default "node" on PATH. npm is looked up next to it, then on PATH.
	Node string
	// StartTimeout bounds waiting for the server to listen, default 30s (npm ci not included).
	StartTimeout time.Duration
}

// nodeConfig is the JSON document server.mjs reads.
type nodeConfig struct {
	Host            string       `json:"host"`
	Port            int          `json:"port"`
	CertFile        string       `json:"certFile"`
	KeyFile         string       `json:"keyFile"`
	CAFile          string       `json:"caFile"`
	JWKSFile        string       `json:"jwksFile"`
	Resource        string       `json:"resource"`
	ResourceScope   string       `json:"resourceScope"`
	DefaultResource bool         `json:"defaultResource"`
	DPoPNonce       bool         `json:"dpopNonce"`
	Clients         []nodeClient `json:"clients"`
}

type nodeClient struct {
	ClientID               string          `json:"client_id"`
	AuthMethod             string          `json:"authMethod"`
	SubjectDN              string          `json:"subjectDN,omitempty"`
	SenderConstraint       string          `json:"senderConstraint,omitempty"`
	JARM                   bool            `json:"jarm"`
	RedirectURIs           []string        `json:"redirectUris"`
	PostLogoutRedirectURIs []string        `json:"postLogoutRedirectUris"`
	JWKS                   json.RawMessage `json:"jwks,omitempty"`
	SigningAlg             string          `json:"signingAlg"`
	Introspector           bool            `json:"introspector"`
}

// ErrOptions is wrapped by every error about invalid [Options].
var ErrOptions = errors.New("interop: invalid options")

func optErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrOptions, fmt.Sprintf(format, a...))
}

func (o *Options) setDefaults() {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Node == "" {
		o.Node = "node"
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
}

// validate checks o (after setDefaults) and returns the node configuration with absolute paths.
func (o *Options) validate() (*nodeConfig, error) {
	if o.Dir == "" {
		return nil, optErr("Dir is required")
	}
	if o.Port < 0 || o.Port > 65535 {
		return nil, optErr("port %d out of range", o.Port)
	}
	cfg := &nodeConfig{
		Host: o.Host, Port: o.Port, Resource: APIResource, ResourceScope: APIScope,
		DefaultResource: o.DefaultResource, DPoPNonce: o.DPoPNonce,
	}
	for _, f := range []struct {
		name string
		in   string
		out  *string
	}{{"CAFile", o.CAFile, &cfg.CAFile}, {"CertFile", o.CertFile, &cfg.CertFile}, {"KeyFile", o.KeyFile, &cfg.KeyFile}} {
		if f.in == "" {
			return nil, optErr("%s is required", f.name)
		}
		abs, err := filepath.Abs(f.in)
		if err != nil {
			return nil, fmt.Errorf("interop: %s: %w", f.name, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("interop: %s: %w", f.name, err)
		}
		*f.out = abs
	}
	seen := map[string]bool{}
	for i := range o.Clients {
		c, err := o.Clients[i].node()
		if err != nil {
			return nil, err
		}
		if seen[c.ClientID] {
			return nil, optErr("client %q listed twice", c.ClientID)
		}
		seen[c.ClientID] = true
		cfg.Clients = append(cfg.Clients, c)
	}
	return cfg, nil
}

func (c *Client) node() (nodeClient, error) {
	n := nodeClient{
		ClientID: c.ID, AuthMethod: c.AuthMethod, SubjectDN: c.SubjectDN, JARM: c.JARM,
		RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		SigningAlg: c.SigningAlg, Introspector: c.Introspector,
	}
	if c.ID == "" || strings.TrimSpace(c.ID) != c.ID {
		return n, optErr("client id %q is empty or has spaces around it", c.ID)
	}
	if n.SigningAlg == "" {
		n.SigningAlg = ES256
	}
	if n.SigningAlg != PS256 && n.SigningAlg != ES256 {
		return n, optErr("client %q: signing alg %q (want PS256 or ES256)", c.ID, c.SigningAlg)
	}
	switch c.AuthMethod {
	case AuthPrivateKeyJWT:
	case AuthTLSClientAuth:
		if c.SubjectDN == "" {
			return n, optErr("client %q: tls_client_auth needs SubjectDN", c.ID)
		}
	default:
		return n, optErr("client %q: auth method %q (want private_key_jwt or tls_client_auth)", c.ID, c.AuthMethod)
	}
	if len(c.JWKS) > 0 {
		var doc struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.Unmarshal(c.JWKS, &doc); err != nil || len(doc.Keys) == 0 {
			return n, optErr("client %q: JWKS is not a JWKS document with keys", c.ID)
		}
		for _, k := range doc.Keys {
			if k["d"] != nil || k["k"] != nil {
				return n, optErr("client %q: JWKS holds a private or symmetric key", c.ID)
			}
		}
		n.JWKS = c.JWKS
	}
	if c.Introspector {
		if c.AuthMethod == AuthPrivateKeyJWT && len(c.JWKS) == 0 {
			return n, optErr("client %q: private_key_jwt needs JWKS", c.ID)
		}
		return n, nil
	}
	if len(c.JWKS) == 0 {
		return n, optErr("client %q: JWKS is required (signed request objects)", c.ID)
	}
	if c.SenderConstraint != SenderMTLS && c.SenderConstraint != SenderDPoP {
		return n, optErr("client %q: sender constraint %q (want mtls or dpop)", c.ID, c.SenderConstraint)
	}
	n.SenderConstraint = c.SenderConstraint
	if len(c.RedirectURIs) == 0 {
		return n, optErr("client %q: at least one redirect URI is required", c.ID)
	}
	return n, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
