package rp

import (
	"fmt"
	"strings"
)

// Plan is one of the OpenID Foundation's FAPI 2.0 client test plans.
type Plan struct {
	// Name is the suite's plan name.
	Name string
	// Short is the name used on the command line and in tables.
	Short string
	// MessageSigning: the plan has the request-method and response-mode
	// variants and the JARM modules; the Security Profile plan fixes them to
	// unsigned and plain_response.
	MessageSigning bool
}

// The two plans for an authorization-code client (FAPI 2.0 final).
var (
	SecurityProfile = Plan{Name: "fapi2-security-profile-final-client-test-plan", Short: "security-profile"}
	MessageSigning  = Plan{Name: "fapi2-message-signing-final-client-test-plan", Short: "message-signing", MessageSigning: true}
)

// Plans returns both plans, Security Profile first.
func Plans() []Plan { return []Plan{SecurityProfile, MessageSigning} }

// ParsePlan accepts a plan's suite name, its short name, or "sp" / "ms".
func ParsePlan(s string) (Plan, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case SecurityProfile.Name, SecurityProfile.Short, "sp", "fapi2-security-profile":
		return SecurityProfile, nil
	case MessageSigning.Name, MessageSigning.Short, "ms", "fapi2-message-signing":
		return MessageSigning, nil
	}
	return Plan{}, fmt.Errorf("rp: unknown plan %q (want %s or %s)", s, SecurityProfile.Short, MessageSigning.Short)
}

// Variant values, spelled as the suite spells them.
const (
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthMTLS          = "mtls"
	SenderDPoP        = "dpop"
	SenderMTLS        = "mtls"
	ClientOIDC        = "oidc"
	ClientPlainOAuth  = "plain_oauth"
	RequestUnsigned   = "unsigned"
	RequestSigned     = "signed_non_repudiation"
	ResponsePlain     = "plain_response"
	ResponseJARM      = "jarm"
)

// Variant is one combination of the suite's variant parameters for the
// plain_fapi profile and the authorization-code flow.
type Variant struct {
	ClientAuth    string // client_auth_type: private_key_jwt | mtls
	Sender        string // sender_constrain: dpop | mtls
	ClientType    string // fapi_client_type: oidc | plain_oauth
	RequestMethod string // fapi_request_method: unsigned | signed_non_repudiation
	ResponseMode  string // fapi_response_mode: plain_response | jarm
}

// String is the compact form used in tables: auth+sender/type/request/response,
// e.g. "pkjwt+dpop/oidc/signed/jarm".
func (v Variant) String() string {
	auth := map[string]string{AuthPrivateKeyJWT: "pkjwt", AuthMTLS: "mtls"}[v.ClientAuth]
	typ := map[string]string{ClientOIDC: "oidc", ClientPlainOAuth: "oauth"}[v.ClientType]
	req := map[string]string{RequestUnsigned: "unsigned", RequestSigned: "signed"}[v.RequestMethod]
	res := map[string]string{ResponsePlain: "plain", ResponseJARM: "jarm"}[v.ResponseMode]
	return auth + "+" + v.Sender + "/" + typ + "/" + req + "/" + res
}

// Params returns the suite's variant parameters (the plan's "variant" JSON)
// for plan p: the Security Profile plan fixes request method and response
// mode, so they are left out there.
func (v Variant) Params(p Plan) map[string]string {
	m := map[string]string{
		"client_auth_type":           v.ClientAuth,
		"sender_constrain":           v.Sender,
		"fapi_profile":               "plain_fapi",
		"fapi_client_type":           v.ClientType,
		"authorization_request_type": "simple",
	}
	if p.MessageSigning {
		m["fapi_request_method"] = v.RequestMethod
		m["fapi_response_mode"] = v.ResponseMode
	}
	return m
}

func (v Variant) oidc() bool        { return v.ClientType == ClientOIDC }
func (v Variant) dpop() bool        { return v.Sender == SenderDPoP }
func (v Variant) jarm() bool        { return v.ResponseMode == ResponseJARM }
func (v Variant) mtlsAuth() bool    { return v.ClientAuth == AuthMTLS }
func (v Variant) mtlsBound() bool   { return v.Sender == SenderMTLS }
func (v Variant) signed() bool      { return v.RequestMethod == RequestSigned }
func (v Variant) usesMTLS() bool    { return v.mtlsAuth() || v.mtlsBound() }
func (v Variant) tokenType() string { return map[bool]string{true: "DPoP", false: "Bearer"}[v.dpop()] }

