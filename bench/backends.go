package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/tlsx"
)

// upstreamBody is what the API answers to every request: a fixed 100-byte
// JSON document, as in research/perf-anchors.md.
var upstreamBody = []byte(`{"id":"acct-0001","owner":"alice","currency":"EUR","balance":"1234.56","status":"open","v":"bench01"}` + "\n")

// Opaque token kinds: the stand-in decides what a token is from its first
// three characters, so it keeps no state per token (its memory never grows
// and it answers any number of distinct tokens).
const (
	kindCookie = "ck-" // the agent's session token: cnf x5t#S256 of the session certificate
	kindBearer = "br-" // unbound
	kindMTLS   = "mt-" // cnf x5t#S256 of the mobile client's certificate
	kindSlow   = "sl-" // unbound; the answer waits slowDelay (singleflight check)
	// kindMemory is kindCookie answered with one JWT signed at start (the
	// memory figure: the gateway still verifies and keeps a copy per token,
	// the stand-in saves 100,000 signatures).
	kindMemory = "mm-"
)

const slowDelay = 300 * time.Millisecond

// Audience and client of the introspected tokens.
const (
	apiAudience = "https://api.example.test"
	spaClientID = "bench-spa"
	gwClientID  = "fapid-gateway"
	spaOrigin   = "https://app.example.test"
	redirectURI = "https://app.example.test/callback"
)

// newToken makes an opaque access token of the given kind: the kind and
// 43 random base64url characters (256 bits), like a real opaque token.
func newToken(kind string) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return kind + base64.RawURLEncoding.EncodeToString(b[:])
}

// asStandIn is a minimal, stateless FAPI 2.0 authorization server: the
// discovery document, a JWKS, introspection in Curity's phantom-token form
// (Accept: application/jwt → the token as an ES256 JWT; 204 inactive),
// and just enough PAR and token endpoint for the agent to log in (the
// harness plays the user; see loginDriver).
type asStandIn struct {
	issuer   string
	signer   *jws.Signer
	jwks     []byte
	x5t      map[string]string // token kind → bound thumbprint
	memJWT   string            // the answer for kindMemory
	calls    atomic.Int64      // introspections
	pars     atomic.Int64
	grants   atomic.Int64
	upstream atomic.Int64 // requests the upstream answered
}

// startBackends serves the upstream API and the authorization server
// stand-in, each on its own loopback TLS listener.
func startBackends(ctx context.Context, cfg *childConfig) (childReady, func() map[string]int64, error) {
	m := cfg.M
	up, err := listenTLS(ctx, m, tlsx.RequestClientCert)
	if err != nil {
		return childReady{}, nil, err
	}
	asLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return childReady{}, nil, err
	}
	key, err := signer(m.ASKey)
	if err != nil {
		return childReady{}, nil, err
	}
	as := &asStandIn{issuer: "https://" + asLn.Addr().String(), x5t: map[string]string{}}
	if as.signer, err = jws.NewSigner(key, "bench-as"); err != nil {
		return childReady{}, nil, err
	}
	if as.jwks, err = jws.PublicJWKS(jws.PublicKey{Key: key.Public(), KeyID: "bench-as", Alg: as.signer.Alg()}); err != nil {
		return childReady{}, nil, err
	}
	for kind, c := range map[string]string{kindCookie: m.SessionCert, kindMTLS: m.MobileCert} {
		if as.x5t[kind], err = thumbprint(c); err != nil {
			return childReady{}, nil, err
		}
	}
	if as.memJWT, err = as.accessJWT(newToken(kindCookie), kindCookie); err != nil {
		return childReady{}, nil, err
	}
	up.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		as.upstream.Add(1)
		if strings.HasSuffix(r.URL.Path, "/echo") {
			writeJSON(w, http.StatusOK, echoOf(r))
			return
		}
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{strconv.Itoa(len(upstreamBody))}
		_, _ = w.Write(upstreamBody)
	}))
	asSrv, err := tlsServer(m, tlsx.RequestClientCert)
	if err != nil {
		return childReady{}, nil, err
	}
	asSrv.Handler = as.mux()
	go func() { _ = asSrv.ServeTLS(asLn, "", "") }()
	context.AfterFunc(ctx, func() { _ = asSrv.Close() })
	stats := func() map[string]int64 {
		return map[string]int64{"introspections": as.calls.Load(), "pars": as.pars.Load(),
			"grants": as.grants.Load(), "upstream": as.upstream.Load()}
	}
	return childReady{TCP: up.addr, AS: asLn.Addr().String()}, stats, nil
}

