package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Curity Gen-1 cookie format, the one shared by Curity's open-source OAuth
// Agents (oauth-agent-node-express src/lib/cookieEncrypter.ts, the Kotlin
// agents' CookieEncrypter) and its OAuth proxy plugins for NGINX, Kong and
// OpenResty:
//
//	value = base64url-no-pad( 0x01 ‖ IV(12) ‖ ciphertext ‖ tag(16) )
//	AEAD  = AES-256-GCM with the configured key used as is (no derivation)
//	key   = 32 bytes written as 64 hexadecimal characters
//	AAD   = none; no key id, no expiry
//
// It is weaker than the native format (a value is not bound to its cookie
// name, there is no expiry inside and no key rotation) and exists only so that a deployment can migrate from Curity's
// agent, or keep Curity's gateway plugins, without logging users out.

const (
	curityVersion = 1
	curityIVSize  = 12
	// curityMinRaw is what Curity's decrypters require: version, IV, at
	// least one ciphertext byte, tag.
	curityMinRaw = 1 + curityIVSize + 1 + tagSize
)

var curityMinEncoded = base64.RawURLEncoding.EncodedLen(curityMinRaw)

// CurityV1 seals and opens values in the cookie format of Curity's Gen-1
// OAuth Agent. It is safe for concurrent use.
type CurityV1 struct {
	aead    cipher.AEAD
	maxSize int
}

// NewCurityV1 returns a CurityV1 for key (the 64-hex-character key Curity's
// agent and plugins are configured with, parsed by [ParseKey]). The key is
// the AES-256 key itself; give the native [Sealer] a different key.
func NewCurityV1(key Key) (*CurityV1, error) {
	if !key.valid {
		return nil, errors.New("seal: curity-v1: not a parsed key")
	}
	block, err := aes.NewCipher(key.secret[:])
	if err != nil {
		return nil, fmt.Errorf("seal: curity-v1: %w", err)
	}
	aead, err := cipher.NewGCM(block) // 12-byte nonce, 16-byte tag: Curity's parameters
	if err != nil {
		return nil, fmt.Errorf("seal: curity-v1: %w", err)
	}
	return &CurityV1{aead: aead, maxSize: DefaultMaxSize}, nil
}

// Seal encrypts data under a fresh random IV. data must not be empty
// (Curity's decrypters refuse an empty ciphertext) and the result must fit
// DefaultMaxSize characters.
func (c *CurityV1) Seal(data []byte) (string, error) {
	var iv [curityIVSize]byte
	if _, err := rand.Read(iv[:]); err != nil { // random 96-bit IVs: ≤ 2³² values per key (SP 800-38D §8.3)
		return "", fmt.Errorf("seal: curity-v1: iv: %w", err)
	}
	return c.sealWithIV(iv, data)
}

// sealWithIV is Seal with a given IV, for test vectors only.
func (c *CurityV1) sealWithIV(iv [curityIVSize]byte, data []byte) (string, error) {
	if len(data) == 0 {
		return "", errors.New("seal: curity-v1: empty value")
	}
	n := 1 + curityIVSize + len(data) + tagSize
	if base64.RawURLEncoding.EncodedLen(n) > c.maxSize {
		return "", fmt.Errorf("seal: curity-v1: %d bytes of data seal to more than %d characters", len(data), c.maxSize)
	}
	buf := make([]byte, 1+curityIVSize, n)
	buf[0] = curityVersion
	copy(buf[1:], iv[:])
	buf = c.aead.Seal(buf, iv[:], data, nil) // no AAD: the format has none
	return b64.EncodeToString(buf), nil
}

// Open decrypts a Curity Gen-1 value. Every failure — size, encoding,
// version, tag — is ErrInvalid; the size cap is checked before decoding.
func (c *CurityV1) Open(value string) ([]byte, error) {
	if len(value) > c.maxSize || len(value) < curityMinEncoded ||
		strings.IndexByte(value, '\n') >= 0 || strings.IndexByte(value, '\r') >= 0 {
		return nil, ErrInvalid
	}
	raw, err := b64.DecodeString(value)
	if err != nil || len(raw) < curityMinRaw || raw[0] != curityVersion {
		return nil, ErrInvalid
	}
	iv := raw[1 : 1+curityIVSize]
	pt, err := c.aead.Open(raw[1+curityIVSize:1+curityIVSize], iv, raw[1+curityIVSize:], nil)
	if err != nil {
		return nil, ErrInvalid
	}
	return pt, nil
}
