package tlsx

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHolderEmpty(t *testing.T) {
	for name, h := range map[string]*Holder{"zero": new(Holder), "NewHolder(nil)": NewHolder(nil)} {
		if c, err := h.Certificate(); c != nil || !errors.Is(err, ErrNoCertificate) {
			t.Errorf("%s: Certificate() = %v, %v; want ErrNoCertificate", name, c, err)
		}
	}
	// A server whose holder is empty fails the handshake instead of
	// presenting something else.
	ca := newCA(t, "ca")
	cfg, err := ServerConfig(ServerOptions{Source: new(Holder)})
	if err != nil {
		t.Fatal(err)
	}
	srv := startEcho(t, cfg)
	_, err = connect(t, srv.addr, &tls.Config{RootCAs: ca.pool, ServerName: "localhost"})
	wantRefused(t, srv, err, ErrNoCertificate.Error())
}

// TestHolderSwap: a certificate set into the Holder is served on the next
// handshake, while a connection opened before the swap keeps working.
func TestHolderSwap(t *testing.T) {
	ca := newCA(t, "ca")
	first, second := ca.serverCert(t), ca.serverCert(t)
	h := NewHolder(first)
	cfg, err := ServerConfig(ServerOptions{Source: h})
	if err != nil {
		t.Fatal(err)
	}
	srv := startEcho(t, cfg)
	ccfg, err := ClientConfig(ClientOptions{RootCAs: ca.pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}

	old, err := dial(t, srv.addr, ccfg)
	wantAccepted(t, srv, err)
	if got := served(old.ConnectionState()); got != serialOf(first) {
		t.Fatalf("first connection: serial %s, want %s", got, serialOf(first))
	}

	h.Set(second)

	st, err := connect(t, srv.addr, ccfg)
	wantAccepted(t, srv, err)
	if got := served(st); got != serialOf(second) {
		t.Errorf("after swap: serial %s, want %s", got, serialOf(second))
	}
	if err := ping(old, "still open after the swap"); err != nil {
		t.Errorf("connection opened before the swap: %v", err)
	}
	if got := served(old.ConnectionState()); got != serialOf(first) {
		t.Errorf("old connection now reports serial %s", got)
	}
}

func TestHolderConcurrent(t *testing.T) {
	ca := newCA(t, "ca")
	certs := []*tls.Certificate{ca.serverCert(t), ca.serverCert(t)}
	h := NewHolder(certs[0])
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				if i%2 == 0 {
					h.Set(certs[j%2])
				} else if c, err := h.Certificate(); err != nil || (c != certs[0] && c != certs[1]) {
					t.Errorf("Certificate() = %p, %v", c, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func served(st tls.ConnectionState) string { return st.PeerCertificates[0].SerialNumber.String() }

// fakeClock is safe for the handshake goroutines that call FileSource.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// pairFiles is a cert/key file pair on disk whose writes get distinct,
// increasing modification times (file systems with coarse timestamps would
// otherwise hide a rewrite of equal size).
type pairFiles struct {
	dir, cert, key string
	mtime          time.Time
}

func newPairFiles(t *testing.T) *pairFiles {
	dir := t.TempDir()
	return &pairFiles{dir: dir, cert: filepath.Join(dir, "tls.crt"), key: filepath.Join(dir, "tls.key"),
		mtime: time.Now().Add(-time.Hour)}
}

func (p *pairFiles) write(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	p.mtime = p.mtime.Add(time.Minute)
	if err := os.Chtimes(name, p.mtime, p.mtime); err != nil {
		t.Fatal(err)
	}
}

func (p *pairFiles) writePair(t *testing.T, l *leaf) {
	t.Helper()
	p.write(t, p.cert, l.certPEM)
	p.write(t, p.key, l.keyPEM)
}

// TestFileSourceReload serves from files that are rewritten between
// handshakes on a real listener.
func TestFileSourceReload(t *testing.T) {
	ca := newCA(t, "ca")
	issue := func() *leaf { return ca.issue(t, serverLeafOptions()) }
	a, b, c := issue(), issue(), issue()
	files := newPairFiles(t)
	files.writePair(t, a)

	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	src, err := newFileSource(files.cert, files.key, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ServerConfig(ServerOptions{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	srv := startEcho(t, cfg)
	ccfg, err := ClientConfig(ClientOptions{RootCAs: ca.pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	expect := func(step string, want *leaf) {
		t.Helper()
		st, err := connect(t, srv.addr, ccfg)
		wantAccepted(t, srv, err)
		if got := served(st); got != serialOf(want.tls) {
			t.Errorf("%s: serial %s, want %s", step, got, serialOf(want.tls))
		}
	}

	expect("initial", a)
	files.writePair(t, b)
	expect("rewritten, less than a second later", a) // at most one look per second
	clock.Advance(time.Second)
	expect("rewritten, a second later", b)

	// Half-written renewal: the new certificate is there, the key is still
	// the old one. The pair does not match, so b stays in use.
	files.write(t, files.cert, c.certPEM)
	clock.Advance(time.Second)
	expect("certificate without its key", b)
	if err := src.Reload(); err == nil {
		t.Error("Reload of a mismatched pair: no error")
	}
	files.write(t, files.key, c.keyPEM)
	clock.Advance(time.Second)
	expect("key written too", c)

	// Garbage and a deleted file keep the last good pair.
	files.write(t, files.key, []byte("not a key"))
	clock.Advance(time.Second)
	expect("garbage key", c)
	if err := os.Remove(files.cert); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	expect("deleted certificate", c)
	if err := src.Reload(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Reload with a deleted file: %v, want fs.ErrNotExist", err)
	}

	// Atomic replacement by rename (how Kubernetes and most renewal tools
	// publish), even with an unchanged modification time.
	files.writePair(t, a)
	clock.Advance(time.Second)
	expect("restored", a)
	for _, f := range []struct {
		path string
		data []byte
	}{{files.cert, b.certPEM}, {files.key, b.keyPEM}} {
		fi, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		tmp := f.path + ".new"
		if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Second)
	expect("renamed into place", b)
}

func TestNewFileSourceErrors(t *testing.T) {
	ca := newCA(t, "ca")
	a, b := ca.issue(t, serverLeafOptions()), ca.issue(t, serverLeafOptions())
	for _, tc := range []struct {
		name      string
		cert, key []byte // nil: file absent
	}{
		{"missing certificate", nil, a.keyPEM},
		{"missing key", a.certPEM, nil},
		{"mismatched pair", a.certPEM, b.keyPEM},
		{"key in the certificate file", a.keyPEM, a.keyPEM},
		{"garbage", []byte("garbage"), []byte("garbage")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := newPairFiles(t)
			if tc.cert != nil {
				files.write(t, files.cert, tc.cert)
			}
			if tc.key != nil {
				files.write(t, files.key, tc.key)
			}
			src, err := NewFileSource(files.cert, files.key)
			if err == nil || src != nil {
				t.Fatalf("NewFileSource = %v, %v; want an error", src, err)
			}
			for _, secret := range [][]byte{a.keyPEM, b.keyPEM} {
				body := strings.Split(string(secret), "\n")[1] // first base64 line
				if strings.Contains(err.Error(), body) {
					t.Fatalf("error leaks key material: %v", err)
				}
			}
		})
	}
}
