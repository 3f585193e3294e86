package keys

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

type testKeys struct {
	rsa     *rsa.PrivateKey
	rsa1024 *rsa.PrivateKey
	p256    *ecdsa.PrivateKey
	p256b   *ecdsa.PrivateKey
	p384    *ecdsa.PrivateKey
	ed      ed25519.PrivateKey
	x25519  *ecdh.PrivateKey
}

var keysOnce = sync.OnceValue(func() *testKeys {
	k := &testKeys{}
	var errs [7]error
	k.rsa, errs[0] = rsa.GenerateKey(rand.Reader, 2048)
	k.rsa1024, errs[1] = rsa.GenerateKey(rand.Reader, 1024)
	k.p256, errs[2] = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k.p256b, errs[3] = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k.p384, errs[4] = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, k.ed, errs[5] = ed25519.GenerateKey(rand.Reader)
	k.x25519, errs[6] = ecdh.X25519().GenerateKey(rand.Reader)
	if err := errors.Join(errs[:]...); err != nil {
		panic(err)
	}
	return k
})

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func pkcs8(t testing.TB, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PRIVATE KEY", der)
}

func sec1(t testing.TB, key *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("EC PRIVATE KEY", der)
}

func jwkOf(t testing.TB, key any, alg string) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: "k", Algorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func samePublic(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func TestLoadFormats(t *testing.T) {
	k := keysOnce()
	dir := t.TempDir()
	ecParams := pemOf("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	certDER := selfSigned(t, k.p256)
	tests := []struct {
		name    string
		content string
		want    crypto.Signer
	}{
		{"PKCS#8 EC", pkcs8(t, k.p256), k.p256},
		{"PKCS#8 RSA", pkcs8(t, k.rsa), k.rsa},
		{"PKCS#8 Ed25519", pkcs8(t, k.ed), k.ed},
		{"SEC1 EC", sec1(t, k.p256), k.p256},
		{"SEC1 EC after EC PARAMETERS", ecParams + sec1(t, k.p256), k.p256},
		{"PKCS#1 RSA", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa)), k.rsa},
		{"certificate then key", pemOf("CERTIFICATE", certDER) + pkcs8(t, k.p256), k.p256},
		{"key then certificate", pkcs8(t, k.p256) + pemOf("CERTIFICATE", certDER), k.p256},
		{"text around PEM", "# dev key\n" + pkcs8(t, k.p256) + "\n\n", k.p256},
		{"JWK EC", jwkOf(t, k.p256, "ES256"), k.p256},
		{"JWK EC no alg", jwkOf(t, k.p256, ""), k.p256},
		{"JWK RSA", jwkOf(t, k.rsa, "PS256"), k.rsa},
		{"JWK Ed25519", jwkOf(t, k.ed, "EdDSA"), k.ed},
		{"JWK with whitespace", "\n  " + jwkOf(t, k.p256, "") + "\n", k.p256},
		{"JWK Set of one", `{"keys":[` + jwkOf(t, k.p256, "ES256") + `]}`, k.p256},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, "key"+string(rune('a'+i)), tc.content)
			got, err := Load(context.Background(), "file:"+p)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !samePublic(got.Public(), tc.want.Public()) {
				t.Fatal("loaded a different key")
			}
		})
	}
}

func selfSigned(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: bigOne()}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestLoadRefusesWrongFormats(t *testing.T) {
	k := keysOnce()
	dir := t.TempDir()
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.p256.PublicKey)
	p384SEC1, _ := x509.MarshalECPrivateKey(k.p384)
	// An EC JWK whose public point belongs to another key.
	var mixed map[string]any
	_ = json.Unmarshal([]byte(jwkOf(t, k.p256, "")), &mixed)
	var other map[string]any
	_ = json.Unmarshal([]byte(jwkOf(t, &k.p256b.PublicKey, "")), &other)
	mixed["x"], mixed["y"] = other["x"], other["y"]
	mixedJWK, _ := json.Marshal(mixed)
	legacyEncrypted := "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"
	tests := []struct {
		name    string
		content string
		want    error // nil: any error
	}{
		{"RSA 1024 PKCS#1", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa1024)), ErrUnsupportedKey},
		{"RSA 1024 PKCS#8", pkcs8(t, k.rsa1024), ErrUnsupportedKey},
		{"RSA 1024 JWK", jwkOf(t, k.rsa1024, ""), ErrUnsupportedKey},
		{"P-384 SEC1", pemOf("EC PRIVATE KEY", p384SEC1), ErrUnsupportedKey},
		{"P-384 PKCS#8", pkcs8(t, k.p384), ErrUnsupportedKey},
		{"P-384 JWK", jwkOf(t, k.p384, ""), ErrUnsupportedKey},
		{"X25519 PKCS#8", pkcs8(t, k.x25519), ErrUnsupportedKey},
		{"public key PEM", pemOf("PUBLIC KEY", pubDER), ErrUnsupportedKey},
		{"certificate only", pemOf("CERTIFICATE", selfSigned(t, k.p256)), ErrUnsupportedKey},
		{"public JWK", jwkOf(t, &k.p256.PublicKey, ""), ErrUnsupportedKey},
		{"oct JWK", `{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}`, ErrUnsupportedKey},
		{"JWK alg RS256", jwkOf(t, k.rsa, "RS256"), ErrUnsupportedKey},
		{"JWK alg mismatch", jwkOf(t, k.p256, "EdDSA"), ErrUnsupportedKey},
		{"JWK inconsistent EC", string(mixedJWK), ErrUnsupportedKey},
		{"encrypted PKCS#8", pemOf("ENCRYPTED PRIVATE KEY", []byte{0x30, 0x00}), ErrUnsupportedKey},
		{"legacy encrypted PEM", legacyEncrypted, ErrUnsupportedKey},
		{"two keys", pkcs8(t, k.p256) + pkcs8(t, k.ed), nil},
		{"JWK Set of two", `{"keys":[` + jwkOf(t, k.p256, "") + `,` + jwkOf(t, k.ed, "") + `]}`, nil},
		{"JWK Set empty", `{"keys":[]}`, nil},
		{"corrupt PKCS#8", pemOf("PRIVATE KEY", []byte("not DER at all")), nil},
		{"PKCS#1 labelled PKCS#8", pemOf("PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa)), nil},
		{"DER without PEM", string(x509.MarshalPKCS1PrivateKey(k.rsa)), nil},
		{"garbage", "hello world", nil},
		{"empty", "", nil},
		{"malformed JSON", `{"kty":"EC",`, nil},
		{"hex seal key", strings.Repeat("ab", 32), nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, "bad"+string(rune('a'+i)), tc.content)
			_, err := Load(context.Background(), "file:"+p)
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error does not name the file: %v", err)
			}
			assertNoMaterial(t, err, tc.content)
		})
	}
}

