package rp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cillers/fapid/agent"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/seal"
	"github.com/cillers/fapid/internal/tlsx"
	"github.com/cillers/fapid/pki"
)

// Module name prefixes in the suite.
const (
	PrefixSecurityProfile = "fapi2-security-profile-final-client-"
	PrefixMessageSigning  = "fapi2-message-signing-final-client-"
)

// Options configure Run. The zero value runs every module of both plans in
// every variant against fapid's OAuth Agent.
type Options struct {
	// Plans to run; nil means both.
	Plans []Plan
	// Variants: a variant runs when it matches any filter; nil means all.
	Variants []VariantFilter
	// Select, when set, must also accept a plan's variant (for example the
	// one variant a deployment's configuration takes part in).
	Select func(Plan, Variant) bool
	// Modules: names (with or without the plan prefix) to run; nil means all.
	Modules []string
	// Agent describes the client registration and the agent's settings.
	Agent AgentSettings
	// Target builds the client under test for each module run; nil means
	// AgentTarget (package agent with package fapi).
	Target Target
	// UnsignedPAR: the client can push an unsigned authorization request.
	// fapid's agent cannot (it always signs, FAPI 2.0 Message Signing), so
	// by default the unsigned tls_client_auth variants are SKIPPED.
	UnsignedPAR bool
	// Parallel module runs; zero means 2 × GOMAXPROCS.
	Parallel int
	// ModuleTimeout bounds one module run; zero means 30 s.
	ModuleTimeout time.Duration
}

// AgentSettings are the agent's settings that matter to the suite. Zero
// values get test defaults; keys and certificates are made fresh.
type AgentSettings struct {
	ClientID string   // default "fapid-conformance"
	Scopes   []string // nil: "openid accounts" (oidc) or "accounts" (plain OAuth)
	// Resources (RFC 8707) sent by the agent.
	Resources    []string
	RedirectURI  string // default https://app.example.test/callback
	Origin       string // the SPA origin; default https://app.example.test
	BasePath     string // default /oauth-agent
	CookiePrefix string
	Compat       agent.Compat
	// Signer signs request objects and client assertions; nil: a new ES256 key.
	Signer *jws.Signer
	// DPoPSigner is the deployment DPoP key; nil: a new ES256 key.
	DPoPSigner *jws.Signer
	// UseMTLSAliases; nil means true exactly when mTLS authenticates or binds.
	UseMTLSAliases *bool
}

// TargetEnv is what a Target gets for one module run.
type TargetEnv struct {
	// Agent is a complete agent configuration; Agent.FAPI points at this
	// run's issuer with the client's keys and HTTP client (mTLS when needed).
	Agent agent.Config
}

// Target builds the client under test: an http.Handler serving the OAuth
// Agent API below Agent.BasePath. An error means the client refused to
// start; a handler returned with it is still driven.
type Target func(ctx context.Context, env TargetEnv) (http.Handler, error)

// AgentTarget is fapid's OAuth Agent: agent.New, then Discover, as `fapid
// run` does at start.
func AgentTarget(ctx context.Context, env TargetEnv) (http.Handler, error) {
	a, err := agent.New(env.Agent)
	if err != nil {
		return nil, err
	}
	if err := a.Discover(ctx); err != nil {
		return a.Handler(), fmt.Errorf("refused to start: %w", err)
	}
	return a.Handler(), nil
}

func (o Options) withDefaults() Options {
	if o.Plans == nil {
		o.Plans = Plans()
	}
	if o.Target == nil {
		o.Target = AgentTarget
	}
	if o.Parallel <= 0 {
		o.Parallel = 2 * runtime.GOMAXPROCS(0)
	}
	if o.ModuleTimeout <= 0 {
		o.ModuleTimeout = 30 * time.Second
	}
	a := &o.Agent
	def := func(p *string, d string) {
		if *p == "" {
			*p = d
		}
	}
	def(&a.ClientID, "fapid-conformance")
	def(&a.RedirectURI, "https://app.example.test/callback")
	def(&a.Origin, "https://app.example.test")
	def(&a.BasePath, agent.DefaultBasePath)
	return o
}

