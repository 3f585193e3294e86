package online

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/cillers/fapid/pki"
	"github.com/smallstep/certificates/authority/config"
	"github.com/smallstep/certificates/authority/provisioner"
	"github.com/smallstep/certificates/ca"
)

// Defaults for the online CA.
const (
	// DefaultProvisionerName is the JWK provisioner's default name.
	DefaultProvisionerName = pki.DefaultProvisionerName
	// DefaultServerMaxLifetime caps the lifetime the online CA grants.
	DefaultServerMaxLifetime = 2160 * time.Hour
	// serverMinLifetime is the shortest lifetime the online CA grants.
	serverMinLifetime = time.Minute
)

// leafTemplate is the JWK provisioner's x509util template. The token has been
// verified (signature, issuer, audience, expiry, single use) before the
// template runs, so its claims are trusted. The template grants exactly the
// usages the token asks for and fails when it asks for none.
const leafTemplate = `{
	"subject": {{ toJson .Subject }},
	"sans": {{ toJson .SANs }},
{{- if typeIs "*rsa.PublicKey" .Insecure.CR.PublicKey }}
	"keyUsage": ["keyEncipherment", "digitalSignature"],
{{- else }}
	"keyUsage": ["digitalSignature"],
{{- end }}
{{- $eku := list }}
{{- if eq (toString .Token.` + pki.ClaimServer + `) "true" }}{{ $eku = append $eku "serverAuth" }}{{ end }}
{{- if eq (toString .Token.` + pki.ClaimClient + `) "true" }}{{ $eku = append $eku "clientAuth" }}{{ end }}
{{- if not $eku }}{{ fail "the token asks for no extended key usage" }}{{ end }}
	"extKeyUsage": {{ toJson $eku }}
}`

// ServerOptions configures [NewServer].
type ServerOptions struct {
	// Dir is the CA directory (see pki.Init).
	Dir string
	// Addr is host:port to listen on. Port 0 picks a free port when
	// NewServer runs (the port is then fixed: smallstep binds the address
	// itself when Run starts).
	Addr string
	// ProvisionerName is the JWK provisioner's name, the "iss" of tokens.
	// Default DefaultProvisionerName.
	ProvisionerName string
	// ProvisionerKeyFile holds the provisioner's private JWK (no password,
	// mode 0600). Created on first start when absent. Default
	// Dir/provisioner_key.json.
	ProvisionerKeyFile string
	// DNSNames are the names (and IPs) in the CA's own TLS certificate; the
	// first one is used in URL. Default: the host of Addr, or localhost,
	// 127.0.0.1 and ::1 when Addr's host is empty or unspecified.
	DNSNames []string
	// MaxLifetime caps leaf lifetimes. Default DefaultServerMaxLifetime.
	MaxLifetime time.Duration
}

// Server is smallstep's online CA (ca.New) serving the CA in a directory.
type Server struct {
	ca         *ca.CA
	url        string
	roots      *x509.CertPool
	keyFile    string
	keyCreated bool
	stopOnce   sync.Once
	stopErr    error
}

// NewServer prepares the online CA. It creates the provisioner key file when
// absent. Nothing listens until [Server.Run].
func NewServer(o ServerOptions) (*Server, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	c, err := pki.Open(o.Dir)
	if err != nil {
		return nil, err
	}
	key, created, err := loadOrCreateProvisionerKey(o.ProvisionerKeyFile)
	if err != nil {
		return nil, err
	}
	pub := key.Public()
	prov := &provisioner.JWK{
		Type: "JWK",
		Name: o.ProvisionerName,
		Key:  &pub,
		Claims: &provisioner.Claims{
			MinTLSDur:                  &provisioner.Duration{Duration: serverMinLifetime},
			MaxTLSDur:                  &provisioner.Duration{Duration: o.MaxLifetime},
			DefaultTLSDur:              &provisioner.Duration{Duration: min(pki.DefaultLeafLifetime, o.MaxLifetime)},
			DisableRenewal:             ptr(true),
			DisableSmallstepExtensions: ptr(true),
			EnableSSHCA:                ptr(false),
		},
		Options: &provisioner.Options{X509: &provisioner.X509Options{Template: leafTemplate}},
	}
	cfg := &config.Config{
		Root:             []string{c.RootFile()},
		IntermediateCert: filepath.Join(o.Dir, pki.IntermediateCertFile),
		IntermediateKey:  filepath.Join(o.Dir, pki.IntermediateKeyFile),
		Address:          o.Addr,
		DNSNames:         o.DNSNames,
		TLS: &config.TLSOptions{ // FAPI 2.0 §5.2.2 / RFC 9325
			CipherSuites: config.CipherSuites{
				"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
				"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
			},
			MinVersion: 1.2,
			MaxVersion: 1.3,
		},
		AuthorityConfig: &config.AuthConfig{Provisioners: provisioner.List{prov}},
	}
	srv, err := ca.New(cfg, ca.WithQuiet(true))
	if err != nil {
		return nil, fmt.Errorf("pki: online CA: %w", err)
	}
	_, port, _ := net.SplitHostPort(o.Addr)
	return &Server{
		ca:         srv,
		url:        "https://" + net.JoinHostPort(o.DNSNames[0], port),
		roots:      c.RootPool(),
		keyFile:    o.ProvisionerKeyFile,
		keyCreated: created,
	}, nil
}

