package agent

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/seal"
	"github.com/cillers/fapid/internal/tlsx"
	"github.com/cillers/fapid/pki"
)

const (
	spaOrigin   = "https://app.example.test"
	redirectURI = "https://app.example.test/callback"
	logoutURI   = "https://app.example.test/logged-out"
	clientID    = "spa-client"
	cookieKeyA  = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	cookieKeyB  = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
)

// testEnv holds what every test shares: a throwaway CA (pki), the fake
// authorization server's TLS certificate and keys, the client's key.
var testEnv struct {
	roots     *x509.CertPool
	asCert    *tls.Certificate
	asES256   crypto.Signer
	asRSA     *rsa.PrivateKey
	clientKey crypto.Signer
	dpopKey   crypto.Signer
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "agent-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	err = setupEnv(dir)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent tests:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func setupEnv(dir string) error {
	ca, err := pki.Init(filepath.Join(dir, "ca"), pki.InitOptions{Name: "agent test CA"})
	if err != nil {
		return err
	}
	issued, err := ca.Issue(context.Background(), pki.IssueRequest{CommonName: "127.0.0.1", SANs: []string{"127.0.0.1"}, Server: true})
	if err != nil {
		return err
	}
	if testEnv.asCert, err = issued.TLSCertificate(); err != nil {
		return err
	}
	testEnv.roots = ca.RootPool()
	if testEnv.asES256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return err
	}
	if testEnv.asRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return err
	}
	if testEnv.clientKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return err
	}
	testEnv.dpopKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return err
}

// logBuffer collects an agent's log output (every level).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type testAgent struct {
	*Agent
	as   *fakeAS
	logs *logBuffer
}

