package tlsx

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// LoadCertPool reads a PEM bundle of trust anchors (CERTIFICATE blocks; text
// between blocks, such as the comments in distribution bundles, is ignored).
// A block of another type, a certificate that does not parse, or a file
// without any certificate is an error: a trust store that silently lost
// certificates would fail later and less clearly.
func LoadCertPool(path string) (*x509.CertPool, error) {
	b, err := readPEMFile(path)
	if err != nil {
		return nil, fmt.Errorf("tlsx: load cert pool: %w", err)
	}
	pool, err := parseCertPool(b)
	if err != nil {
		return nil, fmt.Errorf("tlsx: load cert pool %s: %w", path, err)
	}
	return pool, nil
}

func parseCertPool(b []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		n++
		if block.Type != "CERTIFICATE" {
			// The type only: the block could be a private key.
			return nil, fmt.Errorf("PEM block %d: type %q, want CERTIFICATE", n, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		pool.AddCert(c)
	}
	if n == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return pool, nil
}
