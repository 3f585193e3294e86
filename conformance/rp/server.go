package rp

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/tlsx"
)

// serverKeys are the test authorization server's keys, like the suite's: one
// PS256 signing key with an explicit alg, decoys sharing its kid (ES256 and
// EdDSA), and a second RSA key published without alg (the key the
// alternate-alg module signs RS256 with).
type serverKeys struct {
	signer *jws.Signer
	alt    *rsa.PrivateKey
	jwks   []byte
}

const (
	serverKid = "op-signing-1"
	altKid    = "rsa-none-alt-alg"
)

// sharedServerKeys are made once per process: RSA key generation is slow,
// and every module run's server publishes the same set.
var sharedServerKeys = sync.OnceValues(func() (*serverKeys, error) { return newServerKeys(serverKid) })

// newServerKeys makes a key set whose signing key and decoys have kid.
func newServerKeys(kid string) (*serverKeys, error) {
	main, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	alt, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	k := &serverKeys{alt: alt}
	if k.signer, err = jws.NewSigner(main, kid); err != nil {
		return nil, err
	}
	var keys []json.RawMessage
	for _, pk := range []jws.PublicKey{
		{Key: main.Public(), KeyID: kid, Alg: jws.PS256},
		{Key: ec.Public(), KeyID: kid, Alg: jws.ES256}, // decoys sharing the kid (FAPI 2.0 SP 5.4.3)
		{Key: edPub, KeyID: kid, Alg: jws.EdDSA},
	} {
		j, err := jws.PublicJWK(pk.Key, pk.KeyID, pk.Alg)
		if err != nil {
			return nil, err
		}
		keys = append(keys, j)
	}
	altJWK := rsaJWK(&alt.PublicKey)
	altJWK["kid"], altJWK["use"] = altKid, "sig"
	j, err := json.Marshal(altJWK)
	if err != nil {
		return nil, err
	}
	keys = append(keys, j)
	k.jwks, err = json.Marshal(map[string]any{"keys": keys})
	return k, err
}

// clientReg is what the test server knows about the client (the suite's
// "client" configuration).
type clientReg struct {
	id          string
	keys        *jws.KeySet // public request-object and client-assertion keys (client.jwks)
	certDER     []byte      // client.certificate
	redirectURI string
}

// server is the test authorization server: a front listener (no client
// certificate) and an mTLS listener for the mtls_endpoint_aliases, both real
// TLS on loopback. Every module run is a separate authorization server below
// its own path, with its own issuer.
type server struct {
	keys     *serverKeys
	client   clientReg
	frontURL string
	mtlsURL  string
	srvs     []*http.Server

	mu   sync.Mutex
	runs map[string]*run
	seq  atomic.Int64
}

// startServer opens both listeners with cert and, on the mTLS one, client
// certificates verified against clientCAs when presented (like the suite's
// optional_no_ca listener, but verified).
func startServer(cert *tls.Certificate, clientCAs *x509.CertPool, keys *serverKeys, client clientReg) (*server, error) {
	s := &server{keys: keys, client: client, runs: map[string]*run{}}
	front := http.NewServeMux()
	front.HandleFunc("/test/{id}/{ep...}", func(w http.ResponseWriter, r *http.Request) {
		s.dispatch(w, r, r.PathValue("id"), r.PathValue("ep"), false)
	})
	front.HandleFunc("/.well-known/oauth-authorization-server/test/{id}/{$}", func(w http.ResponseWriter, r *http.Request) {
		s.dispatch(w, r, r.PathValue("id"), epOAuthDiscovery, false)
	})
	mtls := http.NewServeMux()
	mtls.HandleFunc("/test-mtls/{id}/{ep...}", func(w http.ResponseWriter, r *http.Request) {
		s.dispatch(w, r, r.PathValue("id"), r.PathValue("ep"), true)
	})
	var err error
	if s.frontURL, err = s.listen(cert, tlsx.NoClientCert, nil, front); err != nil {
		return nil, err
	}
	if s.mtlsURL, err = s.listen(cert, tlsx.RequestClientCert, clientCAs, mtls); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *server) listen(cert *tls.Certificate, ca tlsx.ClientAuth, pool *x509.CertPool, h http.Handler) (string, error) {
	tc, err := tlsx.ServerConfig(tlsx.ServerOptions{Source: tlsx.NewHolder(cert), ClientAuth: ca, ClientCAs: pool})
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: quietLog()}
	s.srvs = append(s.srvs, srv)
	go srv.Serve(tls.NewListener(ln, tc))
	return "https://" + ln.Addr().String(), nil
}

