package fapi

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cillers/fapid/internal/jws"
)

// t0 is the pinned "now" of every test.
var t0 = time.Unix(1_800_000_000, 0).UTC()

func fixedNow() time.Time { return t0 }

// detRand is a deterministic, endless byte stream (SHA-256 in counter mode).
type detRand struct {
	mu  sync.Mutex
	ctr uint64
	buf []byte
}

func (r *detRand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], r.ctr)
			r.ctr++
			sum := sha256.Sum256(append([]byte("fapi test rand"), b[:]...))
			r.buf = sum[:]
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}

// Test keys, generated once per test binary.
type testKeys struct {
	asEC      *ecdsa.PrivateKey // AS ES256, kid "as-es"
	asRSA     *rsa.PrivateKey   // AS PS256, kid "as-ps"
	client    *ecdsa.PrivateKey // client ES256 (assertions, request objects)
	dpop      *ecdsa.PrivateKey // DPoP key
	other     *ecdsa.PrivateKey // a key nobody trusts
	asSigner  *jws.Signer
	asPS      *jws.Signer
	cliSigner *jws.Signer
	dpSigner  *jws.Signer
	othSigner *jws.Signer
}

var (
	keysOnce sync.Once
	keysVal  *testKeys
)

func keys(t testing.TB) *testKeys {
	t.Helper()
	keysOnce.Do(func() {
		k := &testKeys{}
		must := func(err error) {
			if err != nil {
				panic(err)
			}
		}
		var err error
		k.asEC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		k.asRSA, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		k.client, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		k.dpop, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		k.other, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		k.asSigner, err = jws.NewSigner(k.asEC, "as-es")
		must(err)
		k.asPS, err = jws.NewSigner(k.asRSA, "as-ps")
		must(err)
		k.cliSigner, err = jws.NewSigner(k.client, "client-1")
		must(err)
		k.dpSigner, err = jws.NewSigner(k.dpop, "")
		must(err)
		k.othSigner, err = jws.NewSigner(k.other, "as-es") // same kid as the AS key
		must(err)
		keysVal = k
	})
	return keysVal
}

// asJWKS is the AS's published key set: the ES256 and PS256 keys.
func asJWKS(t testing.TB) []byte {
	k := keys(t)
	doc, err := jws.PublicJWKS(
		jws.PublicKey{Key: &k.asEC.PublicKey, KeyID: "as-es", Alg: jws.ES256},
		jws.PublicKey{Key: &k.asRSA.PublicKey, KeyID: "as-ps", Alg: jws.PS256},
	)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// recorded is one request the fake AS saw.
type recorded struct {
	Method string
	Path   string
	Header http.Header
	Form   url.Values
}

// fakeAS is an httptest TLS stand-in for an authorization server.
type fakeAS struct {
	t      testing.TB
	srv    *httptest.Server
	issuer string
	meta   map[string]any

	mu       sync.Mutex
	reqs     []recorded
	handlers map[string]http.HandlerFunc
	jwks     []byte
	jwksHits int
}

func newFakeAS(t testing.TB) *fakeAS {
	t.Helper()
	as := &fakeAS{t: t, handlers: map[string]http.HandlerFunc{}, jwks: asJWKS(t)}
	as.srv = httptest.NewTLSServer(http.HandlerFunc(as.serve))
	t.Cleanup(as.srv.Close)
	as.issuer = as.srv.URL
	base := as.srv.URL
	as.meta = map[string]any{
		"issuer":                                base,
		"authorization_endpoint":                base + "/auth",
		"token_endpoint":                        base + "/token",
		"pushed_authorization_request_endpoint": base + "/par",
		"jwks_uri":                              base + "/jwks",
		"userinfo_endpoint":                     base + "/me",
		"revocation_endpoint":                   base + "/revoke",
		"introspection_endpoint":                base + "/introspect",
		"end_session_endpoint":                  base + "/session/end",
		"authorization_response_iss_parameter_supported": true,
		"require_pushed_authorization_requests":          true,
	}
	return as
}

func (as *fakeAS) handle(path string, h http.HandlerFunc) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.handlers[path] = h
}

func (as *fakeAS) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	as.mu.Lock()
	as.reqs = append(as.reqs, recorded{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Form: r.PostForm})
	h := as.handlers[r.URL.Path]
	meta, _ := json.Marshal(as.meta)
	jwks := as.jwks
	if r.URL.Path == "/jwks" {
		as.jwksHits++
	}
	as.mu.Unlock()
	switch {
	case h != nil:
		h(w, r)
	case r.URL.Path == wellKnownOIDC:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(meta)
	case r.URL.Path == "/jwks":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	default:
		http.NotFound(w, r)
	}
}

