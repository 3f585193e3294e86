package cookies

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

const (
	// MaxChunks is the most pieces one value may have.
	MaxChunks = 8
	// DefaultChunkSize is the value length per piece that keeps a whole
	// Set-Cookie line (name, value, Path, Expires, Max-Age, Secure,
	// HttpOnly, SameSite) within 4096 bytes for names up to about 150 bytes.
	DefaultChunkSize = 3800
	// MaxChunkSize is the largest value one piece may carry.
	MaxChunkSize = 4096
)

var (
	// ErrMissing: the request has no piece of the cookie.
	ErrMissing = errors.New("cookies: cookie not present")
	// ErrMalformed: the pieces cannot be joined (gap, duplicate, bad
	// character, empty or oversized piece, too many pieces).
	ErrMalformed = errors.New("cookies: malformed cookie")
)

// ChunkName is the name of piece i of cookie name: name itself for i == 0,
// name-i after that.
func ChunkName(name string, i int) string {
	if i == 0 {
		return name
	}
	return name + "-" + strconv.Itoa(i)
}

// Split cuts value into pieces of at most size bytes (size <= 0 means
// DefaultChunkSize) and returns one cookie per piece with Path=/, Secure,
// HttpOnly and SameSite=Strict. The caller sets Expires or MaxAge on each.
// value must be non-empty base64url text (what internal/seal produces).
func Split(name, value string, size int) ([]*http.Cookie, error) {
	if size <= 0 {
		size = DefaultChunkSize
	}
	switch {
	case name == "":
		return nil, errors.New("cookies: empty name")
	case size > MaxChunkSize:
		return nil, fmt.Errorf("cookies: chunk size %d over %d", size, MaxChunkSize)
	case value == "" || !validValue(value):
		return nil, fmt.Errorf("%w: value is not base64url text", ErrMalformed)
	case (len(value)+size-1)/size > MaxChunks:
		return nil, fmt.Errorf("cookies: %d bytes need more than %d pieces of %d", len(value), MaxChunks, size)
	}
	var out []*http.Cookie
	for i := 0; len(value) > 0; i++ {
		n := min(size, len(value))
		c := base(ChunkName(name, i))
		c.Value = value[:n]
		out = append(out, c)
		value = value[n:]
	}
	return out, nil
}

// Expire returns deletion cookies (Max-Age=0, same attributes as Split)
// for every piece of name present in r whose index is keep or more. Use
// keep = 0 to delete the cookie entirely, keep = len(pieces) when writing
// a new value.
func Expire(r *http.Request, name string, keep int) []*http.Cookie {
	var out []*http.Cookie
	forEach(r, name, func(idx int, _ string) bool {
		if idx >= keep && idx < MaxChunks {
			c := base(ChunkName(name, idx))
			c.MaxAge = -1
			out = append(out, c)
		}
		return true
	})
	return out
}

func base(name string) *http.Cookie {
	return &http.Cookie{Name: name, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode}
}

// Join returns the concatenated value of name, name-1, … from r's Cookie
// headers. Pieces must run from 0 without a gap, appear once each, be
// 1..MaxChunkSize base64url characters, and number at most MaxChunks.
// Nothing is decrypted here: open the result with internal/seal.
func Join(r *http.Request, name string) (string, error) {
	var parts [MaxChunks]string
	var seen uint32
	bad := false
	forEach(r, name, func(idx int, v string) bool {
		if idx < 0 || idx >= MaxChunks || seen&(1<<idx) != 0 || v == "" || len(v) > MaxChunkSize || !validValue(v) {
			bad = true
			return false
		}
		seen |= 1 << idx
		parts[idx] = v
		return true
	})
	switch {
	case bad:
		return "", ErrMalformed
	case seen == 0:
		return "", ErrMissing
	case seen&(seen+1) != 0: // not of the form 0…01…1: a piece is missing
		return "", ErrMalformed
	case seen == 1:
		return parts[0], nil
	}
	n := 0
	for seen != 0 {
		n++
		seen >>= 1
	}
	return strings.Join(parts[:n], ""), nil
}

// forEach calls fn for every cookie in r's Cookie headers named name
// (index 0) or name-N (index N; -1 when N is not a canonical decimal
// number). It stops when fn returns false. Other cookies are skipped
// without allocation.
func forEach(r *http.Request, name string, fn func(idx int, value string) bool) {
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimLeft(part, " \t")
			k, v, ok := strings.Cut(part, "=")
			if !ok || !strings.HasPrefix(k, name) {
				continue
			}
			v = strings.TrimRight(v, " \t")
			idx := 0
			if rest := k[len(name):]; rest != "" {
				if rest[0] != '-' {
					continue // another cookie sharing the prefix
				}
				var numeric bool
				idx, numeric = index(rest[1:])
				if !numeric {
					continue // name-foo: another cookie
				}
			}
			if !fn(idx, v) {
				return
			}
		}
	}
}

// index parses a chunk number. numeric is false when s is not all decimal
// digits; n is -1 for a number no writer produces (leading zero, 0, more
// than two digits).
func index(s string) (n int, numeric bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
		if n > 99 {
			n = 100
		}
	}
	if s[0] == '0' || len(s) > 2 {
		return -1, true
	}
	return n, true
}

// validValue reports whether v is all base64url characters (RFC 4648 §5,
// no padding).
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
