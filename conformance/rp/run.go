package rp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
)

// run is one module run: the state of the test authorization server it
// plays and everything the client did.
type run struct {
	s      *server
	id     string
	issuer string
	plan   Plan
	v      Variant
	mod    *Module
	scope  string // client.scope: the exact scope string expected
	keys   *serverKeys

	mu         sync.Mutex
	calls      []string // protocol endpoints called, in order
	violations []string // failed "inside every module" checks
	warnings   []string
	skipped    string // the module cannot run (the client sent no state/nonce)
	discovered bool
	faultSent  bool // the module's faulty message went out
	resourceOK bool // a correct resource call was answered

	asNonce, rsNonce string
	assertionJTIs    map[string]bool // client assertion jti, PAR and token together
	proofJTIs        map[string]bool // DPoP proof jti
	verifiers        map[string]bool // PKCE verifiers redeemed
	pars             map[string]*parRecord
	codes            map[string]*codeRecord
	tokens           map[string]*tokenRecord
	sentState        bool
	sentNonce        bool
}

type parRecord struct {
	params  map[string]any // the effective authorization request
	jkt     string         // DPoP key bound at PAR (dpop_jkt or the proof)
	expires time.Time
	used    bool
}

type codeRecord struct {
	par    *parRecord
	issued time.Time
	used   bool
}

type tokenRecord struct {
	x5t, jkt string
}

// serverKeys are the keys this run signs with and publishes.
func (rn *run) serverKeys() *serverKeys {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.keys
}

// violate records a failed check: the module fails with the first one.
func (rn *run) violate(format string, args ...any) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	rn.violations = append(rn.violations, fmt.Sprintf(format, args...))
}

func (rn *run) warn(format string, args ...any) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	rn.warnings = append(rn.warnings, fmt.Sprintf(format, args...))
}

// refuse records a violation and answers with an OAuth error, as the
// suite's test server stops the test.
func (rn *run) refuse(w http.ResponseWriter, status int, code, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	rn.violate("%s", msg)
	oauthError(w, status, code, msg)
}

// checkCert requires the registered client certificate on an mTLS
// connection (EnsureClientCertificateMatches).
func (rn *run) checkCert(r *http.Request, onMTLS bool, ep, why string) error {
	if !onMTLS {
		return fmt.Errorf("%s endpoint called on the front host, not its mtls_endpoint_aliases entry (%s)", ep, why)
	}
	der := peerCert(r)
	if der == nil {
		return fmt.Errorf("%s endpoint called without a client certificate (%s)", ep, why)
	}
	if !bytes.Equal(der, rn.s.client.certDER) {
		return fmt.Errorf("%s endpoint called with a certificate that is not the registered client.certificate", ep)
	}
	return nil
}

// checkClientAuth validates client authentication at PAR and token:
// private_key_jwt (RFC 7523: signature, iss = sub = client_id, aud the
// issuer as a string, jti never reused across PAR and token, exp sane) or
// tls_client_auth (RFC 8705 §2: client_id and the registered certificate).
func (rn *run) checkClientAuth(r *http.Request, form url.Values, ep string, onMTLS bool) error {
	id := rn.s.client.id
	if cid := form["client_id"]; len(cid) > 1 || (len(cid) == 1 && cid[0] != id) {
		return fmt.Errorf("%s: client_id %q is not the registered client", ep, form.Get("client_id"))
	}
	if rn.v.mtlsAuth() {
		if form.Get("client_id") == "" {
			return fmt.Errorf("%s: tls_client_auth without client_id (RFC 8705 §2)", ep)
		}
		if form.Has("client_assertion") {
			return fmt.Errorf("%s: a client assertion sent with tls_client_auth", ep)
		}
		return rn.checkCert(r, onMTLS, ep, "tls_client_auth")
	}
	if form.Get("client_assertion_type") != fapi.ClientAssertionType {
		return fmt.Errorf("%s: client_assertion_type %q", ep, form.Get("client_assertion_type"))
	}
	payload, _, err := jws.Verify(form.Get("client_assertion"), rn.s.client.keys)
	if err != nil {
		return fmt.Errorf("%s: client assertion: %w", ep, err)
	}
	return rn.checkAssertionClaims(payload, ep)
}

