package online

import (
	"context"
	"errors"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/pki"
)

// startOnlineCA runs an online CA on a free loopback port until the test ends.
func startOnlineCA(t *testing.T, o pki.InitOptions) (ca *pki.CA, srv *Server, keyFile string) {
	t.Helper()
	ca = newTestCA(t, o)
	keyFile = filepath.Join(t.TempDir(), "prov.json")
	srv, err := NewServer(ServerOptions{Dir: ca.Dir(), Addr: "127.0.0.1:0", ProvisionerKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if !srv.ProvisionerKeyCreated() || fileMode(t, keyFile) != 0o600 {
		t.Fatalf("provisioner key not created 0600 (created=%v)", srv.ProvisionerKeyCreated())
	}
	if !strings.HasPrefix(srv.URL(), "https://127.0.0.1:") || strings.HasSuffix(srv.URL(), ":0") {
		t.Fatalf("URL %q", srv.URL())
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := srv.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	return ca, srv, keyFile
}

func TestOnlineCA(t *testing.T) {
	ca, srv, keyFile := startOnlineCA(t, pki.InitOptions{})
	cl, err := pki.NewClient(srv.URL(), ca.RootFile(), "", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, tc := range []struct {
		name           string
		server, client bool
	}{
		{"server only", true, false},
		{"client only", false, true},
		{"both", true, true},
	} {
		t.Run("issues "+tc.name, func(t *testing.T) { onlineIssue(t, ca, cl, tc.server, tc.client) })
	}
	t.Run("refuses lifetime above max", func(t *testing.T) {
		_, err := cl.Issue(t.Context(), pki.IssueRequest{CommonName: "a", SANs: []string{"a.test"}, Server: true, Lifetime: 10000 * time.Hour})
		if err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("got %v, want a 403", err)
		}
	})
	t.Run("refuses a foreign provisioner key", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other.json")
		if _, err := generateProvisionerKey(other); err != nil {
			t.Fatal(err)
		}
		onlineRefused(t, srv.URL(), ca.RootFile(), other, "401")
	})
	t.Run("client refuses another root", func(t *testing.T) {
		onlineRefused(t, srv.URL(), newTestCA(t, pki.InitOptions{}).RootFile(), keyFile, "certificate")
	})
	t.Run("second server reuses the key, Close ends Run", func(t *testing.T) { onlineSecondServer(t, ca, keyFile) })
	t.Run("generate refuses an existing key", func(t *testing.T) {
		if _, err := generateProvisionerKey(keyFile); !errors.Is(err, pki.ErrExists) {
			t.Errorf("generate over an existing key: %v", err)
		}
	})
}

// The online CA does not cap lifetimes by the intermediate; the client does,
// asking again when the answer outlives the intermediate.
func TestOnlineCALifetimeCappedByIntermediate(t *testing.T) {
	ca, srv, keyFile := startOnlineCA(t, pki.InitOptions{RootLifetime: 3 * time.Hour, IntermediateLifetime: 2 * time.Hour})
	cl, err := pki.NewClient(srv.URL(), ca.RootFile(), "", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for range 2 { // the second request is capped from the start
		iss, err := cl.Issue(t.Context(), pki.IssueRequest{CommonName: "a", SANs: []string{"a.test"}, Client: true, Lifetime: 48 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if !iss.Leaf().NotAfter.Equal(ca.Intermediate().NotAfter) {
			t.Fatalf("NotAfter %v, want the intermediate's %v", iss.Leaf().NotAfter, ca.Intermediate().NotAfter)
		}
	}
}

func onlineIssue(t *testing.T, ca *pki.CA, cl *pki.Client, server, client bool) {
	iss, err := cl.Issue(t.Context(), pki.IssueRequest{
		CommonName: "agent", SANs: []string{"agent.example.test", "127.0.0.1", "spiffe://fapid/agent"},
		Server: server, Client: client, Lifetime: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkIssued(t, ca, iss, server, client)
	if got := time.Until(iss.Leaf().NotAfter); got < 59*time.Minute || got > 61*time.Minute {
		t.Errorf("lifetime left %v, want about 1h", got)
	}
	for _, e := range iss.Leaf().Extensions {
		if strings.HasPrefix(e.Id.String(), "1.3.6.1.4.1.37476.9000.64") {
			t.Error("smallstep provisioner extension present")
		}
	}
}

func onlineRefused(t *testing.T, url, rootFile, keyFile, want string) {
	bad, err := pki.NewClient(url, rootFile, "", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_, err = bad.Issue(t.Context(), pki.IssueRequest{CommonName: "a", SANs: []string{"a.test"}, Server: true})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error with %q", err, want)
	}
}

func onlineSecondServer(t *testing.T, ca *pki.CA, keyFile string) {
	srv2, err := NewServer(ServerOptions{Dir: ca.Dir(), Addr: "127.0.0.1:0", ProvisionerKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if srv2.ProvisionerKeyCreated() {
		t.Error("second NewServer recreated the key")
	}
	run2 := make(chan error, 1)
	go func() { run2 <- srv2.Run(t.Context()) }()
	wctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := srv2.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	if err := srv2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, run2); err != nil {
		t.Fatalf("Run after Close: %v", err)
	}
	if err := srv2.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestMain silences the standard logger: smallstep's ca package writes to it
// (this package itself never logs).
func TestMain(m *testing.M) {
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}
