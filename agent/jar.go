package agent

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/cillers/fapid/internal/cookies"
	"github.com/cillers/fapid/internal/seal"
)

// kind is one of the agent's cookies.
type kind int

const (
	kindLogin kind = iota // state, nonce, PKCE verifier (10 min)
	kindAT                // the access token (read by the gateway)
	kindRT                // the session record: refresh token, AT expiry, subject
	kindID                // the ID token
	kindCSRF              // the CSRF token (read by the gateway)
)

var (
	// sessionKinds are cleared together (logout, session_expired, corruption).
	sessionKinds = []kind{kindAT, kindRT, kindID, kindCSRF}
	allKinds     = []kind{kindLogin, kindAT, kindRT, kindID, kindCSRF}
)

var (
	errMissing = errors.New("agent: cookie not present")
	errInvalid = errors.New("agent: cookie invalid")
)

// jar reads and writes the agent's cookies in one format.
type jar interface {
	// read returns the data of cookie k and the expiry sealed with it (zero
	// when the format has none): errMissing when absent, errInvalid when
	// present but malformed, tampered with, sealed for another name, or
	// expired.
	read(r *http.Request, k kind) ([]byte, time.Time, error)
	// write adds Set-Cookie lines for k with data, valid until exp, and
	// deletes pieces of an older, longer value still in r.
	write(w http.ResponseWriter, r *http.Request, k kind, data []byte, exp time.Time) error
	// expire adds deletion lines (Max-Age=0, the attributes it was set
	// with) for k and for every piece of it present in r.
	expire(w http.ResponseWriter, r *http.Request, k kind)
	// sealsExpiry reports whether read returns real expiries.
	sealsExpiry() bool
}

// maxAge is the cookie Max-Age for a value valid until exp (at least 1 s).
func maxAge(now, exp time.Time) int {
	s := math.Ceil(exp.Sub(now).Seconds())
	if s < 1 {
		return 1
	}
	return int(s)
}

// nativeJar: __Host-<prefix>-<kind>, internal/seal (AES-256-GCM, AAD =
// version ‖ cookie name, expiry inside), split by internal/cookies.
type nativeJar struct {
	sealer *seal.Sealer
	names  [5]string
	now    func() time.Time
}

func newNativeJar(keys []seal.Key, prefix string, now func() time.Time) (*nativeJar, error) {
	s, err := seal.New(keys, seal.WithClock(now), seal.WithMaxSize(maxSealed))
	if err != nil {
		return nil, fmt.Errorf("agent: cookie keys: %w", err)
	}
	j := &nativeJar{sealer: s, now: now}
	for k, suffix := range []string{"login", "at", "rt", "id", "csrf"} {
		j.names[k] = "__Host-" + prefix + "-" + suffix
	}
	return j, nil
}

func (j *nativeJar) sealsExpiry() bool { return true }

func (j *nativeJar) read(r *http.Request, k kind) ([]byte, time.Time, error) {
	v, err := cookies.Join(r, j.names[k])
	switch {
	case errors.Is(err, cookies.ErrMissing):
		return nil, time.Time{}, errMissing
	case err != nil:
		return nil, time.Time{}, errInvalid
	}
	data, exp, err := j.sealer.OpenExpiry(j.names[k], v)
	if err != nil {
		return nil, time.Time{}, errInvalid
	}
	return data, exp, nil
}

func (j *nativeJar) write(w http.ResponseWriter, r *http.Request, k kind, data []byte, exp time.Time) error {
	name := j.names[k]
	v, err := j.sealer.Seal(name, data, exp)
	if err != nil {
		return fmt.Errorf("agent: sealing %s: %w", name, err)
	}
	pieces, err := cookies.Split(name, v, 0)
	if err != nil {
		return fmt.Errorf("agent: %s: %w", name, err)
	}
	age := maxAge(j.now(), exp)
	for _, c := range pieces {
		c.MaxAge = age
		http.SetCookie(w, c)
	}
	for _, c := range cookies.Expire(r, name, len(pieces)) {
		http.SetCookie(w, c)
	}
	return nil
}

