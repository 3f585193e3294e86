package rp

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"strings"
	"testing"
)

// TestModuleCounts: the plans list as many modules per variant as the suite
// (research note §2.1): Security Profile oidc+dpop 22, oidc+mtls 20,
// plain_oauth 12 fewer; Message Signing with JARM drops the two iss modules
// and adds the eight JARM modules.
func TestModuleCounts(t *testing.T) {
	if n := len(SecurityProfile.Variants()); n != 8 {
		t.Errorf("security profile: %d variants, want 8", n)
	}
	if n := len(MessageSigning.Variants()); n != 32 {
		t.Errorf("message signing: %d variants, want 32", n)
	}
	want := map[string]int{
		"pkjwt+dpop/oidc/unsigned/plain": 22, "pkjwt+mtls/oidc/unsigned/plain": 20,
		"pkjwt+dpop/oauth/unsigned/plain": 10, "mtls+mtls/oauth/unsigned/plain": 8,
		"pkjwt+dpop/oidc/signed/jarm": 28, "mtls+mtls/oauth/signed/jarm": 14,
	}
	for _, p := range Plans() {
		for _, v := range p.Variants() {
			n := 0
			for _, m := range Modules() {
				if m.Applies(p, v) {
					n++
				}
			}
			if w, ok := want[v.String()]; ok && n != w {
				t.Errorf("%s %s: %d modules, want %d", p.Short, v, n, w)
			}
		}
	}
	if n := len(Modules()); n != 30 {
		t.Errorf("%d modules, want 30", n)
	}
}

func TestParseVariantFilter(t *testing.T) {
	v := Variant{AuthMTLS, SenderDPoP, ClientOIDC, RequestSigned, ResponseJARM}
	for _, s := range []string{
		"client_auth_type=mtls,sender_constrain=dpop",
		"auth=mtls, sender=dpop, type=oidc, request=signed, response=jarm",
		"fapi_response_mode=jarm",
		"mtls+dpop/oidc/signed/jarm",
	} {
		f, err := ParseVariantFilter(s)
		if err != nil || !f.Match(v) {
			t.Errorf("%q: %v, match %v", s, err, f.Match(v))
		}
	}
	if f, _ := ParseVariantFilter("auth=pkjwt"); f.Match(v) {
		t.Error("auth=pkjwt matches an mtls variant")
	}
	for _, s := range []string{"", "auth", "auth=", "colour=red", "auth=password", "auth=mtls,auth=private_key_jwt", "mtls+dpop"} {
		if _, err := ParseVariantFilter(s); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
	for _, s := range []string{"sp", "security-profile", SecurityProfile.Name, "MS", MessageSigning.Name} {
		if _, err := ParsePlan(s); err != nil {
			t.Errorf("plan %q: %v", s, err)
		}
	}
	if _, err := ParsePlan("fapi1"); err == nil {
		t.Error("plan fapi1 accepted")
	}
}

func FuzzParseVariantFilter(f *testing.F) {
	for _, s := range []string{"auth=mtls,sender=dpop", "pkjwt+dpop/oidc/signed/jarm", "a=b=c", ",,=", "response=plain"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseVariantFilter(s)
		if err != nil {
			return
		}
		for k, val := range flt {
			spec, ok := variantKeys[k]
			if !ok || !contains(spec.values, val) {
				t.Fatalf("%q gave %s=%s", s, k, val)
			}
		}
	})
}

// TestBrokenJWTs: the alternate-alg ID token carries a valid RS256
// signature by a published key (the client must refuse the alg, not the
// signature), alg none has an empty signature, and a corrupted signature
// differs from the good one.
func TestBrokenJWTs(t *testing.T) {
	k, err := sharedServerKeys()
	if err != nil {
		t.Fatal(err)
	}
	rn := &run{s: &server{keys: k}, keys: k}
	claims := map[string]any{"iss": "https://as.example.test/", "sub": "u"}
	rs, err := rn.sign(claims, sigRS256, "")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(rs, ".")
	sig, _ := b64.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&k.alt.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("RS256 signature does not verify: %v", err)
	}
	if !strings.Contains(string(must(b64.DecodeString(parts[0]))), `"RS256"`) || !strings.Contains(string(k.jwks), altKid) {
		t.Fatal("RS256 header or published key missing")
	}
	none, _ := rn.sign(claims, sigNone, "")
	if !strings.HasSuffix(none, ".") || strings.Count(none, ".") != 2 {
		t.Fatalf("alg none token %q", none)
	}
	good, _ := rn.sign(claims, sigGood, "")
	bad, _ := rn.sign(claims, sigCorrupted, "")
	if good == bad || len(good) != len(bad) {
		t.Fatal("corrupted signature")
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
