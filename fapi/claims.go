package fapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"time"
)

// NumericDate is a JWT NumericDate (RFC 7519 §2): seconds since the epoch as
// a JSON number (fractions allowed). Strings, negative and absurd values are
// refused.
type NumericDate struct{ time.Time }

// UnmarshalJSON parses a JSON number.
func (d *NumericDate) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return fmt.Errorf("%w: NumericDate must be a number", ErrMalformed)
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("%w: NumericDate: %v", ErrMalformed, err)
	}
	// Year 10000 is far enough; refuses NaN/Inf/negative.
	if math.IsNaN(f) || f < 0 || f > 253402300799 {
		return fmt.Errorf("%w: NumericDate out of range", ErrMalformed)
	}
	sec, frac := math.Modf(f)
	d.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}

// Audience is a JWT "aud": a string or an array of strings.
type Audience []string

// UnmarshalJSON accepts a string or an array of strings.
func (a *Audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("%w: aud: %v", ErrMalformed, err)
		}
		*a = Audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("%w: aud must be a string or an array of strings", ErrMalformed)
	}
	*a = l
	return nil
}

// Contains reports whether s is one of the audiences (exact string match).
func (a Audience) Contains(s string) bool {
	for _, x := range a {
		if x == s {
			return true
		}
	}
	return false
}

// registeredClaims are the RFC 7519 claims shared by the JWTs we validate.
type registeredClaims struct {
	Issuer    string       `json:"iss"`
	Subject   string       `json:"sub"`
	Audience  Audience     `json:"aud"`
	Expiry    *NumericDate `json:"exp"`
	NotBefore *NumericDate `json:"nbf"`
	IssuedAt  *NumericDate `json:"iat"`
	ID        string       `json:"jti"`
}

// decodeObject unmarshals a JSON object into v after refusing anything that is
// not a single object or that repeats a top-level member name (duplicate
// claims are a classic parser-differential trick). It also returns the
// members as raw JSON.
func decodeObject(data []byte, v any) (map[string]json.RawMessage, error) {
	raw, err := rawMembers(data)
	if err != nil {
		return nil, err
	}
	if err := checkMemberCase(raw, v); err != nil {
		return nil, err
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			if errors.Is(err, ErrMalformed) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	return raw, nil
}

// checkMemberCase refuses a member whose name equals a field of v only
// case-insensitively: encoding/json would bind {"ACTIVE":true} or
// {"active":false,"Active":true} to the "active" field, a parser
// differential with every case-sensitive JSON reader.
func checkMemberCase(raw map[string]json.RawMessage, v any) error {
	if v == nil {
		return nil
	}
	names := fieldNames(reflect.TypeOf(v))
	for key := range raw {
		for _, name := range names {
			if key != name && strings.EqualFold(key, name) {
				return fmt.Errorf("%w: member %q differs only in case from %q", ErrMalformed, key, name)
			}
		}
	}
	return nil
}

var fieldNameCache sync.Map // reflect.Type → []string

// fieldNames lists the JSON member names of a struct type, including those
// of embedded structs.
func fieldNames(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	if v, ok := fieldNameCache.Load(t); ok {
		return v.([]string)
	}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case tag == "-":
		case f.Anonymous && tag == "":
			names = append(names, fieldNames(f.Type)...)
		case !f.IsExported():
		case tag == "":
			names = append(names, f.Name)
		default:
			names = append(names, tag)
		}
	}
	fieldNameCache.Store(t, names)
	return names
}

// rawMembers splits a JSON object into its members, refusing duplicates and
// trailing data.
func rawMembers(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	out := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%w: bad member name", ErrMalformed)
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%w: duplicate member %q", ErrMalformed, key)
		}
		out[key] = val
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("%w: trailing data after JSON object", ErrMalformed)
	}
	return out, nil
}

// timeRules applies exp/nbf/iat checks with a symmetric clock skew.
type timeRules struct {
	now    time.Time
	skew   time.Duration
	maxAge time.Duration // iat older than now-maxAge-skew is refused; 0 = no limit
}

// check validates the time claims of c for the given kind of object.
// requireExp / requireIat make the claim mandatory.
func (r timeRules) check(kind error, c *registeredClaims, requireExp, requireIat bool) error {
	if c.Expiry == nil {
		if requireExp {
			return invalid(kind, ErrMissingClaim, "no exp")
		}
	} else if r.now.After(c.Expiry.Add(r.skew)) {
		return invalid(kind, ErrExpired, "exp %s is more than %s before now %s",
			stamp(c.Expiry.Time), r.skew, stamp(r.now))
	}
	if c.NotBefore != nil && c.NotBefore.After(r.now.Add(r.skew)) {
		return invalid(kind, ErrNotYetValid, "nbf %s is more than %s after now %s",
			stamp(c.NotBefore.Time), r.skew, stamp(r.now))
	}
	if c.IssuedAt == nil {
		if requireIat {
			return invalid(kind, ErrMissingClaim, "no iat")
		}
		return nil
	}
	if c.IssuedAt.After(r.now.Add(r.skew)) {
		return invalid(kind, ErrNotYetValid, "iat %s is more than %s after now %s",
			stamp(c.IssuedAt.Time), r.skew, stamp(r.now))
	}
	if r.maxAge > 0 && c.IssuedAt.Before(r.now.Add(-r.maxAge-r.skew)) {
		return invalid(kind, ErrExpired, "iat %s is older than %s", stamp(c.IssuedAt.Time), r.maxAge)
	}
	return nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// otherJWTTypes are explicit "typ" values (RFC 8725 §3.11) of JWTs that must
// never be accepted as an ID token, a JARM response or a userinfo JWT.
var otherJWTTypes = map[string]bool{
	"dpop+jwt": true, "at+jwt": true, "token-introspection+jwt": true,
	"oauth-authz-req+jwt": true, "logout+jwt": true, "secevent+jwt": true,
	"client-authentication+jwt": true, "jwk-set+jwt": true,
}

// foreignType reports whether typ names another explicitly typed JWT.
func foreignType(typ string) bool {
	return otherJWTTypes[normalizeTyp(typ)]
}

// normalizeTyp lower-cases a "typ" and drops an "application/" prefix
// (RFC 7515 §4.1.9).
func normalizeTyp(typ string) string {
	b := []byte(typ)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	s := string(b)
	const p = "application/"
	if len(s) > len(p) && s[:len(p)] == p {
		s = s[len(p):]
	}
	return s
}