func ptr[T any](v T) *T { return &v }

func (o ServerOptions) withDefaults() (ServerOptions, error) {
	if o.Dir == "" {
		return o, errors.New("pki: online CA: a CA directory is required")
	}
	host, port, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return o, fmt.Errorf("pki: online CA: address %q: %w", o.Addr, err)
	}
	if port == "0" {
		if port, err = freePort(host); err != nil {
			return o, fmt.Errorf("pki: online CA: %w", err)
		}
		o.Addr = net.JoinHostPort(host, port)
	}
	if len(o.DNSNames) == 0 {
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			o.DNSNames = []string{"localhost", "127.0.0.1", "::1"}
		} else {
			o.DNSNames = []string{host}
		}
	}
	if o.ProvisionerName == "" {
		o.ProvisionerName = DefaultProvisionerName
	}
	if o.ProvisionerKeyFile == "" {
		o.ProvisionerKeyFile = filepath.Join(o.Dir, pki.ProvisionerKeyFileName)
	}
	if o.MaxLifetime == 0 {
		o.MaxLifetime = DefaultServerMaxLifetime
	}
	if o.MaxLifetime < serverMinLifetime {
		return o, fmt.Errorf("pki: online CA: max lifetime must be at least %s", serverMinLifetime)
	}
	return o, nil
}

// freePort asks the kernel for a free TCP port on host. Another process
// could take it before the CA binds it; Run then fails with "address in use".
func freePort(host string) (string, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}

// URL is the CA's base URL, https://<first DNS name>:<port>.
func (s *Server) URL() string { return s.url }

// ProvisionerKeyFile is the path of the provisioner's private JWK.
func (s *Server) ProvisionerKeyFile() string { return s.keyFile }

// ProvisionerKeyCreated reports whether NewServer created the key file.
func (s *Server) ProvisionerKeyCreated() bool { return s.keyCreated }

// Run serves until ctx is done, then shuts down gracefully (smallstep's
// ServerShutdownTimeout bounds it). It returns nil after a shutdown caused
// by ctx or Close, or the error that stopped the server. Run may be called
// once.
func (s *Server) Run(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.ca.Run() }()
	select {
	case err := <-done:
		return s.runError(err)
	case <-ctx.Done():
	}
	select {
	case err := <-done: // failed at the same moment
		return s.runError(err)
	default:
	}
	stopErr := s.stop()
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("pki: online CA: %w", err)
	}
	if stopErr != nil {
		return fmt.Errorf("pki: online CA: stop: %w", stopErr)
	}
	return nil
}

// runError handles ca.Run returning on its own: after Close (nil), or after
// a listener failed, in which case ca.Run has already stopped the CA.
func (s *Server) runError(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	s.stopOnce.Do(func() {}) // ca.Run stopped it; a second Stop would panic
	return fmt.Errorf("pki: online CA: %w", err)
}

// Close stops the CA: a running Run returns, and the resources NewServer
// started (the CA's own TLS certificate renewer) are released. Use it for a
// Server that is never Run. Close is idempotent.
func (s *Server) Close() error { return s.stop() }

func (s *Server) stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.ca.Stop() })
	return s.stopErr
}

// WaitReady polls the CA's /health endpoint (trusting only the CA's root)
// until it answers 200 or ctx is done.
func (s *Server) WaitReady(ctx context.Context) error {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.roots, MinVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/health", nil)
		if err != nil {
			return err
		}
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pki: online CA not ready at %s: %w", s.url, context.Cause(ctx))
		case <-tick.C:
		}
	}
}
