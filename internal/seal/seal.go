package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalid is the one error Open returns, whatever the reason.
var ErrInvalid = errors.New("seal: invalid or expired value")

// DefaultMaxSize is the default cap on a sealed value, in encoded characters.
const DefaultMaxSize = 8192

const (
	version    = 1
	hkdfInfo   = "fapid seal v1"
	idSize     = 4
	nonceSize  = 12
	tagSize    = 16
	expirySize = 8
	headerSize = 1 + idSize + nonceSize
	overhead   = headerSize + expirySize + tagSize // raw bytes around the data
)

var b64 = base64.RawURLEncoding.Strict()

// minEncoded is the length of a sealed empty value: anything shorter is invalid.
var minEncoded = base64.RawURLEncoding.EncodedLen(overhead)

// Sealer seals and opens values. It is safe for concurrent use.
type Sealer struct {
	keys    []aeadKey // keys[0] seals
	now     func() time.Time
	maxSize int
}

type aeadKey struct {
	id   [idSize]byte
	aead cipher.AEAD
}

// Option configures a Sealer.
type Option func(*Sealer) error

// WithClock sets the clock used for expiry (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Sealer) error {
		if now == nil {
			return errors.New("seal: nil clock")
		}
		s.now = now
		return nil
	}
}

// WithMaxSize sets the largest sealed value, in encoded characters, that Seal
// produces and Open looks at (default DefaultMaxSize).
func WithMaxSize(n int) Option {
	return func(s *Sealer) error {
		if n < minEncoded || n > 1<<20 {
			return fmt.Errorf("seal: max size %d outside [%d, %d]", n, minEncoded, 1<<20)
		}
		s.maxSize = n
		return nil
	}
}

// New returns a Sealer. keys[0] seals; every key opens. The AEAD for each key
// is built here, once.
func New(keys []Key, opts ...Option) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no keys")
	}
	s := &Sealer{now: time.Now, maxSize: DefaultMaxSize}
	for _, opt := range opts {
		if err := opt(s); err != nil {
			return nil, err
		}
	}
	for i, k := range keys {
		if !k.valid {
			return nil, fmt.Errorf("seal: key %d is not a parsed key", i)
		}
		for _, prev := range s.keys {
			if prev.id == k.id {
				return nil, fmt.Errorf("seal: keys %s listed twice (or their ids collide)", k.ID())
			}
		}
		aead, err := newAEAD(k)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, aeadKey{id: k.id, aead: aead})
	}
	return s, nil
}

func newAEAD(k Key) (cipher.AEAD, error) {
	derived, err := hkdf.Key(sha256.New, k.secret[:], nil, hkdfInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("seal: deriving key %s: %w", k.ID(), err)
	}
	defer clear(derived)
	block, err := aes.NewCipher(derived)
	if err != nil {
		return nil, fmt.Errorf("seal: key %s: %w", k.ID(), err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: key %s: %w", k.ID(), err)
	}
	return aead, nil
}

// Seal encrypts data for the cookie called name, valid until expires (Unix
// second precision). name must not be empty, expires must be in the future and
// the result must fit the size cap.
func (s *Sealer) Seal(name string, data []byte, expires time.Time) (string, error) {
	if name == "" {
		return "", errors.New("seal: empty cookie name")
	}
	if !expires.After(s.now()) {
		return "", errors.New("seal: expiry is not in the future")
	}
	n := overhead + len(data)
	if base64.RawURLEncoding.EncodedLen(n) > s.maxSize {
		return "", fmt.Errorf("seal: %d bytes of data seal to more than %d characters", len(data), s.maxSize)
	}
	k := &s.keys[0]
	buf := make([]byte, n)
	buf[0] = version
	copy(buf[1:], k.id[:])
	nonce := buf[1+idSize : headerSize]
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: nonce: %w", err)
	}
	pt := buf[headerSize : n-tagSize]
	binary.BigEndian.PutUint64(pt, uint64(expires.Unix()))
	copy(pt[expirySize:], data)
	k.aead.Seal(pt[:0], nonce, pt, aad(name))
	return b64.EncodeToString(buf), nil
}

func aad(name string) []byte {
	b := make([]byte, 1+len(name))
	b[0] = version
	copy(b[1:], name)
	return b
}

// Open decrypts a value sealed for the cookie called name and returns its data.
// Every failure is ErrInvalid.
func (s *Sealer) Open(name, value string) ([]byte, error) {
	data, _, err := s.OpenExpiry(name, value)
	return data, err
}

// OpenExpiry is Open that also returns the expiry sealed with the value.
func (s *Sealer) OpenExpiry(name, value string) ([]byte, time.Time, error) {
	// Size first, before any decoding. base64's decoder skips CR and LF, which
	// would let one value have several encodings; refuse them.
	if len(value) > s.maxSize || len(value) < minEncoded ||
		strings.IndexByte(value, '\n') >= 0 || strings.IndexByte(value, '\r') >= 0 {
		return nil, time.Time{}, ErrInvalid
	}
	// One allocation: [value bytes | version ‖ name (AAD) | decoded value].
	rawLen := base64.RawURLEncoding.DecodedLen(len(value))
	buf := make([]byte, len(value)+1+len(name)+rawLen)
	src := buf[:len(value)]
	copy(src, value)
	ad := buf[len(value) : len(value)+1+len(name)]
	ad[0] = version
	copy(ad[1:], name)
	raw := buf[len(ad)+len(value):]
	if m, err := b64.Decode(raw, src); err != nil || m != rawLen || raw[0] != version {
		return nil, time.Time{}, ErrInvalid
	}
	k := s.key(raw[1 : 1+idSize])
	if k == nil {
		return nil, time.Time{}, ErrInvalid
	}
	pt, err := k.aead.Open(raw[headerSize:headerSize], raw[1+idSize:headerSize], raw[headerSize:], ad)
	if err != nil || len(pt) < expirySize {
		return nil, time.Time{}, ErrInvalid
	}
	exp := int64(binary.BigEndian.Uint64(pt))
	if s.now().Unix() >= exp {
		return nil, time.Time{}, ErrInvalid
	}
	return pt[expirySize:len(pt):len(pt)], time.Unix(exp, 0), nil
}

func (s *Sealer) key(id []byte) *aeadKey {
	for i := range s.keys {
		if string(s.keys[i].id[:]) == string(id) {
			return &s.keys[i]
		}
	}
	return nil
}
