package tlsx

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// Throwaway certificates for the tests, made with crypto/x509 only.

type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pool *x509.CertPool
	pem  []byte
}

func newCA(t testing.TB, name string) *testCA {
	t.Helper()
	key := newECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, pem: pemBlock("CERTIFICATE", der)}
}

type leafOptions struct {
	cn      string
	dns     []string
	ips     []net.IP
	eku     []x509.ExtKeyUsage
	rsa     bool          // RSA-2048 key instead of ECDSA P-256
	expired bool          // NotAfter in the past
	key     crypto.Signer // reuse this key (for mismatched-pair tests)
}

type leaf struct {
	tls     *tls.Certificate
	certPEM []byte // leaf only
	keyPEM  []byte
}

func (ca *testCA) issue(t testing.TB, o leafOptions) *leaf {
	t.Helper()
	key := o.key
	switch {
	case key != nil:
	case o.rsa:
		key = sharedRSAKey(t)
	default:
		key = newECKey(t)
	}
	notAfter := time.Now().Add(time.Hour)
	if o.expired {
		notAfter = time.Now().Add(-time.Minute)
	}
	ku := x509.KeyUsageDigitalSignature
	if o.rsa {
		ku |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(t),
		Subject:      pkix.Name{CommonName: o.cn},
		DNSNames:     o.dns,
		IPAddresses:  o.ips,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     ku,
		ExtKeyUsage:  o.eku,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	l := &leaf{certPEM: pemBlock("CERTIFICATE", der), keyPEM: pemBlock("PRIVATE KEY", pkcs8)}
	c, err := tls.X509KeyPair(l.certPEM, l.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l.tls = &c
	return l
}

// serverLeafOptions describe a serverAuth certificate for localhost and
// 127.0.0.1.
func serverLeafOptions() leafOptions {
	return leafOptions{cn: "localhost", dns: []string{"localhost"},
		ips: []net.IP{net.IPv4(127, 0, 0, 1)}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
}

func (ca *testCA) serverCert(t testing.TB) *tls.Certificate {
	return ca.issue(t, serverLeafOptions()).tls
}

// clientCert is a clientAuth certificate.
func (ca *testCA) clientCert(t testing.TB, cn string) *tls.Certificate {
	return ca.issue(t, leafOptions{cn: cn, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}).tls
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// RSA key generation is slow under -race; one key serves every RSA leaf.
var rsaKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func sharedRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsaKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func serialOf(c *tls.Certificate) string { return c.Leaf.SerialNumber.String() }
