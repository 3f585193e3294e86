package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/cillers/fapid/fapi"
)

// sessionResponse is the GET session answer.
type sessionResponse struct {
	IsLoggedIn           bool            `json:"isLoggedIn"`
	IDTokenClaims        json.RawMessage `json:"idTokenClaims,omitempty"`
	AccessTokenExpiresIn *int64          `json:"accessTokenExpiresIn,omitempty"`
}

// session handles GET session: whether the browser holds a session, the ID
// token's claims, and the seconds until the access token expires (0 when
// it has; absent when unknown).
func (a *Agent) session(w http.ResponseWriter, r *http.Request) {
	s, ae := a.loadSession(r)
	if ae != nil {
		a.writeError(w, r, ae)
		return
	}
	res := sessionResponse{IsLoggedIn: s != nil}
	if s != nil {
		if s.idToken != "" {
			if p, err := jwtPayload(s.idToken); err == nil {
				res.IDTokenClaims = p
			}
		}
		if !s.atExp.IsZero() {
			n := int64(s.atExp.Sub(a.now()) / time.Second)
			n = max(n, 0)
			res.AccessTokenExpiresIn = &n
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// userInfo handles GET userInfo: the authorization server's userinfo answer
// for the session's access token (sent with its binding: the mTLS client
// certificate or a DPoP proof with ath). An expired or rejected token is
// 401 token_expired: the SPA refreshes and retries.
func (a *Agent) userInfo(w http.ResponseWriter, r *http.Request) {
	s, ae := a.requireSession(r, false)
	if ae != nil {
		a.writeError(w, r, ae)
		return
	}
	if !s.atExp.IsZero() && !a.now().Before(s.atExp) {
		a.writeError(w, r, newError(http.StatusUnauthorized, codeTokenExpired, errors.New("access token expired")))
		return
	}
	a.freshMetadata(r.Context())
	ui, err := a.client.UserInfo(r.Context(), s.at, fapi.UserInfoOptions{Subject: s.sub})
	if err != nil {
		a.noteFailure(err)
		var oe *fapi.OAuthError
		var he *fapi.HTTPError
		if (errors.As(err, &oe) && oe.Status == http.StatusUnauthorized) || (errors.As(err, &he) && he.Status == http.StatusUnauthorized) {
			a.writeError(w, r, newError(http.StatusUnauthorized, codeTokenExpired, err))
			return
		}
		a.writeError(w, r, fromFAPI(err))
		return
	}
	writeJSON(w, http.StatusOK, ui.Claims)
}

// claims handles GET claims: the ID token's payload (validated at login or
// refresh, kept sealed since).
func (a *Agent) claims(w http.ResponseWriter, r *http.Request) {
	s, ae := a.requireSession(r, false)
	if ae != nil {
		a.writeError(w, r, ae)
		return
	}
	if s.idToken == "" {
		a.writeError(w, r, newError(http.StatusUnauthorized, codeUnauthorized, errors.New("the session has no ID token")))
		return
	}
	p, err := jwtPayload(s.idToken)
	if err != nil {
		a.writeError(w, r, &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, clear: true, err: errors.New("sealed ID token does not decode")})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(p)
}

// logoutTimeout bounds the best-effort revocation at logout.
const logoutTimeout = 5 * time.Second

// logout handles POST logout: every cookie is cleared (with the attributes
// it was set with), the refresh token revoked (unless KeepGrantOnLogout),
// and the answer carries the end-session URL (client_id, the configured
// post_logout_redirect_uri, and id_token_hint only with LogoutIDTokenHint:
// the URL reaches the browser) when the server has one. The
// local logout happens even when the server cannot be reached.
func (a *Agent) logout(w http.ResponseWriter, r *http.Request) {
	s, ae := a.requireSession(r, true)
	if ae != nil {
		a.writeError(w, r, ae)
		return
	}
	ctx := r.Context()
	a.freshMetadata(ctx)
	if s.rt != "" && !a.cfg.KeepGrantOnLogout {
		rctx, cancel := context.WithTimeout(ctx, logoutTimeout)
		err := a.client.Revoke(rctx, s.rt, "refresh_token")
		cancel()
		if err != nil && !errors.Is(err, fapi.ErrNoEndpoint) {
			a.noteFailure(err)
			a.log.WarnContext(ctx, "agent: revoking the refresh token at logout failed", "error", err.Error())
		}
	}
	res := map[string]string{}
	hint := ""
	if a.cfg.LogoutIDTokenHint {
		hint = s.idToken
	}
	u, err := a.client.EndSessionURL(ctx, hint, "")
	switch {
	case err == nil:
		res["url"] = u
	case errors.Is(err, fapi.ErrNoEndpoint):
	default:
		a.noteFailure(err)
		a.log.WarnContext(ctx, "agent: no end-session URL", "error", err.Error())
	}
	a.clearSession(w, r, true)
	a.log.InfoContext(ctx, "agent: logout", "end_session", res["url"] != "")
	writeJSON(w, http.StatusOK, res)
}
