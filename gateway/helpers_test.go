package gateway

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cillers/fapid/internal/seal"
	"github.com/cillers/fapid/internal/tlsx"
)

// testCA is a throwaway CA made with crypto/x509 (gateway must not import pki).
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

var (
	caOnce   sync.Once
	sharedCA *testCA
)

func newCA(t testing.TB) *testCA {
	t.Helper()
	caOnce.Do(func() {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gateway test CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		cert, _ := x509.ParseCertificate(der)
		pool := x509.NewCertPool()
		pool.AddCert(cert)
		sharedCA = &testCA{cert: cert, key: key, pool: pool}
	})
	return sharedCA
}

var serial atomic.Int64

// issue makes a leaf for cn: server (127.0.0.1, localhost) or client.
func (ca *testCA) issue(t testing.TB, cn string, server bool) *tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(100 + serial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// x5t is the RFC 8705 thumbprint of a certificate.
func x5t(c *tls.Certificate) string {
	sum := sha256.Sum256(c.Certificate[0])
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// stubAS is an Introspector whose answers the test sets per token.
type stubAS struct {
	mu      sync.Mutex
	answers map[string]*Introspection
	calls   atomic.Int64
	hook    func(ctx context.Context, token string) (*Introspection, error) // overrides answers
}

func newStub() *stubAS { return &stubAS{answers: map[string]*Introspection{}} }

func (s *stubAS) set(token string, in *Introspection) {
	s.mu.Lock()
	s.answers[token] = in
	s.mu.Unlock()
}

func (s *stubAS) Introspect(ctx context.Context, token string) (*Introspection, error) {
	s.calls.Add(1)
	if s.hook != nil {
		return s.hook(ctx, token)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in, ok := s.answers[token]; ok {
		cp := *in
		return &cp, nil
	}
	return &Introspection{Active: false}, nil
}

// active is an answer for an unbound token with scopes, valid for an hour.
func active(scopes ...string) *Introspection {
	return &Introspection{
		Active: true, JWT: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2ln",
		Claims: Claims{Subject: "user-1", ClientID: "client-1", Scope: scopes, Expiry: time.Now().Add(time.Hour)},
	}
}

// upstream is a TLS test API that records what reaches it.
type upstream struct {
	srv   *httptest.Server
	url   string
	calls atomic.Int64
	mu    sync.Mutex
	last  *http.Request
	certs [][]byte // client certificate the gateway presented
}

func newUpstream(t testing.TB, ca *testCA) *upstream {
	t.Helper()
	u := &upstream{}
	u.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.calls.Add(1)
		u.mu.Lock()
		u.last = r.Clone(context.Background())
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			u.certs = append(u.certs, r.TLS.PeerCertificates[0].Raw)
		}
		u.mu.Unlock()
		w.Header().Set("X-Upstream", "yes")
		_, _ = io.WriteString(w, "ok "+r.URL.EscapedPath())
	}))
	tc, err := tlsx.ServerConfig(tlsx.ServerOptions{
		Source: tlsx.NewHolder(ca.issue(t, "upstream", true)), ClientAuth: tlsx.RequestClientCert, ClientCAs: ca.pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	u.url = startTLS(t, u.srv, tc)
	return u
}

// startTLS serves srv on a loopback TLS listener with tc (not StartTLS,
// which adds its own certificate that Go serves to clients without SNI)
// and returns the https URL.
func startTLS(t testing.TB, srv *httptest.Server, tc *tls.Config) string {
	t.Helper()
	tc.NextProtos = []string{"h2", "http/1.1"}
	srv.Listener = tls.NewListener(srv.Listener, tc)
	srv.Config.TLSConfig = tc
	srv.Start()
	t.Cleanup(srv.Close)
	return "https://" + srv.Listener.Addr().String()
}

func (u *upstream) lastRequest() *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// env is a gateway with one stub AS, one upstream and a sealer.
type env struct {
	t       testing.TB
	ca      *testCA
	as      *stubAS
	up      *upstream
	sealer  *seal.Sealer
	gw      *Gateway
	logs    *syncBuffer
	clock   *fakeClock
	session *tls.Certificate
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

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

const (
	spaOrigin    = "https://app.example.test"
	publicOrigin = "https://api.example.test"
)

// newEnv builds the default test gateway: routes /api/public/ (anonymous),
// /api/ (cookie, bearer, dpop; unbound tokens allowed), then lets mod
// change the config before New.
func newEnv(t testing.TB, mod func(*Config, *env)) *env {
	t.Helper()
	e := &env{t: t, ca: newCA(t), as: newStub(), logs: &syncBuffer{}}
	e.up = newUpstream(t, e.ca)
	e.clock = &fakeClock{now: time.Now()}
	key, _ := seal.ParseKey([]byte(strings.Repeat("ab", 32)))
	s, err := seal.New([]seal.Key{key}, seal.WithClock(e.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	e.sealer = s
	e.session = e.ca.issue(t, "agent", false)
	holder := tlsx.NewHolder(e.session)
	cfg := Config{
		Routes: []Route{
			{Prefix: "/api/public/", Upstream: e.up.url, UpstreamCAs: e.ca.pool, UpstreamCertificate: holder, Anonymous: true},
			{Prefix: "/api/", Upstream: e.up.url, UpstreamCAs: e.ca.pool, UpstreamCertificate: holder,
				Credentials: []Credential{CredentialCookie, CredentialBearer, CredentialDPoP}, AllowUnbound: true},
		},
		AuthorizationServers: []AuthorizationServer{{Name: "as", Introspector: e.as}},
		Cookies:              s,
		TrustedOrigins:       []string{spaOrigin},
		SessionCertificate:   holder,
		PublicOrigin:         publicOrigin,
		Logger:               slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:                  e.clock.Now,
	}
	if mod != nil {
		mod(&cfg, e)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.gw = g
	return e
}

// req builds an https request to the gateway host.
func req(method, target string, hdr ...string) *http.Request {
	r := httptest.NewRequest(method, "https://api.example.test"+target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

func (e *env) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.gw.Handler().ServeHTTP(w, r)
	return w
}

// sessionCookies seals token (and csrf) as the agent would.
func (e *env) sessionCookies(token, csrf string) string {
	e.t.Helper()
	exp := e.clock.Now().Add(time.Hour)
	at, err := e.sealer.Seal("__Host-fapid-at", []byte(token), exp)
	if err != nil {
		e.t.Fatal(err)
	}
	c := "__Host-fapid-at=" + at
	if csrf != "" {
		cs, err := e.sealer.Seal("__Host-fapid-csrf", []byte(csrf), exp)
		if err != nil {
			e.t.Fatal(err)
		}
		c += "; __Host-fapid-csrf=" + cs
	}
	return c
}

func expect(t testing.TB, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s; headers %v", w.Code, status, w.Body.String(), w.Header())
	}
}

func expectHeader(t testing.TB, h http.Header, name, want string) {
	t.Helper()
	if got := h.Values(name); len(got) != 1 || got[0] != want {
		t.Fatalf("%s = %q, want exactly %q", name, got, want)
	}
}

const tokenA = "Zm9vYmFyMTIzNDU2Nzg5MA" // CASES H03

func testNow() time.Time { return time.Unix(1_800_000_000, 0) }