func mustSigner(t testing.TB, key crypto.Signer, kid string) *jws.Signer {
	t.Helper()
	s, err := jws.NewSigner(key, kid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustSealKey(t testing.TB, text string) seal.Key {
	t.Helper()
	k, err := seal.ParseKey([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// baseConfig is a working configuration against as.
func baseConfig(t testing.TB, as *fakeAS, logs io.Writer) Config {
	tc, err := tlsx.ClientConfig(tlsx.ClientOptions{RootCAs: testEnv.roots})
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		FAPI: fapi.Config{
			Issuer: as.issuer, ClientID: clientID, Signer: mustSigner(t, testEnv.clientKey, "client-key"),
			HTTPClient:  &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}},
			RedirectURI: redirectURI, PostLogoutRedirectURI: logoutURI, Scopes: []string{"openid", "offline_access"},
		},
		CookieKeys:     []seal.Key{mustSealKey(t, cookieKeyA)},
		TrustedOrigins: []string{spaOrigin},
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// newTestAgent starts a fake authorization server and an agent for it;
// edit may change the configuration.
func newTestAgent(t testing.TB, edit func(*Config)) *testAgent {
	t.Helper()
	as := newFakeAS(t)
	logs := &logBuffer{}
	cfg := baseConfig(t, as, logs)
	if edit != nil {
		edit(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testAgent{Agent: a, as: as, logs: logs}
}

// browser is a user agent on the SPA's origin: it keeps the agent's cookies
// as a browser would (Set-Cookie with Max-Age=0 deletes).
type browser struct {
	t       testing.TB
	a       *testAgent
	cookies map[string]string
	origin  string
	csrf    string
}

func (ta *testAgent) browser(t testing.TB) *browser {
	return &browser{t: t, a: ta, cookies: map[string]string{}, origin: spaOrigin}
}

func (b *browser) cookieHeader() string {
	names := make([]string, 0, len(b.cookies))
	for n := range b.cookies {
		names = append(names, n)
	}
	slices.Sort(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, n+"="+b.cookies[n])
	}
	return strings.Join(parts, "; ")
}

// do sends one request to the agent; hdr are extra header name/value pairs.
func (b *browser) do(method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	b.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "https://api.example.test"+b.a.BasePath()+"/"+path, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if b.origin != "" {
		r.Header.Set("Origin", b.origin)
	}
	if c := b.cookieHeader(); c != "" {
		r.Header.Set("Cookie", c)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	b.a.Handler().ServeHTTP(w, r)
	b.store(w)
	return w
}

// doRaw sends a body with the given Content-Type.
func (b *browser) doRaw(method, path, body, contentType string) *httptest.ResponseRecorder {
	b.t.Helper()
	r := httptest.NewRequest(method, "https://api.example.test"+b.a.BasePath()+"/"+path, strings.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("Origin", b.origin)
	w := httptest.NewRecorder()
	b.a.Handler().ServeHTTP(w, r)
	b.store(w)
	return w
}

func (b *browser) store(w *httptest.ResponseRecorder) {
	for _, line := range w.Result().Header["Set-Cookie"] {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			b.t.Fatalf("bad Set-Cookie %q: %v", line, err)
		}
		if c.MaxAge < 0 {
			if c.Path == "/" { // this browser holds Path=/ cookies only
				delete(b.cookies, c.Name)
			}
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
}

// csrfHeader returns the CSRF header pair for data-changing calls.
func (b *browser) csrfHeader() []string { return []string{"x-fapid-csrf", b.csrf} }

// start calls login/start and returns the authorization URL.
func (b *browser) start(body string) string {
	b.t.Helper()
	w := b.do("POST", "login/start", body)
	if w.Code != 200 {
		b.t.Fatalf("login/start: %d %s", w.Code, w.Body)
	}
	var res struct {
		URL string `json:"authorizationRequestUrl"`
	}
	decodeJSON(b.t, w.Body.Bytes(), &res)
	return res.URL
}

// end posts pageURL to login/end.
func (b *browser) end(pageURL string) *httptest.ResponseRecorder {
	b.t.Helper()
	body, _ := json.Marshal(map[string]string{"pageUrl": pageURL})
	return b.do("POST", "login/end", string(body))
}

// login runs start → authorize → end and keeps the CSRF token.
func (b *browser) login(jarm bool) {
	b.t.Helper()
	cb := b.a.as.authorize(b.start(""), jarm, nil, nil)
	w := b.end(cb)
	if w.Code != 200 {
		b.t.Fatalf("login/end: %d %s", w.Code, w.Body)
	}
	var res loginEndResponse
	decodeJSON(b.t, w.Body.Bytes(), &res)
	if !res.Handled || !res.IsLoggedIn || res.CSRF == "" {
		b.t.Fatalf("login/end = %+v", res)
	}
	b.csrf = res.CSRF
}

func decodeJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %.300q: %v", b, err)
	}
}

// expectError checks an error answer's status and code exactly.
func expectError(t testing.TB, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	var e struct{ Code, Message string }
	if w.Code != status || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Code != code || e.Message == "" {
		t.Fatalf("answer %d %s, want %d {code:%q}", w.Code, w.Body, status, code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error content type %q", ct)
	}
}

// setCookies returns the Set-Cookie lines of an answer.
func setCookies(w *httptest.ResponseRecorder) []string { return w.Result().Header["Set-Cookie"] }

// noSetCookie fails when the answer sets or deletes any cookie.
func noSetCookie(t testing.TB, w *httptest.ResponseRecorder) {
	t.Helper()
	if sc := setCookies(w); len(sc) > 0 {
		t.Fatalf("unexpected Set-Cookie: %q", sc)
	}
}

// clearedAll checks that the answer deletes every session cookie with the
// attributes they were set with.
func clearedAll(t testing.TB, w *httptest.ResponseRecorder, kinds ...string) {
	t.Helper()
	if len(kinds) == 0 {
		kinds = []string{"at", "rt", "id", "csrf"}
	}
	for _, k := range kinds {
		name := "__Host-fapid-" + k
		found := false
		for _, line := range setCookies(w) {
			if strings.HasPrefix(line, name+"=;") || line == name+"=" {
				found = true
				checkAttributes(t, line)
				if !strings.Contains(line, "Max-Age=0") {
					t.Fatalf("deletion without Max-Age=0: %q", line)
				}
			}
		}
		if !found {
			t.Fatalf("%s not cleared; Set-Cookie: %q", name, setCookies(w))
		}
	}
}

// checkAttributes: CASES H04 — __Host-, Secure, HttpOnly, SameSite=Strict,
// Path=/, no Domain, and the whole line within 4096 bytes (H05).
func checkAttributes(t testing.TB, line string) {
	t.Helper()
	c, err := http.ParseSetCookie(line)
	if err != nil {
		t.Fatalf("Set-Cookie %q: %v", line, err)
	}
	if !strings.HasPrefix(c.Name, "__Host-fapid-") || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode ||
		c.Path != "/" || c.Domain != "" || len(line) > 4096 {
		t.Fatalf("cookie attributes wrong (%d bytes): %.200q", len(line), line)
	}
}

// openCookie opens a native cookie value the browser holds (joined).
func (b *browser) open(kindName string) []byte {
	b.t.Helper()
	name := "__Host-fapid-" + kindName
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", b.cookieHeader())
	nj := b.a.jar.(*nativeJar)
	data, _, err := nj.read(r, map[string]kind{"at": kindAT, "rt": kindRT, "id": kindID, "csrf": kindCSRF, "login": kindLogin}[kindName])
	if err != nil {
		b.t.Fatalf("open %s: %v", name, err)
	}
	return data
}

// noSecrets fails when text contains any of the secrets.
func noSecrets(t testing.TB, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Fatalf("%s contains a secret (%.12s…)", what, s)
		}
	}
}

func randomString(t testing.TB) string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