func (j *nativeJar) expire(w http.ResponseWriter, r *http.Request, k kind) {
	name := j.names[k]
	dels := cookies.Expire(r, name, 1)
	c := &http.Cookie{Name: name, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1}
	http.SetCookie(w, c)
	for _, c := range dels {
		http.SetCookie(w, c)
	}
}

// curityJar: Curity Gen-1 cookies <prefix>-{login,at,auth,id,csrf}, one
// cookie per value, sealed by internal/seal.CurityV1 (no AAD, no expiry).
// Curity's agent set -auth on <base>/refresh and -id on <base>/claims; this
// jar writes every cookie on one Path (CompatPath) and deletes those two
// legacy copies when it writes or clears, and reads the first copy of a name
// that opens (browsers send the longer path first).
type curityJar struct {
	keys   []*seal.CurityV1 // keys[0] seals; all open
	names  [5]string
	domain string
	path   string
	legacy [5]string // the path Curity's agent used, when not path
	now    func() time.Time
}

// maxCurityLine keeps one Set-Cookie line within 4096 bytes (RFC 6265bis
// §5.6) without chunking, which Curity's plugins cannot join.
const maxCurityLine = 4096

func newCurityJar(keys []seal.Key, prefix, domain, path, base string, now func() time.Time) (*curityJar, error) {
	j := &curityJar{domain: domain, path: path, now: now}
	for i, k := range keys {
		c, err := seal.NewCurityV1(k)
		if err != nil {
			return nil, fmt.Errorf("agent: cookie key %d: %w", i, err)
		}
		j.keys = append(j.keys, c)
	}
	for k, suffix := range []string{"login", "at", "auth", "id", "csrf"} {
		j.names[k] = prefix + "-" + suffix
	}
	if p := base + "/refresh"; p != path {
		j.legacy[kindRT] = p
	}
	if p := base + "/claims"; p != path {
		j.legacy[kindID] = p
	}
	return j, nil
}

func (j *curityJar) sealsExpiry() bool { return false }

func (j *curityJar) read(r *http.Request, k kind) ([]byte, time.Time, error) {
	seen := false
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			name, v, ok := strings.Cut(strings.TrimLeft(part, " \t"), "=")
			if !ok || name != j.names[k] {
				continue
			}
			seen = true
			v = strings.TrimRight(v, " \t")
			for _, key := range j.keys {
				if data, err := key.Open(v); err == nil {
					return data, time.Time{}, nil
				}
			}
		}
	}
	if seen {
		return nil, time.Time{}, errInvalid
	}
	return nil, time.Time{}, errMissing
}

func (j *curityJar) cookie(k kind, path string) *http.Cookie {
	return &http.Cookie{Name: j.names[k], Path: path, Domain: j.domain, Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode}
}

func (j *curityJar) write(w http.ResponseWriter, r *http.Request, k kind, data []byte, exp time.Time) error {
	v, err := j.keys[0].Seal(data)
	if err != nil {
		return fmt.Errorf("agent: sealing %s: %w", j.names[k], err)
	}
	c := j.cookie(k, j.path)
	c.Value = v
	c.MaxAge = maxAge(j.now(), exp)
	if line := c.String(); len(line) > maxCurityLine {
		return fmt.Errorf("agent: %s: %d-byte cookie over %d bytes (curity-v1 cannot chunk)", j.names[k], len(line), maxCurityLine)
	}
	http.SetCookie(w, c)
	j.expireLegacy(w, k)
	return nil
}

func (j *curityJar) expire(w http.ResponseWriter, _ *http.Request, k kind) {
	c := j.cookie(k, j.path)
	c.MaxAge = -1
	http.SetCookie(w, c)
	j.expireLegacy(w, k)
}

func (j *curityJar) expireLegacy(w http.ResponseWriter, k kind) {
	if p := j.legacy[k]; p != "" {
		c := j.cookie(k, p)
		c.MaxAge = -1
		http.SetCookie(w, c)
	}
}