func (rn *run) checkAssertionClaims(payload []byte, ep string) error {
	var c map[string]json.RawMessage
	if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("%s: client assertion claims: %w", ep, err)
	}
	id := rn.s.client.id
	if str(c, "iss") != id || str(c, "sub") != id {
		return fmt.Errorf("%s: client assertion iss/sub is not the client id", ep)
	}
	var aud string
	if json.Unmarshal(c["aud"], &aud) != nil {
		return fmt.Errorf("%s: client assertion aud is %s, not the issuer as a string (FAPI 2.0 SP 5.3.3.1-5)", ep, short(string(c["aud"])))
	}
	if aud != rn.issuer {
		return fmt.Errorf("%s: client assertion aud %q is not the issuer %q", ep, aud, rn.issuer)
	}
	now := time.Now()
	exp, ok := num(c, "exp")
	if !ok || exp.Before(now.Add(-5*time.Minute)) || exp.After(now.Add(24*time.Hour)) {
		return fmt.Errorf("%s: client assertion exp missing, expired or more than a day ahead", ep)
	}
	if iat, ok := num(c, "iat"); ok && iat.After(now.Add(24*time.Hour)) {
		return fmt.Errorf("%s: client assertion iat more than a day ahead", ep)
	}
	jti := str(c, "jti")
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if jti == "" {
		return fmt.Errorf("%s: client assertion without jti", ep)
	}
	if rn.assertionJTIs[jti] {
		return fmt.Errorf("%s: client assertion jti reused (RFC 7523 §3)", ep)
	}
	rn.assertionJTIs[jti] = true
	return nil
}

// proofCheck is what a DPoP proof must say.
type proofCheck struct {
	method string
	url    string // exact htu: the suite does not normalise
	token  string // access token: ath required and equal; empty: ath must be absent (AS)
	jkt    string // bound key, when known
	nonce  string // the current nonce; empty: none demanded
}

// errNonce means the proof lacks the current nonce: answer use_dpop_nonce.
var errNonce = fmt.Errorf("use_dpop_nonce")

// checkDPoP validates the one DPoP proof of a request (RFC 9449 §4.3 as the
// suite checks it) and returns its key thumbprint.
func (rn *run) checkDPoP(r *http.Request, pc proofCheck) (string, error) {
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return "", fmt.Errorf("%d DPoP headers, want exactly one", len(proofs))
	}
	payload, h, jkt, err := jws.VerifyEmbedded(proofs[0])
	if err != nil {
		return "", fmt.Errorf("DPoP proof: %w", err)
	}
	if h.Typ != fapi.TypDPoP {
		return "", fmt.Errorf("DPoP proof typ %q", h.Typ)
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", fmt.Errorf("DPoP proof claims: %w", err)
	}
	if err := checkProofClaims(c, pc); err != nil {
		return "", err
	}
	if pc.jkt != "" && jkt != pc.jkt {
		return "", fmt.Errorf("DPoP proof key is not the bound key (cnf.jkt / dpop_jkt)")
	}
	jti := str(c, "jti")
	rn.mu.Lock()
	seen := rn.proofJTIs[jti]
	rn.proofJTIs[jti] = true
	rn.mu.Unlock()
	if seen {
		return "", fmt.Errorf("DPoP proof jti reused")
	}
	if pc.nonce != "" && str(c, "nonce") != pc.nonce {
		return jkt, errNonce
	}
	return jkt, nil
}

func checkProofClaims(c map[string]json.RawMessage, pc proofCheck) error {
	now := time.Now()
	iat, ok := num(c, "iat")
	switch {
	case str(c, "jti") == "":
		return fmt.Errorf("DPoP proof without jti")
	case str(c, "htm") != pc.method:
		return fmt.Errorf("DPoP proof htm %q, want %q", str(c, "htm"), pc.method)
	case str(c, "htu") != pc.url:
		return fmt.Errorf("DPoP proof htu %q is not exactly %q", str(c, "htu"), pc.url)
	case !ok || iat.Before(now.Add(-5*time.Minute)) || iat.After(now.Add(5*time.Minute)):
		return fmt.Errorf("DPoP proof iat missing or more than 5 minutes off")
	}
	_, hasATH := c["ath"]
	switch {
	case pc.token == "" && hasATH:
		return fmt.Errorf("DPoP proof carries ath at an authorization-server endpoint")
	case pc.token != "" && str(c, "ath") != fapi.AccessTokenHash(pc.token):
		return fmt.Errorf("DPoP proof ath missing or not the access token's hash")
	}
	return nil
}

// nonceFor returns the nonce to demand (empty when the module demands none).
func (rn *run) nonceFor(rs bool) string {
	if !rn.v.dpop() || rn.mod.noDPoPNonce {
		return ""
	}
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rs {
		return rn.rsNonce
	}
	return rn.asNonce
}

// rotateNonce makes a new nonce after a successful answer, as the suite
// does, without sending it: the suite never hands out a nonce proactively,
// so every call the client makes after a success first meets
// use_dpop_nonce and must be retried with a new proof.
func (rn *run) rotateNonce(rs bool) {
	if !rn.v.dpop() || rn.mod.noDPoPNonce {
		return
	}
	n := newNonce()
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rs {
		rn.rsNonce = n
	} else {
		rn.asNonce = n
	}
}

// str reads a string claim ("" when absent or not a string).
func str(c map[string]json.RawMessage, k string) string {
	var s string
	if json.Unmarshal(c[k], &s) != nil {
		return ""
	}
	return s
}

// num reads a NumericDate claim.
func num(c map[string]json.RawMessage, k string) (time.Time, bool) {
	var f float64
	if raw, ok := c[k]; !ok || json.Unmarshal(raw, &f) != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

func splitScope(s string) []string { return strings.Fields(s) }

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }
