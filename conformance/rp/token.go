package rp

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/cillers/fapid/fapi"
)

// token is the token endpoint: on the mTLS alias with the registered
// certificate when mTLS authenticates or binds; client authentication; a
// DPoP proof (nonce demanded, no ath, the PAR key); the code once, within
// 60 s, with the redirect_uri and a PKCE verifier never used before; then
// tokens bound to the certificate or the DPoP key, and an ID token for
// OpenID Connect — as the module bends them.
func (rn *run) token(w http.ResponseWriter, r *http.Request, onMTLS bool) {
	if r.Method != http.MethodPost {
		rn.refuse(w, http.StatusMethodNotAllowed, "invalid_request", "token request with method %s", r.Method)
		return
	}
	if err := r.ParseForm(); err != nil || len(r.URL.Query()) > 0 {
		rn.refuse(w, http.StatusBadRequest, "invalid_request", "token request body does not parse, or parameters in the query")
		return
	}
	form := r.PostForm
	if rn.v.usesMTLS() {
		if err := rn.checkCert(r, onMTLS, "token", "mTLS client authentication or certificate-bound tokens"); err != nil {
			rn.refuse(w, http.StatusUnauthorized, "invalid_client", "%v", err)
			return
		}
	}
	if err := rn.checkClientAuth(r, form, "token", onMTLS); err != nil {
		rn.refuse(w, http.StatusUnauthorized, "invalid_client", "%v", err)
		return
	}
	if gt := form.Get("grant_type"); gt != "authorization_code" {
		rn.refuse(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type %q (this test plan redeems one code)", gt)
		return
	}
	rn.mu.Lock()
	cr := rn.codes[form.Get("code")]
	rn.mu.Unlock()
	bound := &tokenRecord{}
	if rn.v.dpop() {
		var jkt string
		var err error
		if cr != nil {
			jkt = cr.par.jkt
		}
		bound.jkt, err = rn.checkDPoP(r, proofCheck{method: http.MethodPost, url: rn.endpointURL(epToken, onMTLS), jkt: jkt, nonce: rn.nonceFor(false)})
		if errors.Is(err, errNonce) {
			rn.demandNonce(w, false)
			return
		}
		if err != nil {
			rn.refuse(w, http.StatusBadRequest, "invalid_dpop_proof", "token: %v", err)
			return
		}
	} else {
		bound.x5t = thumbprint(peerCert(r))
	}
	if err := rn.redeem(cr, form); err != nil {
		rn.refuse(w, http.StatusBadRequest, "invalid_grant", "token: %v", err)
		return
	}
	res, err := rn.tokenResponse(cr, bound)
	if err != nil {
		rn.refuse(w, http.StatusInternalServerError, "server_error", "token: %v", err)
		return
	}
	rn.rotateNonce(false)
	rn.mu.Lock()
	if rn.mod.fault == faultIDToken && rn.skipped == "" {
		rn.faultSent = true
	}
	rn.mu.Unlock()
	writeJSON(w, http.StatusOK, res)
}

// redeem checks and uses the code: single use, 60 s, redirect_uri, PKCE.
func (rn *run) redeem(cr *codeRecord, form url.Values) error {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if cr == nil || cr.used {
		return fmt.Errorf("code unknown or used before")
	}
	cr.used = true
	if time.Since(cr.issued) > 60*time.Second {
		return fmt.Errorf("code older than 60 s")
	}
	if form.Get("redirect_uri") != rn.s.client.redirectURI {
		return fmt.Errorf("redirect_uri %q is not the registered one", form.Get("redirect_uri"))
	}
	v := form.Get("code_verifier")
	challenge, _ := cr.par.params["code_challenge"].(string)
	if v == "" || fapi.PKCEChallenge(v) != challenge {
		return fmt.Errorf("PKCE code_verifier missing or not matching the S256 challenge")
	}
	if rn.verifiers[v] {
		return fmt.Errorf("PKCE code_verifier used before")
	}
	rn.verifiers[v] = true
	if len(v) < 43 {
		rn.warnings = append(rn.warnings, "PKCE verifier shorter than 43 characters")
	}
	return nil
}

// tokenResponse issues the tokens and, with openid, the ID token.
func (rn *run) tokenResponse(cr *codeRecord, bound *tokenRecord) (map[string]any, error) {
	at := randomString(32)
	rn.mu.Lock()
	rn.tokens[at] = bound
	rn.mu.Unlock()
	res := map[string]any{
		"access_token": at, "token_type": rn.v.tokenType(), "expires_in": 900,
		"refresh_token": randomString(32), "scope": rn.scope,
	}
	if containsWord(rn.scope, "openid") {
		nonce, _ := cr.par.params["nonce"].(string)
		now := time.Now()
		c := map[string]any{"iss": rn.issuer, "sub": testSubject, "aud": rn.s.client.id,
			"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "auth_time": now.Unix()}
		if nonce != "" {
			c["nonce"] = nonce
		}
		if rn.mod.idClaims != nil {
			rn.mod.idClaims(c, rn.issuer, rn.s.client.id)
		}
		idt, err := rn.sign(c, rn.mod.idSign, "")
		if err != nil {
			return nil, err
		}
		res["id_token"] = idt
	}
	if rn.mod.tokenResponse != nil {
		rn.mod.tokenResponse(res)
	}
	return res, nil
}

// testSubject is the one user of the test server.
const testSubject = "conformance-user"

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// userinfo plays the suite's resource (accounts) endpoint: the only
// resource the OAuth Agent calls for a browser is the userinfo endpoint.
// The token only in the Authorization header (RFC 6750 §2.1, never the
// query); mTLS-bound: on the mTLS alias with the bound certificate; DPoP:
// scheme DPoP, a proof with ath and the token's key, the resource nonce
// demanded first (RFC 9449 §9).
func (rn *run) userinfo(w http.ResponseWriter, r *http.Request, onMTLS bool) {
	if r.URL.Query().Has("access_token") {
		rn.refuse(w, http.StatusBadRequest, "invalid_request", "access token in the query (RFC 6750 §2.3, FAPI 2.0 SP 5.3.4-2)")
		return
	}
	if id := r.Header.Get("x-fapi-interaction-id"); id != "" {
		if !uuidRE.MatchString(id) {
			rn.violate("x-fapi-interaction-id %q is not a UUID", short(id))
		}
		w.Header().Set("x-fapi-interaction-id", id)
	}
	authz := r.Header.Values("Authorization")
	var scheme, at string
	if len(authz) == 1 {
		scheme, at, _ = strings.Cut(authz[0], " ")
	}
	rn.mu.Lock()
	tr := rn.tokens[at]
	rn.mu.Unlock()
	switch {
	case tr == nil:
		rn.refuse(w, http.StatusUnauthorized, "invalid_token", "resource call without a known access token in one Authorization header")
		return
	case !strings.EqualFold(scheme, rn.v.tokenType()):
		rn.refuse(w, http.StatusUnauthorized, "invalid_token", "resource call with scheme %q, want %s", scheme, rn.v.tokenType())
		return
	}
	if rn.v.mtlsBound() {
		err := rn.checkCert(r, onMTLS, "resource (userinfo)", "certificate-bound token")
		if err == nil && thumbprint(peerCert(r)) != tr.x5t {
			err = errors.New("the certificate is not the one the token is bound to (cnf x5t#S256)")
		}
		if err != nil {
			rn.refuse(w, http.StatusUnauthorized, "invalid_token", "resource: %v", err)
			return
		}
	} else {
		_, err := rn.checkDPoP(r, proofCheck{method: r.Method, url: rn.endpointURL(epUserinfo, onMTLS), token: at, jkt: tr.jkt, nonce: rn.nonceFor(true)})
		if errors.Is(err, errNonce) {
			rn.demandNonce(w, true)
			return
		}
		if err != nil {
			rn.refuse(w, http.StatusUnauthorized, "invalid_dpop_proof", "resource: %v", err)
			return
		}
	}
	rn.rotateNonce(true)
	rn.mu.Lock()
	rn.resourceOK = true
	rn.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"sub": testSubject, "name": "Conformance User", "account": "12345678"})
}

// thumbprint is RFC 8705 §3.1 x5t#S256 ("" without a certificate).
func thumbprint(der []byte) string {
	if der == nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return b64.EncodeToString(sum[:])
}