// Variants lists the plan's variants for plain_fapi: 8 for the Security
// Profile plan (unsigned, plain_response), 32 for Message Signing.
func (p Plan) Variants() []Variant {
	reqs, resps := []string{RequestUnsigned}, []string{ResponsePlain}
	if p.MessageSigning {
		reqs, resps = []string{RequestUnsigned, RequestSigned}, []string{ResponsePlain, ResponseJARM}
	}
	var out []Variant
	for _, auth := range []string{AuthPrivateKeyJWT, AuthMTLS} {
		for _, sender := range []string{SenderDPoP, SenderMTLS} {
			for _, typ := range []string{ClientOIDC, ClientPlainOAuth} {
				for _, req := range reqs {
					for _, res := range resps {
						out = append(out, Variant{auth, sender, typ, req, res})
					}
				}
			}
		}
	}
	return out
}

// variantKeys maps the accepted filter keys to a field of Variant and its
// allowed values.
var variantKeys = map[string]struct {
	field  func(*Variant) *string
	values []string
}{
	"client_auth_type":    {func(v *Variant) *string { return &v.ClientAuth }, []string{AuthPrivateKeyJWT, AuthMTLS}},
	"sender_constrain":    {func(v *Variant) *string { return &v.Sender }, []string{SenderDPoP, SenderMTLS}},
	"fapi_client_type":    {func(v *Variant) *string { return &v.ClientType }, []string{ClientOIDC, ClientPlainOAuth}},
	"fapi_request_method": {func(v *Variant) *string { return &v.RequestMethod }, []string{RequestUnsigned, RequestSigned}},
	"fapi_response_mode":  {func(v *Variant) *string { return &v.ResponseMode }, []string{ResponsePlain, ResponseJARM}},
}

// keyAliases are shorter names for the filter keys.
var keyAliases = map[string]string{
	"auth": "client_auth_type", "client_auth": "client_auth_type",
	"sender": "sender_constrain", "sender_constraint": "sender_constrain",
	"client_type": "fapi_client_type", "type": "fapi_client_type",
	"request": "fapi_request_method", "request_method": "fapi_request_method",
	"response": "fapi_response_mode", "response_mode": "fapi_response_mode",
}

// valueAliases are the short values of the table form.
var valueAliases = map[string]string{
	"pkjwt": AuthPrivateKeyJWT, "oauth": ClientPlainOAuth, "signed": RequestSigned, "plain": ResponsePlain,
}

// VariantFilter selects variants: every key=value it holds must match.
type VariantFilter map[string]string

// ParseVariantFilter parses "key=value,key=value" with the suite's variant
// keys (client_auth_type, sender_constrain, fapi_client_type,
// fapi_request_method, fapi_response_mode, or the short forms auth, sender,
// client_type, request, response; values as the suite spells them or as the
// table does: pkjwt, oauth, signed, plain), or a variant in its table form
// ("pkjwt+dpop/oidc/signed/jarm").
func ParseVariantFilter(s string) (VariantFilter, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("rp: empty variant filter")
	}
	if !strings.Contains(s, "=") {
		return parseVariantName(s)
	}
	f := VariantFilter{}
	for _, part := range strings.Split(s, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		k, val = strings.ToLower(strings.TrimSpace(k)), strings.ToLower(strings.TrimSpace(val))
		if a, found := keyAliases[k]; found {
			k = a
		}
		if a, found := valueAliases[val]; found {
			val = a
		}
		spec, known := variantKeys[k]
		if !ok || !known {
			return nil, fmt.Errorf("rp: variant filter %q: unknown key %q", s, k)
		}
		if !contains(spec.values, val) {
			return nil, fmt.Errorf("rp: variant filter %q: %s must be one of %v", s, k, spec.values)
		}
		if prev, dup := f[k]; dup && prev != val {
			return nil, fmt.Errorf("rp: variant filter %q: %s given twice", s, k)
		}
		f[k] = val
	}
	return f, nil
}

// parseVariantName reads the table form back.
func parseVariantName(s string) (VariantFilter, error) {
	for _, p := range Plans() {
		for _, v := range p.Variants() {
			if v.String() == s {
				return VariantFilter{
					"client_auth_type": v.ClientAuth, "sender_constrain": v.Sender, "fapi_client_type": v.ClientType,
					"fapi_request_method": v.RequestMethod, "fapi_response_mode": v.ResponseMode,
				}, nil
			}
		}
	}
	return nil, fmt.Errorf("rp: variant %q: want key=value pairs or a name like pkjwt+dpop/oidc/signed/jarm", s)
}

// Match reports whether v has every value the filter names.
func (f VariantFilter) Match(v Variant) bool {
	for k, want := range f {
		if *variantKeys[k].field(&v) != want {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
