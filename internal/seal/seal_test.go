package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	keyA = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	keyB = "F0E1D2C3B4A5968778695A4B3C2D1E0FF0E1D2C3B4A5968778695A4B3C2D1E0F"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func mustKey(t testing.TB, text string) Key {
	t.Helper()
	k, err := ParseKey([]byte(text))
	if err != nil {
		t.Fatalf("ParseKey: %v", err)
	}
	return k
}

func newSealer(t testing.TB, c *clock, texts ...string) *Sealer {
	t.Helper()
	var keys []Key
	for _, text := range texts {
		keys = append(keys, mustKey(t, text))
	}
	s, err := New(keys, WithClock(c.now))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func mustSeal(t testing.TB, s *Sealer, name string, data []byte, exp time.Time) string {
	t.Helper()
	v, err := s.Seal(name, data, exp)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return v
}

func mustInvalid(t testing.TB, s *Sealer, name, value string) {
	t.Helper()
	data, err := s.Open(name, value)
	if err != ErrInvalid || data != nil {
		t.Fatalf("Open = %q, %v; want nil, ErrInvalid", data, err)
	}
}

func TestRoundTrip(t *testing.T) {
	c := &clock{t0}
	s := newSealer(t, c, keyA)
	for _, data := range [][]byte{nil, {}, []byte("x"), []byte("a refresh token"), bytes.Repeat([]byte{0xff, 0}, 2000)} {
		v := mustSeal(t, s, "__Host-fapid-rt", data, t0.Add(time.Hour))
		if got := len(v); got != base64.RawURLEncoding.EncodedLen(overhead+len(data)) {
			t.Errorf("len = %d", got)
		}
		got, exp, err := s.OpenExpiry("__Host-fapid-rt", v)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, data) || got == nil || !exp.Equal(t0.Add(time.Hour)) {
			t.Fatalf("got %q exp %v", got, exp)
		}
		// The same data seals differently each time (random nonce).
		if v2 := mustSeal(t, s, "__Host-fapid-rt", data, t0.Add(time.Hour)); v2 == v {
			t.Fatal("two seals are identical")
		}
	}
}

// The format is the one in contracts.md, byte for byte.
func TestFormat(t *testing.T) {
	s := newSealer(t, &clock{t0}, keyA)
	v := mustSeal(t, s, "n", []byte("data"), t0.Add(time.Minute))
	raw, err := base64.RawURLEncoding.Strict().DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	k := mustKey(t, keyA)
	if raw[0] != 1 || !bytes.Equal(raw[1:5], k.id[:]) || len(raw) != 1+4+12+8+4+16 {
		t.Fatalf("raw = %x", raw)
	}
	if k.ID() != fmt.Sprintf("%x", raw[1:5]) {
		t.Fatalf("ID() = %s", k.ID())
	}
}

// A value sealed for one cookie does not open as another (AAD binds the name).
func TestNameBinding(t *testing.T) {
	s := newSealer(t, &clock{t0}, keyA)
	v := mustSeal(t, s, "__Host-fapid-rt", []byte("token"), t0.Add(time.Hour))
	for _, other := range []string{"__Host-fapid-at", "__Host-fapid-r", "__Host-fapid-rt ", "", "__host-fapid-rt"} {
		mustInvalid(t, s, other, v)
	}
}

