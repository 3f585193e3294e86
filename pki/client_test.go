package pki

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.step.sm/crypto/jose"
	"go.step.sm/crypto/keyutil"
)

// writeProvisionerKey writes a new private JWK as the online CA creates it
// (see pki/online).
func writeProvisionerKey(t *testing.T, path string) {
	t.Helper()
	s, err := keyutil.GenerateDefaultSigner()
	if err != nil {
		t.Fatal(err)
	}
	k := &jose.JSONWebKey{Key: s, Algorithm: jose.ES256, Use: "sig"}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	k.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestNewClientRejects(t *testing.T) {
	ca := newTestCA(t, InitOptions{})
	keyFile := filepath.Join(t.TempDir(), "prov.json")
	writeProvisionerKey(t, keyFile)
	for _, u := range []string{"http://127.0.0.1:1", "https://", "https://u:p@h:1", "127.0.0.1:9000"} {
		if _, err := NewClient(u, ca.RootFile(), "", keyFile); err == nil {
			t.Errorf("NewClient(%q) accepted", u)
		}
	}
	if _, err := NewClient("https://127.0.0.1:1", ca.RootFile(), "", filepath.Join(ca.Dir(), IntermediateKeyFile)); !errors.Is(err, ErrBadProvisionerKey) {
		t.Errorf("PEM file as provisioner key: %v", err)
	}
	data, _ := os.ReadFile(keyFile)
	if _, err := parseProvisionerKey(data); err != nil {
		t.Errorf("parse generated key: %v", err)
	}
}

func FuzzParseProvisionerKey(f *testing.F) {
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cLNazzl7Gm3UhWI8Eknqtk","kid":"k"}`))
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`))
	f.Add([]byte(`{"kty":"oct","k":"AAAA","kid":"k"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := parseProvisionerKey(b)
		if err != nil {
			if strings.Contains(err.Error(), string(b)) && len(b) > 8 {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		if k.KeyID == "" || k.IsPublic() {
			t.Fatal("accepted a key without kid or without private part")
		}
	})
}

func FuzzParseSignResponse(f *testing.F) {
	ca, err := Init(filepath.Join(f.TempDir(), "ca"), InitOptions{})
	if err != nil {
		f.Fatal(err)
	}
	inter, _ := json.Marshal(string(encodeCerts(ca.Intermediate())))
	root, _ := json.Marshal(string(encodeCerts(ca.Root())))
	f.Add([]byte(`{"crt":` + string(inter) + `,"ca":` + string(root) + `,"certChain":[` + string(inter) + `,` + string(root) + `]}`))
	f.Add([]byte(`{"certChain":[` + string(inter) + `]}`))
	f.Add([]byte(`{"certChain":[null,""]}`))
	f.Add([]byte(`{"certChain":["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]}`))
	f.Add([]byte(`{"crt":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		chain, err := parseSignResponse(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "pki: client: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if len(chain) < 2 {
			t.Fatalf("accepted a chain of %d", len(chain))
		}
		for _, c := range chain {
			if c == nil {
				t.Fatal("nil certificate in the chain")
			}
		}
	})
}

func TestParseSignResponse(t *testing.T) {
	ca := newTestCA(t, InitOptions{})
	inter, _ := json.Marshal(string(encodeCerts(ca.Intermediate())))
	root, _ := json.Marshal(string(encodeCerts(ca.Root())))
	chain, err := parseSignResponse([]byte(`{"crt":` + string(inter) + `,"ca":` + string(root) +
		`,"certChain":[` + string(inter) + `,` + string(root) + `],"tlsOptions":{}}`))
	if err != nil || len(chain) != 2 || !chain[0].Equal(ca.Intermediate()) || !chain[1].Equal(ca.Root()) {
		t.Fatalf("chain %d, %v", len(chain), err)
	}
	for body, want := range map[string]string{
		`{"certChain":[` + string(inter) + `]}`:      "no intermediate",
		`{"certChain":[null,` + string(inter) + `]}`: "empty certificate",
		`{"certChain":["x"]}`:                        "malformed",
		`[`:                                          "malformed",
	} {
		if _, err := parseSignResponse([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40s: got %v, want %q", body, err, want)
		}
	}
}