func (s *server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, srv := range s.srvs {
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
	}
}

// newRun starts one module run: a fresh authorization server with its own
// issuer (with a trailing slash, as the suite's).
func (s *server) newRun(p Plan, v Variant, m *Module, scope string) *run {
	id := "m" + strconv.FormatInt(s.seq.Add(1), 10)
	rn := &run{
		s: s, id: id, issuer: s.frontURL + "/test/" + id + "/", plan: p, v: v, mod: m, scope: scope, keys: s.keys,
		assertionJTIs: map[string]bool{}, proofJTIs: map[string]bool{}, verifiers: map[string]bool{},
		pars: map[string]*parRecord{}, codes: map[string]*codeRecord{}, tokens: map[string]*tokenRecord{},
	}
	rn.asNonce, rn.rsNonce = newNonce(), newNonce()
	s.mu.Lock()
	s.runs[id] = rn
	s.mu.Unlock()
	return rn
}

func (s *server) endRun(rn *run) {
	s.mu.Lock()
	delete(s.runs, rn.id)
	s.mu.Unlock()
}

// Endpoint names (the last path segment, or the discovery paths).
const (
	epOIDCDiscovery  = ".well-known/openid-configuration"
	epOAuthDiscovery = "oauth-authorization-server"
	epJWKS           = "jwks"
	epPAR            = "par"
	epAuthorize      = "authorize"
	epToken          = "token"
	epUserinfo       = "userinfo"
)

func (s *server) dispatch(w http.ResponseWriter, r *http.Request, id, ep string, onMTLS bool) {
	s.mu.Lock()
	rn := s.runs[id]
	s.mu.Unlock()
	if rn == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case ep == epOIDCDiscovery && !onMTLS:
		rn.discovery(w, r, true)
	case ep == epOAuthDiscovery && !onMTLS:
		rn.discovery(w, r, false)
	case ep == epJWKS && !onMTLS:
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(rn.serverKeys().jwks)
	case ep == epPAR || ep == epToken || ep == epUserinfo || (ep == epAuthorize && !onMTLS):
		rn.protocol(w, r, ep, onMTLS)
	default:
		where := map[bool]string{true: "mTLS host", false: "front host"}[onMTLS]
		rn.violate("unexpected call to %s on the %s", r.URL.Path, where)
		http.NotFound(w, r)
	}
}

// protocol handles the calls the client must not make after a fault.
func (rn *run) protocol(w http.ResponseWriter, r *http.Request, ep string, onMTLS bool) {
	rn.mu.Lock()
	rn.calls = append(rn.calls, ep+map[bool]string{true: "@mtls", false: ""}[onMTLS])
	after := rn.faultSent
	rn.mu.Unlock()
	if after {
		rn.violate("the client called the %s endpoint after the faulty %s", ep, rn.mod.fault)
		oauthError(w, http.StatusBadRequest, "invalid_request", "the test has ended")
		return
	}
	switch ep {
	case epPAR:
		rn.par(w, r, onMTLS)
	case epAuthorize:
		rn.authorize(w, r)
	case epToken:
		rn.token(w, r, onMTLS)
	case epUserinfo:
		rn.userinfo(w, r, onMTLS)
	}
}