// Every single flipped bit of the decoded form, and every changed character of
// the text, makes Open fail.
func TestEveryFlipFails(t *testing.T) {
	s := newSealer(t, &clock{t0}, keyA)
	v := mustSeal(t, s, "c", []byte("some session data"), t0.Add(time.Hour))
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	for i := range raw {
		for bit := 0; bit < 8; bit++ {
			m := bytes.Clone(raw)
			m[i] ^= 1 << bit
			mustInvalid(t, s, "c", base64.RawURLEncoding.EncodeToString(m))
		}
	}
	for i := 0; i < len(v); i++ {
		for _, x := range []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80} {
			m := []byte(v)
			m[i] ^= x
			mustInvalid(t, s, "c", string(m))
		}
	}
	// Truncation and extension.
	for i := 0; i < len(v); i++ {
		mustInvalid(t, s, "c", v[:i])
	}
	for _, suffix := range []string{"A", "AA", "AAA", "AAAA", "\n", "\r\n", "="} {
		mustInvalid(t, s, "c", v+suffix)
	}
	mustInvalid(t, s, "c", v[:10]+"\n"+v[10:])
	if _, err := s.Open("c", v); err != nil {
		t.Fatalf("control: %v", err)
	}
}

func TestRotation(t *testing.T) {
	c := &clock{t0}
	old := newSealer(t, c, keyA)
	vOld := mustSeal(t, old, "c", []byte("old"), t0.Add(time.Hour))

	rotated := newSealer(t, c, keyB, keyA) // new key first
	if got, err := rotated.Open("c", vOld); err != nil || string(got) != "old" {
		t.Fatalf("old value after rotation: %q, %v", got, err)
	}
	vNew := mustSeal(t, rotated, "c", []byte("new"), t0.Add(time.Hour))
	raw, _ := base64.RawURLEncoding.DecodeString(vNew)
	kB := mustKey(t, keyB)
	if !bytes.Equal(raw[1:5], kB.id[:]) {
		t.Fatalf("new value has key id %x, want %s", raw[1:5], kB.ID())
	}
	// The old-only sealer cannot open the new value; once the old key is
	// dropped, old values stop opening.
	mustInvalid(t, old, "c", vNew)
	mustInvalid(t, newSealer(t, c, keyB), "c", vOld)
}

func TestExpiry(t *testing.T) {
	c := &clock{t0}
	s := newSealer(t, c, keyA)
	v := mustSeal(t, s, "c", []byte("x"), t0.Add(10*time.Minute))
	c.t = t0.Add(10*time.Minute - time.Second)
	if _, err := s.Open("c", v); err != nil {
		t.Fatalf("one second before expiry: %v", err)
	}
	c.t = t0.Add(10 * time.Minute)
	mustInvalid(t, s, "c", v)
	c.t = t0.Add(24 * time.Hour)
	mustInvalid(t, s, "c", v)
	c.t = t0
	if _, err := s.Seal("c", nil, t0); err == nil {
		t.Fatal("sealed a value that is already expired")
	}
	if _, err := s.Seal("c", nil, time.Time{}); err == nil {
		t.Fatal("sealed a value with zero expiry")
	}
}

func TestSizeCaps(t *testing.T) {
	c := &clock{t0}
	s, err := New([]Key{mustKey(t, keyA)}, WithClock(c.now), WithMaxSize(200))
	if err != nil {
		t.Fatal(err)
	}
	maxData := 200*6/8 - overhead // largest data whose encoding fits in 200 characters
	v := mustSeal(t, s, "c", make([]byte, maxData), t0.Add(time.Hour))
	if len(v) > 200 {
		t.Fatalf("len %d", len(v))
	}
	if _, err := s.Open("c", v); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal("c", make([]byte, maxData+1), t0.Add(time.Hour)); err == nil {
		t.Fatal("sealed a value over the cap")
	}
	// A value over the cap is refused without being decoded, even if valid.
	big := mustSeal(t, newSealer(t, c, keyA), "c", make([]byte, 1000), t0.Add(time.Hour))
	mustInvalid(t, s, "c", big)
	for _, n := range []int{0, 54, 1<<20 + 1} {
		if _, err := New([]Key{mustKey(t, keyA)}, WithMaxSize(n)); err == nil {
			t.Errorf("WithMaxSize(%d) accepted", n)
		}
	}
}

