package fapiflow_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/conformance/interop/interoptest"
	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/pkitest"
	"github.com/cillers/fapid/pki"
)

// One reference server per test binary, shared by every test (each variant has its own client).
var (
	env    *testEnv
	envErr error
)

const testUser = "alice"

// Resource-server (introspecting) clients.
const (
	rsTLS   = "rs-tls"   // tls_client_auth, introspection answers signed ES256
	rsPKJWT = "rs-pkjwt" // private_key_jwt, introspection answers signed PS256
)

type testEnv struct {
	ca      *pki.CA
	srv     *interop.Server
	stderr  *syncBuffer
	opts    interop.Options // base options, to start more servers with the same clients
	parties map[string]*party
}

// party is one registered client and the keys and HTTP client fapi needs to act as it.
type party struct {
	spec   interop.Client
	signer *jws.Signer // request objects and client assertions
	dpop   *jws.Signer // DPoP proofs (DPoP-bound clients)
	cert   tls.Certificate
	http   *http.Client // trusts the test CA; presents cert when the client uses mTLS
}

// x5t is the RFC 8705 §3.1 thumbprint of the party's certificate.
func (p *party) x5t() string {
	sum := sha256.Sum256(p.cert.Leaf.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestMain(m *testing.M) {
	interoptest.Main(m, "fapiflow-test-", func(dir string) *interop.Server {
		if env, envErr = setup(dir); env == nil {
			return nil
		}
		return env.srv
	})
}

// need returns the shared environment. It skips only when Node.js is missing and CI is not set.
func need(t *testing.T) *testEnv {
	t.Helper()
	interoptest.Need(t, envErr)
	return env
}

// clientSpecs are the registered clients: one per variant (so parallel variants never share a
// client) and the two resource servers.
func clientSpecs() []interop.Client {
	var specs []interop.Client
	for _, v := range variants {
		specs = append(specs, interop.Client{
			ID: v.client, AuthMethod: string(v.auth), SenderConstraint: string(v.sender),
			JARM: v.mode == fapi.ResponseModeJWT, SigningAlg: v.alg,
		})
	}
	return append(specs,
		interop.Client{ID: rsTLS, AuthMethod: interop.AuthTLSClientAuth, Introspector: true, SigningAlg: interop.ES256},
		interop.Client{ID: rsPKJWT, AuthMethod: interop.AuthPrivateKeyJWT, Introspector: true, SigningAlg: interop.PS256},
	)
}

func setup(dir string) (*testEnv, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a first npm ci included
	defer cancel()
	pk, err := interoptest.NewPKI(ctx, dir, "fapiflow test CA")
	if err != nil {
		return nil, err
	}
	ca := pk.CA
	e := &testEnv{ca: ca, stderr: &syncBuffer{}, parties: map[string]*party{}}
	e.opts = pk.Options()
	for _, spec := range clientSpecs() {
		p, err := newParty(ctx, ca, spec)
		if err != nil {
			return nil, fmt.Errorf("client %s: %w", spec.ID, err)
		}
		e.parties[spec.ID] = p
		e.opts.Clients = append(e.opts.Clients, p.spec)
	}
	o := e.opts
	o.Stderr = e.stderr
	if e.srv, err = interoptest.Start(ctx, "fapiflow", o); err != nil {
		return nil, err
	}
	return e, nil
}

func newParty(ctx context.Context, ca *pki.CA, spec interop.Client) (*party, error) {
	ip, err := interoptest.NewParty(ctx, ca, spec, "https://127.0.0.1:9443/cb/", "https://127.0.0.1:9443/logged-out/")
	if err != nil {
		return nil, err
	}
	p := &party{spec: ip.Spec, signer: ip.Signer, cert: ip.Cert}
	if spec.SenderConstraint == interop.SenderDPoP {
		if p.dpop, err = newDPoPKey(spec.ID); err != nil {
			return nil, err
		}
	}
	tlsConf := &tls.Config{RootCAs: ca.RootPool(), MinVersion: tls.VersionTLS12}
	if interoptest.UsesMTLS(spec) {
		tlsConf.Certificates = []tls.Certificate{p.cert}
	}
	p.http = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf}}
	return p, nil
}

// newDPoPKey gives the DPoP key of a variant: ES256 for JARM variants, EdDSA for plain ones, so
// that both curve families are proven at the PAR, token and userinfo endpoints.
func newDPoPKey(clientID string) (*jws.Signer, error) {
	for _, v := range variants {
		if v.client == clientID && v.dpopAlg == jws.EdDSA {
			_, k, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return nil, err
			}
			return jws.NewSigner(k, "")
		}
	}
	return interoptest.NewDPoPKey()
}

// agentConfig is the fapi configuration of a variant's client toward issuer.
func (p *party) agentConfig(issuer string) fapi.Config {
	s := p.spec
	return fapi.Config{
		Issuer:                issuer,
		ClientID:              s.ID,
		AuthMethod:            fapi.AuthMethod(s.AuthMethod),
		Signer:                p.signer,
		DPoPSigner:            p.dpop,
		HTTPClient:            p.http,
		UseMTLSAliases:        s.AuthMethod == interop.AuthTLSClientAuth || s.SenderConstraint == interop.SenderMTLS,
		SenderConstraint:      fapi.SenderConstraint(s.SenderConstraint),
		ResponseMode:          responseMode(s.JARM),
		Scopes:                []string{"openid", "offline_access", interop.APIScope},
		Resources:             []string{interop.APIResource},
		RedirectURI:           s.RedirectURIs[0],
		PostLogoutRedirectURI: s.PostLogoutRedirectURIs[0],
	}
}

func responseMode(jarm bool) fapi.ResponseMode {
	if jarm {
		return fapi.ResponseModeJWT
	}
	return fapi.ResponseModeQuery
}

// agent returns a fapi.Client for the named variant client on the shared server.
func (e *testEnv) agent(t *testing.T, id string) *fapi.Client {
	t.Helper()
	return newClient(t, e.parties[id].agentConfig(e.srv.Issuer()))
}

// introspector returns a fapi.Client for a resource-server client in the given answer mode.
func (e *testEnv) introspector(t *testing.T, id string, mode fapi.IntrospectionMode) *fapi.Client {
	t.Helper()
	p := e.parties[id]
	cfg := fapi.Config{
		Issuer: e.srv.Issuer(), ClientID: id, AuthMethod: fapi.AuthMethod(p.spec.AuthMethod),
		HTTPClient: p.http, UseMTLSAliases: true, IntrospectionMode: mode,
	}
	if cfg.AuthMethod == fapi.AuthPrivateKeyJWT {
		cfg.Signer = p.signer
	}
	return newClient(t, cfg)
}

func newClient(t *testing.T, cfg fapi.Config) *fapi.Client {
	t.Helper()
	c, err := fapi.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient(%s): %v", cfg.ClientID, err)
	}
	return c
}

// syncBuffer collects the server's stderr (its *.error events explain refusals).
type syncBuffer = pkitest.SyncBuffer
