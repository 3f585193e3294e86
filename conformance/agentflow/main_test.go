package agentflow_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/cillers/fapid/agent"
	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/conformance/interop/interoptest"
	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/pkitest"
	"github.com/cillers/fapid/internal/seal"
	"github.com/cillers/fapid/internal/tlsx"
	"github.com/cillers/fapid/pki"
)

// One reference server per test binary; every variant has its own client.
var (
	env    *testEnv
	envErr error
)

const (
	testUser  = "alice"
	spaOrigin = "https://app.example.test"
	rsClient  = "gateway-rs" // introspects, to show how tokens are bound
)

// variant is one way the agent talks to the server.
type variant struct {
	client string
	auth   fapi.AuthMethod
	sender fapi.SenderConstraint
	mode   fapi.ResponseMode
	alg    string
}

var variants = []variant{
	{"spa-jarm-mtls", fapi.AuthPrivateKeyJWT, fapi.SenderMTLS, fapi.ResponseModeJWT, interop.PS256},
	{"spa-plain-mtls", fapi.AuthTLSClientAuth, fapi.SenderMTLS, fapi.ResponseModeQuery, interop.ES256},
	{"spa-jarm-dpop", fapi.AuthPrivateKeyJWT, fapi.SenderDPoP, fapi.ResponseModeJWT, interop.ES256},
	{"spa-plain-dpop", fapi.AuthTLSClientAuth, fapi.SenderDPoP, fapi.ResponseModeQuery, interop.PS256},
}

type testEnv struct {
	ca      *pki.CA
	srv     *interop.Server
	stderr  *syncBuffer
	agentTC *tls.Certificate // the agent listener's certificate
	parties map[string]*party
}

// party is a registered client: its keys, certificate and HTTP client.
type party struct {
	spec   interop.Client
	signer *jws.Signer
	dpop   *jws.Signer
	cert   tls.Certificate
	http   *http.Client
}

func (p *party) x5t() string {
	sum := sha256.Sum256(p.cert.Leaf.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestMain(m *testing.M) {
	interoptest.Main(m, "agentflow-test-", func(dir string) *interop.Server {
		if env, envErr = setup(dir); env == nil {
			return nil
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
	pk, err := interoptest.NewPKI(ctx, dir, "agentflow test CA")
	if err != nil {
		return nil, err
	}
	ca := pk.CA
	e := &testEnv{ca: ca, stderr: &syncBuffer{}, parties: map[string]*party{}}
	if e.agentTC, err = pk.Server.TLSCertificate(); err != nil {
		return nil, err
	}
	specs := []interop.Client{{ID: rsClient, AuthMethod: interop.AuthTLSClientAuth, Introspector: true, SigningAlg: interop.ES256}}
	for _, v := range variants {
		specs = append(specs, interop.Client{ID: v.client, AuthMethod: string(v.auth), SenderConstraint: string(v.sender),
			JARM: v.mode == fapi.ResponseModeJWT, SigningAlg: v.alg})
	}
	opts := pk.Options()
	opts.DPoPNonce, opts.Stderr = true, e.stderr
	for _, spec := range specs {
		p, err := newParty(ctx, ca, spec)
		if err != nil {
			return nil, fmt.Errorf("client %s: %w", spec.ID, err)
		}
		e.parties[spec.ID] = p
		opts.Clients = append(opts.Clients, p.spec)
	}
	if e.srv, err = interop.Start(ctx, opts); err != nil {
		return nil, err
	}
	return e, nil
}

func newParty(ctx context.Context, ca *pki.CA, spec interop.Client) (*party, error) {
	ip, err := interoptest.NewParty(ctx, ca, spec, "https://app.example.test/callback/", "https://app.example.test/logged-out/")
	if err != nil {
		return nil, err
	}
	p := &party{spec: ip.Spec, signer: ip.Signer, cert: ip.Cert}
	if spec.SenderConstraint == interop.SenderDPoP {
		if p.dpop, err = interoptest.NewDPoPKey(); err != nil { // the deployment DPoP key (ES256: the server's only DPoP alg)
			return nil, err
		}
	}
	o := pkitest.ClientOptions{Roots: ca.RootPool(), Timeout: 20 * time.Second}
	if interoptest.UsesMTLS(spec) {
		o.Cert = &p.cert
	}
	p.http, err = pkitest.HTTPClient(o)
	return p, err
}

// agentUnderTest is an agent for one variant, served over TLS on loopback.
type agentUnderTest struct {
	*agent.Agent
	url     string // https://127.0.0.1:port/oauth-agent
	logs    *syncBuffer
	keyText string
	party   *party
	sealer  *seal.Sealer
}

func (e *testEnv) startAgent(t *testing.T, v variant) *agentUnderTest {
	t.Helper()
	p := e.parties[v.client]
	keyText, err := seal.GenerateKeyText()
	if err != nil {
		t.Fatal(err)
	}
	key, err := seal.ParseKey([]byte(keyText))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	a, err := agent.New(agent.Config{
		FAPI: fapi.Config{
			Issuer: e.srv.Issuer(), ClientID: v.client, AuthMethod: v.auth, Signer: p.signer, DPoPSigner: p.dpop,
			HTTPClient: p.http, UseMTLSAliases: true, SenderConstraint: v.sender, ResponseMode: v.mode,
			Scopes: []string{"openid", "offline_access", "profile", "email"}, RedirectURI: p.spec.RedirectURIs[0],
			PostLogoutRedirectURI: p.spec.PostLogoutRedirectURIs[0],
		},
		CookieKeys:     []seal.Key{key},
		TrustedOrigins: []string{spaOrigin},
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Discover(t.Context()); err != nil {
		t.Fatalf("Discover: %v", err)
	}
	sealer, err := seal.New([]seal.Key{key}, seal.WithMaxSize(1<<16))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tc, err := tlsx.ServerConfig(tlsx.ServerOptions{Source: tlsx.NewHolder(e.agentTC)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(a.BasePath()+"/", a.Handler())
	srv := &http.Server{Handler: tlsx.HSTS(mux), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(tls.NewListener(ln, tc))
	t.Cleanup(func() { srv.Close() })
	return &agentUnderTest{Agent: a, url: "https://" + ln.Addr().String() + a.BasePath(), logs: logs, keyText: keyText, party: p, sealer: sealer}
}

// syncBuffer collects log output from several goroutines.
type syncBuffer = pkitest.SyncBuffer
