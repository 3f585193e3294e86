package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// Errors an Introspector returns; the gateway maps them to answers.
var (
	// ErrUnavailable: the authorization server could not be reached, timed
	// out, answered 5xx/429, or sent something unparseable. Answer 503 with
	// Retry-After (never 401, never fail open); counts for the breaker.
	ErrUnavailable = errors.New("gateway: authorization server unavailable")
	// ErrBadAnswer: the authorization server answered with a status or
	// content the protocol does not allow (for example 401 for our own
	// credentials, or no JWT to forward). Answer 502.
	ErrBadAnswer = errors.New("gateway: unexpected answer from the authorization server")
	// ErrUntrustedAnswer: the answer failed verification (signature, alg,
	// iss, aud, typ). Answer 502 and log an alert: a bad signature from our
	// own authorization server is an incident. It wraps ErrBadAnswer.
	ErrUntrustedAnswer = errorsWrap(ErrBadAnswer, "answer failed verification")
)

func errorsWrap(base error, msg string) error { return &wrapped{base: base, msg: msg} }

type wrapped struct {
	base error
	msg  string
}

func (w *wrapped) Error() string { return w.base.Error() + ": " + w.msg }
func (w *wrapped) Unwrap() error { return w.base }

// apiError is one error answer. Only the fields set are rendered; nothing
// in it comes from a token, a cookie or an internal error.
type apiError struct {
	status  int
	code    string         // JSON "code"; also the challenge error= unless noErr
	schemes uint8          // WWW-Authenticate challenges: schemeBearer|schemeDPoP
	noErr   bool           // challenge without error= (no credentials at all)
	scope   string         // scope= for insufficient_scope
	retry   int            // Retry-After seconds
	nonce   string         // DPoP-Nonce
	clear   []*http.Cookie // expire these (a broken agent session)
}

const (
	schemeBearer uint8 = 1 << iota
	schemeDPoP
)

// Error codes (RFC 6750 §3.1, RFC 9449 §7.1, §12.2) and our own.
const (
	codeInvalidRequest   = "invalid_request"
	codeInvalidToken     = "invalid_token"
	codeUnauthorized     = "unauthorized_request" // cookie, Origin, CSRF (DESIGN §3)
	codeInsufficient     = "insufficient_scope"
	codeInvalidDPoP      = "invalid_dpop_proof"
	codeUseNonce         = "use_dpop_nonce"
	codeNotFound         = "not_found"
	codeForbidden        = "forbidden"
	codeHeaderTooLarge   = "request_header_fields_too_large"
	codeUnavailable      = "temporarily_unavailable"
	codeASError          = "authorization_server_error"
	codeUpstreamError    = "bad_gateway"
	codeServerError      = "server_error"
	codeMethodNotAllowed = "method_not_allowed"
)

var messages = map[string]string{
	codeInvalidRequest:   "The request is malformed",
	codeInvalidToken:     "The access token is missing, invalid or expired",
	codeUnauthorized:     "Access denied due to missing, invalid or expired credentials",
	codeInsufficient:     "The access token does not carry the required scope",
	codeInvalidDPoP:      "The DPoP proof is missing or invalid",
	codeUseNonce:         "Use the DPoP nonce from the DPoP-Nonce header",
	codeNotFound:         "No route for this path",
	codeForbidden:        "Not allowed from this client",
	codeHeaderTooLarge:   "The request header block is too large",
	codeUnavailable:      "The authorization server is unavailable, retry later",
	codeASError:          "The authorization server gave an unusable answer",
	codeUpstreamError:    "The upstream API could not be reached",
	codeServerError:      "Problem encountered processing the request",
	codeMethodNotAllowed: "Method not allowed",
}

// bodies are the JSON bodies, made once.
var bodies = func() map[string][]byte {
	m := make(map[string][]byte, len(messages))
	for code, msg := range messages {
		m[code] = []byte(`{"code":"` + code + `","message":"` + msg + `"}` + "\n")
	}
	return m
}()

func errBadRequest() *apiError { return &apiError{status: 400, code: codeInvalidRequest} }

// writeError renders e. realm is added to challenges when non-empty.
func writeError(w http.ResponseWriter, r *http.Request, e *apiError, realm string) {
	h := w.Header()
	if e.schemes&schemeBearer != 0 {
		h.Add("WWW-Authenticate", challenge("Bearer", realm, e, ""))
	}
	if e.schemes&schemeDPoP != 0 {
		h.Add("WWW-Authenticate", challenge("DPoP", realm, e, `algs="ES256 PS256 EdDSA"`))
	}
	if e.status == http.StatusUnauthorized && e.schemes == 0 {
		h.Add("WWW-Authenticate", challenge("Bearer", realm, e, ""))
	}
	if e.retry > 0 {
		h.Set("Retry-After", strconv.Itoa(e.retry))
	}
	if e.nonce != "" {
		h.Set("DPoP-Nonce", e.nonce)
	}
	for _, c := range e.clear {
		h.Add("Set-Cookie", c.String())
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	body, ok := bodies[e.code]
	if !ok {
		body = bodies[codeServerError]
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// challenge builds one RFC 6750 §3 / RFC 9449 §7.1 challenge.
func challenge(scheme, realm string, e *apiError, extra string) string {
	var params []string
	if realm != "" {
		params = append(params, `realm="`+realm+`"`)
	}
	if !e.noErr && e.status != http.StatusServiceUnavailable && e.status != http.StatusBadGateway {
		code := e.code
		if code == codeUnauthorized {
			code = codeInvalidToken
		}
		if (code == codeInvalidDPoP || code == codeUseNonce) && scheme == "Bearer" {
			code = codeInvalidToken
		}
		params = append(params, `error="`+code+`"`)
	}
	if e.scope != "" {
		params = append(params, `scope="`+e.scope+`"`)
	}
	if extra != "" {
		params = append(params, extra)
	}
	if len(params) == 0 {
		return scheme
	}
	return scheme + " " + strings.Join(params, ", ")
}
