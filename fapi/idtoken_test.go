package fapi

import (
	"context"
	"crypto/x509"
	"testing"

	"github.com/cillers/fapid/internal/jws"
)

func idClaims(as *fakeAS) map[string]any {
	return map[string]any{
		"iss": as.issuer, "sub": "alice", "aud": "client-1",
		"exp": t0.Unix() + 300, "iat": t0.Unix(), "nonce": "nonce-123",
	}
}

func TestIDTokenH09(t *testing.T) {
	as := newFakeAS(t)
	c := as.client()
	k := keys(t)
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.asRSA.PublicKey)
	now := t0.Unix()
	with := func(mut func(m map[string]any)) string {
		m := idClaims(as)
		mut(m)
		return as.sign(m, "")
	}
	for _, tc := range []struct {
		name string
		jwt  string
		want []error // nil: accepted
	}{
		{"ok", with(func(map[string]any) {}), nil},
		{"PS256 ok", signWith(t, k.asPS, idClaims(as), ""), nil},
		{"typ JWT ok", as.sign(idClaims(as), "JWT"), nil},
		{"iss trailing slash", with(func(m map[string]any) { m["iss"] = as.issuer + "/" }), []error{ErrIssuerMismatch}},
		{"iss missing", with(func(m map[string]any) { delete(m, "iss") }), []error{ErrIssuerMismatch}},
		{"aud string ok", with(func(m map[string]any) { m["aud"] = "client-1" }), nil},
		{"aud [client] ok", with(func(m map[string]any) { m["aud"] = []string{"client-1"} }), nil},
		{"aud several with azp ok", with(func(m map[string]any) { m["aud"] = []string{"client-1", "api"}; m["azp"] = "client-1" }), nil},
		{"aud [api]", with(func(m map[string]any) { m["aud"] = []string{"api"} }), []error{ErrAudience}},
		{"aud several without azp", with(func(m map[string]any) { m["aud"] = []string{"client-1", "api"} }), []error{ErrAudience}},
		{"azp other", with(func(m map[string]any) { m["azp"] = "api" }), []error{ErrAudience}},
		{"aud missing", with(func(m map[string]any) { delete(m, "aud") }), []error{ErrAudience}},
		{"aud number", with(func(m map[string]any) { m["aud"] = 5 }), []error{ErrMalformed}},
		{"exp 61 s ago", with(func(m map[string]any) { m["exp"] = now - 61; m["iat"] = now - 120 }), []error{ErrExpired}},
		{"exp 30 s ago ok", with(func(m map[string]any) { m["exp"] = now - 30; m["iat"] = now - 120 }), nil},
		{"exp 6 min ago", with(func(m map[string]any) { m["exp"] = now - 360 }), []error{ErrExpired}},
		{"exp missing", with(func(m map[string]any) { delete(m, "exp") }), []error{ErrMissingClaim}},
		{"nbf 90 s ahead", with(func(m map[string]any) { m["nbf"] = now + 90 }), []error{ErrNotYetValid}},
		{"nbf 30 s ahead ok", with(func(m map[string]any) { m["nbf"] = now + 30 }), nil},
		{"iat 10 s ahead ok", with(func(m map[string]any) { m["iat"] = now + 10 }), nil},
		{"iat 90 s ahead", with(func(m map[string]any) { m["iat"] = now + 90 }), []error{ErrNotYetValid}},
		{"iat a week ago", with(func(m map[string]any) { m["iat"] = now - 7*86400 }), []error{ErrExpired}},
		{"iat missing", with(func(m map[string]any) { delete(m, "iat") }), []error{ErrMissingClaim}},
		{"nonce wrong", with(func(m map[string]any) { m["nonce"] = "nonce-124" }), []error{ErrNonce}},
		{"nonce missing", with(func(m map[string]any) { delete(m, "nonce") }), []error{ErrNonce}},
		{"sub missing", with(func(m map[string]any) { delete(m, "sub") }), []error{ErrMissingClaim}},
		{"duplicate claim", dupClaimJWT(t, as), []error{ErrMalformed}},
		{"alg none", noneJWT(t, idClaims(as)), []error{ErrSignature, jws.ErrAlgorithm}},
		{"HS256 client secret", hsJWT(t, []byte("secret"), "as-es", idClaims(as)), []error{ErrSignature, jws.ErrAlgorithm}},
		{"HS256 AS public key", hsJWT(t, pubDER, "as-ps", idClaims(as)), []error{ErrSignature, jws.ErrAlgorithm}},
		{"RS256 with JWKS key", rs256JWT(t, idClaims(as)), []error{ErrSignature, jws.ErrAlgorithm}},
		{"bad signature", corrupt(as.sign(idClaims(as), "")), []error{ErrSignature}},
		{"typed at+jwt", as.sign(idClaims(as), "at+jwt"), []error{ErrMalformed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := c.ValidateIDToken(context.Background(), tc.jwt, IDTokenOptions{Nonce: "nonce-123"})
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if tok.Subject != "alice" || tok.Claims["sub"] == nil || tok.Raw != tc.jwt {
					t.Fatalf("%+v", tok)
				}
				return
			}
			wantErr(t, err, append(tc.want, ErrInvalidIDToken)...)
		})
	}
}

func TestIDTokenRefreshOptions(t *testing.T) {
	as := newFakeAS(t)
	c := as.client()
	m := idClaims(as)
	delete(m, "nonce")
	jwt := as.sign(m, "")
	if _, err := c.ValidateIDToken(context.Background(), jwt, IDTokenOptions{Subject: "alice"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.ValidateIDToken(context.Background(), jwt, IDTokenOptions{Subject: "bob"})
	wantErr(t, err, ErrSubject)
}

// dupClaimJWT signs a payload with "sub" twice.
func dupClaimJWT(t *testing.T, as *fakeAS) string {
	payload := []byte(`{"iss":"` + as.issuer + `","sub":"alice","sub":"admin","aud":"client-1","exp":` +
		itoa(t0.Unix()+300) + `,"iat":` + itoa(t0.Unix()) + `,"nonce":"nonce-123"}`)
	out, err := keys(t).asSigner.Sign(payload, jws.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
