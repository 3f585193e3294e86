package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/examples/api"
	"github.com/cillers/fapid/examples/spa"
	"github.com/cillers/fapid/internal/tlsx"
	"github.com/cillers/fapid/pki"
)

// demoDefaultResource would make the reference server issue access tokens
// for its API resource (RFC 8707, aud = the API) without the agent asking.
// It stays off: oidc-provider refuses any token with an audience at its
// userinfo endpoint, so the SPA's "User info" would fail. The token the
// agent gets is opaque and certificate-bound either way (cnf x5t#S256, RFC
// 8705); the example API then checks iss, exp and the binding but no aud.
const demoDefaultResource = false

// demoLeafLifetime is the life of the certificates the demo itself serves
// with (the authorization server reads its files once).
const demoLeafLifetime = 7 * 24 * time.Hour

// demoPorts holds the listeners the demo serves itself (opened before
// anything starts, so a busy port is reported first).
type demoPorts struct {
	spa, upstream net.Listener
}

func (p *demoPorts) close() {
	for _, l := range []net.Listener{p.spa, p.upstream} {
		if l != nil {
			l.Close()
		}
	}
}

// errPortBusy is wrapped when a port is taken.
var errPortBusy = errors.New("port in use")

func portErr(flag string, port int, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: 127.0.0.1:%d is taken (another fapid demo or another program?); choose a free port with --%s", errPortBusy, port, flag)
	}
	return fmt.Errorf("cannot listen on 127.0.0.1:%d (--%s): %w", port, flag, err)
}

// reserveDemoPorts opens the SPA and upstream listeners and checks that
// fapid's port (TCP, and UDP for HTTP/3) and a fixed authorization server
// port are free.
func reserveDemoPorts(o demoOptions) (*demoPorts, error) {
	p := &demoPorts{}
	addr := func(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
	var err error
	if p.spa, err = net.Listen("tcp", addr(o.spaPort)); err != nil {
		return nil, portErr("spa-port", o.spaPort, err)
	}
	if p.upstream, err = net.Listen("tcp", addr(o.upstreamPort)); err != nil {
		p.close()
		return nil, portErr("upstream-port", o.upstreamPort, err)
	}
	probes := []struct {
		network, flag string
		port          int
	}{{"tcp", "api-port", o.apiPort}, {"udp", "api-port", o.apiPort}, {"tcp", "as-port", o.asPort}}
	for _, pr := range probes {
		if pr.port == 0 {
			continue
		}
		var c io.Closer
		if pr.network == "udp" {
			c, err = net.ListenPacket("udp", addr(pr.port))
		} else {
			c, err = net.Listen("tcp", addr(pr.port))
		}
		if err != nil {
			p.close()
			return nil, portErr(pr.flag, pr.port, err)
		}
		c.Close()
	}
	return p, nil
}

// handshake completes one TLS handshake with 127.0.0.1:port as serverName.
func (p *demoPorts) handshake(ctx context.Context, port int, serverName string, roots *x509.CertPool) error {
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12}}
	c, err := d.DialContext(dctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return c.Close()
}

// startAS starts the reference authorization server with the agent's and
// the gateway's client registrations.
func (d *demo) startAS(ctx context.Context) error {
	st := d.state
	err := st.issueFiles(ctx, pki.IssueRequest{CommonName: "127.0.0.1", SANs: []string{"127.0.0.1", "localhost"},
		Server: true, Lifetime: demoLeafLifetime}, demoASCertFile, demoASKeyFile)
	if err != nil {
		return err
	}
	jwks, err := st.agentJWKS()
	if err != nil {
		return err
	}
	spaOrigin := d.spaOrigin()
	opts := interop.Options{
		Dir: st.path(demoOPDir), Port: d.o.asPort,
		CAFile: st.ca.RootFile(), CertFile: st.path(demoASCertFile), KeyFile: st.path(demoASKeyFile),
		Clients: []interop.Client{{
			ID: demoAgentClientID, AuthMethod: interop.AuthPrivateKeyJWT, SenderConstraint: interop.SenderMTLS, JARM: true,
			RedirectURIs: []string{spaOrigin + spa.CallbackPath}, PostLogoutRedirectURIs: []string{spaOrigin + "/"},
			JWKS: jwks, SigningAlg: st.agentSigner.Alg(),
		}, {
			ID: demoGatewayClientID, AuthMethod: interop.AuthTLSClientAuth, SubjectDN: "CN=" + demoGatewayClientID,
			Introspector: true, SigningAlg: interop.ES256,
		}},
		DefaultResource: demoDefaultResource,
		Stderr:          &lineLog{log: d.log.With("part", "authorization-server")},
	}
	d.log.Info("starting the reference authorization server (node-oidc-provider; the first start runs npm ci)")
	sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	as, err := interop.Start(sctx, opts)
	if errors.Is(err, interop.ErrNoNode) {
		return fmt.Errorf("the demo's authorization server needs Node.js 20 or later with npm; install them "+
			"(Debian/Ubuntu: apt-get install nodejs npm; elsewhere https://nodejs.org) and run fapid demo again: %w", err)
	}
	if err != nil {
		return fmt.Errorf("reference authorization server: %w", err)
	}
	d.as = as
	d.log.Info("authorization server ready", "issuer", as.Issuer(), "pid", as.PID())
	return nil
}

