package agent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// session is what the browser's cookies say.
type session struct {
	at      string
	rt      string
	idToken string
	csrf    string
	sub     string
	atExp   time.Time // zero when unknown
	expires time.Time // absolute end of the session; zero when unknown (curity-v1)
}

// record is the data of the -rt cookie in the native format: the refresh
// token and what the session needs to know without opening the others.
type record struct {
	RT    string `json:"rt,omitempty"`
	ATExp int64  `json:"ate,omitempty"` // Unix seconds; 0 when the AS sent no expires_in
	Sub   string `json:"sub,omitempty"`
}

// maxRecord bounds the -rt data before it is parsed.
const maxRecord = 16 << 10

// parseRecord decodes -rt data: one JSON object, no unknown or repeated members.
func parseRecord(data []byte) (record, error) {
	var rec record
	if len(data) > maxRecord {
		return rec, errInvalid
	}
	if _, err := strictObject(data, map[string]any{"rt": &rec.RT, "ate": &rec.ATExp, "sub": &rec.Sub}); err != nil {
		return rec, errInvalid
	}
	if rec.ATExp < 0 {
		return rec, errInvalid
	}
	return rec, nil
}

// loadSession reads the session cookies. No session cookie at all gives
// (nil, nil). A cookie that is present but does not open, or a session
// missing one of its parts, gives 401 unauthorized_request with every
// session cookie cleared (CASES H05): a corrupt session never half works.
func (a *Agent) loadSession(r *http.Request) (*session, *apiError) {
	var data [5][]byte
	var exp [5]time.Time
	present := false
	corrupt := false
	for _, k := range sessionKinds {
		d, e, err := a.jar.read(r, k)
		switch {
		case err == nil:
			data[k], exp[k], present = d, e, true
		case errors.Is(err, errInvalid):
			present, corrupt = true, true
		}
	}
	if !present {
		return nil, nil
	}
	bad := &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, clear: true,
		err: errors.New("session cookies missing, tampered with or expired")}
	required := []kind{kindAT, kindRT, kindCSRF}
	if a.cfg.Compat == CompatCurityV1 {
		required = []kind{kindAT, kindCSRF}
	}
	for _, k := range required {
		if data[k] == nil {
			corrupt = true
		}
	}
	if corrupt || len(data[kindCSRF]) == 0 || len(data[kindAT]) == 0 {
		return nil, bad
	}
	s := &session{at: string(data[kindAT]), csrf: string(data[kindCSRF]), idToken: string(data[kindID])}
	if a.jar.sealsExpiry() {
		s.expires = exp[kindCSRF]
		rec, err := parseRecord(data[kindRT])
		if err != nil {
			return nil, bad
		}
		s.rt, s.sub = rec.RT, rec.Sub
		if rec.ATExp > 0 {
			s.atExp = time.Unix(rec.ATExp, 0)
		}
	} else {
		s.rt = string(data[kindRT])
		if s.idToken != "" {
			var cl struct {
				Sub string `json:"sub"`
			}
			if p, err := jwtPayload(s.idToken); err == nil {
				_ = json.Unmarshal(p, &cl)
			}
			s.sub = cl.Sub
		}
	}
	return s, nil
}

// writeSession sets the session cookies, all or none: they are made in a
// buffer and added to w only when every one could be sealed. The -id cookie
// is deleted when the session has no ID token.
func (a *Agent) writeSession(w http.ResponseWriter, r *http.Request, s *session) error {
	buf := &cookieBuffer{h: http.Header{}}
	if err := a.sessionCookies(buf, r, s); err != nil {
		return err
	}
	for _, line := range buf.h["Set-Cookie"] {
		w.Header().Add("Set-Cookie", line)
	}
	return nil
}

// cookieBuffer collects Set-Cookie lines.
type cookieBuffer struct{ h http.Header }

func (b *cookieBuffer) Header() http.Header         { return b.h }
func (b *cookieBuffer) Write(p []byte) (int, error) { return len(p), nil }
func (b *cookieBuffer) WriteHeader(int)             {}

func (a *Agent) sessionCookies(w http.ResponseWriter, r *http.Request, s *session) error {
	exp := s.expires
	if exp.IsZero() { // curity-v1 sessions have no sealed end: give the cookies one
		exp = a.now().Add(a.cfg.SessionLifetime)
	}
	rt := []byte(s.rt)
	if a.jar.sealsExpiry() {
		rec := record{RT: s.rt, Sub: s.sub}
		if !s.atExp.IsZero() {
			rec.ATExp = s.atExp.Unix()
		}
		var err error
		if rt, err = json.Marshal(rec); err != nil {
			return err
		}
	}
	if err := a.jar.write(w, r, kindAT, []byte(s.at), exp); err != nil {
		return err
	}
	if len(rt) > 0 {
		if err := a.jar.write(w, r, kindRT, rt, exp); err != nil {
			return err
		}
	} else {
		a.jar.expire(w, r, kindRT)
	}
	if s.idToken != "" {
		if err := a.jar.write(w, r, kindID, []byte(s.idToken), exp); err != nil {
			return err
		}
	} else {
		a.jar.expire(w, r, kindID)
	}
	return a.jar.write(w, r, kindCSRF, []byte(s.csrf), exp)
}

// clearSession deletes every session cookie (and the login cookie when
// withLogin), with the attributes they were set with.
func (a *Agent) clearSession(w http.ResponseWriter, r *http.Request, withLogin bool) {
	kinds := sessionKinds
	if withLogin {
		kinds = allKinds
	}
	for _, k := range kinds {
		a.jar.expire(w, r, k)
	}
}

// jwtPayload decodes the payload of a compact JWS without verifying it. It
// is used only on ID tokens that were validated when the session was made
// and have since been kept sealed.
func jwtPayload(jwt string) ([]byte, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errInvalid
	}
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || !json.Valid(p) || !bytes.HasPrefix(bytes.TrimSpace(p), []byte("{")) {
		return nil, errInvalid
	}
	return p, nil
}