// endpointURL is the exact URL of an endpoint of this run.
func (rn *run) endpointURL(ep string, onMTLS bool) string {
	if onMTLS {
		return rn.s.mtlsURL + "/test-mtls/" + rn.id + "/" + ep
	}
	return rn.s.frontURL + "/test/" + rn.id + "/" + ep
}

// discovery serves the metadata (OpenID Connect Discovery or RFC 8414).
// Like the suite, it always publishes mtls_endpoint_aliases. A plain OAuth
// run answers 404 on the OpenID path, so the client must fall back to RFC
// 8414 path insertion.
func (rn *run) discovery(w http.ResponseWriter, r *http.Request, oidcPath bool) {
	if r.Method != http.MethodGet {
		rn.violate("discovery with method %s", r.Method)
	}
	if oidcPath && !rn.v.oidc() {
		http.NotFound(w, r)
		return
	}
	doc := rn.metadata()
	if rn.mod.discovery != nil {
		rn.mod.discovery(doc, rn.issuer)
	}
	rn.mu.Lock()
	rn.discovered = true
	if rn.mod.fault == faultDiscovery {
		rn.faultSent = true
	}
	rn.mu.Unlock()
	writeJSON(w, http.StatusOK, doc)
}

func (rn *run) metadata() map[string]any {
	v := rn.v
	front := func(ep string) string { return rn.endpointURL(ep, false) }
	mt := func(ep string) string { return rn.endpointURL(ep, true) }
	algs := []string{jws.PS256, jws.ES256, jws.EdDSA}
	doc := map[string]any{
		"issuer":                                rn.issuer,
		"authorization_endpoint":                front(epAuthorize),
		"token_endpoint":                        front(epToken),
		"pushed_authorization_request_endpoint": front(epPAR),
		"require_pushed_authorization_requests": true,
		"jwks_uri":                              front(epJWKS),
		"userinfo_endpoint":                     front(epUserinfo),
		"mtls_endpoint_aliases": map[string]string{
			"token_endpoint": mt(epToken), "pushed_authorization_request_endpoint": mt(epPAR), "userinfo_endpoint": mt(epUserinfo),
		},
		"response_types_supported":                         []string{"code"},
		"response_modes_supported":                         []string{"query"},
		"grant_types_supported":                            []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"authorization_response_iss_parameter_supported":   true,
		"token_endpoint_auth_methods_supported":            []string{map[bool]string{true: "tls_client_auth", false: "private_key_jwt"}[v.mtlsAuth()]},
		"token_endpoint_auth_signing_alg_values_supported": algs,
		"scopes_supported":                                 splitScope(rn.scope),
	}
	if v.oidc() {
		doc["subject_types_supported"] = []string{"public"}
		doc["id_token_signing_alg_values_supported"] = []string{jws.PS256}
	}
	if v.signed() {
		doc["request_object_signing_alg_values_supported"] = algs
	}
	if v.jarm() {
		doc["response_modes_supported"] = []string{"query", "jwt"}
		doc["authorization_signing_alg_values_supported"] = []string{jws.PS256}
	}
	if v.mtlsBound() {
		doc["tls_client_certificate_bound_access_tokens"] = true
	} else {
		doc["dpop_signing_alg_values_supported"] = algs
	}
	return doc
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// nqchar is RFC 9449 §8.1's NQCHAR: %x21 / %x23-5B / %x5D-7E.
const nqchar = "!#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~"

// newNonce is a fresh DPoP nonce like the suite's: 10 to 30 NQCHARs, so a
// client must carry characters such as '"'-free punctuation unchanged.
func newNonce() string {
	b := make([]byte, 31)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("rp: no randomness"))
	}
	n := 10 + int(b[0])%21
	out := make([]byte, n)
	for i := range out {
		out[i] = nqchar[int(b[i+1])%len(nqchar)]
	}
	return string(out)
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("rp: no randomness"))
	}
	return b64.EncodeToString(b)
}

// peerCert is the DER of the client's leaf certificate on this connection.
func peerCert(r *http.Request) []byte {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil
	}
	return r.TLS.PeerCertificates[0].Raw
}
