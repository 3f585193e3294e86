package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"go.step.sm/crypto/pemutil"
)

// maxFileSize bounds every file this package reads (certificates, keys,
// provisioner key) before it is parsed.
const maxFileSize = 1 << 20

// WriteFileExclusive creates path with perm and writes data; it fails with
// ErrExists if path exists (O_EXCL, so a concurrent writer cannot be
// clobbered either). A partly written file is removed. Keys are written
// with it (mode 0600) so that no key file is ever overwritten.
func WriteFileExclusive(path string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s", ErrExists, path)
	}
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	return nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%s: file too large", path)
	}
	return b, nil
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := readLimited(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCA, err)
	}
	c, err := pemutil.ParseCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadCA, path, err)
	}
	return c, nil
}

// readKey reads an unencrypted PEM private key (PKCS#8, SEC 1 or PKCS#1).
// Errors never include key material.
func readKey(path string) (crypto.Signer, error) {
	b, err := readLimited(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCA, err)
	}
	k, err := pemutil.ParseKey(b, pemutil.WithFilename(path))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: cannot parse private key", ErrBadCA, path)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not a private key", ErrBadCA, path)
	}
	return s, nil
}

// encodeKey returns the PKCS#8 PEM encoding of a software key.
func encodeKey(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("cannot encode private key of type %T", k)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func encodeCerts(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
