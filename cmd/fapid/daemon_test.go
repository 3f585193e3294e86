package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cillers/fapid/pki"
	"github.com/cillers/fapid/pki/online"
)

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testPKI makes a CA in dir/pki and a server certificate in dir.
func testPKI(t *testing.T, dir string) *pki.CA {
	t.Helper()
	ca, err := pki.Init(filepath.Join(dir, "pki"), pki.InitOptions{Name: "daemon test"})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.Issue(t.Context(), pki.IssueRequest{CommonName: "localhost", SANs: []string{"localhost", "127.0.0.1"}, Server: true, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteIssued(iss, filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")); err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestDaemonServesAndStops(t *testing.T) {
	dir := t.TempDir()
	ca := testPKI(t, dir)
	public, edge, ops := freeAddr(t), freeAddr(t), freeAddr(t)
	cfgText := fmt.Sprintf(`log: {level: debug, format: text}
shutdown_grace: 5s
ops: {address: %q}
pki: {dir: pki}
certificates:
  server: {cert_file: server.crt, key: file:server.key}
  edge:
    embedded: {common_name: localhost, sans: [127.0.0.1], usage: [server], lifetime: 10m}
listeners:
  - {name: public, address: %q, certificate: server, client_auth: require, client_ca: pki/root_ca.crt}
  - {name: edge, address: %q, certificate: edge, hsts: false}
`, ops, public, edge)
	cfgPath := filepath.Join(dir, "fapid.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	var logs bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run", "-c", cfgPath}, io.Discard, &syncWriter{w: &logs}) }()
	waitHTTP(t, "http://"+ops+"/readyz", done)

	ci, err := ca.Issue(t.Context(), pki.IssueRequest{CommonName: "client", SANs: []string{"spiffe://test/client"}, Client: true, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	client, err := ci.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	roots := ca.RootPool()
	get := func(addr string, cert *tls.Certificate) (*http.Response, error) {
		tc := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 5 * time.Second}
		defer c.CloseIdleConnections()
		return c.Get("https://" + addr + "/anything")
	}

	resp, err := get(public, client)
	if err != nil {
		t.Fatalf("public listener with a client certificate: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("public: status %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	var e struct{ Code, Message string }
	if json.Unmarshal(body, &e) != nil || e.Code != "not_found" {
		t.Errorf("public body = %s", body)
	}
	if _, err := get(public, nil); err == nil {
		t.Error("public listener accepted a client without a certificate")
	}

	resp, err = get(edge, nil)
	if err != nil {
		t.Fatalf("edge listener (embedded CA certificate): %v", err)
	}
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("edge: HSTS set although hsts: false")
	}
	if leaf := resp.TLS.PeerCertificates[0]; leaf.NotAfter.Sub(leaf.NotBefore) > 11*time.Minute {
		t.Errorf("edge certificate lifetime %v, want the configured 10m", leaf.NotAfter.Sub(leaf.NotBefore))
	}

	for path, want := range map[string]string{"/healthz": "ok", "/metrics": `fapid_certificate_expiry_timestamp_seconds{certificate="edge"}`} {
		r, err := http.Get("http://" + ops + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %s", path, r.StatusCode, b)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop within 10 s")
	}
	if _, err := net.DialTimeout("tcp", public, time.Second); err == nil {
		t.Error("public listener still accepts connections after shutdown")
	}
	if s := logs.String(); !strings.Contains(s, "shutting down") || strings.Contains(s, "PRIVATE KEY") {
		t.Errorf("logs:\n%s", s)
	}
}

func TestDaemonBadListenerFailsFast(t *testing.T) {
	dir := t.TempDir()
	testPKI(t, dir)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfgPath := filepath.Join(dir, "fapid.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`certificates:
  server: {cert_file: server.crt, key: file:server.key}
listeners:
  - {name: public, address: %q, certificate: server}
`, busy.Addr().String())), 0o600)
	err = run(t.Context(), []string{"run", "-c", cfgPath}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `listener "public"`) {
		t.Fatalf("err = %v, want a listener error", err)
	}
}

// waitHTTP polls url until it answers 200, or fails if the daemon exits.
func waitHTTP(t *testing.T, url string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("daemon exited early: %v", err)
		default:
		}
		if r, err := http.Get(url); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not ready", url)
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestDaemonOnlineCA runs the online CA (pki/online, what fapid-ca serve
// runs) beside the daemon and has the daemon take a listener certificate from
// it over HTTPS with the JWK provisioner (certificates.*.embedded.ca_url).
func TestDaemonOnlineCA(t *testing.T) {
	log.SetOutput(io.Discard) // smallstep's ca package logs through the standard logger
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	dir := t.TempDir()
	ca := testPKI(t, dir)
	srv, err := online.NewServer(online.ServerOptions{
		Dir: ca.Dir(), Addr: "127.0.0.1:0", ProvisionerKeyFile: filepath.Join(dir, "pki", "provisioner.json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	caCtx, caCancel := context.WithCancel(context.Background())
	caDone := make(chan error, 1)
	go func() { caDone <- srv.Run(caCtx) }()
	t.Cleanup(func() {
		caCancel()
		if err := <-caDone; err != nil {
			t.Errorf("online CA: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer wcancel()
	if err := srv.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	edge, ops := freeAddr(t), freeAddr(t)
	cfgPath := filepath.Join(dir, "fapid.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`ops: {address: %q}
pki:
  dir: pki
certificates:
  edge:
    embedded:
      common_name: localhost
      sans: [127.0.0.1]
      usage: [server]
      lifetime: 10m
      ca_url: %s
      root_file: pki/root_ca.crt
      provisioner_key: file:pki/provisioner.json
listeners:
  - {name: edge, address: %q, certificate: edge}
`, ops, srv.URL(), edge)), 0o600)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run", "-c", cfgPath}, io.Discard, io.Discard) }()
	waitHTTP(t, "http://"+ops+"/readyz", done)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.RootPool(), ServerName: "127.0.0.1"}}}
	resp, err := c.Get("https://" + edge + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.TLS.PeerCertificates[0].Issuer.CommonName; !strings.Contains(got, "Intermediate") {
		t.Errorf("edge certificate issued by %q", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
