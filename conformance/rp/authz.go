package rp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
)

// par is the pushed authorization request endpoint (RFC 9126): POST, client
// authentication, no request_uri, the request object (JAR) verified with the
// client's keys, the authorization parameters checked, an optional DPoP
// proof (nonce demanded), then 201 {request_uri, expires_in}.
func (rn *run) par(w http.ResponseWriter, r *http.Request, onMTLS bool) {
	if r.Method != http.MethodPost {
		rn.refuse(w, http.StatusMethodNotAllowed, "invalid_request", "PAR with method %s, not POST", r.Method)
		return
	}
	if err := r.ParseForm(); err != nil || len(r.URL.Query()) > 0 {
		rn.refuse(w, http.StatusBadRequest, "invalid_request", "PAR body does not parse, or parameters in the query")
		return
	}
	form := r.PostForm
	if form.Has("request_uri") {
		rn.refuse(w, http.StatusBadRequest, "invalid_request", "PAR request carries request_uri (RFC 9126 §2.1)")
		return
	}
	if err := rn.checkClientAuth(r, form, "par", onMTLS); err != nil {
		rn.refuse(w, http.StatusUnauthorized, "invalid_client", "%v", err)
		return
	}
	params, err := rn.requestParams(form)
	if err == nil {
		err = rn.checkAuthzParams(params)
	}
	if err != nil {
		rn.refuse(w, http.StatusBadRequest, "invalid_request", "PAR: %v", err)
		return
	}
	rec := &parRecord{params: params, expires: time.Now().Add(90 * time.Second)}
	if rn.v.dpop() && r.Header.Get("DPoP") != "" {
		rec.jkt, err = rn.checkDPoP(r, proofCheck{method: http.MethodPost, url: rn.endpointURL(epPAR, onMTLS), nonce: rn.nonceFor(false)})
		if errors.Is(err, errNonce) {
			rn.demandNonce(w, false)
			return
		}
		if err != nil {
			rn.refuse(w, http.StatusBadRequest, "invalid_dpop_proof", "PAR: %v", err)
			return
		}
	}
	if dj := form.Get("dpop_jkt"); dj != "" && dj != rec.jkt {
		rn.refuse(w, http.StatusBadRequest, "invalid_request", "PAR: dpop_jkt is not the thumbprint of the DPoP proof key")
		return
	}
	uri := "urn:ietf:params:oauth:request_uri:" + randomString(24)
	rn.mu.Lock()
	rn.pars[uri] = rec
	rn.mu.Unlock()
	rn.rotateNonce(false)
	writeJSON(w, http.StatusCreated, map[string]any{"request_uri": uri, "expires_in": 90})
}

// demandNonce answers use_dpop_nonce (RFC 9449 §8 at the authorization
// server, §9 at the resource) with the current nonce.
func (rn *run) demandNonce(w http.ResponseWriter, rs bool) {
	w.Header().Set("DPoP-Nonce", rn.nonceFor(rs))
	if !rs {
		oauthError(w, http.StatusBadRequest, "use_dpop_nonce", "Authorization server requires nonce in DPoP proof")
		return
	}
	scheme := "DPoP"
	if rn.mod.rsNonceScheme != "" {
		scheme = rn.mod.rsNonceScheme
	}
	w.Header().Set("WWW-Authenticate", scheme+` error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`)
	w.WriteHeader(http.StatusUnauthorized)
}

// requestParams returns the effective authorization request: the verified
// request object's claims, or (unsigned variants) the form. Like the suite,
// an unsigned variant still verifies a request object when one is sent,
// with client.jwks, which the suite holds only for private_key_jwt.
func (rn *run) requestParams(form url.Values) (map[string]any, error) {
	ro := form.Get("request")
	if ro == "" {
		if rn.v.signed() {
			return nil, fmt.Errorf("no request object (FAPI 2.0 Message Signing 5.3.2-1)")
		}
		p := map[string]any{}
		for k, v := range form {
			if !strings.HasPrefix(k, "client_assertion") {
				p[k] = v[0]
			}
		}
		return p, nil
	}
	if !rn.v.signed() && rn.v.mtlsAuth() {
		return nil, fmt.Errorf("a request object in an unsigned tls_client_auth run: the suite has no client.jwks to verify it with")
	}
	payload, h, err := jws.Verify(ro, rn.s.client.keys)
	if err != nil {
		return nil, fmt.Errorf("request object: %w", err)
	}
	if h.Typ != fapi.TypRequestObject {
		rn.warn("request object typ %q is not %s (JAR §4)", h.Typ, fapi.TypRequestObject)
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("request object claims: %w", err)
	}
	if err := rn.checkRequestObject(c); err != nil {
		return nil, err
	}
	var p map[string]any
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, err
	}
	return p, nil
}

