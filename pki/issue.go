package pki

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/x509util"
)

// DefaultLeafLifetime is used when IssueRequest.Lifetime is zero.
const DefaultLeafLifetime = 24 * time.Hour

// leafBackdate is subtracted from NotBefore of in-process leaves to tolerate
// clock skew between peers (smallstep's default backdate).
const leafBackdate = time.Minute

// Issuer obtains a leaf certificate. [*CA] signs in-process; [*Client] asks
// the online CA.
type Issuer interface {
	Issue(ctx context.Context, r IssueRequest) (*Issued, error)
}

// IssueRequest describes a leaf certificate.
type IssueRequest struct {
	// CommonName is the subject CN (required, at most 64 characters,
	// RFC 5280 ub-common-name).
	CommonName string
	// SANs are split automatically: IP addresses, URIs with a host
	// (spiffe://…), e-mail addresses (contain "@"), otherwise DNS names.
	// At least one is required; wildcards are refused.
	SANs []string
	// Server and Client select the extended key usages id-kp-serverAuth and
	// id-kp-clientAuth (RFC 5280 §4.2.1.12). At least one must be set; the
	// certificate carries exactly the ones set.
	Server, Client bool
	// Lifetime of the certificate; zero means DefaultLeafLifetime. It is
	// capped by the intermediate's NotAfter.
	Lifetime time.Duration
	// Key is the leaf key; nil generates a fresh EC P-256 key per issuance.
	Key crypto.Signer
}

// Issued is a signed leaf with its chain and key.
type Issued struct {
	// Chain is the leaf followed by the intermediate (the root is not
	// included: peers must already trust it).
	Chain []*x509.Certificate
	Key   crypto.Signer
	// CertPEM is leaf + intermediate; KeyPEM is PKCS#8 PEM, nil when Key is
	// not exportable (for example an HSM key).
	CertPEM, KeyPEM []byte
}

// Leaf returns the end-entity certificate.
func (i *Issued) Leaf() *x509.Certificate { return i.Chain[0] }

// TLSCertificate returns the chain and key as a tls.Certificate with Leaf set.
func (i *Issued) TLSCertificate() (*tls.Certificate, error) {
	if i == nil || len(i.Chain) == 0 || i.Key == nil {
		return nil, errors.New("pki: incomplete issued certificate")
	}
	c := &tls.Certificate{PrivateKey: i.Key, Leaf: i.Chain[0]}
	for _, x := range i.Chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c, nil
}

// WriteIssued writes CertPEM to certPath (0644) and KeyPEM to keyPath
// (0600). It refuses to overwrite either file (ErrExists).
func WriteIssued(i *Issued, certPath, keyPath string) error {
	if i == nil || len(i.CertPEM) == 0 {
		return errors.New("pki: nothing to write")
	}
	if len(i.KeyPEM) == 0 {
		return errors.New("pki: the key is not exportable")
	}
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%w: %s", ErrExists, p)
		}
	}
	if err := WriteFileExclusive(keyPath, i.KeyPEM, 0o600); err != nil {
		return err
	}
	if err := WriteFileExclusive(certPath, i.CertPEM, 0o644); err != nil {
		_ = os.Remove(keyPath)
		return err
	}
	return nil
}

// Issue signs a leaf in-process with the intermediate (x509util's default
// leaf template, then exactly the requested usages and validity).
func (ca *CA) Issue(ctx context.Context, r IssueRequest) (*Issued, error) {
	r, err := r.normalize()
	if err != nil {
		return nil, err
	}
	now := ca.now()
	notBefore := now.Add(-leafBackdate)
	if notBefore.Before(ca.intermediate.NotBefore) {
		notBefore = ca.intermediate.NotBefore
	}
	notAfter := now.Add(r.Lifetime)
	if !ca.intermediate.NotAfter.After(now) {
		return nil, fmt.Errorf("%w: the intermediate expired at %s", ErrBadCA, ca.intermediate.NotAfter)
	}
	if notAfter.After(ca.intermediate.NotAfter) {
		notAfter = ca.intermediate.NotAfter
	}
	key, csr, err := newCSR(r)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pki: issue: %w", err)
	}
	chain, err := ca.sign(csr, r, notBefore, notAfter)
	if err != nil {
		return nil, fmt.Errorf("pki: issue: %w", err)
	}
	return newIssued(chain, key, r, ca.RootPool(), now)
}

// sign builds the leaf from x509util's default leaf template (subject CN,
// SANs, digitalSignature and, for RSA keys, keyEncipherment), sets exactly the
// requested extended key usages and the validity, and signs it with the
// intermediate. It returns leaf + intermediate.
func (ca *CA) sign(csr *x509.CertificateRequest, r IssueRequest, notBefore, notAfter time.Time) ([]*x509.Certificate, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("invalid certificate request: %w", err)
	}
	crt, err := x509util.NewCertificate(csr, x509util.WithTemplate(x509util.DefaultLeafTemplate,
		x509util.CreateTemplateData(r.CommonName, r.SANs)))
	if err != nil {
		return nil, err
	}
	leaf := crt.GetCertificate()
	leaf.ExtKeyUsage = r.extKeyUsage()
	leaf.NotBefore, leaf.NotAfter = notBefore.UTC(), notAfter.UTC()
	cert, err := x509util.CreateCertificate(leaf, ca.intermediate, leaf.PublicKey, ca.signer)
	if err != nil {
		return nil, err
	}
	return []*x509.Certificate{cert, ca.intermediate}, nil
}

