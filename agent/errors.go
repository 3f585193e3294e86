package agent

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
)

// Error codes of the agent's JSON error answers (DESIGN §3, Curity's OAuth
// Agent contract). Front-channel errors from the authorization server are
// passed on as their own code.
const (
	codeUnauthorized = "unauthorized_request"       // 401: origin, CSRF, missing or undecryptable cookie
	codeInvalid      = "invalid_request"            // 400
	codeAuthz        = "authorization_error"        // 400: the AS rejected a back-channel request
	codeTokenExpired = "token_expired"              // 401: refresh, then retry
	codeSession      = "session_expired"            // 401: refresh failed for good; cookies cleared
	codeASError      = "authorization_server_error" // 502: the AS is down or answered 5xx
	codeServer       = "server_error"               // 500
	codeNotFound     = "not_found"                  // 404
	codeMethod       = "method_not_allowed"         // 405
	codeLoginReq     = "login_required"             // 401 from the front channel
)

var messages = map[string]string{
	codeUnauthorized: "Access denied due to invalid request details",
	codeInvalid:      "The request is invalid",
	codeAuthz:        "A request sent to the Authorization Server was rejected",
	codeTokenExpired: "The access token has expired",
	codeSession:      "The session has expired",
	codeASError:      "A problem occurred with a request to the Authorization Server",
	codeServer:       "A technical problem occurred in the OAuth Agent",
	codeNotFound:     "No such endpoint",
	codeMethod:       "Method not allowed",
}

// apiError is one error answer. err is the internal cause: logged (it never
// holds a token, code or cookie), never sent.
type apiError struct {
	status  int
	code    string
	message string // empty: messages[code]
	clear   bool   // delete every session cookie in this answer
	err     error
}

func newError(status int, code string, err error) *apiError {
	return &apiError{status: status, code: code, err: err}
}

// writeError sends e as {"code","message"} (clearing the session first when
// asked) and logs it: 4xx at Info, 5xx at Error.
func (a *Agent) writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	if e.clear {
		a.clearSession(w, r, false)
	}
	msg := e.message
	if msg == "" {
		msg = messages[e.code]
	}
	if msg == "" {
		msg = "The request failed"
	}
	level := slog.LevelInfo
	if e.status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{slog.String("path", r.URL.Path), slog.Int("status", e.status), slog.String("code", e.code)}
	if e.err != nil {
		attrs = append(attrs, slog.String("reason", e.err.Error()))
	}
	a.log.LogAttrs(r.Context(), level, "agent request refused", attrs...)
	writeJSON(w, e.status, map[string]string{"code": e.code, "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"server_error","message":"A technical problem occurred in the OAuth Agent"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// fromFAPI maps a fapi error to an answer (DESIGN §3):
//   - the AS rejected a back-channel request (4xx OAuth error or status):
//     400 authorization_error;
//   - the AS is unreachable, slow or answered 5xx, or its metadata is
//     unusable: 502 authorization_server_error;
//   - a response failed validation (authorization response, JARM, ID token,
//     token response; CASES H08, H09): 400 invalid_request, no session;
//   - a front-channel error: its own code, 400 (401 for login_required);
//   - anything else (our configuration): 500 server_error.
func fromFAPI(err error) *apiError {
	var oe *fapi.OAuthError
	var he *fapi.HTTPError
	switch {
	case errors.As(err, &oe) && oe.Endpoint == "authorization":
		return frontChannelError(oe, err)
	case errors.Is(err, fapi.ErrUnavailable), errors.Is(err, fapi.ErrMetadata), errors.Is(err, fapi.ErrNoEndpoint):
		return newError(http.StatusBadGateway, codeASError, err)
	case errors.As(err, &oe) && oe.Status >= 400 && oe.Status < 500:
		return newError(http.StatusBadRequest, codeAuthz, err)
	case errors.As(err, &he) && he.Status >= 400 && he.Status < 500:
		return newError(http.StatusBadRequest, codeAuthz, err)
	case errors.Is(err, fapi.ErrInvalidAuthorizationResponse), errors.Is(err, fapi.ErrInvalidIDToken),
		errors.Is(err, fapi.ErrInvalidTokenResponse), errors.Is(err, fapi.ErrReservedParameter):
		return newError(http.StatusBadRequest, codeInvalid, err)
	case errors.Is(err, fapi.ErrInvalidUserInfo), errors.Is(err, fapi.ErrUnexpectedResponse):
		return newError(http.StatusBadGateway, codeASError, err)
	}
	return newError(http.StatusInternalServerError, codeServer, err)
}

// frontChannelError passes the AS's error code on (sanitised to the RFC 6749
// §4.1.2.1 shape we expect) with its description as the message.
func frontChannelError(oe *fapi.OAuthError, err error) *apiError {
	code := oe.Code
	if !validErrorCode(code) {
		code = codeAuthz
	}
	status := http.StatusBadRequest
	if code == codeLoginReq {
		status = http.StatusUnauthorized
	}
	msg := "Login failed at the Authorization Server"
	if d := oe.Description; d != "" && len(d) <= 256 && printableASCII(d) {
		msg = d
	}
	return &apiError{status: status, code: code, message: msg, err: err}
}

func validErrorCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// staleMetadata reports failures after which discovery should be repeated:
// an endpoint that moved or vanished, an unknown signing key, unusable
// metadata, or an unreachable server.
func staleMetadata(err error) bool {
	var he *fapi.HTTPError
	return errors.Is(err, jws.ErrNoKey) || errors.Is(err, fapi.ErrNoEndpoint) || errors.Is(err, fapi.ErrMetadata) ||
		errors.Is(err, fapi.ErrUnavailable) || (errors.As(err, &he) && (he.Status == 404 || he.Status == 405))
}
