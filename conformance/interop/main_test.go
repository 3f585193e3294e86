package interop_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/conformance/interop/interoptest"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/pki"
)

// One reference server per test binary, shared by the flow tests.
var (
	env      *testEnv
	envErr   error
	testUser = "alice"
)

type testEnv struct {
	dir    string
	ca     *pki.CA
	srv    *interop.Server
	stderr *syncBuffer
	// base options (files, clients) so tests can start more servers.
	opts    interop.Options
	clients map[string]*testClient
}

// testClient is one registered client with everything a hand-written FAPI client needs.
type testClient struct {
	interop.Client
	signer *jws.Signer // request objects and client assertions
	dpop   *jws.Signer // DPoP proofs (dpop clients)
	cert   tls.Certificate
	http   *http.Client // mTLS with cert, trusting the test CA
}

func TestMain(m *testing.M) {
	interoptest.Main(m, "interop-test-", func(dir string) *interop.Server {
		if env, envErr = setup(dir); env == nil {
			return nil
		}
		return env.srv
	})
}

// need returns the shared environment, skipping (outside CI) when Node.js is missing.
func need(t *testing.T) *testEnv {
	t.Helper()
	interoptest.Need(t, envErr)
	return env
}

func setup(dir string) (*testEnv, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // first npm ci included
	defer cancel()
	p, err := interoptest.NewPKI(ctx, dir, "interop test CA")
	if err != nil {
		return nil, err
	}
	ca := p.CA
	e := &testEnv{dir: dir, ca: ca, stderr: &syncBuffer{}, clients: map[string]*testClient{}}
	specs := []interop.Client{
		{ID: "agent-pkjwt", AuthMethod: interop.AuthPrivateKeyJWT, SenderConstraint: interop.SenderMTLS, JARM: true, SigningAlg: interop.PS256},
		{ID: "agent-tls", AuthMethod: interop.AuthTLSClientAuth, SenderConstraint: interop.SenderMTLS, SigningAlg: interop.ES256},
		{ID: "agent-dpop", AuthMethod: interop.AuthPrivateKeyJWT, SenderConstraint: interop.SenderDPoP, JARM: true, SigningAlg: interop.ES256},
		{ID: "gateway-rs", AuthMethod: interop.AuthTLSClientAuth, Introspector: true, SigningAlg: interop.ES256},
	}
	e.opts = p.Options()
	for _, spec := range specs {
		c, err := newTestClient(ctx, ca, spec)
		if err != nil {
			return nil, fmt.Errorf("client %s: %w", spec.ID, err)
		}
		e.clients[c.ID] = c
		e.opts.Clients = append(e.opts.Clients, c.Client)
	}
	o := e.opts
	o.Stderr = e.stderr
	if e.srv, err = interoptest.Start(ctx, "interop", o); err != nil {
		return nil, err
	}
	return e, nil
}

func newTestClient(ctx context.Context, ca *pki.CA, spec interop.Client) (*testClient, error) {
	p, err := interoptest.NewParty(ctx, ca, spec, "https://127.0.0.1:9443/cb/", "https://127.0.0.1:9443/logged-out/")
	if err != nil {
		return nil, err
	}
	c := &testClient{Client: p.Spec, signer: p.Signer, cert: p.Cert}
	if spec.SenderConstraint == interop.SenderDPoP {
		if c.dpop, err = interoptest.NewDPoPKey(); err != nil {
			return nil, err
		}
	}
	c.http = &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: ca.RootPool(), Certificates: []tls.Certificate{c.cert}, MinVersion: tls.VersionTLS12,
		}},
	}
	return c, nil
}

// plainHTTP trusts the test CA and presents no client certificate.
func (e *testEnv) plainHTTP() *http.Client {
	return &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.ca.RootPool(), MinVersion: tls.VersionTLS12}},
	}
}

// discovery fetches and decodes the server's OpenID configuration.
func (e *testEnv) discovery(t *testing.T) map[string]any {
	t.Helper()
	resp, err := e.plainHTTP().Get(e.srv.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: status %d", resp.StatusCode)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}