// job is one module run to do, or a static skip.
type job struct {
	plan   Plan
	v      Variant
	mod    *Module
	reason string // non-empty: SKIPPED without running
}

// jobs lists what Run runs, in order.
func (o Options) jobs() []job {
	var out []job
	for _, p := range o.Plans {
		for _, v := range p.Variants() {
			if !o.variantSelected(v) || (o.Select != nil && !o.Select(p, v)) {
				continue
			}
			skip := o.staticSkip(v)
			for _, m := range Modules() {
				if m.Applies(p, v) && o.moduleSelected(m.Name) {
					out = append(out, job{plan: p, v: v, mod: m, reason: skip})
				}
			}
		}
	}
	return out
}

func (o Options) variantSelected(v Variant) bool {
	if len(o.Variants) == 0 {
		return true
	}
	return slices.ContainsFunc(o.Variants, func(f VariantFilter) bool { return f.Match(v) })
}

func (o Options) moduleSelected(name string) bool {
	if len(o.Modules) == 0 {
		return true
	}
	for _, m := range o.Modules {
		m = strings.TrimPrefix(strings.TrimPrefix(m, PrefixSecurityProfile), PrefixMessageSigning)
		if m == name {
			return true
		}
	}
	return false
}

// staticSkip explains why a variant cannot be run with this client.
func (o Options) staticSkip(v Variant) string {
	if v.RequestMethod == RequestUnsigned && v.mtlsAuth() && !o.UnsignedPAR {
		return "impossible for this client: the agent always signs its request object (JAR), and in an unsigned " +
			"tls_client_auth run the suite holds no client.jwks to verify one (ValidateRequestObjectSignature fails); " +
			"the signed_non_repudiation variant covers this client"
	}
	if s := o.Agent.Scopes; s != nil && slices.Contains(s, "openid") != v.oidc() {
		return fmt.Sprintf("the configured scopes %q make this a %s client", strings.Join(s, " "),
			map[bool]string{true: ClientOIDC, false: ClientPlainOAuth}[slices.Contains(s, "openid")])
	}
	return ""
}

