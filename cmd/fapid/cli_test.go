package main

import (
	"bytes"
	"github.com/cillers/fapid/config"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	err := run(t.Context(), args, &o, &e)
	code = exitCode(err, &e)
	return o.String(), e.String(), code
}

func TestHelpListsCommands(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		out, _, code := runCLI(t, args...)
		if code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
		for _, c := range commands() {
			if !strings.Contains(out, "  "+c.name+" ") {
				t.Errorf("%v: help does not list %q:\n%s", args, c.name, out)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{},
		{"frobnicate"},
		{"run"},
		{"run", "-c"},
		{"check", "-c", "a.yaml", "extra"},
		{"version", "x"},
		{"run", "--no-such-flag"},
	}
	for _, args := range tests {
		_, errOut, code := runCLI(t, args...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", args, code, errOut)
		}
	}
}

func TestVersion(t *testing.T) {
	out, _, code := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "fapid ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestCheckExampleConfig(t *testing.T) {
	out, errOut, code := runCLI(t, "check", "-c", "../../certs.example/fapid.yaml")
	if code != 0 {
		t.Fatalf("check certs.example/fapid.yaml: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"configuration is valid", "5.2.1-2", "5.2.3-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckTypoNamesLine(t *testing.T) {
	text, err := os.ReadFile("../../certs.example/fapid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Misspell the first "listeners:" key; find its line to expect it in the error.
	lines := strings.Split(string(text), "\n")
	n := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "listeners:") {
			lines[i] = "listners:"
			n = i + 1
			break
		}
	}
	if n < 0 {
		t.Fatal("example config has no listeners key")
	}
	p := filepath.Join(t.TempDir(), "typo.yaml")
	os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o600)
	_, errOut, code := runCLI(t, "check", "-c", p)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	want := p + ":" + strconv.Itoa(n) + `: listners: unknown key "listners"`
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr\n%s\ndoes not contain %q", errOut, want)
	}
}

func TestCheckMissingFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fapid.yaml")
	os.WriteFile(p, []byte("certificates:\n  s: {cert_file: nope.crt, key: file:nope.key}\nlisteners:\n  - {name: a, address: '127.0.0.1:0', certificate: s}\n"), 0o600)
	_, errOut, code := runCLI(t, "check", "-c", p)
	if code != 1 || !strings.Contains(errOut, "certificates.s") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

// A certificate whose EKU does not fit its use is refused by check (and by
// run) before anything listens.
func TestCheckRefusesWrongUsage(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "fapid.yaml")
	os.WriteFile(p, []byte(`certificates:
  c: {cert_file: `+absExample(t, "client.crt")+`, key: file:`+absExample(t, "client.key")+`}
listeners:
  - {name: a, address: '127.0.0.1:0', certificate: c}
`), 0o600)
	_, errOut, code := runCLI(t, "check", "-c", p)
	if code != 1 || !strings.Contains(errOut, "listeners[0].certificate") || !strings.Contains(errOut, "not issued for TLS server use") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func absExample(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("../../certs.example", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// check loads every key and CA file of the agent and gateway sections, as
// run does: a config whose session key and agent key are missing fails.
func TestCheckModeFilesAgreeWithRun(t *testing.T) {
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
	err = checkModeFiles(t.Context(), cfg)
	for _, want := range []string{"session.keys[0]", "agent.client.key"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("checkModeFiles: %v, want a problem with %s", err, want)
		}
	}
}
