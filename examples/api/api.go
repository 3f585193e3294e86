package api

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/tlsx"
)

// ClockSkew is the leeway allowed on exp, nbf and iat.
const ClockSkew = 60 * time.Second

// DefaultPathPrefix is where the protected resources live.
const DefaultPathPrefix = "/api/"

// Realm is the realm of the WWW-Authenticate challenges.
const Realm = "fapid-example-api"

// Config configures [New].
type Config struct {
	// Issuer is the exact "iss" to expect: the authorization server, or the
	// gateway when it mints the tokens it forwards. Required.
	Issuer string
	// Audience, when set, must be one of the token's "aud" values.
	Audience string
	// JWKSURL is the https location of the issuer's signing keys (the
	// authorization server's jwks_uri, or the gateway's
	// /.well-known/jwks.json). Required.
	JWKSURL string
	// HTTPClient fetches the JWKS; give it a tls.Config with the CA (and a
	// client certificate when the JWKS endpoint asks for one). nil means a
	// client with the FAPI TLS policy and the system roots.
	HTTPClient *http.Client
	// AllowUnbound accepts tokens without "cnf". The zero value refuses
	// them: FAPI 2.0 access tokens are always sender-constrained
	// (RequireBinding = true).
	AllowUnbound bool
	// PublicURL is the API's own origin as its callers address it
	// (https://host[:port]); DPoP proofs for "cnf"."jkt" tokens must name
	// PublicURL + request path in htu. Empty: jkt-bound tokens are refused.
	PublicURL string
	// PathPrefix is the protected path prefix; zero means DefaultPathPrefix.
	// Other paths answer 404 (except GET /healthz, which needs mutual TLS
	// but no token).
	PathPrefix string
	// Now: nil means time.Now.
	Now func() time.Time
	// Logger receives one line per refused request (the reason, never the
	// token). nil discards.
	Logger *slog.Logger
}

// API is the example resource server's http.Handler.
type API struct {
	cfg    Config
	jwks   *fapi.JWKSCache
	replay *replayCache
	log    *slog.Logger
}

// New validates cfg and returns the handler. Serve it on a listener
// configured by [ServerTLSConfig].
func New(cfg Config) (*API, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("api: Issuer is required")
	}
	if err := checkHTTPS(cfg.JWKSURL, true); err != nil {
		return nil, fmt.Errorf("api: JWKSURL: %w", err)
	}
	if cfg.PublicURL != "" {
		if err := checkHTTPS(cfg.PublicURL, false); err != nil {
			return nil, fmt.Errorf("api: PublicURL: %w", err)
		}
		cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	}
	if cfg.PathPrefix == "" {
		cfg.PathPrefix = DefaultPathPrefix
	}
	if !strings.HasPrefix(cfg.PathPrefix, "/") {
		return nil, fmt.Errorf("api: PathPrefix %q must start with /", cfg.PathPrefix)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tc, err := tlsx.ClientConfig(tlsx.ClientOptions{})
		if err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
		hc = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	}
	return &API{
		cfg:    cfg,
		jwks:   fapi.NewJWKSCache(cfg.JWKSURL, hc, fapi.JWKSOptions{Now: cfg.Now}),
		replay: newReplayCache(defaultReplayEntries),
		log:    log,
	}, nil
}

// checkHTTPS accepts an absolute https URL; with path false, only an origin.
func checkHTTPS(raw string, path bool) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return errors.New("required")
	case err != nil:
		return err
	case u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "":
		return fmt.Errorf("%q is not an https URL", raw)
	case !path && ((u.Path != "" && u.Path != "/") || u.RawQuery != ""):
		return fmt.Errorf("%q must be an origin (no path or query)", raw)
	}
	return nil
}

// ServerTLSConfig is the listener policy of the API: FAPI 2.0 TLS (tlsx)
// with client certificates required and verified against clientCAs.
func ServerTLSConfig(cert tlsx.Source, clientCAs *x509.CertPool) (*tls.Config, error) {
	return tlsx.ServerConfig(tlsx.ServerOptions{
		Source:     cert,
		ClientAuth: tlsx.RequireClientCert,
		ClientCAs:  clientCAs,
		NextProtos: []string{"h2", "http/1.1"},
	})
}

