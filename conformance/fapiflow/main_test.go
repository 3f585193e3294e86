package fapiflow_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/pki"
)

// One reference server per test binary, shared by every test (each variant has its own client).
var (
	env    *testEnv
	envErr error
	inCI   = os.Getenv("CI") == "true"
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
	flag.Parse() // for testing.Verbose in setup
	dir, err := os.MkdirTemp("", "fapiflow-test-")
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

// need returns the shared environment. It skips only when Node.js is missing and CI is not set.
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
	ca, err := pki.Init(filepath.Join(dir, "ca"), pki.InitOptions{Name: "fapiflow test CA"})
	if err != nil {
		return nil, err
	}
	e := &testEnv{ca: ca, stderr: &syncBuffer{}, parties: map[string]*party{}}
	srvCert, err := ca.Issue(ctx, pki.IssueRequest{CommonName: "127.0.0.1", SANs: []string{"127.0.0.1", "localhost"}, Server: true})
	if err != nil {
		return nil, err
	}
	certFile, keyFile := filepath.Join(dir, "op.crt"), filepath.Join(dir, "op.key")
	if err := pki.WriteIssued(srvCert, certFile, keyFile); err != nil {
		return nil, err
	}
	for _, spec := range clientSpecs() {
		p, err := newParty(ctx, ca, spec)
		if err != nil {
			return nil, fmt.Errorf("client %s: %w", spec.ID, err)
		}
		e.parties[spec.ID] = p
		e.opts.Clients = append(e.opts.Clients, p.spec)
	}
	e.opts.Dir = filepath.Join(dir, "op-state")
	e.opts.CAFile, e.opts.CertFile, e.opts.KeyFile = ca.RootFile(), certFile, keyFile
	o := e.opts
	o.Stderr = e.stderr
	start := time.Now()
	if e.srv, err = interop.Start(ctx, o); err != nil {
		return nil, err
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "fapiflow: server %s ready in %v\n", e.srv.Issuer(), time.Since(start).Round(time.Millisecond))
	}
	return e, nil
}

func newParty(ctx context.Context, ca *pki.CA, spec interop.Client) (*party, error) {
	key, err := newKey(spec.SigningAlg)
	if err != nil {
		return nil, err
	}
	p := &party{spec: spec}
	if p.signer, err = jws.NewSigner(key, spec.ID+"-sig"); err != nil {
		return nil, err
	}
	if p.spec.JWKS, err = jws.PublicJWKS(jws.PublicKey{Key: key.Public(), KeyID: p.signer.KeyID(), Alg: p.signer.Alg()}); err != nil {
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
	p.cert = *tc
	if p.cert.Leaf == nil {
		p.cert.Leaf = issued.Leaf()
	}
	if spec.AuthMethod == interop.AuthTLSClientAuth {
		p.spec.SubjectDN = issued.Leaf().Subject.String()
	}
	if !spec.Introspector {
		p.spec.RedirectURIs = []string{"https://127.0.0.1:9443/cb/" + spec.ID}
		p.spec.PostLogoutRedirectURIs = []string{"https://127.0.0.1:9443/logged-out/" + spec.ID}
	}
	if spec.SenderConstraint == interop.SenderDPoP {
		if p.dpop, err = newDPoPKey(spec.ID); err != nil {
			return nil, err
		}
	}
	tlsConf := &tls.Config{RootCAs: ca.RootPool(), MinVersion: tls.VersionTLS12}
	if spec.AuthMethod == interop.AuthTLSClientAuth || spec.SenderConstraint == interop.SenderMTLS {
		tlsConf.Certificates = []tls.Certificate{p.cert}
	}
	p.http = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf}}
	return p, nil
}

func newKey(alg string) (crypto.Signer, error) {
	if alg == interop.PS256 {
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
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
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return jws.NewSigner(k, "")
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
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
