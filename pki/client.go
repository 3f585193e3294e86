package pki

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.step.sm/crypto/jose"
	"go.step.sm/crypto/pemutil"
)

// DefaultProvisionerName is the JWK provisioner's default name, the "iss" of
// one-time tokens.
const DefaultProvisionerName = "fapid"

// Token claims asking the online CA's provisioner template for the extended
// key usages serverAuth and clientAuth ("true" or "false").
const (
	ClaimServer = "fapid_server"
	ClaimClient = "fapid_client"
)

// tokenLifetime is the validity of a one-time token.
const tokenLifetime = 5 * time.Minute

// maxResponseSize bounds the body read from the online CA.
const maxResponseSize = 1 << 20

// Client obtains certificates from the online CA (package pki/online, the
// fapid-ca command) over HTTPS,
// trusting only the given root, authenticating each request with a one-time
// token signed by the provisioner key.
//
// It speaks the CA's /1.0/sign protocol directly with net/http and
// encoding/json rather than through smallstep's ca.Client (which would also
// pick up an ambient step identity from $STEPPATH) or its api types: linking
// any github.com/smallstep/certificates package into fapid costs idle memory
// (DESIGN §7).
type Client struct {
	sign    string // https://host:port/1.0/sign
	prov    string
	key     *jose.JSONWebKey
	signer  jose.Signer
	roots   *x509.CertPool
	http    *http.Client
	now     func() time.Time
	mu      sync.Mutex
	interNA time.Time // NotAfter of the intermediate seen last, zero before
}

// NewClient returns a client for the online CA at caURL (https://host:port).
// rootFile is the CA's root certificate (PEM); provisionerKeyFile the
// provisioner's private JWK file.
func NewClient(caURL, rootFile, provisionerName, provisionerKeyFile string) (*Client, error) {
	u, err := url.Parse(caURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("pki: client: the CA URL must be https://host[:port], got %q", caURL)
	}
	if provisionerName == "" {
		provisionerName = DefaultProvisionerName
	}
	roots, err := readCertPool(rootFile)
	if err != nil {
		return nil, err
	}
	key, err := LoadProvisionerKey(provisionerKeyFile)
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		new(jose.SignerOptions).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("pki: client: %w", err)
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConns:        2,
		IdleConnTimeout:     time.Minute,
	}
	return &Client{
		sign:   strings.TrimSuffix(u.String(), "/") + "/1.0/sign",
		prov:   provisionerName,
		key:    key,
		signer: signer,
		roots:  roots,
		http:   &http.Client{Transport: tr, Timeout: 30 * time.Second},
		now:    time.Now,
	}, nil
}

