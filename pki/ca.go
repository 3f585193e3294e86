package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/x509util"
)

// Names of the files in a CA directory.
const (
	RootCertFile         = "root_ca.crt"
	RootKeyFile          = "root_ca.key"
	IntermediateCertFile = "intermediate_ca.crt"
	IntermediateKeyFile  = "intermediate_ca.key"
)

// Defaults used by [Init] for zero fields of [InitOptions].
const (
	DefaultName                 = "fapid Example CA"
	DefaultRootLifetime         = 87600 * time.Hour // 10 years
	DefaultIntermediateLifetime = 43800 * time.Hour // 5 years
)

// Sentinel errors callers may branch on.
var (
	// ErrExists is returned by Init (and WriteIssued) when a file it would
	// write is already there. Nothing is overwritten.
	ErrExists = errors.New("pki: file already exists")
	// ErrInvalidRequest wraps every rejection of an IssueRequest.
	ErrInvalidRequest = errors.New("pki: invalid issue request")
	// ErrBadCA wraps problems with the files of a CA directory.
	ErrBadCA = errors.New("pki: invalid CA directory")
)

// InitOptions configures [Init]. Zero fields take the Default* values.
type InitOptions struct {
	// Name prefixes the subject common names: "<Name> Root" and
	// "<Name> Intermediate".
	Name string
	// RootLifetime is the validity of the self-signed root.
	RootLifetime time.Duration
	// IntermediateLifetime is the validity of the intermediate; it is capped
	// by the root's NotAfter.
	IntermediateLifetime time.Duration
}

// CA is a two-level certificate authority (root and intermediate, EC P-256)
// kept in a directory. Leaves are signed in-process by the intermediate
// with go.step.sm/crypto/x509util. The root key is never loaded by
// [Open]; it is needed only at [Init].
type CA struct {
	dir          string
	root         *x509.Certificate
	intermediate *x509.Certificate
	signer       crypto.Signer
	now          func() time.Time
}

// Init creates a root and an intermediate CA in dir (created 0700 when
// missing) and returns the opened CA. Keys are written as PKCS#8 PEM with mode
// 0600, certificates 0644. Init refuses to overwrite: if any of the four files
// exists it returns an error wrapping [ErrExists] and writes nothing.
func Init(dir string, o InitOptions) (*CA, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: init: %w", err)
	}
	paths := []string{RootKeyFile, RootCertFile, IntermediateKeyFile, IntermediateCertFile}
	for _, name := range paths {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return nil, fmt.Errorf("%w: %s", ErrExists, filepath.Join(dir, name))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("pki: init: %w", err)
		}
	}
	files, err := newHierarchy(o, time.Now())
	if err != nil {
		return nil, err
	}
	var written []string
	for i, name := range paths {
		path := filepath.Join(dir, name)
		perm := fs.FileMode(0o644)
		if i%2 == 0 {
			perm = 0o600 // keys
		}
		if err := WriteFileExclusive(path, files[i], perm); err != nil {
			for _, p := range written {
				_ = os.Remove(p)
			}
			if errors.Is(err, ErrExists) {
				return nil, err
			}
			return nil, fmt.Errorf("pki: init: %w", err)
		}
		written = append(written, path)
	}
	return Open(dir)
}

func (o InitOptions) withDefaults() (InitOptions, error) {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.RootLifetime == 0 {
		o.RootLifetime = DefaultRootLifetime
	}
	if o.IntermediateLifetime == 0 {
		o.IntermediateLifetime = DefaultIntermediateLifetime
	}
	switch {
	case o.RootLifetime < 0 || o.IntermediateLifetime < 0:
		return o, errors.New("pki: init: lifetimes must be positive")
	case o.IntermediateLifetime > o.RootLifetime:
		return o, errors.New("pki: init: intermediate lifetime exceeds root lifetime")
	}
	return o, nil
}

