package rp

import (
	"net/url"
	"strings"
	"time"
)

// expectation is what a module wants the client to do.
type expectation int

const (
	// expectComplete: finish the flow and call the resource.
	expectComplete expectation = iota
	// expectStop: after the module's faulty message the client makes no
	// further PAR, authorization, token, userinfo or resource call.
	expectStop
)

// fault names the message a stop module corrupts.
type fault string

const (
	faultNone          fault = ""
	faultDiscovery     fault = "discovery document"
	faultAuthzResponse fault = "authorization response"
	faultIDToken       fault = "ID token"
)

// Module is one client test module of the suite's FAPI 2.0 client plans.
type Module struct {
	// Name is the suite's module name without the plan prefix
	// ("fapi2-security-profile-final-client-" / "fapi2-message-signing-final-client-").
	Name string
	// Does is what the test authorization server does differently.
	Does string

	expect   expectation
	fault    fault
	applies  func(p Plan, v Variant) bool
	requires string // "state" or "nonce": SKIPPED when the client did not send it

	noDPoPNonce   bool                                      // never demand DPoP nonces
	rsNonceScheme string                                    // scheme of the resource's nonce challenge
	discovery     func(doc map[string]any, issuer string)   // edit the discovery document
	authzParams   func(q url.Values, issuer string)         // edit a plain authorization response
	jarmClaims    func(c map[string]any, issuer string)     // edit the JARM claims
	jarmSign      sigKind                                   // how the JARM response is signed
	idClaims      func(c map[string]any, issuer, id string) // edit the ID token claims
	idSign        sigKind                                   // how the ID token is signed
	tokenResponse func(m map[string]any)                    // edit the token response
}

// sigKind is how the test server signs a JWT.
type sigKind int

const (
	sigGood      sigKind = iota // PS256 with the published key
	sigNone                     // alg none, empty signature
	sigRS256                    // RS256 with a key published in the JWKS (no alg)
	sigCorrupted                // PS256 with a damaged signature
)

func always(Plan, Variant) bool        { return true }
func oidcOnly(_ Plan, v Variant) bool  { return v.oidc() }
func dpopOnly(_ Plan, v Variant) bool  { return v.dpop() }
func plainOnly(_ Plan, v Variant) bool { return !v.jarm() }
func jarmOnly(p Plan, v Variant) bool  { return p.MessageSigning && v.jarm() }

// Modules returns the modules of the plain_fapi client plans, in the
// suite's order (§2.2 of the research note), 30 in all: the refresh-token
// and Open Banking intent modules belong to other profiles.
func Modules() []*Module {
	var ms []*Module
	ms = append(ms, flowModules()...)
	ms = append(ms, idTokenModules()...)
	ms = append(ms, tokenModules()...)
	ms = append(ms, jarmModules()...)
	return ms
}

func flowModules() []*Module {
	return []*Module{
		{Name: "test-happy-path", Does: "a normal flow", applies: always},
		{Name: "test-happy-path-no-dpop-nonce", Does: "no DPoP nonces demanded", applies: dpopOnly, noDPoPNonce: true},
		{Name: "test-discovery-issuer-mismatch", Does: "discovery issuer = issuer + INVALID", applies: always,
			expect: expectStop, fault: faultDiscovery,
			discovery: func(doc map[string]any, iss string) { doc["issuer"] = iss + "INVALID" }},
		{Name: "test-invalid-authorization-response-iss", Does: "authorization response iss = issuer + 1", applies: plainOnly,
			expect: expectStop, fault: faultAuthzResponse,
			authzParams: func(q url.Values, iss string) { q.Set("iss", iss+"1") }},
		{Name: "test-remove-authorization-response-iss", Does: "authorization response without iss", applies: plainOnly,
			expect: expectStop, fault: faultAuthzResponse,
			authzParams: func(q url.Values, _ string) { q.Del("iss") }},
		{Name: "test-ensure-authorization-response-with-invalid-state-fails", Does: "state replaced", applies: always,
			expect: expectStop, fault: faultAuthzResponse,
			authzParams: func(q url.Values, _ string) { q.Set("state", "invalid-state-value") },
			jarmClaims:  func(c map[string]any, _ string) { c["state"] = "invalid-state-value" }},
		{Name: "test-ensure-authorization-response-with-invalid-missing-state-fails", Does: "state removed", applies: always,
			expect: expectStop, fault: faultAuthzResponse, requires: "state",
			authzParams: func(q url.Values, _ string) { q.Del("state") },
			jarmClaims:  func(c map[string]any, _ string) { delete(c, "state") }},
	}
}

// idModule makes an ID-token module: the client must not call userinfo or
// the resource after it.
func idModule(name, does string, edit func(c map[string]any, iss, id string), sign sigKind) *Module {
	return &Module{Name: name, Does: does, applies: oidcOnly, expect: expectStop, fault: faultIDToken,
		idClaims: edit, idSign: sign}
}