// Garbage is refused, and cheaply (H07: 3000 dots).
func TestGarbage(t *testing.T) {
	s := newSealer(t, &clock{t0}, keyA)
	for _, v := range []string{
		"", "a", "....", strings.Repeat(".", 3000), strings.Repeat("A", 54), strings.Repeat("A", 55),
		strings.Repeat("A", 100), strings.Repeat("_", 8192), strings.Repeat("A", 8193),
		strings.Repeat("A", 1<<20), "AQ" + strings.Repeat("A", 60), "not base64 at all, with spaces and ünïcödé ...................",
		strings.Repeat("=", 60), strings.Repeat("+/", 40),
	} {
		mustInvalid(t, s, "c", v)
	}
	res := testing.Benchmark(func(b *testing.B) {
		v := strings.Repeat(".", 3000)
		for b.Loop() {
			_, _ = s.Open("c", v)
		}
	})
	if res.NsPerOp() > 50_000 {
		t.Fatalf("refusing 3000 dots took %d ns", res.NsPerOp())
	}
	res = testing.Benchmark(func(b *testing.B) {
		v := strings.Repeat("A", 1<<20)
		for b.Loop() {
			_, _ = s.Open("c", v)
		}
	})
	if res.AllocsPerOp() != 0 || res.NsPerOp() > 50_000 {
		t.Fatalf("refusing an oversized value: %d ns, %d allocs", res.NsPerOp(), res.AllocsPerOp())
	}
}

// A value with another version byte or an unknown key id is invalid, even
// when everything else is right.
func TestVersionAndKeyID(t *testing.T) {
	s := newSealer(t, &clock{t0}, keyA)
	v := mustSeal(t, s, "c", []byte("x"), t0.Add(time.Hour))
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	for _, ver := range []byte{0, 2, 0xff} {
		m := bytes.Clone(raw)
		m[0] = ver
		mustInvalid(t, s, "c", base64.RawURLEncoding.EncodeToString(m))
	}
	mustInvalid(t, newSealer(t, &clock{t0}, keyB), "c", v)
}

func TestNew(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Error("no keys accepted")
	}
	if _, err := New([]Key{{}}); err == nil {
		t.Error("zero Key accepted")
	}
	if _, err := New([]Key{mustKey(t, keyA), mustKey(t, strings.ToUpper(keyA))}); err == nil {
		t.Error("duplicate key accepted")
	}
	if _, err := New([]Key{mustKey(t, keyA)}, WithClock(nil)); err == nil {
		t.Error("nil clock accepted")
	}
	s := newSealer(t, &clock{t0}, keyA)
	if _, err := s.Seal("", []byte("x"), t0.Add(time.Hour)); err == nil {
		t.Error("empty name accepted")
	}
}

func TestParseKey(t *testing.T) {
	good := []string{keyA, keyA + "\n", keyA + "\r\n", keyB, strings.ToUpper(keyA)}
	for _, text := range good {
		if _, err := ParseKey([]byte(text)); err != nil {
			t.Errorf("ParseKey(%q): %v", text, err)
		}
	}
	b64Key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	bad := map[string]string{
		"empty":            "",
		"newline only":     "\n",
		"base64 std":       b64Key,
		"base64 raw":       strings.TrimRight(b64Key, "="),
		"base64 url 48B":   base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 48)),
		"short":            keyA[:62],
		"long":             keyA + "00",
		"non-hex":          keyA[:63] + "g",
		"0x prefix":        "0x" + keyA[:62],
		"space":            keyA[:32] + " " + keyA[33:],
		"leading space":    " " + keyA,
		"two newlines":     keyA + "\n\n",
		"trailing space":   keyA + " ",
		"CR only":          keyA + "\r",
		"all zeros":        strings.Repeat("0", 64),
		"passphrase":       "correct horse battery staple",
		"hex with colons":  strings.Repeat("ab:", 21) + "a",
		"128 hex (64 B)":   keyA + keyA,
		"uppercase nonhex": strings.Repeat("G", 64),
	}
	for name, text := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := ParseKey([]byte(text))
			if err == nil {
				t.Fatal("accepted")
			}
			if len(text) >= 8 && strings.Contains(err.Error(), text[:8]) {
				t.Fatalf("error echoes the key text: %v", err)
			}
		})
	}
}