// newHierarchy returns PEM for root key, root cert, intermediate key,
// intermediate cert (the order of the files in Init).
func newHierarchy(o InitOptions, now time.Time) ([4][]byte, error) {
	var out [4][]byte
	rootKey, err := keyutil.GenerateDefaultSigner() // EC P-256
	if err != nil {
		return out, fmt.Errorf("pki: init: %w", err)
	}
	root, err := newCACert(o.Name+" Root", x509util.DefaultRootTemplate, rootKey, nil, rootKey,
		now, now.Add(o.RootLifetime))
	if err != nil {
		return out, err
	}
	interKey, err := keyutil.GenerateDefaultSigner()
	if err != nil {
		return out, fmt.Errorf("pki: init: %w", err)
	}
	inter, err := newCACert(o.Name+" Intermediate", x509util.DefaultIntermediateTemplate, interKey, root, rootKey,
		now, now.Add(o.IntermediateLifetime))
	if err != nil {
		return out, err
	}
	if out[0], err = encodeKey(rootKey); err != nil {
		return out, fmt.Errorf("pki: init: %w", err)
	}
	if out[2], err = encodeKey(interKey); err != nil {
		return out, fmt.Errorf("pki: init: %w", err)
	}
	out[1], out[3] = encodeCerts(root), encodeCerts(inter)
	return out, nil
}

// newCACert signs a CA certificate for key with parent (nil: self-signed).
func newCACert(cn, tmpl string, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer,
	notBefore, notAfter time.Time) (*x509.Certificate, error) {
	cr, err := x509util.CreateCertificateRequest(cn, nil, key)
	if err != nil {
		return nil, fmt.Errorf("pki: init: %w", err)
	}
	c, err := x509util.NewCertificate(cr, x509util.WithTemplate(tmpl, x509util.CreateTemplateData(cn, nil)))
	if err != nil {
		return nil, fmt.Errorf("pki: init: %w", err)
	}
	t := c.GetCertificate()
	t.NotBefore = notBefore.Add(-time.Minute).UTC() // tolerate small clock skew
	t.NotAfter = notAfter.UTC()
	if parent == nil {
		parent = t
	} else if t.NotAfter.After(parent.NotAfter) {
		t.NotAfter = parent.NotAfter
	}
	cert, err := x509util.CreateCertificate(t, parent, key.Public(), parentKey)
	if err != nil {
		return nil, fmt.Errorf("pki: init: %w", err)
	}
	return cert, nil
}

// Open loads the CA in dir: both certificates and the intermediate key. It
// checks that the intermediate is a CA signed by the root and that the key
// matches it.
func Open(dir string) (*CA, error) {
	root, err := readCert(filepath.Join(dir, RootCertFile))
	if err != nil {
		return nil, err
	}
	inter, err := readCert(filepath.Join(dir, IntermediateCertFile))
	if err != nil {
		return nil, err
	}
	signer, err := readKey(filepath.Join(dir, IntermediateKeyFile))
	if err != nil {
		return nil, err
	}
	switch {
	case !root.IsCA || !inter.IsCA:
		return nil, fmt.Errorf("%w: %s: not a CA certificate", ErrBadCA, dir)
	case inter.CheckSignatureFrom(root) != nil:
		return nil, fmt.Errorf("%w: %s: intermediate is not signed by the root", ErrBadCA, dir)
	case !publicKeysEqual(signer.Public(), inter.PublicKey):
		return nil, fmt.Errorf("%w: %s: intermediate key does not match its certificate", ErrBadCA, dir)
	}
	return &CA{dir: dir, root: root, intermediate: inter, signer: signer, now: time.Now}, nil
}

// Dir returns the CA directory.
func (ca *CA) Dir() string { return ca.dir }

// RootFile returns the path of the root certificate (PEM).
func (ca *CA) RootFile() string { return filepath.Join(ca.dir, RootCertFile) }

// Root returns the root certificate.
func (ca *CA) Root() *x509.Certificate { return ca.root }

// Intermediate returns the intermediate (issuing) certificate.
func (ca *CA) Intermediate() *x509.Certificate { return ca.intermediate }

// RootPool returns a new pool holding only the root certificate.
func (ca *CA) RootPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.root)
	return p
}

// IntermediatePool returns a new pool holding the intermediate certificate,
// for x509.VerifyOptions.Intermediates.
func (ca *CA) IntermediatePool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.intermediate)
	return p
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ka, err1 := x509.MarshalPKIXPublicKey(a)
	kb, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(ka, kb)
}
