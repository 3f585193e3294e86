package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
)

func bigOne() *big.Int { return big.NewInt(1) }

func TestGenerateFile(t *testing.T) {
	dir := t.TempDir()
	for _, alg := range []string{"ES256", "EdDSA", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			p := filepath.Join(dir, alg+".pem")
			key, err := GenerateFile(p, alg)
			if err != nil {
				t.Fatal(err)
			}
			switch k := key.(type) {
			case *ecdsa.PrivateKey:
				if alg != "ES256" || k.Curve != elliptic.P256() {
					t.Fatalf("%s gave %T", alg, key)
				}
			case ed25519.PrivateKey:
				if alg != "EdDSA" {
					t.Fatalf("%s gave %T", alg, key)
				}
			case *rsa.PrivateKey:
				if alg != "PS256" || k.N.BitLen() != GeneratedRSABits {
					t.Fatalf("%s gave %T", alg, key)
				}
			default:
				t.Fatalf("%s gave %T", alg, key)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("mode = %v, want 0600", fi.Mode().Perm())
			}
			data, _ := os.ReadFile(p)
			block, rest := pem.Decode(data)
			if block == nil || block.Type != "PRIVATE KEY" || len(rest) != 0 {
				t.Fatalf("not a single PKCS#8 PEM block")
			}
			loaded, err := Load(context.Background(), "file:"+p)
			if err != nil {
				t.Fatal(err)
			}
			if !samePublic(loaded.Public(), key.Public()) {
				t.Fatal("loaded key differs from generated key")
			}
		})
	}
}

func TestGenerateFileRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "existing.pem", "precious")
	if _, err := GenerateFile(p, "ES256"); !errors.Is(err, os.ErrExist) {
		t.Fatalf("overwrite: %v", err)
	}
	if data, _ := os.ReadFile(p); string(data) != "precious" {
		t.Fatal("existing file changed")
	}
	// A symlink to a missing target is not followed into a new file either.
	link := filepath.Join(dir, "link.pem")
	if err := os.Symlink(filepath.Join(dir, "target.pem"), link); err != nil {
		t.Skip("symlinks unavailable")
	}
	if _, err := GenerateFile(link, "ES256"); err == nil {
		t.Fatal("wrote through a dangling symlink")
	}
	if _, err := os.Stat(filepath.Join(dir, "target.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("symlink target created")
	}
}

func TestGenerateFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, alg := range []string{"", "RS256", "HS256", "ES384", "es256", "none"} {
		p := filepath.Join(dir, "k-"+alg)
		if _, err := GenerateFile(p, alg); !errors.Is(err, ErrUnsupportedKey) {
			t.Errorf("alg %q: %v", alg, err)
		}
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("alg %q: file created", alg)
		}
	}
	if _, err := GenerateFile(filepath.Join(dir, "no", "such", "dir.pem"), "ES256"); err == nil {
		t.Error("missing directory accepted")
	}
	if _, err := GenerateFile("", "ES256"); err == nil {
		t.Error("empty path accepted")
	}
	if _, err := GenerateFile("pkcs11:object=x", "ES256"); !errors.Is(err, ErrPKCS11Unsupported) {
		t.Errorf("pkcs11: %v", err)
	}
	p := filepath.Join(dir, "ref.pem")
	if _, err := GenerateFile("file:"+p, "ES256"); err != nil {
		t.Fatalf("file: reference: %v", err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
}

func FuzzParsePrivateKey(f *testing.F) {
	k := keysOnce()
	f.Add([]byte(pkcs8(f, k.p256)))
	f.Add([]byte(sec1(f, k.p256)))
	f.Add([]byte(jwkOf(f, k.ed, "EdDSA")))
	f.Add([]byte(`{"keys":[{"kty":"EC"}]}`))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := parsePrivateKey(data)
		if err != nil {
			return
		}
		if algFor(key) == "" || checkKey(key) != nil {
			t.Fatalf("accepted unusable %T", key)
		}
	})
}
