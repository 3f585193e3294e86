package seal

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// KeySize is the size of a master key in bytes; its text form is twice as long.
const KeySize = 32

// Key is a master key. The zero Key is not valid. It formats (fmt, any verb)
// as its key id only, so a Key that reaches a log or an error by mistake does
// not leak.
type Key struct {
	secret [KeySize]byte
	id     [4]byte
	valid  bool
}

// ParseKey parses a master key written as exactly 64 hexadecimal characters
// (upper or lower case), optionally followed by one "\n" or "\r\n". Any other
// form — base64, a passphrase, spaces, a different length — is refused, as is
// the all-zero key. Errors never contain the text.
func ParseKey(text []byte) (Key, error) {
	k, err := parseKey(text)
	if err != nil {
		return Key{}, fmt.Errorf("seal: %w", err)
	}
	return k, nil
}

func parseKey(text []byte) (Key, error) {
	switch {
	case len(text) > 0 && text[len(text)-1] == '\n':
		text = text[:len(text)-1]
		if len(text) > 0 && text[len(text)-1] == '\r' {
			text = text[:len(text)-1]
		}
	}
	if len(text) != 2*KeySize {
		hint := ""
		if len(text) == 43 || len(text) == 44 {
			hint = " (base64 is not accepted)"
		}
		return Key{}, fmt.Errorf("key must be exactly %d hexadecimal characters, got %d characters%s", 2*KeySize, len(text), hint)
	}
	var k Key
	if _, err := hex.Decode(k.secret[:], text); err != nil {
		return Key{}, errors.New("key must be exactly 64 hexadecimal characters (0-9, a-f); it contains other characters")
	}
	var zero [KeySize]byte
	if subtle.ConstantTimeCompare(k.secret[:], zero[:]) == 1 {
		return Key{}, errors.New("key is all zeros")
	}
	h := sha256.New()
	h.Write([]byte("fapid key id"))
	h.Write(k.secret[:])
	copy(k.id[:], h.Sum(nil))
	k.valid = true
	return k, nil
}

// maxKeyFile bounds what LoadKeyFile reads: a key file is 64 to 66 bytes.
const maxKeyFile = 1024

// LoadKeyFile reads a key file holding the text ParseKey accepts. Errors name
// the path, never the contents.
func LoadKeyFile(path string) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("seal: key file: %w", err)
	}
	defer f.Close()
	text, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return Key{}, fmt.Errorf("seal: key file %q: %w", path, err)
	}
	if len(text) > maxKeyFile {
		return Key{}, fmt.Errorf("seal: key file %q: larger than %d bytes", path, maxKeyFile)
	}
	k, err := parseKey(text)
	clear(text)
	if err != nil {
		return Key{}, fmt.Errorf("seal: key file %q: %w", path, err)
	}
	return k, nil
}

// GenerateKeyText returns a new master key from crypto/rand as 64 lowercase
// hexadecimal characters (no newline).
func GenerateKeyText() (string, error) {
	var b [KeySize]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("seal: generating key: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// ID returns the key id (8 hexadecimal characters) that values sealed with
// this key carry. It identifies the key without revealing it.
func (k Key) ID() string {
	if !k.valid {
		return "invalid"
	}
	return hex.EncodeToString(k.id[:])
}

// String prints the key id only.
func (k Key) String() string { return "seal.Key(" + k.ID() + ")" }

// GoString prints the key id only.
func (k Key) GoString() string { return k.String() }

// Format prints the key id only, whatever the verb (%d or %x included).
func (k Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }
