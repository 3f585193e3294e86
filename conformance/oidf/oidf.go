package oidf

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/cillers/fapid/config"
	"github.com/cillers/fapid/conformance/rp"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/keys"
)

// DefaultSuiteURL is the OpenID Foundation's hosted certification instance.
const DefaultSuiteURL = "https://www.certification.openid.net"

// Options tune Generate.
type Options struct {
	// Alias names the test plans at the suite and so the issuer URL
	// (…/test/a/<alias>/). Zero means "fapid-" + the client id.
	Alias string
	// SuiteURL is the suite's base URL; zero means DefaultSuiteURL.
	SuiteURL string
	// WaitTimeoutSeconds is how long the suite waits after a fault for the
	// client to stay quiet; zero means 5 (the suite's default).
	WaitTimeoutSeconds int
	// NoServerJWKS leaves server.jwks out: the suite then makes a new
	// signing key (new kid) for every module, which a long-running agent
	// must pick up between logins (see conformance/rp rotation_test.go).
	NoServerJWKS bool
}

// Output is what a user posts to the suite: one plan per applicable test
// plan, and what to set in fapid.yaml.
type Output struct {
	// Issuer is the value for authorization_server.issuer while testing:
	// the suite's issuer for Alias (with its trailing slash).
	Issuer string `json:"fapid_issuer"`
	Plans  []Plan `json:"plans"`
	// Notes explain plans left out and steps to take by hand.
	Notes []string `json:"notes,omitempty"`
}

// Plan is one test plan: POST /api/plan?planName=<PlanName>&variant=<Variant
// as JSON> with Config as the body.
type Plan struct {
	PlanName string            `json:"planName"`
	Variant  map[string]string `json:"variant"`
	Config   PlanConfig        `json:"config"`
}

// PlanConfig is the suite's test-plan configuration (research note §4.2).
type PlanConfig struct {
	Alias              string  `json:"alias"`
	Description        string  `json:"description"`
	Server             *Server `json:"server,omitempty"`
	Client             Client  `json:"client"`
	WaitTimeoutSeconds int     `json:"waitTimeoutSeconds"`
}

// Server is the suite's "server" section: the test authorization server's
// private signing key, so that every module of a plan signs with one key.
type Server struct {
	JWKS json.RawMessage `json:"jwks"`
}

// Client is the suite's "client" section.
type Client struct {
	ClientID    string `json:"client_id"`
	Scope       string `json:"scope"`
	RedirectURI string `json:"redirect_uri"`
	// Certificate is the PEM the agent presents at mTLS endpoints (compared
	// for equality, so the leaf itself).
	Certificate string `json:"certificate,omitempty"`
	// JWKS holds the public key of the agent's signing key (client
	// assertions and request objects).
	JWKS json.RawMessage `json:"jwks,omitempty"`
}

var aliasRE = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

// Generate derives the suite's plan configuration from a loaded fapid
// configuration's agent section: the variant from its settings, client.jwks
// from its signing key, client.certificate from its client certificate.
func Generate(ctx context.Context, f *config.File, o Options) (*Output, error) {
	if f == nil || f.Agent == nil {
		return nil, errors.New("oidf: the configuration has no agent section")
	}
	a := f.Agent
	v := VariantOf(a)
	if o.Alias == "" {
		o.Alias = "fapid-" + a.Client.ID
	}
	o.Alias = strings.Trim(aliasRE.ReplaceAllString(o.Alias, "-"), "-")
	if o.SuiteURL == "" {
		o.SuiteURL = DefaultSuiteURL
	}
	if o.WaitTimeoutSeconds == 0 {
		o.WaitTimeoutSeconds = 5
	}
	out := &Output{Issuer: strings.TrimSuffix(o.SuiteURL, "/") + "/test/a/" + o.Alias + "/"}
	cl := Client{ClientID: a.Client.ID, Scope: strings.Join(a.Scopes, " "), RedirectURI: a.RedirectURI}
	var err error
	if cl.JWKS, err = clientJWKS(ctx, a.Client); err != nil {
		return nil, err
	}
	if v.ClientAuth == rp.AuthMTLS || v.Sender == rp.SenderMTLS {
		pemText, note, err := clientCertificate(f, a.Client.Certificate)
		if err != nil {
			return nil, err
		}
		cl.Certificate = pemText
		out.Notes = appendNote(out.Notes, note)
	}
	var server *Server
	if !o.NoServerJWKS {
		doc, err := serverJWKS()
		if err != nil {
			return nil, err
		}
		server = &Server{JWKS: doc}
	}
	for _, p := range rp.Plans() {
		why := planGap(p, v)
		if why != "" {
			out.Notes = append(out.Notes, p.Name+" left out: "+why)
			continue
		}
		desc := fmt.Sprintf("fapid OAuth Agent %s (%s)", a.Client.ID, v)
		out.Plans = append(out.Plans, Plan{PlanName: p.Name, Variant: v.Params(p),
			Config: PlanConfig{Alias: o.Alias, Description: desc, Server: server, Client: cl, WaitTimeoutSeconds: o.WaitTimeoutSeconds}})
	}
	out.Notes = append(out.Notes, standingNotes(out.Issuer)...)
	return out, nil
}