// checkRequestObject: iss = client_id, aud contains the issuer, exp within
// 60 minutes and not more than 5 minutes past, nbf present and within the
// last 60 minutes (MS 5.3.2), no nested request, sub never the client_id.
func (rn *run) checkRequestObject(c map[string]json.RawMessage) error {
	id := rn.s.client.id
	var aud fapi.Audience
	if json.Unmarshal(c["aud"], &aud) != nil || !aud.Contains(rn.issuer) {
		return fmt.Errorf("request object aud %s does not name the issuer", short(string(c["aud"])))
	}
	now := time.Now()
	exp, okExp := num(c, "exp")
	nbf, okNbf := num(c, "nbf")
	_, nested := c["request"]
	_, nestedURI := c["request_uri"]
	switch {
	case str(c, "iss") != id:
		return fmt.Errorf("request object iss is not the client id")
	case !okExp || exp.After(now.Add(60*time.Minute)) || exp.Before(now.Add(-5*time.Minute)):
		return fmt.Errorf("request object exp missing, more than 60 min ahead or expired")
	case !okNbf:
		return fmt.Errorf("request object without nbf (FAPI 2.0 Message Signing 5.3.2-3)")
	case nbf.Before(now.Add(-60*time.Minute)) || nbf.After(now.Add(5*time.Minute)):
		return fmt.Errorf("request object nbf more than 60 min past or in the future")
	case nested || nestedURI:
		return fmt.Errorf("request object contains request or request_uri")
	case str(c, "sub") == id:
		return fmt.Errorf("request object sub is the client id (JAR §10.8)")
	}
	return nil
}

// checkAuthzParams checks the effective authorization request.
func (rn *run) checkAuthzParams(p map[string]any) error {
	s := func(k string) string { v, _ := p[k].(string); return v }
	scope := s("scope")
	_, hasClaims := p["claims"]
	switch {
	case s("response_type") != "code":
		return fmt.Errorf("response_type %q, want code", s("response_type"))
	case s("client_id") != rn.s.client.id:
		return fmt.Errorf("client_id %q in the request", s("client_id"))
	case s("redirect_uri") != rn.s.client.redirectURI:
		return fmt.Errorf("redirect_uri %q is not the registered %q", s("redirect_uri"), rn.s.client.redirectURI)
	case scope != rn.scope:
		return fmt.Errorf("scope %q is not exactly the configured %q", scope, rn.scope)
	case containsWord(scope, "openid") != rn.v.oidc():
		return fmt.Errorf("scope %q: openid must be requested exactly when the client type is oidc", scope)
	case s("code_challenge") == "" || s("code_challenge_method") != "S256":
		return fmt.Errorf("PKCE: code_challenge missing or method %q, not S256 (FAPI 2.0 SP 5.3.3.2-3)", s("code_challenge_method"))
	case rn.v.jarm() && s("response_mode") != "jwt":
		return fmt.Errorf("response_mode %q in a JARM run, want jwt", s("response_mode"))
	case !rn.v.jarm() && s("response_mode") != "" && s("response_mode") != "query":
		return fmt.Errorf("response_mode %q in a plain-response run", s("response_mode"))
	case !rn.v.oidc() && hasClaims:
		return fmt.Errorf("claims parameter in a plain OAuth request")
	}
	if st := s("state"); len(st) > 128 {
		rn.warn("state longer than 128 characters")
	}
	if n := s("nonce"); len(n) > 43 {
		rn.warn("nonce longer than 43 characters")
	}
	return nil
}

