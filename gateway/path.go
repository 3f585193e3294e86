package gateway

import (
	"errors"
	"strings"
)

// errPath: the request path is ambiguous or malformed (answer 400).
var errPath = errors.New("gateway: ambiguous request path")

const maxPathLength = 8192

// canonicalPath returns the one form of an escaped request path that the
// gateway routes on and forwards (RFC 3986 §6.2.2). It decodes
// percent-encoded unreserved characters, upper-cases the hex of the
// remaining escapes and removes "." and ".." segments (§5.2.4).
//
// Anything two servers could read differently is refused with errPath:
// an empty segment ("//"), a dot segment written with escapes ("%2e%2e"),
// a segment that is a dot segment or empty before a ';' ("..;" — Tomcat's
// path parameters), an escaped '/', '\\' or control byte, a double escape
// ("%252e"), a bad escape, a raw byte outside RFC 3986 pchar, ".." above
// the root, or more than 8 KiB.
func canonicalPath(raw string) (string, error) {
	if raw == "" || raw[0] != '/' || len(raw) > maxPathLength {
		return "", errPath
	}
	if plainPath(raw) {
		return raw, nil
	}
	var out []string
	rest := raw[1:]
	trailing := false
	for {
		seg, more, found := strings.Cut(rest, "/")
		dec, encodedDot, err := decodeSegment(seg)
		if err != nil {
			return "", err
		}
		if found && dec == "" {
			return "", errPath // "//"
		}
		if encodedDot && (dec == "." || dec == "..") {
			return "", errPath
		}
		if before, _, ok := strings.Cut(dec, ";"); ok && (before == "" || before == "." || before == "..") {
			return "", errPath
		}
		trailing = !found && (dec == "" || dec == "." || dec == "..")
		switch dec {
		case ".", "":
		case "..":
			if len(out) == 0 {
				return "", errPath
			}
			out = out[:len(out)-1]
		default:
			out = append(out, dec)
		}
		if !found {
			break
		}
		rest = more
	}
	var b strings.Builder
	b.Grow(len(raw))
	for _, s := range out {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if trailing || len(out) == 0 {
		b.WriteByte('/')
	}
	return b.String(), nil
}

// canonicalizeOrEmpty is canonicalPath for configuration checks.
func canonicalizeOrEmpty(p string) string {
	c, err := canonicalPath(p)
	if err != nil {
		return ""
	}
	return c
}

// plainPath reports whether raw needs no work: only unreserved characters,
// sub-delimiters other than ';', ':', '@' and '/', no "//" and no segment
// starting with '.'.
func plainPath(raw string) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '/' {
			if i+1 < len(raw) && (raw[i+1] == '/' || raw[i+1] == '.') {
				return false
			}
			continue
		}
		if c == ';' || c == '%' || !pchar(c) {
			return false
		}
	}
	return true
}

// decodeSegment decodes escaped unreserved characters of one segment and
// normalises other escapes to upper-case hex.
func decodeSegment(seg string) (dec string, encodedDot bool, err error) {
	if !strings.ContainsRune(seg, '%') {
		for i := 0; i < len(seg); i++ {
			if !pchar(seg[i]) {
				return "", false, errPath
			}
		}
		return seg, false, nil
	}
	var b strings.Builder
	b.Grow(len(seg))
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c != '%' {
			if !pchar(c) {
				return "", false, errPath
			}
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(seg) {
			return "", false, errPath
		}
		hi, ok1 := unhex(seg[i+1])
		lo, ok2 := unhex(seg[i+2])
		if !ok1 || !ok2 {
			return "", false, errPath
		}
		v := hi<<4 | lo
		i += 2
		switch {
		case unreserved(v):
			if v == '.' {
				encodedDot = true
			}
			b.WriteByte(v)
		case v == '/' || v == '\\' || v < 0x20 || v == 0x7f:
			return "", false, errPath
		case v == '%' && i+2 < len(seg) && isHex(seg[i+1]) && isHex(seg[i+2]):
			return "", false, errPath // double escape
		default:
			const hexDigits = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hexDigits[v>>4])
			b.WriteByte(hexDigits[v&15])
		}
	}
	return b.String(), encodedDot, nil
}

// pchar: RFC 3986 unreserved, sub-delims, ':' and '@' (no '%' here).
func pchar(c byte) bool {
	if unreserved(c) {
		return true
	}
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@':
		return true
	}
	return false
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool { _, ok := unhex(c); return ok }

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// matchPrefix reports whether canonical path p is under prefix: equal, or
// prefix ends in '/' and p starts with it, or p continues prefix with '/'.
func matchPrefix(p, prefix string) bool {
	if !strings.HasPrefix(p, prefix) {
		return false
	}
	return len(p) == len(prefix) || prefix[len(prefix)-1] == '/' || p[len(prefix)] == '/'
}