func idTokenModules() []*Module {
	past := func() int64 { return time.Now().Add(-6 * time.Minute).Unix() }
	ms := []*Module{
		idModule("test-invalid-iss", "ID token iss wrong",
			func(c map[string]any, iss, _ string) { c["iss"] = strings.TrimSuffix(iss, "/") + "/invalid/" }, sigGood),
		idModule("test-invalid-missing-iss", "ID token without iss",
			func(c map[string]any, _, _ string) { delete(c, "iss") }, sigGood),
		idModule("test-invalid-aud", "ID token aud is not the client",
			func(c map[string]any, _, id string) { c["aud"] = "invalid-" + id }, sigGood),
		idModule("test-invalid-missing-aud", "ID token without aud",
			func(c map[string]any, _, _ string) { delete(c, "aud") }, sigGood),
		idModule("test-invalid-secondary-aud", "aud = [client, untrusted], no azp",
			func(c map[string]any, _, id string) { c["aud"] = []string{id, "untrusted-client"} }, sigGood),
		{Name: "test-valid-aud-as-array", Does: "aud = [client]", applies: oidcOnly,
			idClaims: func(c map[string]any, _, id string) { c["aud"] = []string{id} }},
		idModule("test-invalid-null-alg", "ID token with alg none", nil, sigNone),
		idModule("test-invalid-alternate-alg", "ID token signed RS256 with a published key", nil, sigRS256),
		idModule("test-invalid-expired-exp", "ID token exp = now - 6 min",
			func(c map[string]any, _, _ string) { c["exp"] = past() }, sigGood),
		idModule("test-invalid-missing-exp", "ID token without exp",
			func(c map[string]any, _, _ string) { delete(c, "exp") }, sigGood),
		idModule("test-invalid-nonce", "ID token nonce differs",
			func(c map[string]any, _, _ string) { c["nonce"] = "invalid-nonce-value" }, sigGood),
		idModule("test-invalid-missing-nonce", "ID token without nonce",
			func(c map[string]any, _, _ string) { delete(c, "nonce") }, sigGood),
	}
	ms[len(ms)-1].requires = "nonce"
	return ms
}

func tokenModules() []*Module {
	return []*Module{
		{Name: "test-token-endpoint-response-without-expires_in", Does: "token response without expires_in", applies: always,
			tokenResponse: func(m map[string]any) { delete(m, "expires_in") }},
		{Name: "test-token-type-case-insensitivity", Does: "token_type in inverted case", applies: always,
			tokenResponse: func(m map[string]any) { m["token_type"] = invertCase(m["token_type"].(string)) }},
		{Name: "test-rs-dpop-auth-scheme-case-insensitivity", Does: "resource nonce challenge with scheme dPoP",
			applies: dpopOnly, rsNonceScheme: "dPoP"},
	}
}

// jarmModule makes a JARM module: the client must not redeem the code.
func jarmModule(name, does string, edit func(c map[string]any, iss string), sign sigKind) *Module {
	return &Module{Name: name, Does: does, applies: jarmOnly, expect: expectStop, fault: faultAuthzResponse,
		jarmClaims: edit, jarmSign: sign}
}

func jarmModules() []*Module {
	return []*Module{
		jarmModule("test-ensure-jarm-without-iss-fails", "JARM without iss",
			func(c map[string]any, _ string) { delete(c, "iss") }, sigGood),
		jarmModule("test-ensure-jarm-with-invalid-iss-fails", "JARM iss wrong",
			func(c map[string]any, iss string) { c["iss"] = iss + "invalid" }, sigGood),
		jarmModule("test-ensure-jarm-without-aud-fails", "JARM without aud",
			func(c map[string]any, _ string) { delete(c, "aud") }, sigGood),
		jarmModule("test-ensure-jarm-with-invalid-aud-fails", "JARM aud wrong",
			func(c map[string]any, _ string) { c["aud"] = "invalid-client-id" }, sigGood),
		jarmModule("test-ensure-jarm-without-exp-fails", "JARM without exp",
			func(c map[string]any, _ string) { delete(c, "exp") }, sigGood),
		jarmModule("test-ensure-jarm-with-expired-exp-fails", "JARM exp = now - 6 min",
			func(c map[string]any, _ string) { c["exp"] = time.Now().Add(-6 * time.Minute).Unix() }, sigGood),
		jarmModule("test-ensure-jarm-with-invalid-sig-fails", "JARM signature corrupted", nil, sigCorrupted),
		jarmModule("test-ensure-jarm-signature-is-not-none", "JARM with alg none", nil, sigNone),
	}
}

// Applies reports whether the suite's plan p lists the module for v.
func (m *Module) Applies(p Plan, v Variant) bool { return m.applies(p, v) }

// invertCase swaps upper and lower case: Bearer → bEARER, DPoP → dpOp.
func invertCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - 32
		case 'A' <= c && c <= 'Z':
			b[i] = c + 32
		}
	}
	return string(b)
}
