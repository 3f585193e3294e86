package gatewayflow_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cillers/fapid/agent"
	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/examples/api"
	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/gateway"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/seal"
	"github.com/cillers/fapid/internal/tlsx"
)

// gatewayRealm tells the gateway's refusals from the API's
// (api.Realm, "fapid-example-api").
const gatewayRealm = "fapid-gateway"

// stackOptions vary a stack.
type stackOptions struct {
	agent  *party        // serve an agent for this client on the same origin
	maxTTL time.Duration // gateway Cache.MaxTTL; zero means the default
	clock  *offsetClock  // the gateway's clock; nil means time.Now
}

// stack is one deployment: the gateway and (optionally) the agent on one
// TLS listener, as fapid serves them, and two example APIs behind it.
//
// Routes (all: cookie, bearer and dpop; scope api:read; aud the API resource):
//
//	/api/     → apiAS    (rfc9701 answers forwarded as received; iss = the AS)
//	/mint/    → apiMint  (RFC 7662 JSON; the gateway mints at+jwt; prefix
//	            stripped; the API calls itself https://localhost:port, which
//	            Route.UpstreamPublicURL says)
//	/trusted/ → apiAS    (prefix stripped; UpstreamTrustsGatewayDPoP)
type stack struct {
	url     string // https://127.0.0.1:port, the gateway's PublicOrigin
	gw      *gateway.Gateway
	logs    *syncBuffer
	apiAS   *upstream
	apiMint *upstream
	// introspections counts calls per gateway authorization server.
	introspections map[string]*atomic.Int64
	agent          *agent.Agent
}

// upstream is an example API with a recorder in front.
type upstream struct {
	url  string // where it listens (https://127.0.0.1:port)
	self string // its PublicURL
	rec  *recorder
}

// recorder notes what reached the API before the API judges it.
type recorder struct {
	next  http.Handler
	mu    sync.Mutex
	calls int
	last  seen
}

// seen is one request as the API received it.
type seen struct {
	scheme, jwt string // Authorization
	dpop        []string
	certX5t     string // thumbprint of the client certificate on the connection
	method      string
	path        string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := seen{dpop: r.Header.Values("DPoP"), method: r.Method, path: r.URL.EscapedPath()}
	s.scheme, s.jwt, _ = strings.Cut(r.Header.Get("Authorization"), " ")
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		s.certX5t = x5t(r.TLS.PeerCertificates[0])
	}
	rc.mu.Lock()
	rc.calls++
	rc.last = s
	rc.mu.Unlock()
	rc.next.ServeHTTP(w, r)
}

func (rc *recorder) state() (int, seen) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.calls, rc.last
}

// offsetClock is real time plus an offset the test moves forward, so
// cache expiry is tested without sleeping.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *offsetClock) advance(d time.Duration) { c.off.Add(int64(d)) }

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serve serves h over TLS on ln until the test ends.
func serve(t *testing.T, ln net.Listener, tc *tls.Config, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h, TLSConfig: tc, ReadHeaderTimeout: 5 * time.Second}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
}

func (e *testEnv) newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	front, lnAS, lnMint := listen(t), listen(t), listen(t)
	s := &stack{url: "https://" + front.Addr().String(), logs: &syncBuffer{},
		introspections: map[string]*atomic.Int64{"rfc9701": {}, "json": {}}}
	s.apiAS = e.startAPI(t, lnAS, api.Config{Issuer: e.srv.Issuer(), JWKSURL: e.meta.JWKSURI},
		"https://"+lnAS.Addr().String())
	s.apiMint = e.startAPI(t, lnMint, api.Config{Issuer: s.url, JWKSURL: s.url + "/.well-known/jwks.json"},
		"https://localhost:"+portOf(lnMint))

	mintKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jws.NewSigner(mintKey, "gw-1")
	if err != nil {
		t.Fatal(err)
	}
	keyText, err := seal.GenerateKeyText()
	if err != nil {
		t.Fatal(err)
	}
	cookieKey, err := seal.ParseKey([]byte(keyText))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New([]seal.Key{cookieKey}, seal.WithMaxSize(agent.MaxSealedValue))
	if err != nil {
		t.Fatal(err)
	}
	ours := tlsx.NewHolder(e.ours)
	route := func(prefix string, up *upstream, as string) gateway.Route {
		return gateway.Route{Prefix: prefix, Upstream: up.url, UpstreamCAs: e.ca.RootPool(), UpstreamCertificate: ours,
			Credentials: []gateway.Credential{gateway.CredentialCookie, gateway.CredentialBearer, gateway.CredentialDPoP},
			Scopes:      []string{interop.APIScope}, Audience: interop.APIResource, AuthorizationServer: as}
	}
	mint := route("/mint/", s.apiMint, "json")
	mint.StripPrefix, mint.UpstreamPublicURL = true, s.apiMint.self
	trusted := route("/trusted/", s.apiAS, "rfc9701")
	trusted.StripPrefix, trusted.UpstreamTrustsGatewayDPoP = true, true
	cfg := gateway.Config{
		Routes: []gateway.Route{route("/api/", s.apiAS, "rfc9701"), mint, trusted},
		AuthorizationServers: []gateway.AuthorizationServer{
			{Name: "rfc9701", Introspector: e.introspector(t, fapi.IntrospectionJWT, s.introspections["rfc9701"])},
			{Name: "json", Introspector: e.introspector(t, fapi.IntrospectionJSON, s.introspections["json"]), Forward: gateway.ForwardMint},
		},
		Cookies: sealer, TrustedOrigins: []string{spaOrigin},
		SessionCertificate: ours, SessionDPoPSigner: e.deployment,
		PublicOrigin: s.url, Signer: signer,
		Cache:  gateway.CacheConfig{MaxTTL: o.maxTTL},
		DPoP:   gateway.DPoPConfig{Nonce: true},
		Realm:  gatewayRealm,
		Logger: slog.New(slog.NewJSONHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if o.clock != nil {
		cfg.Now = o.clock.Now
	}
	if s.gw, err = gateway.New(cfg); err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/", s.gw.Handler())
	if o.agent != nil {
		s.agent = e.startAgent(t, o.agent, cookieKey, s.logs)
		mux.Handle(s.agent.BasePath()+"/", tlsx.HSTS(s.agent.Handler()))
	}
	tc, err := tlsx.ServerConfig(tlsx.ServerOptions{Source: tlsx.NewHolder(e.serverCert), ClientAuth: tlsx.RequestClientCert,
		ClientCAs: e.ca.RootPool(), NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, front, tc, mux)
	return s
}

// startAPI serves an example API (mutual TLS required) on ln; self is
// the URL it believes it is called at (its PublicURL).
func (e *testEnv) startAPI(t *testing.T, ln net.Listener, cfg api.Config, self string) *upstream {
	t.Helper()
	hc, err := e.httpClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Audience, cfg.PublicURL, cfg.HTTPClient = interop.APIResource, self, hc
	a, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := api.ServerTLSConfig(tlsx.NewHolder(e.serverCert), e.ca.RootPool())
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{next: a}
	serve(t, ln, tc, rec)
	return &upstream{url: "https://" + ln.Addr().String(), self: self, rec: rec}
}

func portOf(ln net.Listener) string {
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// introspector is the gateway's view of the AS in mode, counting calls.
func (e *testEnv) introspector(t *testing.T, mode fapi.IntrospectionMode, n *atomic.Int64) gateway.Introspector {
	t.Helper()
	c, err := fapi.NewClient(e.rsConfig(mode))
	if err != nil {
		t.Fatal(err)
	}
	in := gateway.NewFAPIIntrospector(c)
	return gateway.IntrospectorFunc(func(ctx context.Context, token string) (*gateway.Introspection, error) {
		n.Add(1)
		return in.Introspect(ctx, token)
	})
}

// startAgent is the OAuth Agent for p, sealing with cookieKey (the
// gateway opens with the same key).
func (e *testEnv) startAgent(t *testing.T, p *party, cookieKey seal.Key, logs *syncBuffer) *agent.Agent {
	t.Helper()
	a, err := agent.New(agent.Config{
		FAPI:           e.fapiConfig(p),
		CookieKeys:     []seal.Key{cookieKey},
		TrustedOrigins: []string{spaOrigin},
		Logger:         slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Discover(t.Context()); err != nil {
		t.Fatalf("agent Discover: %v", err)
	}
	return a
}
