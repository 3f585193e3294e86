package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cillers/fapid/pki"
)

func pkiRun(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = pkiCommand(t.Context(), args, &o, &e)
	return o.String(), e.String(), err
}

// pkiOpenSSL returns the openssl path, or skips — except under CI=true, where
// a missing openssl fails the test.
func pkiOpenSSL(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl not found (required under CI=true)")
		}
		t.Skip("openssl not found")
	}
	return p
}

func pkiReadChain(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	return certs
}

func TestPKIInitIssue(t *testing.T) {
	openssl := pkiOpenSSL(t)
	dir := filepath.Join(t.TempDir(), "ca")
	out, _, err := pkiRun(t, "init", "--dir", dir, "--name", "Test CA")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "fingerprint") || strings.Contains(out, "PRIVATE KEY") {
		t.Errorf("init output:\n%s", out)
	}
	for _, k := range []string{pki.RootKeyFile, pki.IntermediateKeyFile} {
		if st, err := os.Stat(filepath.Join(dir, k)); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", k, st.Mode(), err)
		}
	}
	if _, _, err := pkiRun(t, "init", "--dir", dir); !errors.Is(err, pki.ErrExists) {
		t.Fatalf("second init: %v, want ErrExists", err)
	}

	root := filepath.Join(dir, pki.RootCertFile)
	inter := filepath.Join(dir, pki.IntermediateCertFile)
	ca, err := pki.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, flag  string
		usage, deny x509.ExtKeyUsage
		ok, refused string // openssl -purpose values
	}{
		{"server", "--server", x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth, "sslserver", "sslclient"},
		{"client", "--client", x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth, "sslclient", "sslserver"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := filepath.Join(t.TempDir(), tc.name)
			out, _, err := pkiRun(t, "issue", "--dir", dir, "--cn", tc.name+"-01",
				"--san", tc.name+".example.test", "--san", "127.0.0.1", "--san", "spiffe://fapid/"+tc.name,
				tc.flag, "--lifetime", "24h", "--out", prefix)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out, "PRIVATE KEY") {
				t.Errorf("issue output holds a key:\n%s", out)
			}
			if st, err := os.Stat(prefix + ".key"); err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("key mode: %v %v", st.Mode(), err)
			}
			cmd := exec.Command(openssl, "verify", "-CAfile", root, "-untrusted", inter, "-purpose", tc.ok, prefix+".crt")
			if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), ": OK") {
				t.Fatalf("openssl verify -purpose %s: %v\n%s", tc.ok, err, b)
			}
			cmd = exec.Command(openssl, "verify", "-CAfile", root, "-untrusted", inter, "-purpose", tc.refused, prefix+".crt")
			if b, err := cmd.CombinedOutput(); err == nil {
				t.Fatalf("openssl verify -purpose %s accepted:\n%s", tc.refused, b)
			}

			chain := pkiReadChain(t, prefix+".crt")
			if len(chain) != 2 {
				t.Fatalf("%s.crt holds %d certificates, want leaf + intermediate", prefix, len(chain))
			}
			ints := x509.NewCertPool()
			ints.AddCert(chain[1])
			opts := x509.VerifyOptions{Roots: ca.RootPool(), Intermediates: ints, KeyUsages: []x509.ExtKeyUsage{tc.usage}}
			if _, err := chain[0].Verify(opts); err != nil {
				t.Fatalf("x509 verify for %v: %v", tc.usage, err)
			}
			opts.KeyUsages = []x509.ExtKeyUsage{tc.deny}
			if _, err := chain[0].Verify(opts); err == nil {
				t.Fatalf("x509 verify for %v accepted", tc.deny)
			}
			if chain[0].Subject.CommonName != tc.name+"-01" || len(chain[0].URIs) != 1 || len(chain[0].IPAddresses) != 1 {
				t.Errorf("subject/SANs: %v %v %v", chain[0].Subject, chain[0].URIs, chain[0].IPAddresses)
			}
			if _, _, err := pkiRun(t, "issue", "--dir", dir, "--cn", "x", "--san", "x.test", tc.flag, "--out", prefix); !errors.Is(err, pki.ErrExists) {
				t.Fatalf("issue over existing files: %v, want ErrExists", err)
			}
		})
	}
}

func TestPKIUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		args    []string
		want    error
		wantOut string
	}{
		{"no subcommand", nil, errUsage, ""},
		{"help", []string{"-h"}, errHelp, "Subcommands"},
		{"unknown", []string{"frobnicate"}, errUsage, ""},
		{"init help", []string{"init", "-h"}, errHelp, "--root-lifetime"},
		{"issue help", []string{"issue", "--help"}, errHelp, "--san"},
		{"help names fapid-ca", []string{"--help"}, errHelp, "fapid-ca serve"},
		{"serve moved to fapid-ca", []string{"serve", "-h"}, errUsage, ""},
		{"init without dir", []string{"init"}, errUsage, ""},
		{"init bad flag", []string{"init", "--dir", dir, "--bogus"}, errUsage, ""},
		{"init bad lifetime", []string{"init", "--dir", dir, "--root-lifetime", "1h", "--intermediate-lifetime", "2h"}, errUsage, ""},
		{"init extra arg", []string{"init", "--dir", dir, "extra"}, errUsage, ""},
		{"issue without usage", []string{"issue", "--dir", dir, "--cn", "a", "--san", "a.test", "--out", "p"}, errUsage, ""},
		{"issue without san", []string{"issue", "--dir", dir, "--cn", "a", "--server", "--out", "p"}, errUsage, ""},
		{"issue without out", []string{"issue", "--dir", dir, "--cn", "a", "--san", "a.test", "--client"}, errUsage, ""},
		{"serve without dir", []string{"serve"}, errUsage, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := pkiRun(t, tc.args...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Fatalf("stdout lacks %q:\n%s", tc.wantOut, out)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, pki.RootKeyFile)); err == nil {
		t.Fatal("a usage error wrote files")
	}
}
