package interop_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/pki"
)

// One reference server per test binary, shared by the flow tests.
var (
	env      *testEnv
	envErr   error
	inCI     = os.Getenv("CI") == "true"
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
	flag.Parse() // for testing.Verbose in setup
	dir, err := os.MkdirTemp("", "interop-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	env, envErr = setup(dir)
	code := m.Run()
	if env != nil && env.srv != nil {
		if err := env.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop:", err)
			code = 1
		}
		if interop.GroupAlive(env.srv.PID()) {
			fmt.Fprintln(os.Stderr, "node process group still alive after Stop")
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// need returns the shared environment, skipping (outside CI) when Node.js is missing.
func need(t *testing.T) *testEnv {
	t.Helper()
	if envErr != nil {
		if errors.Is(envErr, interop.ErrNoNode) && !inCI {
			t.Skip(envErr)
		}
		t.Fatalf("test environment: %v", envErr)
	}
	return env
}

func setup(dir string) (*testEnv, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // first npm ci included
	defer cancel()
	ca, err := pki.Init(filepath.Join(dir, "ca"), pki.InitOptions{Name: "interop test CA"})
	if err != nil {
		return nil, err
	}
	e := &testEnv{dir: dir, ca: ca, stderr: &syncBuffer{}, clients: map[string]*testClient{}}
	srvCert, err := ca.Issue(ctx, pki.IssueRequest{CommonName: "127.0.0.1", SANs: []string{"127.0.0.1", "localhost"}, Server: true})
	if err != nil {
		return nil, err
	}
	certFile, keyFile := filepath.Join(dir, "op.crt"), filepath.Join(dir, "op.key")
	if err := pki.WriteIssued(srvCert, certFile, keyFile); err != nil {
		return nil, err
	}
	specs := []interop.Client{
		{ID: "agent-pkjwt", AuthMethod: interop.AuthPrivateKeyJWT, SenderConstraint: interop.SenderMTLS, JARM: true, SigningAlg: interop.PS256},
		{ID: "agent-tls", AuthMethod: interop.AuthTLSClientAuth, SenderConstraint: interop.SenderMTLS, SigningAlg: interop.ES256},
		{ID: "agent-dpop", AuthMethod: interop.AuthPrivateKeyJWT, SenderConstraint: interop.SenderDPoP, JARM: true, SigningAlg: interop.ES256},
		{ID: "gateway-rs", AuthMethod: interop.AuthTLSClientAuth, Introspector: true, SigningAlg: interop.ES256},
	}
	for _, spec := range specs {
		c, err := newTestClient(ctx, ca, spec)
		if err != nil {
			return nil, fmt.Errorf("client %s: %w", spec.ID, err)
		}
		e.clients[c.ID] = c
		e.opts.Clients = append(e.opts.Clients, c.Client)
	}
	e.opts.Dir = filepath.Join(dir, "op-state")
	e.opts.CAFile, e.opts.CertFile, e.opts.KeyFile = ca.RootFile(), certFile, keyFile
	o := e.opts
	o.Stderr = e.stderr
	start := time.Now()
	e.srv, err = interop.Start(ctx, o)
	if err != nil {
		return nil, err
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "interop: server %s ready in %v\n", e.srv.Issuer(), time.Since(start).Round(time.Millisecond))
	}
	return e, nil
}

func newTestClient(ctx context.Context, ca *pki.CA, spec interop.Client) (*testClient, error) {
	var key crypto.Signer
	var err error
	if spec.SigningAlg == interop.PS256 {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, err
	}
	c := &testClient{Client: spec}
	if c.signer, err = jws.NewSigner(key, spec.ID+"-sig"); err != nil {
		return nil, err
	}
	if c.JWKS, err = jws.PublicJWKS(jws.PublicKey{Key: key.Public(), KeyID: c.signer.KeyID(), Alg: c.signer.Alg()}); err != nil {
		return nil, err
	}
	issued, err := ca.Issue(ctx, pki.IssueRequest{CommonName: spec.ID, SANs: []string{"spiffe://fapid.test/" + spec.ID}, Client: true})
	if err != nil {
		return nil, err
	}
	tc, err := issued.TLSCertificate()
	if err != nil {
		return nil, err
	}
	c.cert = *tc
	if spec.AuthMethod == interop.AuthTLSClientAuth {
		c.SubjectDN = issued.Leaf().Subject.String()
	}
	if !spec.Introspector {
		c.RedirectURIs = []string{"https://127.0.0.1:9443/cb/" + spec.ID}
		c.PostLogoutRedirectURIs = []string{"https://127.0.0.1:9443/logged-out/" + spec.ID}
	}
	if spec.SenderConstraint == interop.SenderDPoP {
		dk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		if c.dpop, err = jws.NewSigner(dk, ""); err != nil {
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
