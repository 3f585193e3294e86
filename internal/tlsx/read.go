package tlsx

import (
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"slices"
)

// maxPEMFile bounds a certificate, key or CA bundle file; real ones are a
// few KB. It keeps a misconfigured path (/dev/zero, a FIFO, a log file)
// from exhausting memory or hanging the daemon.
const maxPEMFile = 1 << 20

// readPEMFile reads a regular file of at most maxPEMFile bytes.
func readPEMFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("tlsx: %s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPEMFile {
		return nil, fmt.Errorf("tlsx: %s: larger than %d bytes", path, maxPEMFile)
	}
	return b, nil
}

// CheckUsage reports whether the source's current leaf may be used for the
// given purpose (x509.ExtKeyUsageServerAuth or ExtKeyUsageClientAuth): a
// leaf with EKUs must list it or ExtKeyUsageAny. It lets a daemon refuse at
// start a certificate that every peer would refuse later.
func CheckUsage(src Source, usage x509.ExtKeyUsage) error {
	c, err := src.Certificate()
	if err != nil {
		return err
	}
	if c == nil || len(c.Certificate) == 0 {
		return ErrNoCertificate
	}
	leaf := c.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return fmt.Errorf("tlsx: leaf certificate: %w", err)
		}
	}
	if len(leaf.ExtKeyUsage) == 0 || slices.Contains(leaf.ExtKeyUsage, usage) || slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return nil
	}
	name := map[x509.ExtKeyUsage]string{x509.ExtKeyUsageServerAuth: "server", x509.ExtKeyUsageClientAuth: "client"}[usage]
	return fmt.Errorf("tlsx: certificate %q is not issued for TLS %s use (extended key usage)", leaf.Subject.CommonName, name)
}
