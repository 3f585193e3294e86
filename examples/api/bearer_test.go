package api

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseAuthorization(t *testing.T) {
	for _, tc := range []struct {
		in    string
		token string
		dpop  bool
		err   error
	}{
		{"Bearer abc.def-_~+/==", "abc.def-_~+/==", false, nil},
		{"bearer   abc", "abc", false, nil},
		{"DPoP abc", "abc", true, nil},
		{"dpop abc", "abc", true, nil},
		{"", "", false, ErrNoToken},
		{"Bearer", "", false, ErrMalformed},
		{"Bearer ", "", false, ErrMalformed},
		{"Bearer =abc", "", false, ErrMalformed},
		{"Bearer abc=d", "", false, ErrMalformed},
		{"Bearer a b", "", false, ErrMalformed},
		{"Bearer a\tb", "", false, ErrMalformed},
		{"Basic abc", "", false, ErrMalformed},
		{"Bearer\tabc", "", false, ErrMalformed},
		{"Bearer " + strings.Repeat("a", MaxTokenSize+1), "", false, ErrMalformed},
	} {
		c, err := parseAuthorization(tc.in)
		if !errors.Is(err, tc.err) || (err == nil && (c.token != tc.token || c.dpop != tc.dpop)) {
			t.Errorf("%.40q: got %+v, %v; want %q %v %v", tc.in, c, err, tc.token, tc.dpop, tc.err)
		}
	}
	if _, err := extractCredential(http.Header{}); !errors.Is(err, ErrNoToken) {
		t.Errorf("no header: %v", err)
	}
	if _, err := extractCredential(http.Header{"Authorization": {"Bearer a", "Bearer a"}}); !errors.Is(err, ErrMalformed) {
		t.Errorf("two headers: %v", err)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"Bearer abc", "DPoP eyJ.eyJ.sig", "bearer  a==", "Bearer a b", "Basic x", "", "Bearer ="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := parseAuthorization(in)
		if err != nil {
			if !errors.Is(err, ErrNoToken) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if c.token == "" || len(c.token) > MaxTokenSize || !isB64Token(c.token) || strings.ContainsAny(c.token, " \t\r\n") {
			t.Fatalf("accepted bad token %q", c.token)
		}
		scheme := "Bearer"
		if c.dpop {
			scheme = "DPoP"
		}
		again, err := parseAuthorization(scheme + " " + c.token)
		if err != nil || again != c {
			t.Fatalf("round trip: %+v %v", again, err)
		}
	})
}

func FuzzParseClaims(f *testing.F) {
	for _, s := range []string{
		`{"iss":"a","aud":["b"],"exp":1,"cnf":{"x5t#S256":"x"}}`, `{"aud":"b","exp":1.5}`,
		`{"iss":"a","iss":"b"}`, `{"token_introspection":{"active":true}}`, `[]`, `{"exp":"1"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := parseClaims(b); err == nil && c == nil {
			t.Fatal("nil claims without error")
		}
		_, _, _ = parseIntrospection(b)
	})
}

func TestReplayCache(t *testing.T) {
	c := newReplayCache(2)
	now := time.Unix(1000, 0)
	if !c.add("a", now.Add(time.Minute), now) || c.add("a", now.Add(time.Minute), now) {
		t.Fatal("replay of a not detected")
	}
	if !c.add("b", now.Add(time.Second), now) || c.add("c", now.Add(time.Minute), now) {
		t.Fatal("full cache must refuse")
	}
	later := now.Add(2 * time.Second) // b expired: room again
	if !c.add("c", later.Add(time.Minute), later) {
		t.Fatal("expired entry not pruned")
	}
}

func TestChallenge(t *testing.T) {
	for _, tc := range []struct {
		f    failure
		want string
	}{
		{failure{}, `Bearer realm="` + Realm + `"`},
		{failure{code: "invalid_token"}, `Bearer realm="` + Realm + `", error="invalid_token"`},
		{failure{code: "invalid_dpop_proof", dpop: true}, `DPoP realm="` + Realm + `", error="invalid_dpop_proof", algs="PS256 ES256 EdDSA"`},
	} {
		if got := challenge(&tc.f); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
