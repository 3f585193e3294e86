package gatewayflow_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/conformance/interop/interoptest"
	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/pkitest"
	"github.com/cillers/fapid/pki"
)

// One reference server per test binary, shared by every test; every test
// builds its own gateway, agent and APIs around it.
var (
	env    *testEnv
	envErr error
)

const (
	testUser  = "alice"
	spaOrigin = "https://app.example.test"
	// rsClient is the gateway's introspection client (tls_client_auth with
	// the gateway's identity).
	rsClient = "fapid-gateway-rs"
)

// The clients: two agents (browser sessions) and two apps that hold their
// tokens themselves.
var (
	spaMTLS = clientSpec{id: "spa-mtls", sender: fapi.SenderMTLS, alg: interop.PS256, ours: true}
	spaDPoP = clientSpec{id: "spa-dpop", sender: fapi.SenderDPoP, alg: interop.ES256, deployment: true}
	appMTLS = clientSpec{id: "app-mtls", sender: fapi.SenderMTLS, alg: interop.ES256, ours: true}
	appDPoP = clientSpec{id: "app-dpop", sender: fapi.SenderDPoP, alg: interop.PS256}
)

// clientSpec is one registered client.
type clientSpec struct {
	id     string
	sender fapi.SenderConstraint
	alg    string
	// ours: its TLS identity is the gateway's (the agent's certificate, or
	// a back-end of the bank): the API can check cnf.x5t#S256 itself.
	ours bool
	// deployment: its DPoP key is the deployment key the gateway holds too.
	deployment bool
}

type testEnv struct {
	ca     *pki.CA
	srv    *interop.Server
	stderr *syncBuffer
	meta   *fapi.Metadata
	// serverCert serves every loopback listener (AS, gateway, APIs).
	serverCert *tls.Certificate
	// ours is the gateway's client identity: the agent's certificate at the
	// AS, the session certificate, the upstream client certificate and the
	// introspection client's. other is someone else's from the same CA.
	ours, other *tls.Certificate
	// deployment is the deployment DPoP key (agent and gateway).
	deployment *jws.Signer
	parties    map[string]*party
}

// party is a registered client: its keys, specification and HTTP client.
type party struct {
	spec   clientSpec
	reg    interop.Client
	signer *jws.Signer
	dpop   *jws.Signer
	http   *http.Client
}

func TestMain(m *testing.M) {
	interoptest.Main(m, "gatewayflow-test-", func(dir string) *interop.Server {
		start := time.Now()
		if env, envErr = setup(dir); env == nil {
			return nil
		}
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "gatewayflow: server %s ready in %v\n", env.srv.Issuer(), time.Since(start).Round(time.Millisecond))
		}
		return env.srv
	})
}

// need returns the shared environment. It skips only when Node.js is
// missing and CI is not set.
func need(t *testing.T) *testEnv {
	t.Helper()
	interoptest.Need(t, envErr)
	return env
}

func setup(dir string) (*testEnv, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a first npm ci included
	defer cancel()
	pk, err := interoptest.NewPKI(ctx, dir, "gatewayflow test CA")
	if err != nil {
		return nil, err
	}
	ca := pk.CA
	e := &testEnv{ca: ca, stderr: &syncBuffer{}, parties: map[string]*party{}}
	if e.serverCert, err = pk.Server.TLSCertificate(); err != nil {
		return nil, err
	}
	if e.ours, _, err = pkitest.ClientCert(ctx, ca, "fapid-gateway"); err != nil {
		return nil, err
	}
	if e.other, _, err = pkitest.ClientCert(ctx, ca, "someone-else"); err != nil {
		return nil, err
	}
	if e.deployment, err = interoptest.NewDPoPKey(); err != nil { // ES256: the server's DPoP algs include it
		return nil, err
	}
	opts := pk.Options()
	opts.DPoPNonce, opts.Stderr = true, e.stderr
	opts.Clients = append(opts.Clients, interop.Client{ID: rsClient, AuthMethod: interop.AuthTLSClientAuth, Introspector: true,
		SigningAlg: interop.ES256, SubjectDN: e.ours.Leaf.Subject.String()})
	for _, spec := range []clientSpec{spaMTLS, spaDPoP, appMTLS, appDPoP} {
		p, err := e.newParty(spec)
		if err != nil {
			return nil, fmt.Errorf("client %s: %w", spec.id, err)
		}
		e.parties[spec.id] = p
		opts.Clients = append(opts.Clients, p.reg)
	}
	if e.srv, err = interop.Start(ctx, opts); err != nil {
		return nil, err
	}
	c, err := fapi.NewClient(e.rsConfig(fapi.IntrospectionJSON))
	if err != nil {
		return nil, err
	}
	if e.meta, err = c.Discover(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *testEnv) newParty(spec clientSpec) (*party, error) {
	var err error
	p := &party{spec: spec, reg: interop.Client{ID: spec.id, AuthMethod: interop.AuthPrivateKeyJWT,
		SenderConstraint: string(spec.sender), SigningAlg: spec.alg,
		RedirectURIs:           []string{"https://app.example.test/callback/" + spec.id},
		PostLogoutRedirectURIs: []string{"https://app.example.test/logged-out/" + spec.id}}}
	if p.signer, p.reg.JWKS, err = interoptest.NewSigner(spec.id, spec.alg); err != nil {
		return nil, err
	}
	switch {
	case spec.deployment:
		p.dpop = e.deployment
	case spec.sender == fapi.SenderDPoP:
		if p.dpop, err = interoptest.NewDPoPKey(); err != nil { // the app's own key
			return nil, err
		}
	}
	var cert *tls.Certificate
	if spec.ours {
		cert = e.ours
	}
	p.http, err = e.httpClient(cert)
	return p, err
}

// httpClient trusts the test CA and presents cert (nil: none).
func (e *testEnv) httpClient(cert *tls.Certificate) (*http.Client, error) {
	return pkitest.HTTPClient(pkitest.ClientOptions{Roots: e.ca.RootPool(), Cert: cert, Timeout: 20 * time.Second, ForceHTTP2: true})
}

// fapiConfig is the client configuration of a party (agent or app).
func (e *testEnv) fapiConfig(p *party) fapi.Config {
	return fapi.Config{
		Issuer: e.srv.Issuer(), ClientID: p.spec.id, AuthMethod: fapi.AuthPrivateKeyJWT, Signer: p.signer,
		DPoPSigner: p.dpop, HTTPClient: p.http, UseMTLSAliases: true, SenderConstraint: p.spec.sender,
		ResponseMode: fapi.ResponseModeQuery, Scopes: []string{"openid", interop.APIScope},
		Resources: []string{interop.APIResource}, RedirectURI: p.reg.RedirectURIs[0],
		PostLogoutRedirectURI: p.reg.PostLogoutRedirectURIs[0],
	}
}

// rsConfig is the gateway's introspection client in mode.
func (e *testEnv) rsConfig(mode fapi.IntrospectionMode) fapi.Config {
	hc, _ := e.httpClient(e.ours) // cannot fail: the same options as the parties'
	return fapi.Config{Issuer: e.srv.Issuer(), ClientID: rsClient, AuthMethod: fapi.AuthTLSClientAuth,
		HTTPClient: hc, UseMTLSAliases: true, IntrospectionMode: mode}
}

// x5t is the RFC 8705 §3.1 thumbprint of a certificate.
func x5t(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// syncBuffer collects log output from several goroutines.
type syncBuffer = pkitest.SyncBuffer
