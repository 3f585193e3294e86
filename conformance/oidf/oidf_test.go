package oidf

import (
	"encoding/base64"
	"encoding/json"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/config"
	"github.com/cillers/fapid/internal/keys"
	"github.com/cillers/fapid/pki"
)

func testConfig(t *testing.T) *config.File {
	t.Helper()
	dir := t.TempDir()
	if _, err := keys.GenerateFile(filepath.Join(dir, "signing.key"), "ES256"); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.Init(filepath.Join(dir, "pki"), pki.InitOptions{Name: "oidf test"})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.Issue(t.Context(), pki.IssueRequest{CommonName: "agent", SANs: []string{"spiffe://example.test/agent"}, Client: true, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteIssued(iss, filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")); err != nil {
		t.Fatal(err)
	}
	return &config.File{
		Certificates: map[string]config.Certificate{
			"client":  {CertFile: filepath.Join(dir, "client.crt"), Key: config.SecretRef("file:" + filepath.Join(dir, "client.key"))},
			"renewed": {Embedded: &config.EmbeddedCert{CommonName: "agent", Usage: []string{"client"}}},
		},
		Agent: &config.Agent{
			Client: config.OAuthClient{ID: "spa", Auth: "private_key_jwt", Key: config.SecretRef("file:" + filepath.Join(dir, "signing.key")),
				KeyID: "spa-signing-1", Certificate: "client"},
			SenderConstraint: "mtls", ResponseMode: "query", Scopes: []string{"openid", "accounts"},
			RedirectURI: "https://spa.example.test/callback",
		},
	}
}

func TestGenerateBothPlans(t *testing.T) {
	out, err := Generate(t.Context(), testConfig(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Issuer != "https://www.certification.openid.net/test/a/fapid-spa/" || len(out.Plans) != 2 {
		t.Fatalf("%+v", out)
	}
	sp, ms := out.Plans[0], out.Plans[1]
	if sp.PlanName != "fapi2-security-profile-final-client-test-plan" || sp.Variant["fapi_request_method"] != "" ||
		sp.Variant["client_auth_type"] != "private_key_jwt" || sp.Variant["sender_constrain"] != "mtls" || sp.Variant["fapi_profile"] != "plain_fapi" {
		t.Errorf("security profile plan: %+v", sp)
	}
	if ms.Variant["fapi_request_method"] != "signed_non_repudiation" || ms.Variant["fapi_response_mode"] != "plain_response" || ms.Variant["fapi_client_type"] != "oidc" {
		t.Errorf("message signing plan: %+v", ms.Variant)
	}
	c := ms.Config.Client
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(c.JWKS, &jwks); err != nil || len(jwks.Keys) != 1 || jwks.Keys[0]["kid"] != "spa-signing-1" ||
		jwks.Keys[0]["alg"] != "ES256" || jwks.Keys[0]["d"] != nil {
		t.Errorf("client.jwks %s", c.JWKS)
	}
	if c.Scope != "openid accounts" || c.ClientID != "spa" || !strings.HasPrefix(c.Certificate, "-----BEGIN CERTIFICATE-----") ||
		strings.Count(c.Certificate, "BEGIN CERTIFICATE") != 1 || ms.Config.WaitTimeoutSeconds != 5 || ms.Config.Alias != "fapid-spa" {
		t.Errorf("client %+v", ms.Config)
	}
}

// TestServerJWKS: server.jwks is one private PS256 RSA key whose parts fit
// together, the same in both plans; NoServerJWKS leaves it out.
func TestServerJWKS(t *testing.T) {
	f := testConfig(t)
	out, err := Generate(t.Context(), f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Plans[0].Config.Server == nil || string(out.Plans[0].Config.Server.JWKS) != string(out.Plans[1].Config.Server.JWKS) {
		t.Fatal("server.jwks missing or different per plan")
	}
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(out.Plans[0].Config.Server.JWKS, &doc); err != nil || len(doc.Keys) != 1 {
		t.Fatalf("server.jwks: %v", err)
	}
	k := doc.Keys[0]
	n, p, q := new(big.Int), new(big.Int), new(big.Int)
	for _, x := range []struct {
		i *big.Int
		s string
	}{{n, k["n"]}, {p, k["p"]}, {q, k["q"]}} {
		b, err := base64.RawURLEncoding.DecodeString(x.s)
		if err != nil {
			t.Fatal(err)
		}
		x.i.SetBytes(b)
	}
	if k["alg"] != "PS256" || k["d"] == "" || n.BitLen() != 2048 || new(big.Int).Mul(p, q).Cmp(n) != 0 {
		t.Fatalf("server key %v", k["alg"])
	}
	out, err = Generate(t.Context(), f, Options{NoServerJWKS: true})
	if err != nil || out.Plans[0].Config.Server != nil {
		t.Fatalf("NoServerJWKS: %v", err)
	}
}

func TestGenerateLeavesOutPlans(t *testing.T) {
	for name, edit := range map[string]func(a *config.Agent){
		"jarm":            func(a *config.Agent) { a.ResponseMode = "jarm" },
		"tls_client_auth": func(a *config.Agent) { a.Client.Auth = "tls_client_auth" },
	} {
		f := testConfig(t)
		edit(f.Agent)
		out, err := Generate(t.Context(), f, Options{Alias: "x y!", SuiteURL: "https://suite.example.test/"})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Plans) != 1 || out.Plans[0].PlanName != "fapi2-message-signing-final-client-test-plan" ||
			!strings.HasPrefix(out.Notes[0], "fapi2-security-profile-final-client-test-plan left out") {
			t.Errorf("%s: %+v", name, out)
		}
		if out.Issuer != "https://suite.example.test/test/a/x-y/" {
			t.Errorf("%s: issuer %q", name, out.Issuer)
		}
	}
}

func TestGenerateRenewedCertificateAndErrors(t *testing.T) {
	f := testConfig(t)
	f.Agent.Client.Certificate = "renewed"
	out, err := Generate(t.Context(), f, Options{})
	if err != nil || out.Plans[0].Config.Client.Certificate != "" || !strings.Contains(strings.Join(out.Notes, "\n"), "renewed") {
		t.Fatalf("renewed certificate: %v %+v", err, out)
	}
	f = testConfig(t)
	f.Agent.Client.Key = "file:/nonexistent/key.pem"
	if _, err := Generate(t.Context(), f, Options{}); err == nil {
		t.Error("missing key: no error")
	}
	f = testConfig(t)
	f.Agent.Client.Certificate = "nope"
	if _, err := Generate(t.Context(), f, Options{}); err == nil {
		t.Error("unknown certificate: no error")
	}
	if _, err := Generate(t.Context(), &config.File{}, Options{}); err == nil {
		t.Error("no agent: no error")
	}
}
