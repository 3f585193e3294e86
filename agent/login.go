package agent

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
)

// loginData is the sealed content of the login cookie. codeVerifier and
// state repeat the login state under the names Curity's Gen-1 agent reads,
// so that with CompatCurityV1 a login started here can be finished by
// Curity's agent during a migration.
type loginData struct {
	CodeVerifier string          `json:"codeVerifier,omitempty"`
	State        string          `json:"state,omitempty"`
	Login        fapi.LoginState `json:"fapid"`
}

// loginStart handles POST login/start: checks the extra parameters (CASES
// H01: a protocol parameter is 400 invalid_request before any call to the
// authorization server), pushes a signed authorization request (PAR + JAR,
// and DPoP with a DPoP-bound client), seals the login state into the
// login cookie (10 min) and returns the authorization URL, which carries
// only client_id and request_uri.
func (a *Agent) loginStart(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, maxStartBody)
	if err != nil {
		a.writeError(w, r, newError(http.StatusBadRequest, codeInvalid, err))
		return
	}
	extra, err := parseStartBody(body, a.extra)
	if err != nil {
		a.writeError(w, r, newError(http.StatusBadRequest, codeInvalid, err))
		return
	}
	a.freshMetadata(r.Context())
	start, err := a.client.PushAuthorizationRequest(r.Context(), fapi.AuthorizationRequest{Extra: extra})
	if err != nil {
		a.noteFailure(err)
		a.writeError(w, r, fromFAPI(err))
		return
	}
	ld := loginData{Login: start.Login}
	if a.cfg.Compat == CompatCurityV1 {
		ld.CodeVerifier, ld.State = start.Login.CodeVerifier, start.Login.State
	}
	data, err := json.Marshal(ld)
	if err == nil {
		err = a.jar.write(w, r, kindLogin, data, a.now().Add(LoginLifetime))
	}
	if err != nil {
		a.writeError(w, r, newError(http.StatusInternalServerError, codeServer, err))
		return
	}
	a.log.InfoContext(r.Context(), "agent: login started", "extra_params", len(extra))
	writeJSON(w, http.StatusOK, map[string]string{"authorizationRequestUrl": start.URL})
}

// loginEndResponse is the login/end answer.
type loginEndResponse struct {
	Handled    bool   `json:"handled"`
	IsLoggedIn bool   `json:"isLoggedIn"`
	CSRF       string `json:"csrf,omitempty"`
}

// loginEnd handles POST login/end. A page URL without an authorization
// response (code+state, error+state, or a JARM response) is a page load:
// the answer says whether a session exists. Otherwise the response is
// checked against the login cookie (single use: the cookie is cleared and
// the state remembered whatever the outcome), validated by fapi (iss and
// state, or the JARM signature and claims), the code is redeemed (PKCE,
// DPoP binding, ID token with nonce), and the session cookies are set.
func (a *Agent) loginEnd(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, maxEndBody)
	if err != nil {
		a.writeError(w, r, newError(http.StatusBadRequest, codeInvalid, err))
		return
	}
	pageURL, err := parseEndBody(body)
	if err != nil {
		a.writeError(w, r, newError(http.StatusBadRequest, codeInvalid, err))
		return
	}
	p, err := fapi.ParseCallback(pageURL)
	if err != nil {
		a.writeError(w, r, newError(http.StatusBadRequest, codeInvalid, err))
		return
	}
	if !p.IsResponse() {
		a.pageLoad(w, r)
		return
	}
	ls, ae := a.takeLogin(w, r, p)
	if ae != nil {
		a.writeError(w, r, ae)
		return
	}
	ctx := r.Context()
	a.freshMetadata(ctx)
	ar, err := a.client.HandleCallback(ctx, pageURL, ls)
	if err != nil && a.noteFailure(err) && errors.Is(err, jws.ErrNoKey) {
		// A response signed with a key we have not seen: the server may have
		// rotated its keys. Fetch its metadata and keys once more and retry
		// (validation only; nothing has been redeemed yet).
		a.freshMetadata(ctx)
		ar, err = a.client.HandleCallback(ctx, pageURL, ls)
	}
	if err != nil {
		a.writeError(w, r, fromFAPI(err))
		return
	}
	tok, err := a.client.ExchangeCode(ctx, ar.Code, ls, nil)
	if err != nil {
		a.noteFailure(err)
		a.writeError(w, r, fromFAPI(err))
		return
	}
	s, err := a.newSession(tok)
	if err == nil {
		err = a.writeSession(w, r, s)
	}
	if err != nil {
		a.writeError(w, r, newError(http.StatusInternalServerError, codeServer, err))
		return
	}
	a.log.InfoContext(ctx, "agent: login completed", "jarm", ar.JARM, "id_token", s.idToken != "",
		"refresh_token", s.rt != "", "session_expires", s.expires.UTC())
	writeJSON(w, http.StatusOK, loginEndResponse{Handled: true, IsLoggedIn: true, CSRF: s.csrf})
}

