package online

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cillers/fapid/pki"
)

func newTestCA(t *testing.T, o pki.InitOptions) *pki.CA {
	t.Helper()
	ca, err := pki.Init(filepath.Join(t.TempDir(), "ca"), o)
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	return ca
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
		var zero T
		return zero
	}
}

// verifyFor verifies leaf for one usage against the CA.
func verifyFor(ca *pki.CA, leaf *x509.Certificate, usage x509.ExtKeyUsage) error {
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots: ca.RootPool(), Intermediates: ca.IntermediatePool(),
		KeyUsages: []x509.ExtKeyUsage{usage},
	})
	return err
}

func isIncompatibleUsage(err error) bool {
	var ci x509.CertificateInvalidError
	return errors.As(err, &ci) && ci.Reason == x509.IncompatibleUsage
}

// checkIssued asserts EKU exactness and verification per usage (as pki's
// tests do for the in-process CA).
func checkIssued(t *testing.T, ca *pki.CA, iss *pki.Issued, server, client bool) {
	t.Helper()
	leaf := iss.Leaf()
	var want []x509.ExtKeyUsage
	if server {
		want = append(want, x509.ExtKeyUsageServerAuth)
	}
	if client {
		want = append(want, x509.ExtKeyUsageClientAuth)
	}
	if !slices.Equal(leaf.ExtKeyUsage, want) {
		t.Errorf("EKU %v, want %v", leaf.ExtKeyUsage, want)
	}
	for u, ok := range map[x509.ExtKeyUsage]bool{x509.ExtKeyUsageServerAuth: server, x509.ExtKeyUsageClientAuth: client} {
		err := verifyFor(ca, leaf, u)
		switch {
		case ok && err != nil:
			t.Errorf("verify for %v: %v", u, err)
		case !ok && !isIncompatibleUsage(err):
			t.Errorf("verify for %v: %v, want IncompatibleUsage", u, err)
		}
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage %v, want digitalSignature only", leaf.KeyUsage)
	}
	if leaf.IsCA {
		t.Error("leaf is a CA")
	}
	if len(iss.Chain) != 2 || !iss.Chain[1].Equal(ca.Intermediate()) {
		t.Error("chain is not leaf + intermediate")
	}
}
