package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cillers/fapid/config"
	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/pki"
)

func TestDemoFlags(t *testing.T) {
	o, err := parseDemoFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := demoOptions{state: ".fapid/demo", domain: "fapid.localhost", apiPort: 8443, spaPort: 8444, upstreamPort: 9443, logLevel: "info"}
	if o != want {
		t.Fatalf("defaults %+v, want %+v", o, want)
	}
	bad := [][]string{
		{"--domain", "localhost"},
		{"--domain", "Fapid.localhost"},
		{"--domain", "a..b"},
		{"--domain", "-a.localhost"},
		{"--api-port", "0"},
		{"--spa-port", "70000"},
		{"--api-port", "9443"}, // the upstream default
		{"--as-port", "8444"},
		{"--state", ""},
		{"--log-level", "loud"},
		{"extra"},
		{"--nope"},
	}
	for _, args := range bad {
		if _, err := parseDemoFlags(args, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	var help bytes.Buffer
	if _, err := parseDemoFlags([]string{"--help"}, &help); !errors.Is(err, errHelp) || !strings.Contains(help.String(), "--upstream-port") {
		t.Errorf("--help: %v\n%s", err, help.String())
	}
}

// TestDemoStateReused: the CA, the agent key and the session key are made
// once; a second start reuses them.
func TestDemoStateReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s1, err := openDemoState(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1.created) != 3 {
		t.Fatalf("first start created %v", s1.created)
	}
	key1, _ := os.ReadFile(filepath.Join(dir, demoSessionKeyFile))
	s2, err := openDemoState(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	key2, _ := os.ReadFile(filepath.Join(dir, demoSessionKeyFile))
	if len(s2.created) != 0 || s2.agentSigner.KeyID() != s1.agentSigner.KeyID() || !bytes.Equal(key1, key2) || len(key1) != 65 {
		t.Fatalf("second start: created %v, kid %s vs %s, session key reused %v", s2.created, s2.agentSigner.KeyID(), s1.agentSigner.KeyID(), bytes.Equal(key1, key2))
	}
	if !s2.ca.RootPool().Equal(s1.ca.RootPool()) {
		t.Fatal("a new CA on the second start")
	}
	for _, f := range []string{demoSessionKeyFile, demoAgentKeyFile, "ca/root_ca.key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, err, fi.Mode())
		}
	}
	// Leaf certificates are replaced on every start.
	req := demoASRequest()
	for range 2 {
		if err := s2.issueFiles(t.Context(), req, demoASCertFile, demoASKeyFile); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDemoConfigLoads: the generated fapid.yaml passes config.Load and says
// what the demo needs.
func TestDemoConfigLoads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, demoConfigFile)
	c := demoConfig{Domain: "fapid.localhost", APIPort: 8443, SPAOrigin: "https://www.fapid.localhost:8444",
		Issuer: "https://127.0.0.1:41000", UpstreamPort: 9443, AgentID: demoAgentClientID, GatewayID: demoGatewayClientID,
		CADir: demoCADir, AgentKey: demoAgentKeyFile, SessionKey: demoSessionKeyFile}
	if err := writeDemoConfig(path, c); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, g := cfg.Agent, cfg.Gateway
	checks := []struct {
		name      string
		got, want any
	}{
		{"issuer", cfg.AuthorizationServer.Issuer, c.Issuer},
		{"listener", cfg.Listeners[0].Address, "127.0.0.1:8443"},
		{"trusted origin", strings.Join(cfg.Session.TrustedOrigins, ","), c.SPAOrigin},
		{"redirect", a.RedirectURI, c.SPAOrigin + "/callback"},
		{"post logout", a.PostLogoutRedirectURI, c.SPAOrigin + "/"},
		{"agent auth", a.Client.Auth + "/" + a.SenderConstraint + "/" + a.ResponseMode, "private_key_jwt/mtls/jarm"},
		{"agent key", string(a.Client.Key), "file:" + filepath.Join(dir, "keys", "agent.key")},
		{"introspection", g.Introspection.Client.Auth + "/" + g.Introspection.Client.Certificate, "tls_client_auth/gateway-client"},
		{"route", g.Routes[0].Prefix + " " + g.Routes[0].Upstream, "/api/ https://127.0.0.1:9443"},
		{"upstream cert", g.Routes[0].UpstreamCertificate, a.Client.Certificate},
		{"credentials", strings.Join(g.Routes[0].Credentials, ","), "cookie,bearer"},
		{"session cert", g.SessionCertificate, a.Client.Certificate},
		{"server cert", strings.Join(cfg.Certificates["api-server"].Embedded.SANs, ","), "api.fapid.localhost"},
		{"gateway cn", cfg.Certificates["gateway-client"].Embedded.CommonName, demoGatewayClientID},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestDemoPortBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().(*net.TCPAddr).Port
	ports := demoFreePorts(t, 3)
	for _, tc := range []struct {
		flag string
		o    demoOptions
	}{
		{"--api-port", demoOptions{apiPort: busy, spaPort: ports[0], upstreamPort: ports[1]}},
		{"--spa-port", demoOptions{apiPort: ports[2], spaPort: busy, upstreamPort: ports[1]}},
		{"--upstream-port", demoOptions{apiPort: ports[2], spaPort: ports[0], upstreamPort: busy}},
		{"--as-port", demoOptions{apiPort: ports[2], spaPort: ports[0], upstreamPort: ports[1], asPort: busy}},
	} {
		p, err := reserveDemoPorts(tc.o)
		if err == nil {
			p.close()
		}
		if !errors.Is(err, errPortBusy) || !strings.Contains(err.Error(), tc.flag) || !strings.Contains(err.Error(), strconv.Itoa(busy)) {
			t.Errorf("%s busy: %v", tc.flag, err)
		}
	}
}

// TestDemoNoNode: without Node.js the demo says what to install.
func TestDemoNoNode(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	ports := demoFreePorts(t, 3)
	o := demoOptions{state: t.TempDir(), domain: "fapid.localhost", apiPort: ports[0], spaPort: ports[1], upstreamPort: ports[2]}
	err := runDemo(t.Context(), o, io.Discard, slog.New(slog.DiscardHandler))
	if !errors.Is(err, interop.ErrNoNode) || !strings.Contains(err.Error(), "Node.js 20 or later") || !strings.Contains(err.Error(), "apt-get install nodejs npm") {
		t.Fatalf("without node: %v", err)
	}
}

// TestDemoRuns starts the whole demo in process (Node.js needed), checks
// that the SPA, the agent and the gateway answer as the browser will see
// them, and that cancelling stops the authorization server. The browser
// flow itself is conformance/e2e.
func TestDemoRuns(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("Node.js is missing: apt-get install nodejs npm")
	}
	ports := demoFreePorts(t, 3)
	o := demoOptions{state: filepath.Join(t.TempDir(), "state"), domain: "fapid.localhost", apiPort: ports[0], spaPort: ports[1], upstreamPort: ports[2]}
	var out, logs demoBuffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runDemo(ctx, o, &out, slog.New(slog.NewTextHandler(&logs, nil))) }()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Minute); !ok(); time.Sleep(20 * time.Millisecond) {
			select {
			case err := <-done:
				t.Fatalf("demo stopped while waiting for %s: %v\n%s", what, err, logs.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s\n%s", what, logs.String())
			}
		}
	}
	waitFor("summary", func() bool { return strings.Contains(out.String(), "Press Ctrl-C to stop.") })
	spaOrigin := "https://www.fapid.localhost:" + strconv.Itoa(o.spaPort)
	apiOrigin := "https://api.fapid.localhost:" + strconv.Itoa(o.apiPort)
	if !strings.Contains(out.String(), "Open:        "+spaOrigin+"/\n") || !strings.Contains(out.String(), filepath.Join(o.state, "ca", "root_ca.crt")) {
		t.Errorf("summary:\n%s", out.String())
	}
	hc := demoClient(t, filepath.Join(o.state, "ca", "root_ca.crt"))
	res, body := demoDo(t, hc, http.MethodGet, spaOrigin+"/config.json", "")
	if res.StatusCode != 200 || !strings.Contains(body, `"oauthAgentBaseUrl":"`+apiOrigin+`/oauth-agent"`) {
		t.Errorf("SPA config.json: %d %s", res.StatusCode, body)
	}
	res, body = demoDo(t, hc, http.MethodPost, apiOrigin+"/oauth-agent/login/start", spaOrigin)
	var start struct {
		URL string `json:"authorizationRequestUrl"`
	}
	if err := json.Unmarshal([]byte(body), &start); res.StatusCode != 200 || err != nil ||
		!strings.Contains(start.URL, "client_id="+demoAgentClientID+"&request_uri=") || res.Header.Get("Access-Control-Allow-Origin") != spaOrigin {
		t.Errorf("login/start: %d %s", res.StatusCode, body)
	}
	if res, body = demoDo(t, hc, http.MethodGet, apiOrigin+"/api/hello", spaOrigin); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("API without a session: %d %s", res.StatusCode, body)
	}
	pid := demoASPID(t, logs.String())
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo after cancel: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo still running 30s after cancel")
	}
	if interop.GroupAlive(pid) {
		t.Error("the authorization server (node) is still running after the demo stopped")
	}
	if !strings.Contains(logs.String(), "authorization server stopped") {
		t.Errorf("log:\n%s", logs.String())
	}
}

func demoASRequest() pki.IssueRequest {
	return pki.IssueRequest{CommonName: "127.0.0.1", SANs: []string{"127.0.0.1"}, Server: true, Lifetime: time.Hour}
}

var pidRE = regexp.MustCompile(`authorization server ready.* pid=(\d+)`)

func demoASPID(t *testing.T, logs string) int {
	t.Helper()
	m := pidRE.FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("no pid in the log:\n%s", logs)
	}
	pid, _ := strconv.Atoi(m[1])
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("authorization server pid %d: %v", pid, err)
	}
	return pid
}

// demoClient resolves every host to 127.0.0.1, as browsers do for
// *.localhost, and trusts the demo CA.
func demoClient(t *testing.T, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: demoPool(t, pem)}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(addr)
		return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, DialContext: dial, ForceAttemptHTTP2: true}}
}

func demoPool(t *testing.T, pem []byte) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in the CA file")
	}
	return p
}

func demoDo(t *testing.T, hc *http.Client, method, url, origin string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// demoFreePorts returns n loopback ports free for TCP and UDP a moment ago.
func demoFreePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	var open []io.Closer
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for len(out) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, ln)
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		open = append(open, pc)
		out = append(out, port)
	}
	return out
}

type demoBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *demoBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *demoBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
