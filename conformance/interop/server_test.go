package interop_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/interop"
)

// A second server on the same state directory: it reuses the OP keys, applies DefaultResource
// and DPoPNonce, and Stop leaves no process behind.
func TestSecondServerOptionsAndStop(t *testing.T) {
	e := need(t)
	ctx := context.Background()
	o := e.opts
	o.DefaultResource, o.DPoPNonce = true, true
	stderr := &syncBuffer{}
	o.Stderr = stderr
	start := time.Now()
	srv, err := interop.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second server ready in %v", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { srv.Stop() })
	if srv.Issuer() == e.srv.Issuer() {
		t.Fatal("both servers have the same issuer")
	}
	second := &testEnv{dir: e.dir, ca: e.ca, srv: srv, stderr: stderr, clients: e.clients}
	meta := second.discovery(t)

	// The OP keys persist in the state directory (0600) and both servers publish them.
	fi, err := os.Stat(filepath.Join(o.Dir, "op-jwks.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("op-jwks.json: %v %v", fi.Mode(), err)
	}
	if a, b := kids(t, e, e.discovery(t)), kids(t, second, meta); !slices.Equal(a, b) || len(a) != 2 {
		t.Errorf("kids %v and %v, want the same two", a, b)
	}

	// DPoPNonce: PAR with a proof but no nonce is answered with use_dpop_nonce and a nonce.
	dc := e.clients["agent-dpop"]
	_, form := second.parForm(t, dc, interop.APIResource)
	status, hdr, body := dc.post(t, meta["pushed_authorization_request_endpoint"].(string), form, "")
	if status != http.StatusBadRequest || decode(t, body)["error"] != "use_dpop_nonce" || hdr.Get("DPoP-Nonce") == "" {
		t.Errorf("PAR without DPoP nonce: %d %s nonce=%q", status, body, hdr.Get("DPoP-Nonce"))
	}

	// DefaultResource: no resource parameter anywhere, still an opaque API token.
	c := e.clients["agent-tls"]
	ar := second.par(t, meta, c, "")
	cb, err := srv.Login(ctx, ar.authorizationURL, testUser)
	if err != nil {
		t.Fatalf("%v\nserver: %s", err, stderr.String())
	}
	tok := second.tokens(t, meta, c, ar, second.callback(t, meta, c, ar, cb), "")
	at, _ := tok["access_token"].(string)
	if ti := second.introspect(t, meta, at, false); ti["aud"] != interop.APIResource || ti["active"] != true {
		t.Errorf("introspection = %v, want an active API token", ti)
	}

	pid := srv.PID()
	if err := srv.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-srv.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if interop.GroupAlive(pid) {
		t.Fatal("process group alive after Stop")
	}
	if running(pid) {
		t.Fatalf("node pid %d still exists", pid)
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func kids(t *testing.T, e *testEnv, meta map[string]any) []string {
	t.Helper()
	resp, err := e.plainHTTP().Get(meta["jwks_uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Keys []struct {
			Kid, Alg, Kty string
			D             string `json:"d"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range doc.Keys {
		if k.D != "" {
			t.Fatal("the server publishes a private key")
		}
		out = append(out, k.Alg+":"+k.Kty+":"+k.Kid)
	}
	slices.Sort(out)
	return out
}

func TestStartErrors(t *testing.T) {
	e := need(t)
	ctx := context.Background()
	dir := t.TempDir()
	base := e.opts
	base.Dir = dir

	bad := func(mod func(o *interop.Options)) error {
		o := base
		o.Clients = slices.Clone(base.Clients)
		mod(&o)
		srv, err := interop.Start(ctx, o)
		if err == nil {
			srv.Stop()
		}
		return err
	}
	for name, mod := range map[string]func(o *interop.Options){
		"no dir":          func(o *interop.Options) { o.Dir = "" },
		"no CA":           func(o *interop.Options) { o.CAFile = "" },
		"bad port":        func(o *interop.Options) { o.Port = 70000 },
		"duplicate":       func(o *interop.Options) { o.Clients = append(o.Clients, o.Clients[0]) },
		"RS256":           func(o *interop.Options) { o.Clients[0].SigningAlg = "RS256" },
		"secret auth":     func(o *interop.Options) { o.Clients[0].AuthMethod = "client_secret_basic" },
		"no sender":       func(o *interop.Options) { o.Clients[0].SenderConstraint = "" },
		"no jwks":         func(o *interop.Options) { o.Clients[0].JWKS = nil },
		"bad jwks":        func(o *interop.Options) { o.Clients[0].JWKS = json.RawMessage(`{"keys":[]}`) },
		"private jwks":    func(o *interop.Options) { o.Clients[0].JWKS = json.RawMessage(`{"keys":[{"kty":"EC","d":"x"}]}`) },
		"tls without DN":  func(o *interop.Options) { o.Clients[1].SubjectDN = "" },
		"no redirect uri": func(o *interop.Options) { o.Clients[0].RedirectURIs = nil },
	} {
		if err := bad(mod); !errors.Is(err, interop.ErrOptions) {
			t.Errorf("%s: %v, want ErrOptions", name, err)
		}
	}

	if err := bad(func(o *interop.Options) { o.Node = filepath.Join(dir, "no-such-node") }); !errors.Is(err, interop.ErrNoNode) ||
		!strings.Contains(err.Error(), "apt-get install nodejs npm") {
		t.Errorf("missing node: %v", err)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := interop.Start(canceled, base); !errors.Is(err, context.Canceled) || errors.Is(err, interop.ErrNoNode) {
		t.Errorf("canceled context: %v", err)
	}

	// node starts but cannot load the key: the error carries its last stderr lines.
	garbage := filepath.Join(dir, "garbage.key")
	if err := os.WriteFile(garbage, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := bad(func(o *interop.Options) { o.KeyFile = garbage })
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "interop-op") && !strings.Contains(err.Error(), "Error") {
		t.Errorf("node dying at start: %v", err)
	}
	t.Logf("node dying at start gives: %v", err)

	// A fixed port that is taken.
	u, _ := url.Parse(e.srv.Issuer())
	port, _ := strconv.Atoi(u.Port())
	if err := bad(func(o *interop.Options) { o.Port = port }); err == nil || !strings.Contains(err.Error(), "EADDRINUSE") {
		t.Errorf("port in use: %v", err)
	}
}

// A "node" that never becomes ready and has a child: Start gives up after StartTimeout and the
// whole process group, child included, is gone.
func TestStartTimeoutKillsGroup(t *testing.T) {
	e := need(t)
	dir := t.TempDir()
	fake := filepath.Join(dir, "node")
	script := `#!/bin/sh
if [ "$1" = --version ]; then echo v20.0.0; exit 0; fi
sleep 60 &
echo $! > "$(dirname "$2")/child.pid"
echo "fake node is not ready" >&2
wait
`
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	o := e.opts
	o.Dir, o.Node, o.StartTimeout = dir, fake, 500*time.Millisecond
	_, err := interop.Start(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "not ready after") || !strings.Contains(err.Error(), "fake node is not ready") {
		t.Fatalf("Start with a silent node: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "child.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil {
		t.Fatal(err)
	}
	if running(pid) {
		t.Errorf("child %d of the fake node survived", pid)
	}
}

// running reports whether pid exists and is not a zombie (an orphan's zombie waits for init).
func running(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist) && !os.IsNotExist(err)
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
