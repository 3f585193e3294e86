package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/cillers/fapid/internal/jws"
)

// maxKeyFile bounds what is read from a key file; an 8192-bit RSA key in PEM
// with a certificate chain is far smaller.
const maxKeyFile = 64 << 10

const (
	minRSABits = 2048
	maxRSABits = 8192
)

// FileLoader loads "file:" references.
type FileLoader struct{}

// Load reads and parses the key file named by ref.
func (FileLoader) Load(ctx context.Context, ref string) (crypto.Signer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := FilePath(ref)
	if err != nil {
		return nil, err
	}
	if looksLikeKeyMaterial(path) {
		return nil, fmt.Errorf("%w: the file: path looks like key material (not shown)", ErrNotReference)
	}
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	key, err := parsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("keys: file %q: %w", path, err)
	}
	return key, nil
}

// FilePath returns the path of a "file:" reference: "file:PATH" (literal),
// "file:///PATH" or "file://localhost/PATH".
func FilePath(ref string) (string, error) {
	path, ok := strings.CutPrefix(ref, FileScheme)
	if !ok {
		return "", fmt.Errorf("%w: not a file: reference", ErrNotReference)
	}
	if rest, ok := strings.CutPrefix(path, "//"); ok {
		switch {
		case strings.HasPrefix(rest, "/"):
			path = rest
		case strings.HasPrefix(rest, "localhost/"):
			path = strings.TrimPrefix(rest, "localhost")
		default:
			return "", fmt.Errorf("%w: file: URI with a host; write file:/absolute/path", ErrNotReference)
		}
	}
	if path == "" {
		return "", fmt.Errorf("%w: file: reference without a path", ErrNotReference)
	}
	return path, nil
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("keys: file %q is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("keys: file %q: %w", path, err)
	}
	if len(data) > maxKeyFile {
		clear(data)
		return nil, fmt.Errorf("keys: file %q: larger than %d bytes, not a key file", path, maxKeyFile)
	}
	return data, nil
}

// parsePrivateKey parses a PEM or JWK private key. Its errors never include
// the input: parser errors from encoding/json or x509 are replaced.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("empty file")
	}
	var (
		key crypto.Signer
		err error
	)
	if trimmed[0] == '{' {
		key, err = parseJWK(trimmed)
	} else {
		key, err = parsePEM(data)
	}
	if err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	return key, nil
}

// pemKeyTypes are the PEM block types holding a private key we can parse.
var pemKeyTypes = map[string]func([]byte) (any, error){
	"PRIVATE KEY":     x509.ParsePKCS8PrivateKey,
	"EC PRIVATE KEY":  func(b []byte) (any, error) { return x509.ParseECPrivateKey(b) },
	"RSA PRIVATE KEY": func(b []byte) (any, error) { return x509.ParsePKCS1PrivateKey(b) },
}

func parsePEM(data []byte) (crypto.Signer, error) {
	var (
		found *pem.Block
		seen  []string
	)
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		seen = append(seen, block.Type)
		switch {
		case block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "":
			return nil, fmt.Errorf("%w: encrypted PEM keys are not supported", ErrUnsupportedKey)
		case pemKeyTypes[block.Type] != nil:
			if found != nil {
				return nil, errors.New("more than one private key in the file")
			}
			found = block
		}
	}
	if found == nil {
		if len(seen) == 0 {
			return nil, errors.New("neither PEM nor a JSON Web Key")
		}
		return nil, fmt.Errorf("%w: no private key in the PEM file (found %s)", ErrUnsupportedKey, strings.Join(seen, ", "))
	}
	key, err := pemKeyTypes[found.Type](found.Bytes)
	clear(found.Bytes)
	if err != nil {
		return nil, fmt.Errorf("malformed %s block", found.Type)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T in %s block cannot sign", ErrUnsupportedKey, key, found.Type)
	}
	return signer, nil
}