func (as *asStandIn) mux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", as.discovery)
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(as.jwks)
	})
	mux.HandleFunc("POST /introspect", as.introspect)
	mux.HandleFunc("POST /par", as.par)
	mux.HandleFunc("POST /token", as.token)
	return mux
}

func (as *asStandIn) discovery(w http.ResponseWriter, _ *http.Request) {
	i := as.issuer
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer": i, "authorization_endpoint": i + "/authorize", "token_endpoint": i + "/token",
		"pushed_authorization_request_endpoint": i + "/par", "jwks_uri": i + "/jwks",
		"introspection_endpoint": i + "/introspect", "end_session_endpoint": i + "/logout",
		"authorization_response_iss_parameter_supported": true, "require_pushed_authorization_requests": true,
		"tls_client_certificate_bound_access_tokens": true, "code_challenge_methods_supported": []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt", "tls_client_auth"},
	})
}

// introspect answers like Curity's phantom-token endpoint: the token as a
// signed JWT (a fresh signature on every call, as a real server does).
func (as *asStandIn) introspect(w http.ResponseWriter, r *http.Request) {
	as.calls.Add(1)
	tok := r.PostFormValue("token")
	kind := tok[:min(3, len(tok))]
	switch kind {
	case kindCookie, kindBearer, kindMTLS:
	case kindSlow:
		time.Sleep(slowDelay)
	case kindMemory:
		w.Header().Set("Content-Type", "application/jwt")
		_, _ = w.Write([]byte(as.memJWT))
		return
	default:
		w.WriteHeader(http.StatusNoContent)
		return
	}
	jwt, err := as.accessJWT(tok, kind)
	if err != nil {
		http.Error(w, "sign", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/jwt")
	_, _ = w.Write([]byte(jwt))
}

// accessJWT is the phantom token: the claims a Curity access token carries
// (about 650 characters signed).
func (as *asStandIn) accessJWT(tok, kind string) (string, error) {
	sum := sha256.Sum256([]byte(tok))
	now := time.Now().Unix()
	claims := map[string]any{
		"iss": as.issuer, "sub": "user-" + hex.EncodeToString(sum[:6]), "aud": apiAudience,
		"exp": now + 3600, "iat": now, "nbf": now, "jti": base64.RawURLEncoding.EncodeToString(sum[8:24]),
		"scope": "openid read write accounts", "client_id": spaClientID, "purpose": "access_token",
		"delegation_id": hex.EncodeToString(sum[24:32]),
	}
	if x := as.x5t[kind]; x != "" {
		claims["cnf"] = map[string]string{"x5t#S256": x}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return as.signer.Sign(payload, jws.SignOptions{Typ: "at+jwt"})
}

// par accepts a pushed request object without checking its signature (a
// stand-in) and returns a request_uri that carries the state, nonce and
// redirect_uri the harness needs to play the user.
func (as *asStandIn) par(w http.ResponseWriter, r *http.Request) {
	as.pars.Add(1)
	var ro struct {
		State       string `json:"state"`
		Nonce       string `json:"nonce"`
		RedirectURI string `json:"redirect_uri"`
	}
	if err := decodeJWTPayload(r.PostFormValue("request"), &ro); err != nil || ro.State == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request_object"})
		return
	}
	b, _ := json.Marshal(ro)
	writeJSON(w, http.StatusCreated, map[string]any{
		"request_uri": parPrefix + base64.RawURLEncoding.EncodeToString(b), "expires_in": 60,
	})
}

const parPrefix = "urn:ietf:params:oauth:request_uri:"

// token redeems a code made by the harness (base64url of the nonce) for a
// session token bound to the agent's certificate, a refresh token and a
// signed ID token.
func (as *asStandIn) token(w http.ResponseWriter, r *http.Request) {
	as.grants.Add(1)
	nonce, err := base64.RawURLEncoding.DecodeString(r.PostFormValue("code"))
	if err != nil || r.PostFormValue("grant_type") != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	now := time.Now().Unix()
	id, _ := json.Marshal(map[string]any{
		"iss": as.issuer, "sub": "alice", "aud": r.PostFormValue("client_id"), "iat": now, "exp": now + 300,
		"auth_time": now, "nonce": string(nonce), "name": "Alice Example", "email": "alice@example.test",
	})
	idToken, err := as.signer.Sign(id, jws.SignOptions{})
	if err != nil {
		http.Error(w, "sign", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": newToken(kindCookie), "refresh_token": newToken("rt-"), "id_token": idToken,
		"token_type": "Bearer", "expires_in": 300, "scope": "openid read write accounts",
	})
}

// echo is what the upstream saw of a request (checks only).
type echo struct {
	Authorization string
	Cookie        string
	ClientCert    bool
}

func echoOf(r *http.Request) echo {
	return echo{Authorization: r.Header.Get("Authorization"), Cookie: r.Header.Get("Cookie"),
		ClientCert: r.TLS != nil && len(r.TLS.PeerCertificates) > 0}
}

func decodeJWTPayload(jwt string, v any) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return errors.New("not a JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// tlsListener is a loopback TCP listener with the FAPI TLS policy.
type tlsListener struct {
	ctx  context.Context
	ln   net.Listener
	tc   *tls.Config
	addr string
}

// listenTLS listens on 127.0.0.1:0; clientAuth asks for client certificates
// from the run's CA.
func listenTLS(ctx context.Context, m *material, clientAuth tlsx.ClientAuth) (*tlsListener, error) {
	tc, err := serverTLS(m, clientAuth)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &tlsListener{ctx: ctx, ln: ln, tc: tc, addr: ln.Addr().String()}, nil
}

// serve serves h with the timeouts fapid's listeners use.
func (l *tlsListener) serve(h http.Handler) {
	srv := &http.Server{Handler: h, TLSConfig: l.tc, ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 32 << 10}
	go func() { _ = srv.ServeTLS(l.ln, "", "") }()
	context.AfterFunc(l.ctx, func() { _ = srv.Close() })
}

// serverTLS is internal/tlsx's server policy with the run's server
// certificate, HTTP/2 and HTTP/1.1.
func serverTLS(m *material, clientAuth tlsx.ClientAuth) (*tls.Config, error) {
	cert, err := pair(m.ServerCert, m.ServerKey)
	if err != nil {
		return nil, err
	}
	pool, err := m.pool()
	if err != nil {
		return nil, err
	}
	o := tlsx.ServerOptions{Source: tlsx.NewHolder(cert), ClientAuth: clientAuth, NextProtos: []string{"h2", "http/1.1"}}
	if clientAuth != tlsx.NoClientCert {
		o.ClientCAs = pool
	}
	return tlsx.ServerConfig(o)
}

func tlsServer(m *material, clientAuth tlsx.ClientAuth) (*http.Server, error) {
	tc, err := serverTLS(m, clientAuth)
	if err != nil {
		return nil, fmt.Errorf("bench: server TLS: %w", err)
	}
	return &http.Server{TLSConfig: tc, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}, nil
}