// VariantOf is the suite variant an agent configuration takes part in: the
// agent always signs its request objects (signed_non_repudiation).
func VariantOf(a *config.Agent) rp.Variant {
	v := rp.Variant{ClientAuth: rp.AuthPrivateKeyJWT, Sender: a.SenderConstraint, ClientType: rp.ClientPlainOAuth,
		RequestMethod: rp.RequestSigned, ResponseMode: rp.ResponsePlain}
	if a.Client.Auth == "tls_client_auth" {
		v.ClientAuth = rp.AuthMTLS
	}
	if slices.Contains(a.Scopes, "openid") {
		v.ClientType = rp.ClientOIDC
	}
	if a.ResponseMode == "jarm" {
		v.ResponseMode = rp.ResponseJARM
	}
	return v
}

// planGap says why plan p cannot test this agent, or "".
func planGap(p rp.Plan, v rp.Variant) string {
	if p.MessageSigning {
		return ""
	}
	switch {
	case v.ResponseMode == rp.ResponseJARM:
		return "it sends plain authorization responses and the agent is configured for JARM (response_mode: jarm)"
	case v.ClientAuth == rp.AuthMTLS:
		return "the agent always signs its request object, and with tls_client_auth this plan holds no client.jwks " +
			"to verify it (ValidateRequestObjectSignature fails); the message-signing plan covers it"
	}
	return ""
}

// clientJWKS is the public JWKS of the agent's signing key, with the kid the
// agent signs with (key_id, or the RFC 7638 thumbprint as `fapid run` uses).
func clientJWKS(ctx context.Context, c config.OAuthClient) (json.RawMessage, error) {
	key, err := keys.Load(ctx, string(c.Key))
	if err != nil {
		return nil, fmt.Errorf("oidf: agent.client.key: %w (write its public JWK into client.jwks yourself)", err)
	}
	kid := c.KeyID
	if kid == "" {
		if kid, err = jws.Thumbprint(key.Public()); err != nil {
			return nil, err
		}
	}
	doc, err := jws.PublicJWKS(jws.PublicKey{Key: key.Public(), KeyID: kid})
	if err != nil {
		return nil, fmt.Errorf("oidf: agent.client.key: %w", err)
	}
	return doc, nil
}

// clientCertificate reads the leaf of the named certificate.
func clientCertificate(f *config.File, name string) (string, string, error) {
	c, ok := f.Certificates[name]
	switch {
	case name == "" || !ok:
		return "", "", fmt.Errorf("oidf: agent.client.certificate %q is not a configured certificate", name)
	case c.Embedded != nil:
		return "", "client.certificate left empty: certificate " + name + " is issued by the embedded CA and renewed; " +
			"the suite compares it exactly, so paste the current leaf (PEM) before each run or use a file certificate", nil
	}
	data, err := os.ReadFile(c.CertFile)
	if err != nil {
		return "", "", fmt.Errorf("oidf: certificate %s: %w", name, err)
	}
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return "", "", fmt.Errorf("oidf: certificate %s: no CERTIFICATE block in %s", name, c.CertFile)
		}
		if b.Type == "CERTIFICATE" {
			return string(pem.EncodeToMemory(b)), "", nil
		}
	}
}

func standingNotes(issuer string) []string {
	return []string{
		"set authorization_server.issuer to " + issuer + " and authorization_server.ca_file to the CA of the suite's TLS certificate (never disable verification)",
		"client.scope must equal agent.scopes joined by one space, byte for byte; client.redirect_uri must equal agent.redirect_uri",
		"server.jwks is a test-only signing key made for these plans: with it the suite signs every module with one key; without it the suite makes a new key per module, which the agent picks up only within the JWKS refetch window",
		"the suite ends a happy path only on a call to its exposed accounts_endpoint with the access token; fapid's agent calls only userinfo for a browser, so the happy-path modules stay WAITING after userinfo (see README.md, Known gaps)",
	}
}

func appendNote(notes []string, n string) []string {
	if n == "" {
		return notes
	}
	return append(notes, n)
}
