package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/examples/api"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/pkitest"
	"github.com/cillers/fapid/internal/tlsx"
	"github.com/cillers/fapid/pki"
)

const (
	testIssuer   = "https://as.example.test"
	testAudience = "https://api.example.test"
	testPublic   = "https://api.example.test:9443"
)

// fixture is built once per test binary: the CA and certificates are the
// slow part (key generation and the embedded authority).
type fixture struct {
	ca         *pki.CA
	serverCert *tls.Certificate // 127.0.0.1, serverAuth
	gateway    *tls.Certificate // clientAuth: the identity tokens are bound to
	other      *tls.Certificate // clientAuth: a second client of the same CA
	foreign    *tls.Certificate // clientAuth, from another CA
	signer     *jws.Signer      // the issuer's key, published in the JWKS
	jwksURL    string
}

var fx *fixture

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "exampleapi")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var stop func()
	fx, stop, err = newFixture(dir)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "fixture:", err)
	} else {
		code = m.Run()
		stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func newFixture(dir string) (*fixture, func(), error) {
	ctx := context.Background()
	ca, err := pki.Init(dir+"/ca", pki.InitOptions{Name: "Example API Test"})
	if err != nil {
		return nil, nil, err
	}
	other, err := pki.Init(dir+"/other", pki.InitOptions{Name: "Foreign"})
	if err != nil {
		return nil, nil, err
	}
	f := &fixture{ca: ca}
	for _, c := range []struct {
		dst  **tls.Certificate
		ca   *pki.CA
		req  pki.IssueRequest
		name string
	}{
		{&f.serverCert, ca, pki.IssueRequest{CommonName: "api", SANs: []string{"127.0.0.1"}, Server: true}, "server"},
		{&f.gateway, ca, pki.IssueRequest{CommonName: "gateway", SANs: []string{"gateway.example.test"}, Client: true}, "gateway"},
		{&f.other, ca, pki.IssueRequest{CommonName: "other", SANs: []string{"other.example.test"}, Client: true}, "other"},
		{&f.foreign, other, pki.IssueRequest{CommonName: "gateway", SANs: []string{"gateway.example.test"}, Client: true}, "foreign"},
	} {
		if *c.dst, _, err = pkitest.Issue(ctx, c.ca, c.req); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", c.name, err)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if f.signer, err = jws.NewSigner(key, "k1"); err != nil {
		return nil, nil, err
	}
	doc, err := jws.PublicJWKS(jws.PublicKey{Key: f.signer.Public(), KeyID: "k1"})
	if err != nil {
		return nil, nil, err
	}
	tc, err := tlsx.ServerConfig(tlsx.ServerOptions{Source: tlsx.NewHolder(f.serverCert)})
	if err != nil {
		return nil, nil, err
	}
	url, stop, err := serve(tc, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(doc)
	}))
	if err != nil {
		return nil, nil, err
	}
	f.jwksURL = url + "/jwks"
	return f, stop, nil
}

// serve runs h on a TLS listener on 127.0.0.1 and returns its base URL.
func serve(tc *tls.Config, h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slogDiscard()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(tls.NewListener(ln, tc))
	}()
	stop := func() {
		_ = srv.Close()
		<-done
	}
	return "https://" + ln.Addr().String(), stop, nil
}

func slogDiscard() *log.Logger { return log.New(io.Discard, "", 0) }

// syncBuffer collects log output written from server goroutines.
type syncBuffer = pkitest.SyncBuffer

// server is one running API.
type server struct {
	url  string
	logs *syncBuffer
}

// startAPI runs the API with the default test config, changed by mutate.
func startAPI(t *testing.T, mutate func(*api.Config)) *server {
	t.Helper()
	logs := &syncBuffer{}
	cfg := api.Config{
		Issuer: testIssuer, Audience: testAudience, JWKSURL: fx.jwksURL,
		HTTPClient: client(t, nil), PublicURL: testPublic,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := api.ServerTLSConfig(tlsx.NewHolder(fx.serverCert), fx.ca.RootPool())
	if err != nil {
		t.Fatal(err)
	}
	url, stop, err := serve(tc, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return &server{url: url, logs: logs}
}

// client returns an HTTPS client trusting the test CA and presenting cert
// (none when nil).
func client(t *testing.T, cert *tls.Certificate) *http.Client {
	t.Helper()
	c, err := pkitest.HTTPClient(pkitest.ClientOptions{Roots: fx.ca.RootPool(), Cert: cert, Timeout: 10 * time.Second, ForceHTTP2: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// claims is a token's payload.
type claims map[string]any

// validClaims are the claims of a good token bound to cert.
func validClaims(cert *tls.Certificate) claims {
	now := time.Now()
	return claims{
		"iss": testIssuer, "sub": "alice", "aud": []string{testAudience, "other"},
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": "j1",
		"client_id": "spa-client", "scope": "openid accounts",
		"cnf": map[string]string{"x5t#S256": api.CertThumbprint(cert.Leaf)},
	}
}

// sign signs c with the issuer's key.
func sign(t *testing.T, s *jws.Signer, c claims, typ string) string {
	t.Helper()
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Sign(payload, jws.SignOptions{Typ: typ})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// unsigned builds a compact JWS with an arbitrary header and signature.
func unsigned(t *testing.T, header map[string]any, c claims, sig func(input string) []byte) string {
	t.Helper()
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(c)
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(p)
	return input + "." + enc.EncodeToString(sig(input))
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// call sends method path with the given headers through c.
func call(t *testing.T, c *http.Client, method, url string, header http.Header) (*response, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	out := &response{status: res.StatusCode, header: res.Header, raw: string(b)}
	if err := json.Unmarshal(b, &out.body); err != nil && len(b) > 0 {
		return nil, fmt.Errorf("body %q: %w", b, err)
	}
	return out, nil
}

// get sends GET url with "Authorization: Bearer tok" (none when tok is "").
func get(t *testing.T, c *http.Client, url, tok string) *response {
	t.Helper()
	h := http.Header{}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	res, err := call(t, c, http.MethodGet, url, h)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// wantRefused checks a 401 that leaks nothing about tok, and that the log
// names the reason (want, when not nil) but not the token.
func wantRefused(t *testing.T, s *server, res *response, tok string, want error) {
	t.Helper()
	if res.status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401; body %s", res.status, res.raw)
	}
	if ch := res.header.Get("WWW-Authenticate"); !strings.Contains(ch, `realm="`+api.Realm+`"`) {
		t.Errorf("WWW-Authenticate %q", ch)
	}
	if res.header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q", res.header.Get("Content-Type"))
	}
	if tok != "" && (strings.Contains(res.raw, tok) || strings.Contains(s.logs.String(), tok)) {
		t.Error("the token appears in the answer or the log")
	}
	if want != nil && !strings.Contains(s.logs.String(), want.Error()) {
		t.Errorf("log does not name %q:\n%s", want, s.logs.String())
	}
	if errors.Is(want, api.ErrNoToken) && strings.Contains(res.header.Get("WWW-Authenticate"), "error=") {
		t.Errorf("a request without a token got an error code: %q", res.header.Get("WWW-Authenticate"))
	}
}