// A Key never prints its secret, whatever the verb.
func TestKeyDoesNotPrint(t *testing.T) {
	k := mustKey(t, keyA)
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		out := fmt.Sprintf(f, k) + fmt.Sprintf(f, []Key{k}) + fmt.Sprintf(f, &k)
		if strings.Contains(strings.ToLower(out), "0001020304") || strings.Contains(out, "[0 1 2 3") {
			t.Errorf("%s prints the key: %s", f, out)
		}
	}
	if got := fmt.Sprint(k); got != "seal.Key("+k.ID()+")" {
		t.Errorf("Sprint = %s", got)
	}
}

func TestGenerateKeyText(t *testing.T) {
	a, err := GenerateKeyText()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenerateKeyText()
	if len(a) != 64 || a == b || strings.ToLower(a) != a {
		t.Fatalf("GenerateKeyText = %q, %q", a, b)
	}
	if _, err := ParseKey([]byte(a)); err != nil {
		t.Fatal(err)
	}
}

func TestLoadKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k, err := LoadKeyFile(write("good", keyA+"\n"))
	if err != nil || k.ID() != mustKey(t, keyA).ID() {
		t.Fatalf("LoadKeyFile: %v, %v", k, err)
	}
	secretish := "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0="
	for name, content := range map[string]string{
		"base64": secretish,
		"big":    strings.Repeat(keyA, 100),
		"empty":  "",
	} {
		p := write(name, content)
		_, err := LoadKeyFile(p)
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
		if len(content) > 8 && strings.Contains(err.Error(), content[:8]) {
			t.Errorf("%s: error echoes the contents: %v", name, err)
		}
	}
	if _, err := LoadKeyFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// Open allocates once: the AEAD is built in New, not per call.
func TestOpenAllocations(t *testing.T) {
	s := newSealer(t, &clock{t0}, keyB, keyA)
	v := mustSeal(t, s, "__Host-fapid-at", make([]byte, 600), t0.Add(time.Hour))
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := s.Open("__Host-fapid-at", v); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("Open allocates %.0f times", allocs)
	}
}

func BenchmarkOpen(b *testing.B) {
	s := newSealer(b, &clock{t0}, keyB, keyA)
	v := mustSeal(b, s, "__Host-fapid-at", make([]byte, 600), t0.Add(time.Hour))
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, err := s.Open("__Host-fapid-at", v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	s := newSealer(b, &clock{t0}, keyA)
	data := make([]byte, 600)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal("__Host-fapid-at", data, t0.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	c := &clock{t0}
	s := newSealer(f, c, keyB, keyA)
	old := newSealer(f, c, keyA)
	seeds := map[string]bool{"": true, "cookie data": true, strings.Repeat("z", 300): true}
	for d := range seeds {
		f.Add("c", mustSeal(f, s, "c", []byte(d), t0.Add(time.Hour)))
		f.Add("c", mustSeal(f, old, "c", []byte(d), t0.Add(time.Hour)))
	}
	f.Add("c", strings.Repeat(".", 3000))
	f.Add("d", "AQ")
	f.Fuzz(func(t *testing.T, name, value string) {
		data, err := s.Open(name, value)
		if err != nil {
			if err != ErrInvalid || data != nil {
				t.Fatalf("Open = %q, %v", data, err)
			}
			return
		}
		// Anything that opens must be one of our values: sealed for "c", in
		// canonical encoding, holding one of the seed payloads.
		raw, derr := base64.RawURLEncoding.Strict().DecodeString(value)
		if name != "c" || derr != nil || base64.RawURLEncoding.EncodeToString(raw) != value || !seeds[string(data)] {
			t.Fatalf("opened an unexpected value: name %q, data %q", name, data)
		}
	})
}
