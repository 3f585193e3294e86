package fapi

import (
	"context"
	"net/http"
	"testing"
)

// Fuzz targets for every parser of untrusted input. Their seed corpora run
// in plain `go test`; none may panic, and what they accept must be sane.

func FuzzParseCallback(f *testing.F) {
	f.Add("https://app.example.test/cb?code=c&state=s&iss=https%3A%2F%2Fas")
	f.Add("https://app.example.test/cb?response=a.b.c")
	f.Add("https://app.example.test/cb?error=access_denied&state=s&state=t")
	f.Add("%zz")
	f.Add("cb?code=%00&state=\x00")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseCallback(s)
		if err == nil && p == nil {
			t.Fatal("nil params without error")
		}
	})
}

func FuzzHandleCallback(f *testing.F) {
	const iss = "https://as.example.test"
	f.Add("https://app/cb?code=c&state=state-123&iss=https%3A%2F%2Fas.example.test")
	f.Add("https://app/cb?error=x&state=state-123&iss=https%3A%2F%2Fas.example.test")
	f.Add("https://app/cb?code=c&state=state-12&iss=https%3A%2F%2Fas.example.test")
	f.Fuzz(func(t *testing.T, s string) {
		c := offlineClient(t, iss)
		ls := LoginState{Issuer: iss, ClientID: "client-1", State: "state-123", CodeVerifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
			RedirectURI: "https://app/cb", ResponseMode: "query"}
		ar, err := c.HandleCallback(context.Background(), s, ls)
		if err == nil {
			p, _ := ParseCallback(s)
			if ar.Code == "" || p.State != "state-123" || p.Iss != iss {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}

func FuzzJARM(f *testing.F) {
	k := keys(f)
	good := map[string]any{"iss": "https://as.example.test", "aud": "client-1", "exp": t0.Unix() + 600, "code": "c", "state": "state-123"}
	f.Add(signWith(f, k.asSigner, good, ""))
	f.Add(signWith(f, k.asPS, good, ""))
	f.Add(noneJWT(f, good))
	f.Add(rs256JWT(f, good))
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.")
	f.Fuzz(func(t *testing.T, s string) {
		c := offlineClient(t, "https://as.example.test")
		ls := LoginState{Issuer: "https://as.example.test", ClientID: "client-1", State: "state-123",
			CodeVerifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", RedirectURI: "https://app/cb", ResponseMode: "jwt"}
		if ar, err := c.ValidateJARM(context.Background(), s, ls); err == nil && ar.Code == "" {
			t.Fatal("accepted without code")
		}
	})
}

func FuzzIDTokenClaims(f *testing.F) {
	f.Add([]byte(`{"iss":"https://as.example.test","sub":"a","aud":"client-1","exp":1800000300,"iat":1800000000,"nonce":"n"}`))
	f.Add([]byte(`{"iss":"https://as.example.test","sub":"a","aud":["client-1","x"],"azp":"client-1","exp":1.8e9,"iat":1800000000}`))
	f.Add([]byte(`{"exp":"1800000300","aud":5}`))
	f.Add([]byte(`{"exp":1e400}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		c := offlineClient(t, "https://as.example.test")
		tok, err := c.checkIDTokenPayload("raw", payload, IDTokenOptions{Nonce: "n"})
		if err == nil && (tok.Issuer != "https://as.example.test" || tok.Nonce != "n" || tok.Subject == "") {
			t.Fatalf("accepted %s", payload)
		}
	})
}

func FuzzIntrospectionJSON(f *testing.F) {
	f.Add([]byte(`{"active":true,"scope":"a b","exp":1800000300,"cnf":{"x5t#S256":"abc"},"aud":["x"]}`))
	f.Add([]byte(`{"active":false}`))
	f.Add([]byte(`{"active":"true"}`))
	f.Add([]byte(`{"active":true,"active":false}`))
	f.Add([]byte(`{"active":true,"scope":["a",1]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := parseIntrospectionJSON(body)
		if err == nil && in.Active && string(in.Claims["active"]) != "true" {
			t.Fatalf("active without active:true: %s", body)
		}
	})
}

func FuzzIntrospectionJWT(f *testing.F) {
	k := keys(f)
	good := map[string]any{"iss": "https://as.example.test", "aud": "client-1", "iat": t0.Unix(),
		"token_introspection": map[string]any{"active": true}}
	f.Add(signWith(f, k.asSigner, good, TypIntrospection))
	f.Add(signWith(f, k.asSigner, good, ""))
	f.Add(noneJWT(f, good))
	f.Add("..")
	f.Fuzz(func(t *testing.T, s string) {
		c := offlineClient(t, "https://as.example.test")
		res := &response{status: 200, header: http.Header{"Content-Type": {"application/token-introspection+jwt"}}, body: []byte(s)}
		if in, err := c.parseIntrospection(context.Background(), res); err == nil && in.Active && in.JWT != s {
			t.Fatal("active answer without its JWT")
		}
	})
}

func FuzzVerifyDPoPProof(f *testing.F) {
	k := keys(f)
	p, _ := NewDPoPProof(k.dpSigner, DPoPProof{Method: "GET", URL: "https://rs/x", AccessToken: "at", Now: t0, Rand: &detRand{}})
	f.Add(p, "GET", "https://rs/x")
	f.Add(p, "GET", "https://RS:443/x?y")
	f.Add("e30.e30.", "GET", "https://rs/x")
	f.Add(noneJWT(f, map[string]any{"htm": "GET"}), "POST", "%")
	f.Fuzz(func(t *testing.T, proof, method, u string) {
		v, err := VerifyDPoPProof(proof, DPoPCheck{Method: method, URL: u, AccessToken: "at", Now: t0})
		if err == nil && (v.JKT == "" || v.JTI == "" || method == "") {
			t.Fatalf("accepted odd proof: %+v", v)
		}
	})
}

func FuzzTokenResponse(f *testing.F) {
	f.Add([]byte(`{"access_token":"a","token_type":"Bearer","expires_in":60,"refresh_token":"r"}`))
	f.Add([]byte(`{"access_token":"a b","token_type":"Bearer"}`))
	f.Add([]byte(`{"access_token":"a","expires_in":"-1"}`))
	f.Add([]byte(`{"access_token":"a","expires_in":1e99}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tr, err := parseTokenJSON(body)
		if err == nil && !isB64Token(tr.AccessToken) {
			t.Fatalf("accepted token %q", tr.AccessToken)
		}
	})
}

func FuzzParseChallenges(f *testing.F) {
	f.Add(`DPoP error="use_dpop_nonce", error_description="x"`)
	f.Add(`Bearer realm="api", error="invalid_token", DPoP algs="ES256"`)
	f.Add(`Basic abc==, , ="`)
	f.Add(`a="\`)
	f.Fuzz(func(t *testing.T, h string) {
		for _, ch := range parseChallenges(h) {
			if ch.scheme == "" {
				t.Fatal("empty scheme")
			}
		}
	})
}

func FuzzCacheMaxAge(f *testing.F) {
	f.Add("max-age=60, private")
	f.Add(`max-age="1", no-store`)
	f.Add("max-age=99999999999999999999")
	f.Fuzz(func(t *testing.T, v string) {
		d, _ := CacheMaxAge(http.Header{"Cache-Control": {v}})
		if d < 0 {
			t.Fatalf("negative max-age from %q", v)
		}
	})
}
