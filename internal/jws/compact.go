package jws

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// b64 is strict base64url without padding: non-zero trailing bits are refused,
// so every token has exactly one encoding (no signature malleability).
var b64 = base64.RawURLEncoding.Strict()

// parsed is a compact JWS whose protected header this package has checked itself.
type parsed struct {
	header  map[string]json.RawMessage
	alg     string
	kid     string
	typ     string
	payload []byte
	sig     []byte
}

// parseCompact splits and decodes a compact JWS and checks its protected
// header: size caps, JWE detection, alg allowlist, refused header parameters.
// It does no key work. The "jwk" parameter is left to the caller.
func parseCompact(s string) (*parsed, error) {
	switch {
	case s == "":
		return nil, fmt.Errorf("%w: empty token", ErrMalformed)
	case len(s) > MaxCompactSize:
		return nil, fmt.Errorf("%w: token longer than %d bytes", ErrMalformed, MaxCompactSize)
	case s[0] == '{':
		return nil, fmt.Errorf("%w: JWS JSON serialization not accepted", ErrMalformed)
	}
	switch n := strings.Count(s, "."); n {
	case 2:
	case 4:
		return nil, ErrEncrypted
	default:
		return nil, fmt.Errorf("%w: %d segments, want 3", ErrMalformed, n+1)
	}
	h64, rest, _ := strings.Cut(s, ".")
	p64, s64, _ := strings.Cut(rest, ".")
	if h64 == "" {
		return nil, fmt.Errorf("%w: empty header", ErrMalformed)
	}
	if len(h64) > MaxHeaderSize {
		return nil, fmt.Errorf("%w: header longer than %d bytes", ErrMalformed, MaxHeaderSize)
	}
	hdr, err := decodeSegment(h64)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	p := &parsed{}
	if p.header, err = parseObject(hdr); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	if err := p.checkHeader(); err != nil {
		return nil, err
	}
	if p.payload, err = decodeSegment(p64); err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrMalformed, err)
	}
	if p.sig, err = decodeSegment(s64); err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrMalformed, err)
	}
	if !sigLenFits(p.alg, len(p.sig)) {
		return nil, fmt.Errorf("%w: %d-byte signature cannot be %s", ErrSignature, len(p.sig), p.alg)
	}
	return p, nil
}

// refusedParams are header parameters that would let the token choose its own
// key or change how it is processed. "jwk" is handled by the callers.
var refusedParams = []string{"jku", "x5u", "x5c", "b64", "zip"}

func (p *parsed) checkHeader() error {
	h := p.header
	if _, ok := h["enc"]; ok {
		return ErrEncrypted
	}
	alg, err := stringParam(h, "alg")
	if err != nil {
		return err
	}
	if !Allowed(alg) {
		return fmt.Errorf("%w: %s", ErrAlgorithm, short(alg))
	}
	p.alg = alg
	for _, name := range refusedParams {
		if _, ok := h[name]; ok {
			return fmt.Errorf("%w: header parameter %q not accepted", ErrMalformed, name)
		}
	}
	if raw, ok := h["crit"]; ok {
		var crit []string
		if err := json.Unmarshal(raw, &crit); err != nil || crit == nil {
			return fmt.Errorf("%w: crit is not an array of names", ErrMalformed)
		}
		if len(crit) > 0 {
			return fmt.Errorf("%w: critical extension %s not supported", ErrMalformed, short(crit[0]))
		}
	}
	if p.kid, err = stringParam(h, "kid"); err != nil {
		return err
	}
	if p.typ, err = stringParam(h, "typ"); err != nil {
		return err
	}
	return nil
}

// stringParam returns header parameter name, "" when absent, an error when
// present with a non-string value. "alg" is required.
func stringParam(h map[string]json.RawMessage, name string) (string, error) {
	raw, ok := h[name]
	if !ok {
		if name == "alg" {
			return "", fmt.Errorf("%w: no alg", ErrAlgorithm)
		}
		return "", nil
	}
	var v string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &v) != nil {
		return "", fmt.Errorf("%w: %s is not a string", ErrMalformed, name)
	}
	return v, nil
}

// sigLenFits rejects signatures whose length cannot be right for alg, before
// any key work: ES256 (r‖s, RFC 7518 §3.4) and EdDSA are 64 bytes, PS256 is the
// modulus size of an allowed RSA key.
func sigLenFits(alg string, n int) bool {
	switch alg {
	case ES256, EdDSA:
		return n == 64
	case PS256:
		return n >= minRSABits/8 && n <= maxRSABits/8
	}
	return false
}

// decodeSegment decodes strict base64url. base64's decoder silently skips CR and
// LF, so the alphabet is checked first.
func decodeSegment(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, errors.New("invalid base64url character")
		}
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, errors.New("invalid base64url")
	}
	return b, nil
}

// parseObject decodes a JSON object into its members, refusing duplicate
// member names (RFC 7515 §5.2 step 4) and trailing data.
func parseObject(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	m := make(map[string]json.RawMessage)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, errors.New("invalid JSON")
		}
		name, ok := t.(string)
		if !ok {
			return nil, errors.New("invalid JSON")
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("duplicate member %s", short(name))
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errors.New("invalid JSON")
		}
		m[name] = v
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, errors.New("invalid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON object")
	}
	return m, nil
}