// Answer is the JSON body of an accepted request: what was verified.
type Answer struct {
	Subject            string   `json:"sub"`
	Scope              string   `json:"scope"`
	ClientID           string   `json:"client_id"`
	Issuer             string   `json:"iss"`
	Audience           []string `json:"aud"`
	Expiry             int64    `json:"exp"`
	CertBound          bool     `json:"cnf_x5t_s256_verified"`
	DPoPBound          bool     `json:"cnf_jkt_verified,omitempty"`
	ClientCertSubject  string   `json:"client_cert_subject"`
	Path               string   `json:"path"`
	Method             string   `json:"method"`
	Time               string   `json:"time"`
	IntrospectionToken bool     `json:"introspection_jwt,omitempty"`
}

// ServeHTTP answers GET /healthz and every method on PathPrefix paths.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	leaf := peerLeaf(r)
	if leaf == nil {
		// The listener requires a client certificate; this is a
		// misconfigured server (plain TLS or HTTP), so fail closed.
		a.refuse(w, r, &failure{status: http.StatusUnauthorized, code: "invalid_client_certificate",
			reason: errors.New("no verified client certificate on the connection")})
		return
	}
	if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	}
	if !strings.HasPrefix(r.URL.Path, a.cfg.PathPrefix) && r.URL.Path+"/" != a.cfg.PathPrefix {
		writeJSON(w, http.StatusNotFound, errorBody{Code: "not_found", Message: "no such resource"})
		return
	}
	v, f := a.authorize(r, leaf)
	if f != nil {
		a.refuse(w, r, f)
		return
	}
	writeJSON(w, http.StatusOK, Answer{
		Subject: v.claims.Subject, Scope: v.claims.Scope, ClientID: v.claims.ClientID,
		Issuer: v.issuer, Audience: nonNil(v.claims.Audience), Expiry: v.claims.Expiry.Unix(),
		CertBound: v.certBound, DPoPBound: v.dpopBound, ClientCertSubject: leaf.Subject.String(),
		Path: r.URL.Path, Method: r.Method, Time: a.cfg.Now().UTC().Format(time.RFC3339),
		IntrospectionToken: v.introspection,
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// peerLeaf is the verified client certificate of the connection, or nil.
func peerLeaf(r *http.Request) *x509.Certificate {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || len(r.TLS.VerifiedChains) == 0 {
		return nil
	}
	return r.TLS.PeerCertificates[0]
}

// failure is a refused request: what the client sees (status, code,
// challenge scheme) and, for the log only, why.
type failure struct {
	status int
	code   string // RFC 6750 / RFC 9449 error code; "" for a missing token
	dpop   bool   // challenge with the DPoP scheme
	reason error
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

var messages = map[string]string{
	"":                           "an access token is required",
	"invalid_request":            "the request is malformed",
	"invalid_token":              "the access token is missing, invalid or expired",
	"invalid_dpop_proof":         "the DPoP proof is missing or invalid",
	"invalid_client_certificate": "a client certificate is required",
	"temporarily_unavailable":    "the token cannot be verified right now",
}

func (a *API) refuse(w http.ResponseWriter, r *http.Request, f *failure) {
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "request refused",
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", f.status), slog.String("code", f.code), slog.Any("reason", f.reason))
	switch f.status {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(5))
	case http.StatusUnauthorized, http.StatusBadRequest:
		w.Header().Set("WWW-Authenticate", challenge(f))
	}
	code := f.code
	if code == "" {
		code = "unauthorized"
	}
	writeJSON(w, f.status, errorBody{Code: code, Message: messages[f.code]})
}

// challenge builds the WWW-Authenticate value (RFC 6750 §3, RFC 9449 §7.1).
// A request without a token gets no error code (RFC 6750 §3.1).
func challenge(f *failure) string {
	scheme, extra := "Bearer", ""
	if f.dpop {
		scheme, extra = "DPoP", `, algs="PS256 ES256 EdDSA"`
	}
	v := scheme + ` realm="` + Realm + `"`
	if f.code != "" && f.code != "invalid_client_certificate" {
		v += `, error="` + f.code + `"`
	}
	return v + extra
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"server_error","message":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