func (as *fakeAS) requests(path string) []recorded {
	as.mu.Lock()
	defer as.mu.Unlock()
	var out []recorded
	for _, r := range as.reqs {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func (as *fakeAS) hits() int {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.jwksHits
}

// config returns a client configuration for this AS.
func (as *fakeAS) config() Config {
	return Config{
		Issuer:                as.issuer,
		ClientID:              "client-1",
		Signer:                keys(as.t).cliSigner,
		HTTPClient:            as.srv.Client(),
		Scopes:                []string{"openid", "api:read"},
		RedirectURI:           "https://app.example.test/cb",
		PostLogoutRedirectURI: "https://app.example.test/bye",
		Now:                   fixedNow,
		Rand:                  &detRand{},
	}
}

func (as *fakeAS) client(mutate ...func(*Config)) *Client {
	as.t.Helper()
	cfg := as.config()
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		as.t.Fatal(err)
	}
	return c
}

// sign signs claims as the AS (ES256, kid as-es) with an optional typ.
func (as *fakeAS) sign(claims map[string]any, typ string) string {
	return signWith(as.t, keys(as.t).asSigner, claims, typ)
}

func signWith(t testing.TB, s *jws.Signer, claims map[string]any, typ string) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Sign(b, jws.SignOptions{Typ: typ})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeJSON answers with a JSON body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// --- hand-made JWS for algorithm-confusion tests (H08) ---

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

// noneJWT is {"alg":"none"} with an empty signature.
func noneJWT(t testing.TB, claims map[string]any) string {
	return b64JSON(t, map[string]any{"alg": "none"}) + "." + b64JSON(t, claims) + "."
}

// hsJWT is HS256 MACed with key.
func hsJWT(t testing.TB, key []byte, kid string, claims map[string]any) string {
	in := b64JSON(t, map[string]any{"alg": "HS256", "kid": kid}) + "." + b64JSON(t, claims)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + b64(m.Sum(nil))
}

// rs256JWT is RS256 with the AS's own RSA key (which the JWKS publishes).
func rs256JWT(t testing.TB, claims map[string]any) string {
	k := keys(t)
	in := b64JSON(t, map[string]any{"alg": "RS256", "kid": "as-ps"}) + "." + b64JSON(t, claims)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.asRSA, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64(sig)
}

// es256Raw signs an arbitrary header with an EC key (for malformed proofs).
func es256Raw(t testing.TB, key *ecdsa.PrivateKey, header, claims map[string]any) string {
	in := b64JSON(t, header) + "." + b64JSON(t, claims)
	sum := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + b64(sig)
}

// corrupt flips one character in the signature part.
func corrupt(jwt string) string {
	i := strings.LastIndexByte(jwt, '.') + 2
	c := byte('A')
	if jwt[i] == 'A' {
		c = 'B'
	}
	return jwt[:i] + string(c) + jwt[i+1:]
}

// payloadOf decodes a compact JWS payload without verifying it (tests only).
func payloadOf(t testing.TB, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// headerOf decodes a compact JWS header (tests only).
func headerOf(t testing.TB, jwt string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// wantErr fails unless err wraps every target.
func wantErr(t testing.TB, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %v", targets)
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Fatalf("error %q does not wrap %q", err, target)
		}
	}
}

// loginState is a valid login for the fake AS.
func (as *fakeAS) loginState(mode ResponseMode) LoginState {
	return LoginState{
		Issuer: as.issuer, ClientID: "client-1", State: "state-123", Nonce: "nonce-123",
		CodeVerifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
		RedirectURI:  "https://app.example.test/cb", ResponseMode: string(mode),
	}
}

// offlineClient is a Client whose metadata and JWKS are preloaded: no
// network at all (fuzz targets).
func offlineClient(t testing.TB, issuer string) *Client {
	t.Helper()
	c, err := NewClient(Config{
		Issuer: issuer, ClientID: "client-1", AuthMethod: AuthTLSClientAuth,
		Now: fixedNow, Rand: &detRand{}, IntrospectionMode: IntrospectionJWT,
	})
	if err != nil {
		t.Fatal(err)
	}
	set, err := jws.ParseKeySet(asJWKS(t))
	if err != nil {
		t.Fatal(err)
	}
	k := NewJWKSCache("https://as.invalid/jwks", nil, JWKSOptions{Now: fixedNow})
	k.set, k.fetched, k.tried = set, t0, t0
	c.jwks.Store(k)
	c.meta.Store(&Metadata{Issuer: issuer, JWKSURI: "https://as.invalid/jwks"})
	return c
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

func asOAuth(err error) (*OAuthError, bool) {
	var oe *OAuthError
	ok := errors.As(err, &oe)
	return oe, ok
}

func mustSigner(t testing.TB, key crypto.Signer, kid string) *jws.Signer {
	t.Helper()
	s, err := jws.NewSigner(key, kid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func asType[T error](err error, target *T) bool { return errors.As(err, target) }

func headerOfJSON(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