// takeLogin opens and clears the login cookie and marks its state used.
// Missing: 400 invalid_request (no login in progress). Undecryptable: 401
// unauthorized_request. A plain response whose state is not the login's:
// 400 invalid_request. A state already redeemed: 400 invalid_request.
func (a *Agent) takeLogin(w http.ResponseWriter, r *http.Request, p *fapi.CallbackParams) (fapi.LoginState, *apiError) {
	data, exp, err := a.jar.read(r, kindLogin)
	if errors.Is(err, errMissing) {
		return fapi.LoginState{}, &apiError{status: http.StatusBadRequest, code: codeInvalid,
			message: "No login is in progress", err: errors.New("authorization response without a login cookie")}
	}
	a.jar.expire(w, r, kindLogin)
	if err != nil {
		return fapi.LoginState{}, newError(http.StatusUnauthorized, codeUnauthorized, errors.New("login cookie does not open"))
	}
	var ld loginData
	if len(data) > maxRecord || json.Unmarshal(data, &ld) != nil {
		return fapi.LoginState{}, newError(http.StatusUnauthorized, codeUnauthorized, errors.New("login cookie is not a login state"))
	}
	ls := ld.Login
	if ls.Issuer != a.client.Issuer() || ls.ClientID != a.client.ClientID() || ls.State == "" {
		return fapi.LoginState{}, newError(http.StatusBadRequest, codeInvalid,
			fmt.Errorf("login was started for issuer %q client %q", ls.Issuer, ls.ClientID))
	}
	if p.Response == "" && subtle.ConstantTimeCompare([]byte(p.State), []byte(ls.State)) != 1 {
		return fapi.LoginState{}, &apiError{status: http.StatusBadRequest, code: codeInvalid,
			message: "State parameter mismatch", err: errors.New("state differs from the login's")}
	}
	if exp.IsZero() {
		exp = a.now().Add(LoginLifetime)
	}
	if !a.states.use(ls.State, exp.Add(fapi.DefaultClockSkew), a.now()) {
		return fapi.LoginState{}, &apiError{status: http.StatusBadRequest, code: codeInvalid,
			message: "The authorization response was already used", err: errors.New("login state redeemed twice")}
	}
	return ls, nil
}

// newSession makes the session of a fresh login: a new CSRF token and an
// absolute end SessionLifetime from now.
func (a *Agent) newSession(tok *fapi.TokenResponse) (*session, error) {
	csrf, err := fapi.RandomValue(a.rand)
	if err != nil {
		return nil, err
	}
	s := &session{at: tok.AccessToken, rt: tok.RefreshToken, csrf: csrf, expires: a.now().Add(a.cfg.SessionLifetime)}
	if tok.IDToken != nil {
		s.idToken, s.sub = tok.IDToken.Raw, tok.IDToken.Subject
	}
	s.atExp = a.atExpiry(tok, s.expires)
	return s, nil
}

// pageLoad answers login/end for a page without an authorization response.
// Corrupt session cookies are cleared and reported as logged out.
func (a *Agent) pageLoad(w http.ResponseWriter, r *http.Request) {
	s, ae := a.loadSession(r)
	if ae != nil {
		a.clearSession(w, r, false)
		a.log.InfoContext(r.Context(), "agent: corrupt session cookies cleared on page load")
	}
	res := loginEndResponse{}
	if s != nil {
		res.IsLoggedIn, res.CSRF = true, s.csrf
	}
	writeJSON(w, http.StatusOK, res)
}