// assertNoMaterial fails if any 12-character run of the file's content (other
// than PEM armour and JSON member names) appears in the error.
func assertNoMaterial(t *testing.T, err error, content string) {
	t.Helper()
	msg := err.Error()
	for _, line := range strings.Split(content, "\n") {
		if strings.HasPrefix(line, "-----") {
			continue
		}
		for i := 0; i+12 <= len(line); i += 6 {
			chunk := line[i : i+12]
			if strings.ContainsAny(chunk, `"{}:, `) {
				continue
			}
			if strings.Contains(msg, chunk) {
				t.Fatalf("error contains file content %q: %v", chunk, err)
			}
		}
	}
}

func TestLoadReferences(t *testing.T) {
	k := keysOnce()
	dir := t.TempDir()
	p := writeFile(t, dir, "k.pem", pkcs8(t, k.p256))
	ctx := context.Background()
	for _, ref := range []string{"file:" + p, "file://" + p, "file://localhost" + p} {
		if _, err := Load(ctx, ref); err != nil {
			t.Errorf("Load(%q): %v", ref, err)
		}
	}
	t.Run("relative", func(t *testing.T) {
		t.Chdir(dir)
		if _, err := Load(ctx, "file:k.pem"); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(ctx, "file:./k.pem"); err != nil {
			t.Fatal(err)
		}
	})
	// Bare path: refused, with a hint to write file:, and never echoed (it
	// may be a pasted secret).
	_, err := Load(ctx, p)
	if !errors.Is(err, ErrNotReference) || !strings.Contains(err.Error(), "file:PATH") || strings.Contains(err.Error(), p) {
		t.Errorf("bare path: %v", err)
	}
	for _, ref := range []string{"", "file:", "file://host/etc/key.pem", "FILE:" + p, "File:" + p, "https://evil.example/key", "env:KEY"} {
		if _, err := Load(ctx, ref); err == nil {
			t.Errorf("Load(%q) accepted", ref)
		}
	}
	// Pasted key material is not echoed.
	pasted := pkcs8(t, k.p256)
	_, err = Load(ctx, pasted)
	if !errors.Is(err, ErrNotReference) {
		t.Errorf("pasted key: %v", err)
	}
	assertNoMaterial(t, err, pasted)
	_, err = Load(ctx, "file:"+pasted)
	if !errors.Is(err, ErrNotReference) {
		t.Errorf("file: + pasted key: %v", err)
	}
	assertNoMaterial(t, err, pasted)
	_, err = Load(ctx, jwkOf(t, k.p256, ""))
	if !errors.Is(err, ErrNotReference) || strings.Contains(err.Error(), `"d"`) {
		t.Errorf("pasted JWK: %v", err)
	}
	// pkcs11: refused without echoing the URI (it may hold a PIN).
	_, err = Load(ctx, "pkcs11:token=fapid;object=agent?pin-value=123456")
	if !errors.Is(err, ErrPKCS11Unsupported) || strings.Contains(err.Error(), "123456") {
		t.Errorf("pkcs11: %v", err)
	}
	// Missing file, directory, special file.
	for _, ref := range []string{"file:" + filepath.Join(dir, "missing"), "file:" + dir, "file:/dev/zero"} {
		if _, err := Load(ctx, ref); err == nil {
			t.Errorf("Load(%q) accepted", ref)
		}
	}
	if _, err := Load(ctx, "file:"+filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := writeFile(t, dir, "big", strings.Repeat("A", maxKeyFile+1))
	if _, err := Load(ctx, "file:"+big); err == nil {
		t.Error("oversized file accepted")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Load(cancelled, "file:"+p); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestIsReference(t *testing.T) {
	for s, want := range map[string]bool{
		"file:/etc/fapid/key.pem": true, "file:key.pem": true, "pkcs11:token=x": true,
		"/etc/fapid/key.pem": false, "key.pem": false, "": false, "FILE:/x": false, "files:/x": false, "pkcs:x": false,
	} {
		if IsReference(s) != want {
			t.Errorf("IsReference(%q) = %v", s, !want)
		}
	}
}

func TestPKCS11LoaderIsALoader(t *testing.T) {
	var l Loader = newPKCS11Loader()
	if _, err := l.Load(context.Background(), "pkcs11:object=x"); !errors.Is(err, ErrPKCS11Unsupported) {
		t.Fatal(err)
	}
	var _ Loader = FileLoader{}
}
