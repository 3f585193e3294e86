package interoptest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/pkitest"
	"github.com/cillers/fapid/pki"
)

// InCI is true under CI=true: then nothing is skipped.
var InCI = os.Getenv("CI") == "true"

// Main is the body of a TestMain that shares one reference server: it makes
// a temporary directory (named after pattern), calls setup with it (setup
// keeps the environment and returns its server, nil when set-up failed),
// runs the tests, stops the server, checks that its Node.js process group
// is gone, removes the directory and exits.
func Main(m *testing.M, pattern string, setup func(dir string) *interop.Server) {
	flag.Parse() // for testing.Verbose in setup
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := setup(dir)
	code := m.Run()
	if srv != nil {
		if err := srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop:", err)
			code = 1
		}
		if interop.GroupAlive(srv.PID()) {
			fmt.Fprintln(os.Stderr, "node process group still alive after Stop")
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// Need fails t when the shared environment could not be set up (envErr),
// or skips it when only Node.js is missing and CI is not set.
func Need(t *testing.T, envErr error) {
	t.Helper()
	if envErr != nil {
		if errors.Is(envErr, interop.ErrNoNode) && !InCI {
			t.Skip(envErr)
		}
		t.Fatalf("test environment: %v", envErr)
	}
}

// PKI is a throwaway CA in Dir/ca and the reference server's certificate
// (127.0.0.1, localhost), written to CertFile and KeyFile.
type PKI struct {
	Dir               string
	CA                *pki.CA
	Server            *pki.Issued
	CertFile, KeyFile string
}

// NewPKI makes the CA named name in dir/ca and the server certificate.
func NewPKI(ctx context.Context, dir, name string) (*PKI, error) {
	ca, err := pki.Init(filepath.Join(dir, "ca"), pki.InitOptions{Name: name})
	if err != nil {
		return nil, err
	}
	srvCert, err := ca.Issue(ctx, pki.IssueRequest{CommonName: "127.0.0.1", SANs: []string{"127.0.0.1", "localhost"}, Server: true})
	if err != nil {
		return nil, err
	}
	p := &PKI{Dir: dir, CA: ca, Server: srvCert, CertFile: filepath.Join(dir, "op.crt"), KeyFile: filepath.Join(dir, "op.key")}
	if err := pki.WriteIssued(srvCert, p.CertFile, p.KeyFile); err != nil {
		return nil, err
	}
	return p, nil
}

// Options are the server options for this PKI: state in Dir/op-state, the
// CA's root and the server certificate. Clients are left to the caller.
func (p *PKI) Options() interop.Options {
	return interop.Options{Dir: filepath.Join(p.Dir, "op-state"), CAFile: p.CA.RootFile(), CertFile: p.CertFile, KeyFile: p.KeyFile}
}

// NewKey makes a signing key for alg: RSA 2048 for PS256, else P-256.
func NewKey(alg string) (crypto.Signer, error) {
	if alg == interop.PS256 {
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// NewSigner makes the signing key of client id (kid "<id>-sig") and its
// public JWKS document.
func NewSigner(id, alg string) (*jws.Signer, []byte, error) {
	key, err := NewKey(alg)
	if err != nil {
		return nil, nil, err
	}
	s, err := jws.NewSigner(key, id+"-sig")
	if err != nil {
		return nil, nil, err
	}
	doc, err := jws.PublicJWKS(jws.PublicKey{Key: key.Public(), KeyID: s.KeyID(), Alg: s.Alg()})
	if err != nil {
		return nil, nil, err
	}
	return s, doc, nil
}

// NewDPoPKey makes an ES256 DPoP key (no kid: the proof embeds its jwk).
func NewDPoPKey() (*jws.Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return jws.NewSigner(k, "")
}

// Party is a client ready to register: Spec has its JWKS, its SubjectDN
// (tls_client_auth) and its redirect URIs (not for introspectors).
type Party struct {
	Spec   interop.Client
	Signer *jws.Signer     // request objects and client assertions
	Cert   tls.Certificate // client certificate (Leaf set) from the test CA
}

// NewParty makes spec's signing key and client certificate; its redirect
// URIs are callback+ID and loggedOut+ID.
func NewParty(ctx context.Context, ca *pki.CA, spec interop.Client, callback, loggedOut string) (*Party, error) {
	p := &Party{Spec: spec}
	var err error
	if p.Signer, p.Spec.JWKS, err = NewSigner(spec.ID, spec.SigningAlg); err != nil {
		return nil, err
	}
	tc, issued, err := pkitest.ClientCert(ctx, ca, spec.ID)
	if err != nil {
		return nil, err
	}
	p.Cert = *tc
	if spec.AuthMethod == interop.AuthTLSClientAuth {
		p.Spec.SubjectDN = issued.Leaf().Subject.String()
	}
	if !spec.Introspector {
		p.Spec.RedirectURIs = []string{callback + spec.ID}
		p.Spec.PostLogoutRedirectURIs = []string{loggedOut + spec.ID}
	}
	return p, nil
}

// UsesMTLS reports whether c presents its certificate to the server
// (tls_client_auth or certificate-bound tokens).
func UsesMTLS(c interop.Client) bool {
	return c.AuthMethod == interop.AuthTLSClientAuth || c.SenderConstraint == interop.SenderMTLS
}

// Start starts the reference server with o and, under -v, says on stderr
// how long it took (prefixed with name).
func Start(ctx context.Context, name string, o interop.Options) (*interop.Server, error) {
	start := time.Now()
	srv, err := interop.Start(ctx, o)
	if err != nil {
		return nil, err
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "%s: server %s ready in %v\n", name, srv.Issuer(), time.Since(start).Round(time.Millisecond))
	}
	return srv, nil
}
