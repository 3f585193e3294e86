package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cillers/fapid/pki"
)

// TestMain silences the standard logger: smallstep's ca package writes to it.
func TestMain(m *testing.M) {
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		args    []string
		want    error
		wantOut string
	}{
		{"no command", nil, errUsage, ""},
		{"help", []string{"-h"}, errHelp, "serve"},
		{"unknown", []string{"frobnicate"}, errUsage, ""},
		{"serve help", []string{"serve", "-h"}, errHelp, "--provisioner-key"},
		{"serve without dir", []string{"serve"}, errUsage, ""},
		{"serve bad flag", []string{"serve", "--dir", dir, "--bogus"}, errUsage, ""},
		{"serve extra arg", []string{"serve", "--dir", dir, "extra"}, errUsage, ""},
		{"serve empty provisioner", []string{"serve", "--dir", dir, "--provisioner", ""}, errUsage, ""},
		{"version", []string{"version"}, nil, "fapid-ca "},
		{"version extra arg", []string{"version", "x"}, errUsage, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), tc.args, &out, io.Discard)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("stdout lacks %q:\n%s", tc.wantOut, out.String())
			}
		})
	}
	if code := exitCode(usageError("x"), io.Discard); code != 2 {
		t.Errorf("usage exit code %d", code)
	}
	if code := exitCode(errors.New("x"), io.Discard); code != 1 {
		t.Errorf("error exit code %d", code)
	}
}

// syncBuffer is an io.Writer safe for the serve goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	if _, err := pki.Init(dir, pki.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--dir", dir, "--listen", "127.0.0.1:0"}, &out, io.Discard)
	}()
	urlRE := regexp.MustCompile(`Online CA at (https://\S+) `)
	var url string
	for deadline := time.Now().Add(20 * time.Second); url == "" && time.Now().Before(deadline); {
		select {
		case err := <-done:
			t.Fatalf("serve returned early: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if m := urlRE.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatalf("serve did not report its URL:\n%s", out.String())
	}
	keyFile := filepath.Join(dir, pki.ProvisionerKeyFileName)
	if !strings.Contains(out.String(), "Created provisioner key "+keyFile) {
		t.Errorf("serve output:\n%s", out.String())
	}
	cl, err := pki.NewClient(url, filepath.Join(dir, pki.RootCertFile), "", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Issue(ctx, pki.IssueRequest{CommonName: "a", SANs: []string{"a.test"}, Client: true}); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after cancel: %v", err)
	}
}
