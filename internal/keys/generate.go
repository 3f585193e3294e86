package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cillers/fapid/internal/jws"
)

// GeneratedRSABits is the RSA modulus size GenerateFile uses for PS256.
const GeneratedRSABits = 3072

// GenerateFile creates a new key for alg (ES256, PS256 or EdDSA), writes it to
// path as PKCS#8 PEM with mode 0600, and returns it. An existing file is never
// overwritten. path may also be given as a "file:" reference.
func GenerateFile(path string, alg string) (crypto.Signer, error) {
	if strings.HasPrefix(path, PKCS11Scheme) {
		return nil, ErrPKCS11Unsupported
	}
	if strings.HasPrefix(path, FileScheme) {
		p, err := FilePath(path)
		if err != nil {
			return nil, err
		}
		path = p
	}
	if path == "" {
		return nil, errors.New("keys: generate: empty path")
	}
	key, err := generate(alg)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("keys: generate: encoding %s key: %w", alg, err)
	}
	defer clear(der)
	if err := writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, err
	}
	return key, nil
}

func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case jws.ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jws.PS256:
		return rsa.GenerateKey(rand.Reader, GeneratedRSABits)
	case jws.EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("%w: cannot generate a key for alg %q (ES256, PS256 or EdDSA)", ErrUnsupportedKey, alg)
}

// writeNew creates path exclusively with mode 0600 and writes data; on any
// failure the partial file is removed.
func writeNew(path string, data []byte) (err error) {
	defer clear(data)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("keys: generate: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("keys: generate: %w", cerr)
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	// The umask can only clear bits; set the mode explicitly all the same.
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("keys: generate: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("keys: generate: writing %q: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("keys: generate: writing %q: %w", path, err)
	}
	return nil
}
