package fapi

import (
	"context"
	"crypto/x509"
	"testing"

	"github.com/cillers/fapid/internal/jws"
)

func jarmClaimsFor(as *fakeAS) map[string]any {
	return map[string]any{
		"iss": as.issuer, "aud": "client-1", "exp": t0.Unix() + 600,
		"code": "c1", "state": "state-123",
	}
}

func TestJARM(t *testing.T) {
	as := newFakeAS(t)
	c := as.client(func(c *Config) { c.ResponseMode = ResponseModeJWT })
	ls := as.loginState(ResponseModeJWT)
	k := keys(t)
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.asRSA.PublicKey)
	with := func(mut func(m map[string]any)) map[string]any {
		m := jarmClaimsFor(as)
		mut(m)
		return m
	}
	for _, tc := range []struct {
		name  string
		jwt   string
		want  []error
		oauth string
	}{
		{"ES256 ok", as.sign(jarmClaimsFor(as), ""), nil, ""},
		{"PS256 ok", signWith(t, k.asPS, jarmClaimsFor(as), ""), nil, ""},
		{"aud array ok", as.sign(with(func(m map[string]any) { m["aud"] = []string{"x", "client-1"} }), ""), nil, ""},
		{"alg none", noneJWT(t, jarmClaimsFor(as)), []error{ErrInvalidJARM, ErrSignature}, ""},
		{"HS256 client secret", hsJWT(t, []byte("client-secret"), "as-es", jarmClaimsFor(as)), []error{ErrSignature}, ""},
		{"HS256 AS public key", hsJWT(t, pubDER, "as-ps", jarmClaimsFor(as)), []error{ErrSignature}, ""},
		{"RS256 JWKS key", rs256JWT(t, jarmClaimsFor(as)), []error{ErrSignature}, ""},
		{"bad signature", corrupt(as.sign(jarmClaimsFor(as), "")), []error{ErrSignature}, ""},
		{"untrusted key same kid", signWith(t, k.othSigner, jarmClaimsFor(as), ""), []error{ErrSignature}, ""},
		{"iss missing", as.sign(with(func(m map[string]any) { delete(m, "iss") }), ""), []error{ErrIssuerMismatch}, ""},
		{"iss wrong", as.sign(with(func(m map[string]any) { m["iss"] = as.issuer + "/" }), ""), []error{ErrIssuerMismatch}, ""},
		{"aud missing", as.sign(with(func(m map[string]any) { delete(m, "aud") }), ""), []error{ErrAudience}, ""},
		{"aud wrong", as.sign(with(func(m map[string]any) { m["aud"] = "client-2" }), ""), []error{ErrAudience}, ""},
		{"exp missing", as.sign(with(func(m map[string]any) { delete(m, "exp") }), ""), []error{ErrMissingClaim}, ""},
		{"expired 6 min", as.sign(with(func(m map[string]any) { m["exp"] = t0.Unix() - 360 }), ""), []error{ErrExpired}, ""},
		{"exp as string", as.sign(with(func(m map[string]any) { m["exp"] = "1800000600" }), ""), []error{ErrMalformed}, ""},
		{"state missing", as.sign(with(func(m map[string]any) { delete(m, "state") }), ""), []error{ErrState}, ""},
		{"state wrong", as.sign(with(func(m map[string]any) { m["state"] = "x" }), ""), []error{ErrState}, ""},
		{"code missing", as.sign(with(func(m map[string]any) { delete(m, "code") }), ""), []error{ErrMissingClaim}, ""},
		{"typed as DPoP proof", as.sign(jarmClaimsFor(as), "dpop+jwt"), []error{ErrMalformed}, ""},
		{"error response", as.sign(with(func(m map[string]any) { delete(m, "code"); m["error"] = "access_denied" }), ""), nil, "access_denied"},
		{"JWE", "a.b.c.d.e", []error{ErrSignature}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ar, err := c.HandleCallback(context.Background(), callback(map[string]string{"response": tc.jwt}), ls)
			switch {
			case tc.oauth != "":
				if oe, ok := asOAuth(err); !ok || oe.Code != tc.oauth {
					t.Fatalf("want OAuthError %s, got %v", tc.oauth, err)
				}
			case tc.want == nil:
				if err != nil {
					t.Fatal(err)
				}
				if ar.Code != "c1" || !ar.JARM || ar.Issuer != as.issuer {
					t.Fatalf("%+v", ar)
				}
			default:
				wantErr(t, err, append(tc.want, ErrInvalidAuthorizationResponse)...)
			}
		})
	}
}

func TestJARMModeRefusesPlain(t *testing.T) {
	as := newFakeAS(t)
	c := as.client(func(c *Config) { c.ResponseMode = ResponseModeJWT })
	ls := as.loginState(ResponseModeJWT)
	_, err := c.HandleCallback(context.Background(), callback(map[string]string{"code": "c1", "state": "state-123", "iss": as.issuer}), ls)
	wantErr(t, err, ErrInvalidAuthorizationResponse)
	_, err = c.HandleCallback(context.Background(), callback(map[string]string{
		"response": as.sign(jarmClaimsFor(as), ""), "code": "c2"}), ls)
	wantErr(t, err, ErrInvalidAuthorizationResponse, ErrMalformed)
	// A plain error answer is still reported (after iss and state checks).
	_, err = c.HandleCallback(context.Background(), callback(map[string]string{"error": "server_error", "state": "state-123", "iss": as.issuer}), ls)
	if oe, ok := asOAuth(err); !ok || oe.Code != "server_error" {
		t.Fatalf("got %v", err)
	}
}

func TestJARMUnknownKidRefetch(t *testing.T) {
	as := newFakeAS(t)
	c := as.client(func(c *Config) { c.ResponseMode = ResponseModeJWT })
	ls := as.loginState(ResponseModeJWT)
	// First login primes the cache.
	if _, err := c.ValidateJARM(context.Background(), as.sign(jarmClaimsFor(as), ""), ls); err != nil {
		t.Fatal(err)
	}
	if as.hits() != 1 {
		t.Fatalf("%d JWKS fetches", as.hits())
	}
	// The AS rotates its key right after that fetch: the first token with
	// the unknown kid refetches and validates.
	k := keys(t)
	setJWKS(t, as, jws.PublicKey{Key: &k.other.PublicKey, KeyID: "rotated", Alg: jws.ES256})
	rot := mustSigner(t, k.other, "rotated")
	if _, err := c.ValidateJARM(context.Background(), signWith(t, rot, jarmClaimsFor(as), ""), ls); err != nil {
		t.Fatalf("JARM signed with the rotated key: %v", err)
	}
	if as.hits() != 2 {
		t.Fatalf("%d JWKS fetches, want 2", as.hits())
	}
	// A second unknown kid inside the window: no refetch.
	unknown := mustSigner(t, k.dpop, "unknown")
	_, err := c.ValidateJARM(context.Background(), signWith(t, unknown, jarmClaimsFor(as), ""), ls)
	wantErr(t, err, ErrSignature)
	if as.hits() != 2 {
		t.Fatalf("refetched inside the window: %d", as.hits())
	}
}
