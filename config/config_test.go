package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadValid(t *testing.T) {
	f, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if f.ShutdownGrace != 10*time.Second {
		t.Errorf("shutdown_grace = %v", f.ShutdownGrace)
	}
	abs, _ := filepath.Abs("testdata")
	if got, want := f.Certificates["server"].Key.Path(), filepath.Join("testdata", "certs/server.key"); got != want && got != filepath.Join(abs, "certs/server.key") {
		t.Errorf("key path = %q, want resolved against the config dir", got)
	}
	if got := f.Listeners[0].ClientCA; got != filepath.Join("testdata", "pki/root_ca.crt") {
		t.Errorf("client_ca = %q", got)
	}
	if e := f.Certificates["renewed"].Embedded; e.Lifetime != time.Hour || len(e.SANs) != 2 {
		t.Errorf("embedded = %+v", e)
	}
	if h := f.Listeners[0].HSTS; h == nil || !*h {
		t.Errorf("hsts default should be true")
	}
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fapid.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const base = `ops:
  address: 127.0.0.1:9090
`

func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string // substrings, each must appear as ":LINE: path: msg"
	}{
		{"typo key", base + "listners: []\n", []string{`:3: listners: unknown key "listners"`}},
		{"nested typo", base + "log:\n  levle: debug\n", []string{`:4: log.levle: unknown key "levle"`}},
		{"wrong type", base + "shutdown_grace: [1]\n", []string{":3: shutdown_grace: wrong type (seq): want a duration"}},
		{"bad duration", base + "shutdown_grace: soon\n", []string{":3: shutdown_grace: wrong type (str): want a duration such as 30s"}},
		{"bool", base + "listeners:\n  - name: a\n    hsts: maybe\n", []string{":5: listeners[0].hsts: wrong type (str): want true or false"}},
		{"flow mapping", base + "listeners:\n  - {name: a, hsts: maybe}\n", []string{":4: listeners[0]: wrong type (str): want true or false"}},
		{"missing required", base + "listeners:\n  - name: a\n    certificate: c\n", []string{
			`:4: listeners[0].address: required`, `:5: listeners[0].certificate: no certificate named "c"`}},
		{"all at once", base + "log:\n  level: loud\n  colour: red\nshutdown_grace: 1h\n", []string{
			`:4: log.level: must be one of`, `:5: log.colour: unknown key "colour"`}},
		{"inline secret", base + "certificates:\n  c:\n    cert_file: a.crt\n    key: \"-----BEGIN PRIVATE KEY-----MIGH\"\n",
			[]string{`:6: certificates.c.key: must be a reference`}},
		{"plain ops off loopback", "ops:\n  address: 0.0.0.0:9090\n", []string{`:2: ops.address: plain HTTP is allowed on loopback only`}},
		{"client ca needed", base + "certificates:\n  s: {cert_file: a, key: file:b}\nlisteners:\n  - {name: x, address: ':1', certificate: s, client_auth: require}\n",
			[]string{`:6: listeners[0].client_ca: required when client_auth is "require"`}},
		{"duplicate key", base + "ops:\n  address: 127.0.0.1:1\n", []string{"already defined"}},
		{"alias", "x: &a 1\n" + base, []string{`unknown key "x"`}},
		{"two documents", base + "---\nlog: {}\n", []string{"only one YAML document"}},
		{"empty", "", []string{"empty configuration"}},
		{"nothing to run", "log: {level: info}\n", []string{"nothing to run"}},
		{"online CA is fapid-ca, not the daemon", base + "pki:\n  dir: p\n  serve: {address: 127.0.0.1:9000}\n", []string{
			`:5: pki.serve: unknown key "serve"`}},
		{"embedded needs ca", base + "certificates:\n  e:\n    embedded: {common_name: x, usage: [server]}\n", []string{
			`:5: certificates.e.embedded: needs pki.dir`}},
		{"embedded needs sans", base + "pki: {dir: p}\ncertificates:\n  e:\n    embedded: {common_name: x, usage: [server]}\n", []string{
			`:6: certificates.e.embedded.sans: required`}},
		{"hsm tls key not yet", base + "certificates:\n  c: {cert_file: a.crt, key: \"pkcs11:token=t;object=k\"}\n", []string{
			`:4: certificates.c.key: must be a [file] reference`}},
		{"same address twice", base + "certificates:\n  s: {cert_file: a, key: file:b}\nlisteners:\n  - {name: a, address: '127.0.0.1:9090', certificate: s}\n", []string{
			`:2: ops.address: address 127.0.0.1:9090 is already used by listeners[0].address`}},
		{"hostname address", base + "certificates:\n  s: {cert_file: a, key: file:b}\nlisteners:\n  - {name: a, address: 'example.invalid:8443', certificate: s}\n", []string{
			`:6: listeners[0].address: host must be an IP address`}},
		{"both sources", base + "certificates:\n  e:\n    cert_file: a\n    key: file:b\n    embedded: {common_name: x, usage: [server]}\n", []string{
			`:4: certificates.e: set either cert_file and key, or embedded, not both`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, tt.text)
			_, err := Load(p)
			if err == nil {
				t.Fatal("Load succeeded, want error")
			}
			var probs Problems
			if !errors.As(err, &probs) {
				t.Fatalf("error %T is not Problems: %v", err, err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error\n%s\ndoes not contain %q", msg, w)
				}
			}
			for _, p := range probs {
				if p.File != p0(p) {
					t.Errorf("problem %q does not name the file", p)
				}
			}
			if strings.Contains(msg, "BEGIN PRIVATE KEY") {
				t.Errorf("error echoes an inline secret: %s", msg)
			}
		})
	}
}

func p0(p Problem) string { return p.File } // every problem carries the path

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}

func TestValidateIsPure(t *testing.T) {
	f := &File{}
	Defaults(f)
	before := *f
	Validate(f)
	if f.Log != before.Log || f.ShutdownGrace != before.ShutdownGrace {
		t.Fatal("Validate changed its input")
	}
}

func FuzzDecode(f *testing.F) {
	seed, _ := os.ReadFile("testdata/valid.yaml")
	f.Add(seed)
	f.Add([]byte(base + "listners: []\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, probs := Decode(data)
		if cfg == nil && len(probs) == 0 {
			t.Fatal("neither a config nor problems")
		}
		if cfg != nil {
			Defaults(cfg)
			_ = Validate(cfg)
		}
	})
}
