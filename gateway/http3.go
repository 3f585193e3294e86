package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// ShutdownGrace is how long ServeHTTP3 lets running requests finish after
// ctx is cancelled.
const ShutdownGrace = 5 * time.Second

// ServeHTTP3 serves the gateway over HTTP/3 (RFC 9114) on pc until ctx is
// cancelled, then shuts down gracefully. tlsConf is the TCP listener's
// config (internal/tlsx.ServerConfig), so client certificates are asked
// for and verified the same way; QUIC needs TLS 1.3, which quic-go
// enforces. 0-RTT is off (early data could be replayed), and the header
// limits are the same as for HTTP/1.1 and HTTP/2 (see HTTPServer). Once
// serving, responses on the TCP listener advertise the UDP port in
// Alt-Svc (RFC 7838). pc is not closed. tlsConf must not change while it
// runs: never pass the TLSConfig of an http.Server that is being started,
// as ServeTLS writes to it (HTTP/2 setup) — HTTPServer serves a clone for
// that reason, so the config given to it may be passed here too.
func (g *Gateway) ServeHTTP3(ctx context.Context, pc net.PacketConn, tlsConf *tls.Config) error {
	return g.ServeHTTP3Handler(ctx, pc, tlsConf, g.Handler())
}

// ServeHTTP3Handler is ServeHTTP3 serving h, for a listener the gateway
// shares with other handlers (the agent): once Alt-Svc is advertised, a
// browser sends every request for the origin over HTTP/3, not only the
// gateway's.
func (g *Gateway) ServeHTTP3Handler(ctx context.Context, pc net.PacketConn, tlsConf *tls.Config, h http.Handler) error {
	if tlsConf == nil {
		return errors.New("gateway: http3: no TLS config")
	}
	srv := &http3.Server{
		Handler:        h,
		TLSConfig:      tlsConf,
		QUICConfig:     &quic.Config{Allow0RTT: false, MaxIdleTimeout: 60 * time.Second},
		MaxHeaderBytes: g.wireHeaderBytes(),
		IdleTimeout:    120 * time.Second,
		Logger:         g.log,
	}
	if ua, ok := pc.LocalAddr().(*net.UDPAddr); ok && ua.Port > 0 {
		v := []string{fmt.Sprintf(`h3=":%d"; ma=86400`, ua.Port)}
		g.altSvc.Store(&v)
		defer g.altSvc.Store(nil)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(pc) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("gateway: http3: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("gateway: http3 shutdown: %w", err)
	}
	return nil
}
