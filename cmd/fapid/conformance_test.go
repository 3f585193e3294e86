package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/internal/keys"
	"github.com/cillers/fapid/internal/seal"
	"github.com/cillers/fapid/pki"
)

func runConformance(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := conformanceCommand(t.Context(), args, &out, &errOut)
	if errOut.Len() > 0 {
		t.Errorf("stderr: %s", errOut.String())
	}
	return out.String(), err
}

// TestConformanceBuiltIn runs one variant of the Message Signing plan
// against the in-process agent and checks the table and the counts.
func TestConformanceBuiltIn(t *testing.T) {
	out, err := runConformance(t, "--plan", "message-signing", "--variant", "auth=mtls,sender=mtls,type=oidc,request=signed,response=jarm")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"PLAN", "RESULT", "mtls+mtls/oidc/signed/jarm", "test-ensure-jarm-without-aud-fails", "PASSED",
		"fapi2-message-signing-final-client-test-plan: 26 modules in 1 variants: 26 passed, 0 failed, 0 skipped",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAILED") {
		t.Errorf("a module failed:\n%s", out)
	}
}

// TestConformanceFull prints the whole table, every plan and variant, when
// FAPID_CONFORMANCE_FULL=1 (the tables in conformance/rp's tests cover the
// same runs).
func TestConformanceFull(t *testing.T) {
	if os.Getenv("FAPID_CONFORMANCE_FULL") != "1" {
		t.Skip("set FAPID_CONFORMANCE_FULL=1 to print the full table")
	}
	out, err := runConformance(t)
	t.Logf("fapid conformance:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
}

// TestConformanceFromConfig takes the agent's settings from a fapid.yaml
// and runs the one variant it takes part in; --oidf prints the suite's plan
// configuration for it.
func TestConformanceFromConfig(t *testing.T) {
	dir := t.TempDir()
	path := writeConformanceConfig(t, dir)
	out, err := runConformance(t, "-c", path)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"variant mtls+dpop/oidc/signed/jarm",
		"fapi2-message-signing-final-client-test-plan: 28 modules in 1 variants: 28 passed, 0 failed, 0 skipped",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "security-profile ") {
		t.Errorf("the Security Profile plan ran for a JARM agent:\n%s", out)
	}
	out, err = runConformance(t, "-c", path, "--oidf", "--oidf-alias", "acme agent", "--oidf-suite", "https://suite.example.test")
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		Issuer string `json:"fapid_issuer"`
		Plans  []struct {
			PlanName string            `json:"planName"`
			Variant  map[string]string `json:"variant"`
			Config   struct {
				Alias  string `json:"alias"`
				Client struct {
					ClientID, Scope, Certificate string
					RedirectURI                  string `json:"redirect_uri"`
					JWKS                         struct {
						Keys []map[string]any `json:"keys"`
					} `json:"jwks"`
				} `json:"client"`
			} `json:"config"`
		} `json:"plans"`
		Notes []string `json:"notes"`
	}
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("--oidf output: %v\n%s", err, out)
	}
	if o.Issuer != "https://suite.example.test/test/a/acme-agent/" || len(o.Plans) != 1 {
		t.Fatalf("--oidf: %s", out)
	}
	p := o.Plans[0]
	c := p.Config.Client
	if p.PlanName != "fapi2-message-signing-final-client-test-plan" || p.Variant["client_auth_type"] != "mtls" ||
		p.Variant["sender_constrain"] != "dpop" || p.Variant["fapi_response_mode"] != "jarm" ||
		p.Variant["fapi_request_method"] != "signed_non_repudiation" || p.Variant["fapi_client_type"] != "oidc" ||
		c.Scope != "openid accounts" || c.RedirectURI != "https://spa.example.test/callback" ||
		!strings.HasPrefix(c.Certificate, "-----BEGIN CERTIFICATE-----") || len(c.JWKS.Keys) != 1 || c.JWKS.Keys[0]["d"] != nil {
		t.Fatalf("--oidf plan: %s", out)
	}
}

func TestConformanceUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--plan", "nope"},
		{"--variant", "auth=password"},
		{"--oidf"},
		{"extra"},
		{"--no-such-flag"},
	} {
		var out, errOut bytes.Buffer
		err := conformanceCommand(t.Context(), args, &out, &errOut)
		if code := exitCode(err, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%v)", args, code, err)
		}
	}
	var out bytes.Buffer
	if err := conformanceCommand(t.Context(), []string{"--help"}, &out, &out); exitCode(err, &out) != 0 || !strings.Contains(out.String(), "--variant") {
		t.Errorf("--help: %v\n%s", err, out.String())
	}
}

// writeConformanceConfig writes a fapid.yaml whose agent authenticates with
// tls_client_auth, binds tokens with DPoP and wants JARM, with real key
// files and a client certificate.
func writeConformanceConfig(t *testing.T, dir string) string {
	t.Helper()
	for _, k := range []struct{ file, alg string }{{"signing.key", "PS256"}, {"dpop.key", "ES256"}} {
		if _, err := keys.GenerateFile(filepath.Join(dir, k.file), k.alg); err != nil {
			t.Fatal(err)
		}
	}
	text, err := seal.GenerateKeyText()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cookie.key"), []byte(text+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.Init(filepath.Join(dir, "pki"), pki.InitOptions{Name: "conformance command test"})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.Issue(t.Context(), pki.IssueRequest{CommonName: "spa-agent", SANs: []string{"spiffe://example.test/agent"}, Client: true, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteIssued(iss, filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")); err != nil {
		t.Fatal(err)
	}
	cfg := `certificates:
  server: {cert_file: server.crt, key: "file:server.key"}
  client: {cert_file: client.crt, key: "file:client.key"}
listeners:
  - {name: public, address: "127.0.0.1:8443", certificate: server}
authorization_server:
  issuer: https://as.example.test/
session:
  keys: ["file:cookie.key"]
  trusted_origins: [https://spa.example.test]
agent:
  listener: public
  client: {id: spa-agent, auth: tls_client_auth, key: "file:signing.key", key_id: spa-signing-1, certificate: client}
  sender_constraint: dpop
  dpop_key: "file:dpop.key"
  response_mode: jarm
  scopes: [openid, accounts]
  redirect_uri: https://spa.example.test/callback
`
	path := filepath.Join(dir, "fapid.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
