package pki

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func newTestCA(t *testing.T, o InitOptions) *CA {
	t.Helper()
	ca, err := Init(filepath.Join(t.TempDir(), "ca"), o)
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

func TestInitFileModesAndNoOverwrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := Init(dir, InitOptions{Name: "Test"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{
		RootKeyFile: 0o600, IntermediateKeyFile: 0o600,
		RootCertFile: 0o644, IntermediateCertFile: 0o644,
	}
	for name, mode := range want {
		if got := fileMode(t, filepath.Join(dir, name)); got != mode {
			t.Errorf("%s: mode %o, want %o", name, got, mode)
		}
	}
	if got := fileMode(t, dir); got != 0o700 {
		t.Errorf("dir mode %o, want 700", got)
	}
	if ca.Root().Subject.CommonName != "Test Root" || ca.Intermediate().Subject.CommonName != "Test Intermediate" {
		t.Errorf("names: %q, %q", ca.Root().Subject.CommonName, ca.Intermediate().Subject.CommonName)
	}
	if !ca.Root().IsCA || !ca.Intermediate().IsCA || ca.Intermediate().MaxPathLen != 0 || !ca.Intermediate().MaxPathLenZero {
		t.Error("CA basic constraints not as expected")
	}
	before, _ := os.ReadFile(filepath.Join(dir, RootKeyFile))
	if _, err := Init(dir, InitOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Init: %v, want ErrExists", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, RootKeyFile))
	if string(before) != string(after) {
		t.Fatal("second Init changed the root key")
	}
	// Also refuses when only one file is present.
	dir2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir2, IntermediateCertFile), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(dir2, InitOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("Init over a partial dir: %v, want ErrExists", err)
	}
	if _, err := os.Stat(filepath.Join(dir2, RootKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Init wrote a key into a partial dir")
	}
	// Open does not need the root key.
	if err := os.Remove(filepath.Join(dir, RootKeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatalf("Open without root key: %v", err)
	}
}

func TestOpenRejectsMismatchedKey(t *testing.T) {
	a := newTestCA(t, InitOptions{})
	b := newTestCA(t, InitOptions{})
	data, err := os.ReadFile(filepath.Join(b.Dir(), IntermediateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a.Dir(), IntermediateKeyFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(a.Dir()); !errors.Is(err, ErrBadCA) {
		t.Fatalf("Open with a foreign key: %v, want ErrBadCA", err)
	}
}

// verifyFor verifies leaf for one usage against the CA.
func verifyFor(ca *CA, leaf *x509.Certificate, usage x509.ExtKeyUsage) error {
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

// checkIssued asserts EKU exactness and verification per usage.
func checkIssued(t *testing.T, ca *CA, iss *Issued, server, client bool) {
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

func TestIssueExtKeyUsageAndSANs(t *testing.T) {
	ca := newTestCA(t, InitOptions{})
	for _, tc := range []struct {
		name           string
		server, client bool
	}{
		{"server only", true, false},
		{"client only", false, true},
		{"server and client", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss, err := ca.Issue(t.Context(), IssueRequest{
				CommonName: "agent-01",
				SANs:       []string{"agent.example.test", "127.0.0.1", "::1", "spiffe://fapid/agent-01", "ops@example.test"},
				Server:     tc.server, Client: tc.client, Lifetime: 2 * time.Hour,
			})
			if err != nil {
				t.Fatal(err)
			}
			checkIssued(t, ca, iss, tc.server, tc.client)
			leaf := iss.Leaf()
			if leaf.Subject.CommonName != "agent-01" {
				t.Errorf("CN %q", leaf.Subject.CommonName)
			}
			if !slices.Equal(leaf.DNSNames, []string{"agent.example.test"}) ||
				len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) ||
				len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://fapid/agent-01" ||
				!slices.Equal(leaf.EmailAddresses, []string{"ops@example.test"}) {
				t.Errorf("SANs: dns=%v ip=%v uri=%v email=%v", leaf.DNSNames, leaf.IPAddresses, leaf.URIs, leaf.EmailAddresses)
			}
			if got := leaf.NotAfter.Sub(time.Now()); got < 119*time.Minute || got > 121*time.Minute {
				t.Errorf("lifetime left %v, want about 2h", got)
			}
			if _, err := iss.TLSCertificate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A serverAuth-only certificate must not authenticate a client (RFC 8705
// client certificates are checked for clientAuth).
func TestServerOnlyRefusedAsClient(t *testing.T) {
	ca := newTestCA(t, InitOptions{})
	iss, err := ca.Issue(t.Context(), IssueRequest{CommonName: "srv", SANs: []string{"srv.example.test"}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	err = verifyFor(ca, iss.Leaf(), x509.ExtKeyUsageClientAuth)
	if !isIncompatibleUsage(err) {
		t.Fatalf("verify as client: %v, want IncompatibleUsage", err)
	}
}

func TestIssueInvalidRequests(t *testing.T) {
	ca := newTestCA(t, InitOptions{})
	ok := IssueRequest{CommonName: "x", SANs: []string{"x.example.test"}, Server: true}
	for name, mod := range map[string]func(r *IssueRequest){
		"no usage":         func(r *IssueRequest) { r.Server = false },
		"no CN":            func(r *IssueRequest) { r.CommonName = "" },
		"long CN":          func(r *IssueRequest) { r.CommonName = strings.Repeat("a", 65) },
		"no SAN":           func(r *IssueRequest) { r.SANs = nil },
		"empty SAN":        func(r *IssueRequest) { r.SANs = []string{""} },
		"wildcard":         func(r *IssueRequest) { r.SANs = []string{"*.example.test"} },
		"space":            func(r *IssueRequest) { r.SANs = []string{"a b"} },
		"URI without host": func(r *IssueRequest) { r.SANs = []string{"localhost:8443"} },
		"bad email":        func(r *IssueRequest) { r.SANs = []string{"@example.test"} },
		"negative life":    func(r *IssueRequest) { r.Lifetime = -time.Second },
	} {
		t.Run(name, func(t *testing.T) {
			r := ok
			mod(&r)
			if _, err := ca.Issue(t.Context(), r); !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("got %v, want ErrInvalidRequest", err)
			}
		})
	}
}

func TestIssueLifetimeCappedByIntermediate(t *testing.T) {
	ca := newTestCA(t, InitOptions{RootLifetime: 3 * time.Hour, IntermediateLifetime: time.Hour})
	iss, err := ca.Issue(t.Context(), IssueRequest{CommonName: "c", SANs: []string{"c.test"}, Client: true, Lifetime: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !iss.Leaf().NotAfter.Equal(ca.Intermediate().NotAfter) {
		t.Fatalf("NotAfter %v, want the intermediate's %v", iss.Leaf().NotAfter, ca.Intermediate().NotAfter)
	}
	if _, err := Init(t.TempDir(), InitOptions{RootLifetime: time.Hour, IntermediateLifetime: 2 * time.Hour}); err == nil {
		t.Fatal("Init accepted an intermediate outliving the root")
	}
}

func TestWriteIssued(t *testing.T) {
	ca := newTestCA(t, InitOptions{})
	iss, err := ca.Issue(context.Background(), IssueRequest{CommonName: "w", SANs: []string{"w.test"}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "w.crt"), filepath.Join(dir, "w.key")
	if err := WriteIssued(iss, crt, key); err != nil {
		t.Fatal(err)
	}
	if m := fileMode(t, key); m != 0o600 {
		t.Errorf("key mode %o", m)
	}
	if err := WriteIssued(iss, crt, key); !errors.Is(err, ErrExists) {
		t.Fatalf("second write: %v, want ErrExists", err)
	}
	k, err := readKey(key)
	if err != nil || !publicKeysEqual(k.Public(), iss.Leaf().PublicKey) {
		t.Fatalf("key file does not hold the leaf key: %v", err)
	}
}