// authorize is the authorization endpoint: only client_id and request_uri
// (FAPI 2.0 SP 5.3.3.2-6), the pushed request used once, then straight back
// to the redirect_uri with code, state and iss, or a JARM response — as the
// module bends them.
func (rn *run) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if k != "client_id" && k != "request_uri" {
			rn.refuse(w, http.StatusBadRequest, "invalid_request", "authorization request carries %q: only client_id and request_uri are allowed after PAR (FAPI 2.0 SP 5.3.3.2-6)", k)
			return
		}
	}
	if r.Method != http.MethodGet || q.Get("client_id") != rn.s.client.id {
		rn.refuse(w, http.StatusBadRequest, "invalid_request", "authorization request: method %s, client_id %q", r.Method, q.Get("client_id"))
		return
	}
	rn.mu.Lock()
	par := rn.pars[q.Get("request_uri")]
	ok := par != nil && !par.used && time.Now().Before(par.expires)
	if ok {
		par.used = true
	}
	rn.mu.Unlock()
	if !ok {
		rn.refuse(w, http.StatusBadRequest, "invalid_request_uri", "request_uri unknown, used before or expired")
		return
	}
	loc, err := rn.authorizationResponse(par)
	if err != nil {
		rn.refuse(w, http.StatusInternalServerError, "server_error", "building the response: %v", err)
		return
	}
	rn.rotateNonce(false)
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusFound)
}

func (rn *run) authorizationResponse(par *parRecord) (string, error) {
	state, _ := par.params["state"].(string)
	nonce, _ := par.params["nonce"].(string)
	code := randomString(32)
	rn.mu.Lock()
	rn.codes[code] = &codeRecord{par: par, issued: time.Now()}
	rn.sentState, rn.sentNonce = state != "", nonce != ""
	if (rn.mod.requires == "state" && state == "") || (rn.mod.requires == "nonce" && nonce == "") {
		rn.skipped = "the client sent no " + rn.mod.requires + ", so this module cannot run"
	}
	fault := rn.mod.fault == faultAuthzResponse && rn.skipped == ""
	rn.mu.Unlock()
	q := url.Values{}
	if rn.v.jarm() {
		c := map[string]any{"iss": rn.issuer, "aud": rn.s.client.id, "exp": time.Now().Add(10 * time.Minute).Unix(),
			"iat": time.Now().Unix(), "code": code}
		if state != "" {
			c["state"] = state
		}
		if rn.mod.jarmClaims != nil {
			rn.mod.jarmClaims(c, rn.issuer)
		}
		jwt, err := rn.sign(c, rn.mod.jarmSign, "")
		if err != nil {
			return "", err
		}
		q.Set("response", jwt)
	} else {
		q.Set("code", code)
		q.Set("iss", rn.issuer)
		if state != "" {
			q.Set("state", state)
		}
		if rn.mod.authzParams != nil {
			rn.mod.authzParams(q, rn.issuer)
		}
	}
	if fault {
		rn.mu.Lock()
		rn.faultSent = true
		rn.mu.Unlock()
	}
	sep := "?"
	if strings.Contains(rn.s.client.redirectURI, "?") {
		sep = "&"
	}
	return rn.s.client.redirectURI + sep + q.Encode(), nil
}

// sign signs claims as the module asks: well, with alg none, with RS256, or
// with a damaged signature.
func (rn *run) sign(claims map[string]any, kind sigKind, typ string) (string, error) {
	switch kind {
	case sigNone:
		return compactJWS(map[string]any{"alg": "none"}, claims, nil)
	case sigRS256:
		return compactJWS(map[string]any{"alg": "RS256", "kid": altKid}, claims, rs256(rn.serverKeys().alt))
	case sigCorrupted:
		jwt, err := signWith(rn.serverKeys().signer, claims, typ)
		return corruptSignature(jwt), err
	}
	return signWith(rn.serverKeys().signer, claims, typ)
}

func containsWord(list, w string) bool {
	for _, f := range strings.Fields(list) {
		if f == w {
			return true
		}
	}
	return false
}
