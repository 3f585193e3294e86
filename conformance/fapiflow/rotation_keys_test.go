package fapiflow_test

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
)

// TestJWKSKeyRotation restarts the authorization server on the same issuer with new signing keys
// (a key rotation without prior publication) seconds after the clients cached the old JWKS.
//
// Proven: the first token with an unknown kid fetches the JWKS again even when the client's
// first fetch happened seconds ago (the first fetch does not use up JWKSRefetchInterval), and
// the new server's ID token validates; a second unknown kid inside the window causes no further
// fetch; a client whose window is tiny refetches on every unknown kid; Discover starts a fresh
// key cache. JWKS fetches are counted on the wire.
func TestJWKSKeyRotation(t *testing.T) {
	e := need(t)
	ctx := t.Context()
	v := variants[1] // pkjwt-mtls-plain: the ID token is the only signed object
	p := e.parties[v.client]
	port := freePort(t)
	srv := e.startAt(t, port, t.TempDir())
	cfg := p.agentConfig(srv.Issuer())
	counted := &countingTransport{base: ownTransport(p.http).Transport}
	cfg.HTTPClient = &http.Client{Timeout: p.http.Timeout, Transport: counted}
	defaultWindow := newClient(t, cfg) // JWKSRefetchInterval: DefaultJWKSRefetch
	cfg.HTTPClient = ownTransport(p.http)
	cfg.JWKSRefetchInterval = time.Nanosecond
	shortWindow := newClient(t, cfg)

	before := e.loginAt(t, srv, defaultWindow, v)
	m, err := defaultWindow.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ju, err := url.Parse(m.JWKSURI)
	if err != nil {
		t.Fatal(err)
	}
	jwksFetches := func(what string, want int) {
		t.Helper()
		if got := counted.count(ju.Path); got != want {
			t.Fatalf("%s: %d JWKS fetches, want %d", what, got, want)
		}
	}
	jwksFetches("first login", 1)
	if _, err := shortWindow.ValidateIDToken(ctx, before.IDToken.Raw, fapi.IDTokenOptions{}); err != nil {
		t.Fatalf("ValidateIDToken before the rotation: %v", err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	srv = e.startAt(t, port, t.TempDir()) // same issuer, new keys
	if srv.Issuer() != cfg.Issuer {
		t.Fatalf("issuer %q after the restart, want %q", srv.Issuer(), cfg.Issuer)
	}

	after := e.loginAt(t, srv, shortWindow, v) // the ID token check refetches the JWKS
	if jwtKid(t, after.IDToken.Raw) == jwtKid(t, before.IDToken.Raw) {
		t.Fatal("the restarted server signs with the old key")
	}

	// Seconds after its first fetch, the default-window client still refetches on the new kid.
	if _, err := defaultWindow.ValidateIDToken(ctx, after.IDToken.Raw, fapi.IDTokenOptions{Subject: testUser}); err != nil {
		t.Fatalf("ValidateIDToken of a new-key token right after the first JWKS fetch: %v", err)
	}
	jwksFetches("first unknown kid", 2)
	// The old key is gone: its kid is now unknown, and inside the window it causes no fetch.
	_, err = defaultWindow.ValidateIDToken(ctx, before.IDToken.Raw, fapi.IDTokenOptions{Subject: testUser})
	if !errors.Is(err, fapi.ErrSignature) || !errors.Is(err, jws.ErrNoKey) {
		t.Fatalf("ValidateIDToken of an old-key token after the rotation: %v, want jws.ErrNoKey", err)
	}
	jwksFetches("second unknown kid inside the window", 2)
	// Discover starts a fresh JWKS cache.
	if _, err := defaultWindow.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := defaultWindow.ValidateIDToken(ctx, after.IDToken.Raw, fapi.IDTokenOptions{Subject: testUser}); err != nil {
		t.Errorf("ValidateIDToken after Discover: %v", err)
	}
	jwksFetches("after Discover", 3)
}

// countingTransport counts requests per URL path.
type countingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[r.URL.Path]++
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

func (c *countingTransport) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[path]
}

// startAt starts another reference server with the shared clients on a fixed port.
func (e *testEnv) startAt(t *testing.T, port int, dir string) *interop.Server {
	t.Helper()
	o := e.opts
	o.Port, o.Dir, o.Stderr = port, dir, e.stderr
	srv, err := interop.Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	return srv
}

// loginAt runs PAR, login, callback and code exchange against srv.
func (e *testEnv) loginAt(t *testing.T, srv *interop.Server, c *fapi.Client, v variant) *fapi.TokenResponse {
	t.Helper()
	ctx := t.Context()
	st, err := c.PushAuthorizationRequest(ctx, fapi.AuthorizationRequest{})
	if err != nil {
		t.Fatalf("PushAuthorizationRequest: %v\nserver: %s", err, e.stderr.String())
	}
	cb, err := srv.Login(ctx, st.URL, testUser)
	if err != nil {
		t.Fatalf("Login: %v\nserver: %s", err, e.stderr.String())
	}
	ar, err := c.HandleCallback(ctx, cb, st.Login)
	if err != nil {
		t.Fatalf("HandleCallback: %v", err)
	}
	tok, err := c.ExchangeCode(ctx, ar.Code, st.Login, nil)
	if err != nil {
		t.Fatalf("ExchangeCode: %v\nserver: %s", err, e.stderr.String())
	}
	return tok
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ownTransport copies hc with a transport of its own, so that connections to a stopped server
// never sit in a pool other tests use.
func ownTransport(hc *http.Client) *http.Client {
	tr := hc.Transport.(*http.Transport).Clone()
	return &http.Client{Timeout: hc.Timeout, Transport: tr}
}

// jwtKid reads the kid of a compact JWS header (inspection only).
func jwtKid(t *testing.T, compact string) string {
	t.Helper()
	return jwtHeader(t, compact).Kid
}

func jwtHeader(t *testing.T, compact string) struct{ Alg, Kid string } {
	t.Helper()
	var h struct{ Alg, Kid string }
	decodeSegment(t, strings.SplitN(compact, ".", 2)[0], &h)
	return h
}
