package seal

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// curityVector is one value made by Node's crypto (testdata/curityv1_gen.mjs),
// not by this package.
type curityVector struct {
	Name      string `json:"name"`
	Key       string `json:"key"`
	IV        string `json:"iv"`
	Plaintext string `json:"plaintext"`
	Sealed    string `json:"sealed"`
}

func curityVectors(t testing.TB) []curityVector {
	t.Helper()
	b, err := os.ReadFile("testdata/curityv1_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []curityVector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) < 4 {
		t.Fatalf("only %d vectors", len(vs))
	}
	return vs
}

func newCurity(t testing.TB, keyHex string) *CurityV1 {
	t.Helper()
	c, err := NewCurityV1(mustKey(t, keyHex))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCurityV1Vectors(t *testing.T) {
	for _, v := range curityVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			c := newCurity(t, v.Key)
			got, err := c.Open(v.Sealed)
			if err != nil || string(got) != v.Plaintext {
				t.Fatalf("Open = %q, %v; want %q", got, err, v.Plaintext)
			}
			var iv [curityIVSize]byte
			if b, err := hex.DecodeString(v.IV); err != nil || copy(iv[:], b) != curityIVSize {
				t.Fatalf("bad IV in vector: %v", err)
			}
			sealed, err := c.sealWithIV(iv, []byte(v.Plaintext))
			if err != nil || sealed != v.Sealed {
				t.Fatalf("sealWithIV = %q, %v; want Node's %q", sealed, err, v.Sealed)
			}
		})
	}
}

func TestCurityV1RoundTripRandomIV(t *testing.T) {
	c := newCurity(t, keyA)
	a, err := c.Seal([]byte("token"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Seal([]byte("token"))
	if a == b {
		t.Fatal("two seals of one value are equal: IV not random")
	}
	raw, _ := base64.RawURLEncoding.DecodeString(a)
	if raw[0] != 1 || len(raw) != 1+12+len("token")+16 {
		t.Fatalf("layout: version %d, %d bytes", raw[0], len(raw))
	}
	if got, err := c.Open(a); err != nil || string(got) != "token" {
		t.Fatalf("Open = %q, %v", got, err)
	}
}

func TestCurityV1Refuses(t *testing.T) {
	v := curityVectors(t)[0]
	c := newCurity(t, v.Key)
	raw, _ := base64.RawURLEncoding.DecodeString(v.Sealed)
	enc := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	mutate := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return enc(b)
	}
	other := newCurity(t, keyB)
	cases := map[string]string{
		"empty":             "",
		"too short (29 B)":  enc(raw[:29]),
		"version 2":         enc(append([]byte{2}, raw[1:]...)),
		"flipped IV":        mutate(3),
		"flipped cipher":    mutate(1 + 12 + 2),
		"flipped tag":       mutate(len(raw) - 1),
		"truncated tag":     enc(raw[:len(raw)-1]),
		"padded":            v.Sealed + "=",
		"std alphabet":      strings.NewReplacer("-", "+", "_", "/").Replace(v.Sealed) + "+/",
		"newline":           v.Sealed[:10] + "\n" + v.Sealed[10:],
		"dots (H07)":        strings.Repeat(".", 3000),
		"over the size cap": strings.Repeat("A", DefaultMaxSize+1),
	}
	for name, value := range cases {
		if got, err := c.Open(value); !errors.Is(err, ErrInvalid) || got != nil {
			t.Errorf("%s: Open = %q, %v; want ErrInvalid", name, got, err)
		}
	}
	if _, err := other.Open(v.Sealed); !errors.Is(err, ErrInvalid) {
		t.Errorf("wrong key: %v", err)
	}
	if _, err := c.Seal(nil); err == nil {
		t.Error("Seal of an empty value: no error (Curity refuses empty ciphertexts)")
	}
	if _, err := c.Seal(make([]byte, DefaultMaxSize)); err == nil {
		t.Error("Seal over the size cap: no error")
	}
	if _, err := NewCurityV1(Key{}); err == nil {
		t.Error("NewCurityV1(zero Key): no error")
	}
}

// The native format and the Curity format never open each other's values.
func TestCurityV1AndNativeAreSeparate(t *testing.T) {
	c := newCurity(t, keyA)
	s := newSealer(t, &clock{t: t0}, keyA)
	cv, _ := c.Seal([]byte("value"))
	if _, err := s.Open("__Host-x-at", cv); err == nil {
		t.Error("native Sealer opened a Curity value")
	}
	nv := mustSeal(t, s, "__Host-x-at", []byte("value"), t0.Add(3600e9))
	if _, err := c.Open(nv); err == nil {
		t.Error("CurityV1 opened a native value")
	}
}

func FuzzCurityV1Open(f *testing.F) {
	for _, v := range curityVectors(f) {
		f.Add(v.Sealed)
	}
	f.Add("AQ")
	f.Add(strings.Repeat("_", 40))
	c := newCurity(f, curityVectors(f)[0].Key)
	f.Fuzz(func(t *testing.T, value string) {
		pt, err := c.Open(value)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || pt != nil {
				t.Fatalf("error %v with data %q", err, pt)
			}
			return
		}
		if len(pt) == 0 {
			t.Fatal("opened to an empty value")
		}
	})
}
