package keys

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"
)

// Reference schemes.
const (
	FileScheme   = "file:"
	PKCS11Scheme = "pkcs11:"
)

var (
	// ErrPKCS11Unsupported is returned for "pkcs11:" references by builds
	// without the PKCS#11 loader.
	ErrPKCS11Unsupported = errors.New("keys: pkcs11: references are not supported by this build (it needs cgo and the pkcs11 build tag)")
	// ErrNotReference is returned for a string without a known scheme, such as a bare path.
	ErrNotReference = errors.New("keys: not a key reference")
	// ErrUnsupportedKey is returned for a key of a type, size or curve fapid does
	// not sign with, for a public key where a private key is needed, and for an
	// encrypted key.
	ErrUnsupportedKey = errors.New("keys: unsupported key")
)

// Loader resolves references of one scheme.
type Loader interface {
	Load(ctx context.Context, ref string) (crypto.Signer, error)
}

// IsReference reports whether s starts with a known scheme ("file:" or
// "pkcs11:", lower case).
func IsReference(s string) bool {
	return strings.HasPrefix(s, FileScheme) || strings.HasPrefix(s, PKCS11Scheme)
}

// Load resolves a key reference to a signing key.
func Load(ctx context.Context, ref string) (crypto.Signer, error) {
	switch {
	case strings.HasPrefix(ref, FileScheme):
		return FileLoader{}.Load(ctx, ref)
	case strings.HasPrefix(ref, PKCS11Scheme):
		return newPKCS11Loader().Load(ctx, ref)
	case ref == "":
		return nil, fmt.Errorf("%w: empty", ErrNotReference)
	}
	if looksLikeKeyMaterial(ref) || len(ref) > 256 {
		return nil, fmt.Errorf("%w: the value looks like key material, not a reference (not shown); put the key in a file and write file:PATH", ErrNotReference)
	}
	return nil, fmt.Errorf("%w: the value has no scheme (not shown, in case it is a secret); write file:PATH for a key file, or a pkcs11: URI", ErrNotReference)
}

// looksLikeKeyMaterial guards error messages against echoing a key pasted
// where a reference belongs.
func looksLikeKeyMaterial(s string) bool {
	return strings.ContainsAny(s, "\n\r") || strings.Contains(s, "-----BEGIN") ||
		strings.HasPrefix(strings.TrimSpace(s), "{")
}

// unsupportedPKCS11 is the Loader of builds without PKCS#11 support.
type unsupportedPKCS11 struct{}

// Load refuses every reference; the URI is not echoed (it may carry a PIN).
func (unsupportedPKCS11) Load(context.Context, string) (crypto.Signer, error) {
	return nil, ErrPKCS11Unsupported
}
