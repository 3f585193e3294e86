package tlsx

import (
	"bytes"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadCertPool(t *testing.T) {
	ca1, ca2 := newCA(t, "one"), newCA(t, "two")
	leaf1, leaf2 := ca1.issue(t, serverLeafOptions()), ca2.issue(t, serverLeafOptions())
	corrupt := bytes.Replace(ca1.pem, []byte("MII"), []byte("AAA"), 1)
	for _, tc := range []struct {
		name    string
		data    []byte
		trusted []*leaf // must verify against the pool
		wantErr string
	}{
		{"one CA", ca1.pem, []*leaf{leaf1}, ""},
		{"bundle with comments", join("# one\n", ca1.pem, "\n# two\n", ca2.pem), []*leaf{leaf1, leaf2}, ""},
		{"empty", nil, nil, "no PEM certificate"},
		{"not PEM", []byte("hello\n"), nil, "no PEM certificate"},
		{"DER instead of PEM", ca1.cert.Raw, nil, "no PEM certificate"},
		{"private key", join(ca1.pem, leaf1.keyPEM), nil, `type "PRIVATE KEY"`},
		{"corrupt certificate", corrupt, nil, "PEM block 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			pool, err := LoadCertPool(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadCertPool error %v, want %q", err, tc.wantErr)
				}
				if pool != nil {
					t.Error("pool returned with an error")
				}
				if body := strings.Split(string(leaf1.keyPEM), "\n")[1]; strings.Contains(err.Error(), body) {
					t.Error("error leaks key material")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range tc.trusted {
				opts := x509.VerifyOptions{Roots: pool, DNSName: "localhost"}
				if _, err := l.tls.Leaf.Verify(opts); err != nil {
					t.Errorf("%s: %v", l.tls.Leaf.Issuer.CommonName, err)
				}
			}
		})
	}
	if _, err := LoadCertPool(filepath.Join(t.TempDir(), "absent.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent file: %v, want fs.ErrNotExist", err)
	}
}

func join(parts ...any) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			b.WriteString(p)
		case []byte:
			b.Write(p)
		}
	}
	return b.Bytes()
}

func FuzzParseCertPool(f *testing.F) {
	ca := newCA(f, "seed")
	f.Add(ca.pem)
	f.Add(join("# comment\n", ca.pem, ca.pem))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		pool, err := parseCertPool(data)
		if (err == nil) == (pool == nil) {
			t.Fatalf("pool %v with error %v", pool, err)
		}
		if err == nil && !bytes.Contains(data, []byte("-----BEGIN CERTIFICATE-----")) {
			t.Fatal("pool without a CERTIFICATE block")
		}
	})
}
