package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/examples/api"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/tlsx"
	"github.com/cillers/fapid/pki"
)

// TestRun starts the command on 127.0.0.1:0 with files from a fresh PKI,
// calls it with a bound token, and stops it through the context.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	ca, err := pki.Init(filepath.Join(dir, "ca"), pki.InitOptions{Name: "Run Test"})
	if err != nil {
		t.Fatal(err)
	}
	issue := func(name string, r pki.IssueRequest) *pki.Issued {
		iss, err := ca.Issue(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := pki.WriteIssued(iss, filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")); err != nil {
			t.Fatal(err)
		}
		return iss
	}
	srvIss := issue("api", pki.IssueRequest{CommonName: "api", SANs: []string{"127.0.0.1"}, Server: true})
	gw := issue("gw", pki.IssueRequest{CommonName: "gateway", SANs: []string{"gw.example.test"}, Client: true})

	// The issuer's JWKS, on its own TLS listener.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := jws.NewSigner(key, "k")
	doc, _ := jws.PublicJWKS(jws.PublicKey{Key: signer.Public(), KeyID: "k"})
	srvCert, _ := srvIss.TLSCertificate()
	jtc, _ := tlsx.ServerConfig(tlsx.ServerOptions{Source: tlsx.NewHolder(srvCert)})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", jtc)
	if err != nil {
		t.Fatal(err)
	}
	js := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(doc) })}
	go func() { _ = js.Serve(ln) }()
	t.Cleanup(func() { _ = js.Close() })

	runCtx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	args := []string{"--listen", "127.0.0.1:0",
		"--cert", filepath.Join(dir, "api.crt"), "--key", filepath.Join(dir, "api.key"),
		"--client-ca", ca.RootFile(), "--ca", ca.RootFile(),
		"--issuer", "https://as.example.test", "--audience", "https://api.example.test",
		"--jwks-url", "https://" + ln.Addr().String() + "/jwks"}
	go func() { done <- run(runCtx, args, pw, io.Discard); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "exampleapi: listening on ")
	if !ok {
		t.Fatalf("first line %q", line)
	}
	if _, _, err := net.SplitHostPort(strings.TrimPrefix(base, "https://")); err != nil {
		t.Fatal(err)
	}

	gwCert, _ := gw.TLSCertificate()
	payload, _ := json.Marshal(map[string]any{
		"iss": "https://as.example.test", "aud": "https://api.example.test", "sub": "bob",
		"exp": time.Now().Add(time.Minute).Unix(), "cnf": map[string]string{"x5t#S256": api.CertThumbprint(gwCert.Leaf)},
	})
	tok, _ := signer.Sign(payload, jws.SignOptions{Typ: "at+jwt"})
	ctc, _ := tlsx.ClientConfig(tlsx.ClientOptions{RootCAs: ca.RootPool(), Source: tlsx.NewHolder(gwCert)})
	tr := &http.Transport{TLSClientConfig: ctc}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/hello", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || body["sub"] != "bob" {
		t.Fatalf("status %d, body %v", res.StatusCode, body)
	}
	tr.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--cert", "c", "--key", "k", "--client-ca", "ca", "--issuer", "i"},
		{"--cert", "c", "--key", "k", "--client-ca", "ca", "--issuer", "i", "--jwks-url", "u", "--jwks-cert", "x"},
		{"--cert", "c", "--key", "k", "--client-ca", "ca", "--issuer", "i", "--jwks-url", "u", "extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	o, err := parseFlags([]string{"--cert", "c", "--key", "k", "--client-ca", "ca", "--issuer", "i",
		"--jwks-url", "u", "--require-binding=false"}, io.Discard)
	if err != nil || o.requireBinding {
		t.Fatalf("%+v %v", o, err)
	}
}
