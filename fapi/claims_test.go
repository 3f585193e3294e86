package fapi

import (
	"testing"
	"time"
)

func TestDecodeObjectStrict(t *testing.T) {
	for _, bad := range []string{
		`{"iss":"a","iss":"b"}`,    // duplicate
		`{"ISS":"a"}`,              // case variant binds in encoding/json
		`{"iss":"a","Iss":"b"}`,    // case-variant duplicate
		`{"iſs":"a"}`,              // Unicode fold (long s)
		`{"iss":"a"} {"iss":"b"}`,  // trailing data
		`["iss"]`,                  // not an object
		`{"exp":"1800000000"}`,     // NumericDate as string
		`{"exp":-1}`,               // negative
		`{"exp":1e300}`,            // out of range
		`{"aud":["a",1]}`,          // bad audience
		`{"aud":{"a":1}}`,          // bad audience
		`{"cnf":{"X5T#S256":"a"}}`, // nested case variant (introspection)
		`{"cnf":{"jkt":"a","jkt":"b"}}`,
	} {
		var v struct {
			registeredClaims
			CNF *Confirmation `json:"cnf"`
		}
		if _, err := decodeObject([]byte(bad), &v); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	var v registeredClaims
	raw, err := decodeObject([]byte(`{"iss":"a","aud":"x","exp":1800000000.5,"other":{"ISS":1}}`), &v)
	if err != nil || v.Issuer != "a" || !v.Audience.Contains("x") || len(raw) != 4 ||
		!v.Expiry.Equal(time.Unix(1800000000, 5e8)) {
		t.Fatalf("%+v %v", v, err)
	}
}