func readCertPool(path string) (*x509.CertPool, error) {
	b, err := readLimited(path)
	if err != nil {
		return nil, fmt.Errorf("pki: client: %w", err)
	}
	certs, err := pemutil.ParseCertificateBundle(b)
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("pki: client: %s: no certificates", path)
	}
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Issue asks the online CA for a certificate. The lifetime is capped by the
// intermediate's NotAfter: when the CA's answer goes past it, Issue asks once
// more with the cap.
func (c *Client) Issue(ctx context.Context, r IssueRequest) (*Issued, error) {
	r, err := r.normalize()
	if err != nil {
		return nil, err
	}
	key, csr, err := newCSR(r)
	if err != nil {
		return nil, err
	}
	now := c.now()
	notAfter := now.Add(r.Lifetime)
	c.mu.Lock()
	if na := c.interNA; !na.IsZero() && notAfter.After(na) {
		notAfter = na
	}
	c.mu.Unlock()
	chain, err := c.post(ctx, r, csr, notAfter)
	if err != nil {
		return nil, err
	}
	if na := chain[1].NotAfter; chain[0].NotAfter.After(na) {
		if chain, err = c.post(ctx, r, csr, na); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	c.interNA = chain[1].NotAfter
	c.mu.Unlock()
	return newIssued(chain, key, r, c.roots, time.Time{})
}

// post sends one sign request and returns leaf + chain (at least 2 certs).
func (c *Client) post(ctx context.Context, r IssueRequest, csr *x509.CertificateRequest, notAfter time.Time) ([]*x509.Certificate, error) {
	ott, err := c.token(r, csr)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(&signRequest{
		CSR:      string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw})),
		OTT:      ott,
		NotAfter: notAfter,
	})
	if err != nil {
		return nil, fmt.Errorf("pki: client: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.sign, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("pki: client: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("pki: client: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("pki: client: reading response: %w", err)
	}
	if len(b) > maxResponseSize {
		return nil, errors.New("pki: client: response too large")
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("pki: client: the CA answered %s: %s", resp.Status, caMessage(b))
	}
	return parseSignResponse(b)
}

// signRequest is the body of POST /1.0/sign (smallstep api.SignRequest):
// the CSR in PEM, the one-time token and the requested NotAfter (RFC 3339).
type signRequest struct {
	CSR      string    `json:"csr"`
	OTT      string    `json:"ott"`
	NotAfter time.Time `json:"notAfter"`
}

// signResponse is the CA's answer (smallstep api.SignResponse): the leaf,
// the issuing CA and the whole chain, each a PEM certificate.
type signResponse struct {
	Crt       pemCert   `json:"crt"`
	CA        pemCert   `json:"ca"`
	CertChain []pemCert `json:"certChain"`
}

// pemCert is a certificate encoded as a JSON string holding one PEM block;
// null or "" leave it nil.
type pemCert struct{ *x509.Certificate }

func (c *pemCert) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.New("error decoding certificate")
	}
	if s == "" {
		c.Certificate = nil
		return nil
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return errors.New("error decoding certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("error decoding certificate: %w", err)
	}
	c.Certificate = cert
	return nil
}

// parseSignResponse decodes the CA's answer: the chain must hold a leaf and
// at least one intermediate.
func parseSignResponse(b []byte) ([]*x509.Certificate, error) {
	var sr signResponse
	if err := json.Unmarshal(b, &sr); err != nil {
		return nil, fmt.Errorf("pki: client: malformed sign response: %w", err)
	}
	var chain []*x509.Certificate
	for _, c := range sr.CertChain {
		if c.Certificate == nil {
			return nil, errors.New("pki: client: malformed sign response: empty certificate")
		}
		chain = append(chain, c.Certificate)
	}
	if len(chain) < 2 {
		return nil, errors.New("pki: client: the CA returned no intermediate")
	}
	return chain, nil
}

// caMessage extracts the "message" of a smallstep error body, bounded and
// printable. The request carried the token, the answer does not.
func caMessage(b []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &e) != nil || e.Message == "" {
		return "no details"
	}
	m := strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, e.Message)
	if len(m) > 300 {
		m = m[:300] + "…"
	}
	return m
}

// token returns a one-time token for the JWK provisioner: ES256, kid = the
// provisioner key's kid, iss = provisioner name, aud = the sign URL, sub =
// the common name, the SANs, a random jti, a 5-minute life, the CSR's
// fingerprint in cnf.x5rt#S256 (the CA refuses any other CSR) and the
// requested usages for the provisioner's template.
func (c *Client) token(r IssueRequest, csr *x509.CertificateRequest) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("pki: client: %w", err)
	}
	now := c.now()
	sum := sha256.Sum256(csr.Raw)
	claims := jose.Claims{
		Issuer:    c.prov,
		Subject:   r.CommonName,
		Audience:  jose.Audience{c.sign},
		NotBefore: jose.NewNumericDate(now),
		IssuedAt:  jose.NewNumericDate(now),
		Expiry:    jose.NewNumericDate(now.Add(tokenLifetime)),
		ID:        hex.EncodeToString(jti),
	}
	extra := map[string]any{
		"sans":      r.SANs,
		"cnf":       map[string]string{"x5rt#S256": base64.RawURLEncoding.EncodeToString(sum[:])},
		ClaimServer: r.Server,
		ClaimClient: r.Client,
	}
	tok, err := jose.Signed(c.signer).Claims(claims).Claims(extra).CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("pki: client: signing the token: %w", err)
	}
	return tok, nil
}

var (
	_ Issuer = (*CA)(nil)
	_ Issuer = (*Client)(nil)
)