// parseJWK parses a private JWK, or a JWK Set holding exactly one key.
func parseJWK(data []byte) (crypto.Signer, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if json.Unmarshal(data, &set) != nil {
		return nil, errors.New("malformed JSON")
	}
	if set.Keys != nil {
		if len(set.Keys) != 1 {
			return nil, fmt.Errorf("JWK Set holds %d keys; a key file must hold exactly one", len(set.Keys))
		}
		data = set.Keys[0]
	}
	var jwk jose.JSONWebKey
	if jwk.UnmarshalJSON(data) != nil {
		return nil, errors.New("malformed JSON Web Key")
	}
	if jwk.IsPublic() {
		return nil, fmt.Errorf("%w: the JWK is a public key; a private key is needed", ErrUnsupportedKey)
	}
	signer, ok := jwk.Key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %s JWK cannot sign", ErrUnsupportedKey, describe(jwk.Key))
	}
	if jwk.Algorithm != "" && !jws.Allowed(jwk.Algorithm) {
		return nil, fmt.Errorf("%w: JWK alg %q is not PS256, ES256 or EdDSA", ErrUnsupportedKey, jwk.Algorithm)
	}
	if jwk.Algorithm != "" && jwk.Algorithm != algFor(signer) {
		return nil, fmt.Errorf("%w: JWK alg %q does not fit its %s key", ErrUnsupportedKey, jwk.Algorithm, describe(signer))
	}
	return signer, nil
}

// checkKey accepts only keys fapid signs with: RSA 2048–8192 bits, EC P-256, Ed25519.
func checkKey(key crypto.Signer) error {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return fmt.Errorf("%w: RSA key of %d bits; %d to %d bits are accepted", ErrUnsupportedKey, bits, minRSABits, maxRSABits)
		}
		if k.E < 65537 || k.E%2 == 0 {
			return fmt.Errorf("%w: RSA public exponent below 65537 or even", ErrUnsupportedKey)
		}
		if k.Validate() != nil {
			return fmt.Errorf("%w: inconsistent RSA key", ErrUnsupportedKey)
		}
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("%w: %s key; only EC P-256 is accepted", ErrUnsupportedKey, describe(k))
		}
		if !ecdsaConsistent(k) {
			return fmt.Errorf("%w: inconsistent EC key (public point does not match)", ErrUnsupportedKey)
		}
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize || !ed25519.NewKeyFromSeed(k.Seed()).Equal(k) {
			return fmt.Errorf("%w: inconsistent Ed25519 key", ErrUnsupportedKey)
		}
	default:
		return fmt.Errorf("%w: %s key; RSA, EC P-256 and Ed25519 are accepted", ErrUnsupportedKey, describe(key))
	}
	return nil
}

// ecdsaConsistent reports whether the public point is the one the private
// scalar derives (a JWK can carry any x, y next to d).
func ecdsaConsistent(k *ecdsa.PrivateKey) bool {
	d, err := k.Bytes()
	if err != nil {
		return false
	}
	defer clear(d)
	derived, err := ecdsa.ParseRawPrivateKey(k.Curve, d)
	return err == nil && derived.PublicKey.Equal(&k.PublicKey)
}

// algFor returns the JWS algorithm a private key signs with.
func algFor(key crypto.Signer) string {
	switch key.(type) {
	case *rsa.PrivateKey:
		return jws.PS256
	case *ecdsa.PrivateKey:
		return jws.ES256
	case ed25519.PrivateKey:
		return jws.EdDSA
	}
	return ""
}

// describe names a key's type, never its value.
func describe(key any) string {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return fmt.Sprintf("RSA %d-bit", k.N.BitLen())
	case *ecdsa.PrivateKey:
		return "EC " + k.Curve.Params().Name
	case ed25519.PrivateKey:
		return "Ed25519"
	case []byte:
		return "symmetric"
	default:
		return fmt.Sprintf("%T", key)
	}
}