// normalize validates r and fills defaults.
func (r IssueRequest) normalize() (IssueRequest, error) {
	switch {
	case r.CommonName == "":
		return r, fmt.Errorf("%w: a common name is required", ErrInvalidRequest)
	case len(r.CommonName) > 64:
		return r, fmt.Errorf("%w: the common name exceeds 64 characters", ErrInvalidRequest)
	case strings.ContainsFunc(r.CommonName, isControl):
		return r, fmt.Errorf("%w: the common name contains control characters", ErrInvalidRequest)
	case !r.Server && !r.Client:
		return r, fmt.Errorf("%w: choose server and/or client usage", ErrInvalidRequest)
	case len(r.SANs) == 0:
		return r, fmt.Errorf("%w: at least one subject alternative name is required", ErrInvalidRequest)
	case r.Lifetime < 0:
		return r, fmt.Errorf("%w: negative lifetime", ErrInvalidRequest)
	}
	for _, s := range r.SANs {
		if err := checkSAN(s); err != nil {
			return r, err
		}
	}
	if r.Lifetime == 0 {
		r.Lifetime = DefaultLeafLifetime
	}
	r.SANs = slices.Clone(r.SANs)
	return r, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// checkSAN refuses what x509util.SplitSANs would misfile or what no
// verifier would match.
func checkSAN(s string) error {
	dns, ips, emails, uris := x509util.SplitSANs([]string{s})
	bad := func(why string) error { return fmt.Errorf("%w: SAN %q: %s", ErrInvalidRequest, s, why) }
	switch {
	case s == "" || strings.ContainsFunc(s, isControl) || strings.ContainsAny(s, " \t"):
		return bad("empty or contains spaces or control characters")
	case len(ips) == 1:
		return nil
	case len(uris) == 1:
		if uris[0].Host == "" && uris[0].Scheme != "urn" {
			return bad("a URI needs a host (scheme://host/...)")
		}
		return nil
	case len(emails) == 1:
		local, domain, _ := strings.Cut(s, "@")
		if local == "" || checkDNSName(domain) != nil {
			return bad("not an e-mail address")
		}
		return nil
	case len(dns) == 1:
		if err := checkDNSName(s); err != nil {
			return bad(err.Error())
		}
	}
	return nil
}

func checkDNSName(s string) error {
	if len(s) > 253 {
		return errors.New("DNS name too long")
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("DNS name has an empty or too long label")
		}
		for _, c := range label {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return errors.New("DNS name may contain only letters, digits, '-' and '_' (no wildcards)")
			}
		}
	}
	return nil
}

func (r IssueRequest) extKeyUsage() []x509.ExtKeyUsage {
	var eku []x509.ExtKeyUsage
	if r.Server {
		eku = append(eku, x509.ExtKeyUsageServerAuth)
	}
	if r.Client {
		eku = append(eku, x509.ExtKeyUsageClientAuth)
	}
	return eku
}

// newCSR returns the request's key (or a new P-256 key) and a CSR signed by it.
func newCSR(r IssueRequest) (crypto.Signer, *x509.CertificateRequest, error) {
	key := r.Key
	if key == nil {
		var err error
		if key, err = keyutil.GenerateDefaultSigner(); err != nil {
			return nil, nil, fmt.Errorf("pki: generate key: %w", err)
		}
	}
	csr, err := x509util.CreateCertificateRequest(r.CommonName, r.SANs, key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issue: %w", err)
	}
	return key, csr, nil
}

// newIssued checks what the CA returned against the request (defence in
// depth: same key, exact EKU, chain to roots) and builds the Issued value.
func newIssued(chain []*x509.Certificate, key crypto.Signer, r IssueRequest, roots *x509.CertPool, now time.Time) (*Issued, error) {
	if len(chain) < 2 {
		return nil, errors.New("pki: issue: the CA returned no intermediate")
	}
	leaf := chain[0]
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		return nil, errors.New("pki: issue: the certificate is not for the requested key")
	}
	if !slices.Equal(leaf.ExtKeyUsage, r.extKeyUsage()) || len(leaf.UnknownExtKeyUsage) != 0 {
		return nil, fmt.Errorf("pki: issue: the certificate has extended key usages %v, want %v",
			leaf.ExtKeyUsage, r.extKeyUsage())
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	for _, u := range r.extKeyUsage() {
		opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{u}}
		if _, err := leaf.Verify(opts); err != nil {
			return nil, fmt.Errorf("pki: issue: the certificate does not verify: %w", err)
		}
	}
	iss := &Issued{Chain: chain, Key: key, CertPEM: encodeCerts(chain...)}
	if kp, err := encodeKey(key); err == nil {
		iss.KeyPEM = kp
	}
	return iss, nil
}
