package fapid_test

// The import rules of DESIGN.md §2, checked on every test run.

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/cillers/fapid"

type pkg struct {
	ImportPath string
	Imports    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-e", "-json=ImportPath,Imports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// under reports whether import path p is dir or inside it (dir relative to the module).
func under(p, dir string) bool {
	full := module + "/" + dir
	return p == full || strings.HasPrefix(p, full+"/")
}

func anyUnder(p string, dirs ...string) bool {
	for _, d := range dirs {
		if under(p, d) {
			return true
		}
	}
	return false
}

func TestImportRules(t *testing.T) {
	rules := []struct {
		name      string
		applies   func(importer string) bool
		forbidden func(imported string) bool
	}{
		{
			"libraries never import the modes, the harness or commands",
			func(p string) bool { return anyUnder(p, "fapi", "pki", "internal", "config") },
			func(i string) bool { return anyUnder(i, "agent", "gateway", "conformance", "cmd") },
		},
		{
			"agent and gateway never import each other or pki",
			func(p string) bool { return anyUnder(p, "agent", "gateway") },
			func(i string) bool { return anyUnder(i, "pki") },
		},
		{
			"agent does not import gateway",
			func(p string) bool { return anyUnder(p, "agent") },
			func(i string) bool { return anyUnder(i, "gateway") },
		},
		{
			"gateway does not import agent",
			func(p string) bool { return anyUnder(p, "gateway") },
			func(i string) bool { return anyUnder(i, "agent") },
		},
		{
			"only internal/jws, internal/keys and pki use go-jose",
			func(p string) bool { return !anyUnder(p, "internal/jws", "internal/keys", "pki") },
			func(i string) bool {
				return strings.HasPrefix(i, "github.com/go-jose/") || strings.HasPrefix(i, "gopkg.in/square/go-jose")
			},
		},
		{
			"only internal/seal uses AEAD and HKDF primitives",
			func(p string) bool { return !anyUnder(p, "internal/seal") },
			func(i string) bool { return i == "crypto/aes" || i == "crypto/cipher" || i == "crypto/hkdf" },
		},
		{
			"nothing but commands imports conformance",
			func(p string) bool { return !anyUnder(p, "conformance", "cmd") },
			func(i string) bool { return anyUnder(i, "conformance") },
		},
	}
	for _, p := range listPackages(t) {
		for _, r := range rules {
			if !r.applies(p.ImportPath) {
				continue
			}
			for _, i := range p.Imports {
				if r.forbidden(i) {
					t.Errorf("%s imports %s: %s", p.ImportPath, i, r.name)
				}
			}
		}
	}
}

// TestDaemonLinksNoSmallstepCertificates keeps smallstep's CA packages out of
// the fapid binary: linking them alone (their package initialisation) costs
// most of the idle-memory budget of DESIGN §7. The online CA they provide
// runs as the separate fapid-ca command (pki/online); fapid talks to it with
// pki.Client over HTTPS.
func TestDaemonLinksNoSmallstepCertificates(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./cmd/fapid").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps found only %d packages", len(deps))
	}
	for _, d := range deps {
		if d == "github.com/smallstep/certificates" || strings.HasPrefix(d, "github.com/smallstep/certificates/") {
			t.Errorf("cmd/fapid links %s: keep smallstep's CA in fapid-ca (pki/online)", d)
		}
	}
}