func (d *demo) stopAS() {
	if d.as == nil {
		return
	}
	if err := d.as.Stop(); err != nil {
		d.log.Warn("authorization server", "err", err)
		return
	}
	d.log.Info("authorization server stopped")
}

// startAPI serves the example API on the upstream port: mTLS required, JWTs
// verified with the authorization server's keys.
func (d *demo) startAPI(ctx context.Context) error {
	roots := d.state.ca.RootPool()
	tc, err := tlsx.ClientConfig(tlsx.ClientOptions{RootCAs: roots})
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	jwksURL, err := discoverJWKSURL(ctx, hc, d.as.Issuer())
	if err != nil {
		return err
	}
	cfg := api.Config{Issuer: d.as.Issuer(), JWKSURL: jwksURL, HTTPClient: hc, Logger: d.log.With("part", "example-api")}
	if demoDefaultResource {
		cfg.Audience = interop.APIResource
	}
	a, err := api.New(cfg)
	if err != nil {
		return err
	}
	cert, err := d.renewed(ctx, pki.IssueRequest{CommonName: "example-api", SANs: []string{"127.0.0.1"}, Server: true})
	if err != nil {
		return err
	}
	stc, err := api.ServerTLSConfig(cert, roots)
	if err != nil {
		return err
	}
	d.serve("example API", d.ports.upstream, a, stc)
	return nil
}

// startSPA serves the example SPA as www.<domain>.
func (d *demo) startSPA(ctx context.Context) error {
	apiOrigin := d.apiOrigin()
	cfg, err := json.Marshal(spa.Config{OAuthAgentBaseURL: apiOrigin + "/oauth-agent", APIBaseURL: apiOrigin + "/api", CookiePrefix: "fapid"})
	if err != nil {
		return err
	}
	h, err := spa.New(cfg)
	if err != nil {
		return err
	}
	host := "www." + d.o.domain
	cert, err := d.renewed(ctx, pki.IssueRequest{CommonName: host, SANs: []string{host}, Server: true})
	if err != nil {
		return err
	}
	tc, err := tlsx.ServerConfig(tlsx.ServerOptions{Source: cert, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		return err
	}
	d.serve("example SPA", d.ports.spa, h, tc)
	return nil
}

// renewed is a certificate from the demo CA, renewed until ctx ends.
func (d *demo) renewed(ctx context.Context, r pki.IssueRequest) (*tlsx.Holder, error) {
	r.Lifetime = demoLeafLifetime
	h := tlsx.NewHolder(nil)
	if err := pki.NewRenewer(d.state.ca, r, h).Start(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

func (d *demo) serve(name string, ln net.Listener, h http.Handler, tc *tls.Config) {
	srv := &http.Server{
		Handler: h, TLSConfig: tc, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout,
		ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
	d.srvs = append(d.srvs, srv)
	d.log.Info("listening", "part", name, "address", ln.Addr().String())
	go func() {
		if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
			d.errc <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

func (d *demo) shutdownServers() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range d.srvs {
		if err := s.Shutdown(ctx); err != nil {
			s.Close()
		}
	}
}

// discoverJWKSURL reads jwks_uri from the server's discovery document.
func discoverJWKSURL(ctx context.Context, hc *http.Client, issuer string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, issuer+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", err
	}
	res, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	defer res.Body.Close()
	var m struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery: status %d", res.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&m); err != nil || m.JWKSURI == "" {
		return "", fmt.Errorf("discovery: no jwks_uri (%v)", err)
	}
	return m.JWKSURI, nil
}

// lineLog turns the authorization server's stderr into log records: its
// own error events as warnings, everything else (Node's start-up notices)
// at debug level.
type lineLog struct {
	mu  sync.Mutex
	log *slog.Logger
	buf []byte
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
		switch {
		case line == "":
		case strings.HasPrefix(line, "interop-op:"):
			l.log.Warn(strings.TrimSpace(strings.TrimPrefix(line, "interop-op:")))
		default:
			l.log.Debug(line)
		}
	}
	if len(l.buf) > 64<<10 { // a line that never ends
		l.buf = l.buf[:0]
	}
	return len(p), nil
}
