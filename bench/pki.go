package bench

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// material is every key and certificate one run uses, made fresh for the
// run (throwaway P-256 keys; nothing is written to disk). It travels to the
// child processes as PEM inside their JSON configuration.
type material struct {
	CA         string // PEM certificate of the throwaway root
	ServerCert string // leaf for 127.0.0.1 and localhost (serverAuth)
	ServerKey  string
	// Session is the agent's and gateway's client identity: cookie tokens
	// are bound to it, and the gateway presents it upstream.
	SessionCert string
	SessionKey  string
	// Mobile is a client that presents its own certificate (scenario c).
	MobileCert string
	MobileKey  string
	ASKey      string // the authorization server stand-in's ES256 signing key
	AgentKey   string // the agent's private_key_jwt / request-object key
	SealKey    string // 64 hex characters: internal/seal master key
}

// newMaterial makes a root, three leaves and three signing keys.
func newMaterial() (*material, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fapidbench throwaway root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	m := &material{CA: pemCert(caDER)}
	leaves := []struct {
		cn        string
		server    bool
		cert, key *string
	}{
		{"127.0.0.1", true, &m.ServerCert, &m.ServerKey},
		{"fapid-agent", false, &m.SessionCert, &m.SessionKey},
		{"mobile-app", false, &m.MobileCert, &m.MobileKey},
	}
	for i, l := range leaves {
		if *l.cert, *l.key, err = issueLeaf(caCert, caKey, int64(10+i), l.cn, l.server); err != nil {
			return nil, err
		}
	}
	for _, k := range []*string{&m.ASKey, &m.AgentKey} {
		if *k, err = newKeyPEM(); err != nil {
			return nil, err
		}
	}
	var seal [32]byte
	if _, err := rand.Read(seal[:]); err != nil {
		return nil, err
	}
	m.SealKey = fmt.Sprintf("%x", seal[:])
	return m, nil
}

func issueLeaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, serial int64, cn string, server bool) (certText, keyText string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(47 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", "", err
	}
	keyText, err = keyPEM(key)
	return pemCert(der), keyText, err
}

func newKeyPEM() (string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	return keyPEM(key)
}

func keyPEM(key crypto.Signer) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

func pemCert(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// pool is the CA as a certificate pool.
func (m *material) pool() (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM([]byte(m.CA)) {
		return nil, errors.New("bench: CA certificate does not parse")
	}
	return p, nil
}

// pair parses a certificate and key into a tls.Certificate with Leaf set.
func pair(certPEM, keyPEM string) (*tls.Certificate, error) {
	c, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		return nil, fmt.Errorf("bench: key pair: %w", err)
	}
	return &c, nil
}

// signer parses a PKCS#8 PEM private key.
func signer(keyPEM string) (crypto.Signer, error) {
	b, _ := pem.Decode([]byte(keyPEM))
	if b == nil {
		return nil, errors.New("bench: key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("bench: key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("bench: key cannot sign")
	}
	return s, nil
}

func parseCert(certPEM string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil {
		return nil, errors.New("bench: certificate is not PEM")
	}
	return x509.ParseCertificate(b.Bytes)
}

// thumbprint is RFC 8705 x5t#S256 of a PEM certificate's leaf.
func thumbprint(certPEM string) (string, error) {
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil {
		return "", errors.New("bench: certificate is not PEM")
	}
	return x5t(b.Bytes), nil
}

func x5t(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