// Run runs the selected modules, in parallel, each against its own test
// authorization server (its own issuer) and a fresh client, and returns
// every result. Its error is about the harness (keys, listeners) or ctx;
// module failures are in the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	o = o.withDefaults()
	jobs := o.jobs()
	if len(jobs) == 0 {
		return nil, errors.New("rp: no module selected")
	}
	env, err := newEnvironment(ctx, o)
	if err != nil {
		return nil, err
	}
	defer env.close()
	results := make([]Result, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(o.Parallel, len(jobs)) {
		wg.Go(func() {
			for i := range next {
				results[i] = env.runJob(ctx, jobs[i])
			}
		})
	}
	for i := range jobs {
		if ctx.Err() != nil {
			results[i] = Result{Plan: jobs[i].plan, Variant: jobs[i].v, Module: jobs[i].mod.Name, Status: Failed, Reason: "not run: " + ctx.Err().Error()}
			continue
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return &Report{Results: results, Elapsed: time.Since(start)}, ctx.Err()
}

// environment is what every module run shares: the PKI, the keys, the test
// authorization server and the listener the agents are served on.
type environment struct {
	o        Options
	dir      string
	srv      *server
	agents   *agentHost
	signer   *jws.Signer
	dpop     *jws.Signer
	cookie   seal.Key
	certHC   *http.Client // agent → AS with the client certificate
	plainHC  *http.Client // agent → AS without
	browser  *http.Transport
	frontURL string
}

func newEnvironment(ctx context.Context, o Options) (_ *environment, err error) {
	dir, err := os.MkdirTemp("", "fapid-conformance-")
	if err != nil {
		return nil, err
	}
	e := &environment{o: o, dir: dir}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	ca, err := pki.Init(filepath.Join(dir, "ca"), pki.InitOptions{Name: "fapid conformance test CA"})
	if err != nil {
		return nil, err
	}
	serverCert, clientCert, err := issuePair(ctx, ca)
	if err != nil {
		return nil, err
	}
	if err := e.makeKeys(); err != nil {
		return nil, err
	}
	keys, err := sharedServerKeys()
	if err != nil {
		return nil, err
	}
	reg := clientReg{id: o.Agent.ClientID, certDER: clientCert.Leaf.Raw, redirectURI: o.Agent.RedirectURI,
		keys: jws.NewKeySet(jws.PublicKey{Key: e.signer.Public(), KeyID: e.signer.KeyID(), Alg: e.signer.Alg()})}
	if e.srv, err = startServer(serverCert, ca.RootPool(), keys, reg); err != nil {
		return nil, err
	}
	if e.agents, err = startAgentHost(serverCert); err != nil {
		return nil, err
	}
	if e.certHC, err = asClient(ca, clientCert); err != nil {
		return nil, err
	}
	if e.plainHC, err = asClient(ca, nil); err != nil {
		return nil, err
	}
	tc, err := tlsx.ClientConfig(tlsx.ClientOptions{RootCAs: ca.RootPool()})
	if err != nil {
		return nil, err
	}
	e.browser = &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64}
	return e, nil
}

// issuePair issues the servers' certificate (127.0.0.1, localhost) and the
// client's certificate from the run's own CA.
func issuePair(ctx context.Context, ca *pki.CA) (srv, cli *tls.Certificate, err error) {
	s, err := ca.Issue(ctx, pki.IssueRequest{CommonName: "127.0.0.1", SANs: []string{"127.0.0.1", "localhost"}, Server: true, Lifetime: time.Hour})
	if err != nil {
		return nil, nil, err
	}
	c, err := ca.Issue(ctx, pki.IssueRequest{CommonName: "fapid conformance client", SANs: []string{"spiffe://conformance.fapid.test/agent"}, Client: true, Lifetime: time.Hour})
	if err != nil {
		return nil, nil, err
	}
	if srv, err = s.TLSCertificate(); err != nil {
		return nil, nil, err
	}
	cli, err = c.TLSCertificate()
	return srv, cli, err
}

func (e *environment) makeKeys() error {
	e.signer, e.dpop = e.o.Agent.Signer, e.o.Agent.DPoPSigner
	newES256 := func(kid string) (*jws.Signer, error) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		return jws.NewSigner(k, kid)
	}
	var err error
	if e.signer == nil {
		if e.signer, err = newES256("agent-signing-1"); err != nil {
			return err
		}
	}
	if e.dpop == nil {
		if e.dpop, err = newES256(""); err != nil {
			return err
		}
	}
	text, err := seal.GenerateKeyText()
	if err != nil {
		return err
	}
	e.cookie, err = seal.ParseKey([]byte(text))
	return err
}

// asClient is the agent's HTTP client toward the authorization server:
// FAPI TLS policy, the test CA, and the client certificate when given.
func asClient(ca *pki.CA, cert *tls.Certificate) (*http.Client, error) {
	o := tlsx.ClientOptions{RootCAs: ca.RootPool()}
	if cert != nil {
		o.Source = tlsx.NewHolder(cert)
	}
	tc, err := tlsx.ClientConfig(o)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}, nil
}

func (e *environment) close() {
	if e.srv != nil {
		e.srv.close()
	}
	if e.agents != nil {
		e.agents.close()
	}
	for _, hc := range []*http.Client{e.certHC, e.plainHC} {
		if hc != nil {
			hc.CloseIdleConnections()
		}
	}
	if e.browser != nil {
		e.browser.CloseIdleConnections()
	}
	os.RemoveAll(e.dir)
}

// scopes is the exact scope list the client sends in variant v.
func (e *environment) scopes(v Variant) []string {
	if s := e.o.Agent.Scopes; s != nil {
		return s
	}
	if v.oidc() {
		return []string{"openid", "accounts"}
	}
	return []string{"accounts"}
}
