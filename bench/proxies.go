package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/cillers/fapid/agent"
	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/gateway"
	"github.com/cillers/fapid/internal/seal"
	"github.com/cillers/fapid/internal/tlsx"
)

// Header limits the gateway gives its servers (gateway.HTTPServer and
// ServeHTTP3: twice MaxHeaderBytes plus MaxSessionCookieBytes); the bare
// proxy gets the same.
const wireHeaderBytes = 2*gateway.DefaultMaxHeaderBytes + gateway.DefaultMaxSessionCookieBytes

// upstreamTransport is the gateway's own upstream transport
// (gateway.UpstreamTransport) with the run's CA and the session certificate
// as client certificate, so the bare baseline is "configured like ours".
func upstreamTransport(m *material) (*http.Transport, error) {
	pool, err := m.pool()
	if err != nil {
		return nil, err
	}
	cert, err := pair(m.SessionCert, m.SessionKey)
	if err != nil {
		return nil, err
	}
	return gateway.UpstreamTransport(&gateway.Route{UpstreamCAs: pool, UpstreamCertificate: tlsx.NewHolder(cert)})
}

// startBare serves a bare httputil.ReverseProxy (Rewrite: SetURL,
// SetXForwarded and a fixed Authorization: Bearer <JWT>, what any
// phantom-token proxy forwards) over TCP and HTTP/3, with the gateway's
// TLS policy, client-certificate mode, header limits and timeouts.
func startBare(ctx context.Context, cfg *childConfig) (childReady, error) {
	tr, err := upstreamTransport(cfg.M)
	if err != nil {
		return childReady{}, err
	}
	target, err := url.Parse(cfg.Upstream)
	if err != nil {
		return childReady{}, err
	}
	authz := "Bearer " + cfg.StaticJWT
	p := &httputil.ReverseProxy{Transport: tr, Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.SetXForwarded()
		pr.Out.Header.Set("Authorization", authz)
	}}
	l, err := listenTLS(ctx, cfg.M, tlsx.RequestClientCert)
	if err != nil {
		return childReady{}, err
	}
	srv := &http.Server{Handler: p, TLSConfig: l.tc, MaxHeaderBytes: wireHeaderBytes,
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go func() { _ = srv.ServeTLS(l.ln, "", "") }()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return childReady{}, err
	}
	h3 := &http3.Server{Handler: p, TLSConfig: l.tc, MaxHeaderBytes: wireHeaderBytes, IdleTimeout: 120 * time.Second,
		QUICConfig: &quic.Config{Allow0RTT: false, MaxIdleTimeout: 60 * time.Second}}
	go func() { _ = h3.Serve(pc) }()
	context.AfterFunc(ctx, func() { _ = h3.Close(); _ = pc.Close() })
	return childReady{TCP: l.addr, UDP: pc.LocalAddr().String()}, nil
}

// startGateway serves gateway.New over TCP (HTTPServer) and HTTP/3
// (ServeHTTP3), wired as cmd/fapid wires it.
func startGateway(ctx context.Context, cfg *childConfig) (childReady, error) {
	gc, err := gatewayConfig(cfg.M, cfg.Issuer, cfg.Upstream)
	if err != nil {
		return childReady{}, err
	}
	g, err := gateway.New(gc)
	if err != nil {
		return childReady{}, err
	}
	l, err := listenTLS(ctx, cfg.M, tlsx.RequestClientCert)
	if err != nil {
		return childReady{}, err
	}
	srv := g.HTTPServer(l.tc)
	go func() { _ = srv.ServeTLS(l.ln, "", "") }()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return childReady{}, err
	}
	go func() { _ = g.ServeHTTP3(ctx, pc, l.tc) }()
	return childReady{TCP: l.addr, UDP: pc.LocalAddr().String()}, nil
}

// gatewayConfig is the benchmark gateway: two routes to the upstream,
// /api/ (the agent's cookie or a bearer token, sender-constrained only, as
// FAPI 2.0 requires) and /open/ (bearer, unbound tokens allowed), scope
// "read" on both; introspection with internal fapi in Curity mode over
// mTLS (tls_client_auth) to the stand-in; the agent's cookie keys; logging
// at info level, as the daemon runs, into io.Discard.
func gatewayConfig(m *material, issuer, upstream string) (gateway.Config, error) {
	pool, err := m.pool()
	if err != nil {
		return gateway.Config{}, err
	}
	cert, err := pair(m.SessionCert, m.SessionKey)
	if err != nil {
		return gateway.Config{}, err
	}
	session := tlsx.NewHolder(cert)
	hc, err := asHTTPClient(pool, cert)
	if err != nil {
		return gateway.Config{}, err
	}
	client, err := fapi.NewClient(fapi.Config{
		Issuer: issuer, ClientID: gwClientID, AuthMethod: fapi.AuthTLSClientAuth,
		HTTPClient: hc, IntrospectionMode: fapi.IntrospectionCurity,
	})
	if err != nil {
		return gateway.Config{}, fmt.Errorf("bench: introspection client: %w", err)
	}
	key, err := seal.ParseKey([]byte(m.SealKey))
	if err != nil {
		return gateway.Config{}, err
	}
	sealer, err := seal.New([]seal.Key{key}, seal.WithMaxSize(agent.MaxSealedValue))
	if err != nil {
		return gateway.Config{}, err
	}
	route := func(prefix string, unbound bool, creds ...gateway.Credential) gateway.Route {
		return gateway.Route{Prefix: prefix, Upstream: upstream, UpstreamCAs: pool, UpstreamCertificate: session,
			Credentials: creds, Scopes: []string{"read"}, AllowUnbound: unbound}
	}
	return gateway.Config{
		Routes: []gateway.Route{
			route("/api/", false, gateway.CredentialCookie, gateway.CredentialBearer),
			route("/open/", true, gateway.CredentialBearer),
		},
		AuthorizationServers: []gateway.AuthorizationServer{{Name: issuer, Introspector: gateway.NewFAPIIntrospector(client)}},
		Cookies:              sealer,
		TrustedOrigins:       []string{spaOrigin},
		SessionCertificate:   session,
		PublicOrigin:         apiAudience,
		Logger:               infoLogger(),
	}, nil
}

// asHTTPClient is cmd/fapid's client for the authorization server: FAPI
// TLS policy, the server's CA, the client certificate, HTTP/2, 64 idle
// connections.
func asHTTPClient(pool *x509.CertPool, cert *tls.Certificate) (*http.Client, error) {
	tc, err := tlsx.ClientConfig(tlsx.ClientOptions{RootCAs: pool, Source: tlsx.NewHolder(cert)})
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true, MaxIdleConns: 64,
		MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 5 * time.Second}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

// infoLogger logs at info level, as the daemon does, into io.Discard: the
// cost of deciding and formatting is kept, the write is not.
func infoLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
