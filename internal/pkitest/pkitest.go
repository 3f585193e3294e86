package pkitest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"sync"
	"time"

	"github.com/cillers/fapid/internal/tlsx"
	"github.com/cillers/fapid/pki"
)

// Issue issues r from ca and returns it as a tls.Certificate (Leaf set) and
// as issued.
func Issue(ctx context.Context, ca *pki.CA, r pki.IssueRequest) (*tls.Certificate, *pki.Issued, error) {
	issued, err := ca.Issue(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	c, err := issued.TLSCertificate()
	if err != nil {
		return nil, nil, err
	}
	if c.Leaf == nil {
		c.Leaf = issued.Leaf()
	}
	return c, issued, nil
}

// ClientCert issues a client certificate for cn with the SAN
// spiffe://fapid.test/<cn>, returning it as a tls.Certificate (Leaf set)
// and as issued.
func ClientCert(ctx context.Context, ca *pki.CA, cn string) (*tls.Certificate, *pki.Issued, error) {
	return Issue(ctx, ca, pki.IssueRequest{CommonName: cn, SANs: []string{"spiffe://fapid.test/" + cn}, Client: true})
}

// ClientOptions describe an HTTPS client made by HTTPClient.
type ClientOptions struct {
	Roots      *x509.CertPool   // trusted roots
	Cert       *tls.Certificate // client certificate to present; nil: none
	Timeout    time.Duration
	ForceHTTP2 bool // http.Transport.ForceAttemptHTTP2
}

// HTTPClient is an HTTPS client with the FAPI TLS policy of tlsx.ClientConfig.
func HTTPClient(o ClientOptions) (*http.Client, error) {
	co := tlsx.ClientOptions{RootCAs: o.Roots}
	if o.Cert != nil {
		co.Source = tlsx.NewHolder(o.Cert)
	}
	tc, err := tlsx.ClientConfig(co)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: o.ForceHTTP2}
	return &http.Client{Timeout: o.Timeout, Transport: tr}, nil
}

// SyncBuffer collects output (logs, a subprocess's stderr) written from
// several goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
