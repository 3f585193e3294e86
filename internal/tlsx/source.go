package tlsx

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoCertificate is returned by a [Source] that holds no certificate yet.
var ErrNoCertificate = errors.New("tlsx: no certificate")

// Source yields the certificate to present on a handshake. It is called on
// every handshake and from many goroutines at once.
type Source interface {
	Certificate() (*tls.Certificate, error)
}

// Holder is a [Source] whose certificate is replaced atomically with
// [Holder.Set], for certificates renewed in process (the embedded CA's
// renewer). A swap applies to the next handshake; open connections keep
// the certificate they were established with. The zero value holds nothing.
type Holder struct {
	cert atomic.Pointer[tls.Certificate]
}

// NewHolder returns a Holder holding c, which may be nil.
func NewHolder(c *tls.Certificate) *Holder {
	h := new(Holder)
	h.Set(c)
	return h
}

// Set replaces the certificate. The caller must not modify c afterwards.
func (h *Holder) Set(c *tls.Certificate) { h.cert.Store(c) }

// Certificate returns the current certificate, or [ErrNoCertificate].
func (h *Holder) Certificate() (*tls.Certificate, error) {
	if c := h.cert.Load(); c != nil {
		return c, nil
	}
	return nil, ErrNoCertificate
}

// reloadInterval is the least time between two looks at the files.
const reloadInterval = time.Second

// FileSource is a [Source] reading a PEM certificate chain and private key
// from two files. On use, at most once per [reloadInterval], it compares
// the files' identity, size and modification time with the last good load
// and reloads them when either changed, so certificates renewed on disk
// (by an external ACME client, cert-manager, a Kubernetes secret mount)
// are served without restart. A reload that fails (a missing file, bad PEM,
// a key that does not match the certificate, as while the two files are
// being rewritten one after the other) keeps the last good pair and is
// retried on the next look.
type FileSource struct {
	certFile, keyFile string
	now               func() time.Time

	cert atomic.Pointer[tls.Certificate]

	mu      sync.Mutex // guards the fields below and serialises reloads
	checked time.Time  // when the files were last looked at
	stamp   [2]os.FileInfo
}

// NewFileSource loads certFile and keyFile (PEM; the certificate file holds
// the leaf first, then intermediates) and fails if they do not load.
func NewFileSource(certFile, keyFile string) (*FileSource, error) {
	return newFileSource(certFile, keyFile, time.Now)
}

func newFileSource(certFile, keyFile string, now func() time.Time) (*FileSource, error) {
	s := &FileSource{certFile: certFile, keyFile: keyFile, now: now}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Certificate returns the current pair, reloading it first if the files
// changed and the last look is at least a second old. A failed reload is
// not reported here (the handshake goes on with the last good pair); call
// [FileSource.Reload] to see the error.
func (s *FileSource) Certificate() (*tls.Certificate, error) {
	s.mu.Lock()
	if now := s.now(); now.Sub(s.checked) >= reloadInterval || now.Before(s.checked) {
		s.checked = now
		if s.changedLocked() {
			_ = s.reloadLocked()
		}
	}
	s.mu.Unlock()
	return s.cert.Load(), nil
}

// Reload reads the files now, whether or not they changed. On error the
// last good pair stays in use and the error says why the new one did not
// load.
func (s *FileSource) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checked = s.now()
	return s.reloadLocked()
}

func (s *FileSource) reloadLocked() error {
	// Stat before reading: if a file changes while it is read, the stamp is
	// older than the content and the next look reloads again.
	var stamp [2]os.FileInfo
	for i, name := range []string{s.certFile, s.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return fmt.Errorf("tlsx: reload certificate: %w", err)
		}
		stamp[i] = fi
	}
	c, err := loadKeyPair(s.certFile, s.keyFile)
	if err != nil {
		// LoadX509KeyPair names the files and the PEM problem, never key bytes.
		return fmt.Errorf("tlsx: reload certificate: %w", err)
	}
	s.cert.Store(&c)
	s.stamp = stamp
	return nil
}

// changedLocked reports whether either file differs from the last good load.
// An unreadable file counts as changed, so the reload reports it.
func (s *FileSource) changedLocked() bool {
	for i, name := range []string{s.certFile, s.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return true
		}
		old := s.stamp[i]
		if old == nil || !os.SameFile(old, fi) || old.Size() != fi.Size() || !old.ModTime().Equal(fi.ModTime()) {
			return true
		}
	}
	return false
}

// loadKeyPair is tls.LoadX509KeyPair with size-capped, regular-file reads.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := readPEMFile(certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := readPEMFile(keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s and %s: %w", certFile, keyFile, err)
	}
	return c, nil
}
