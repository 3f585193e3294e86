package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cillers/fapid/config"
	"github.com/cillers/fapid/internal/tlsx"
)

// Server timeouts for every listener.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 60 * time.Second // a whole request, body included (slow-body clients)
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 32 << 10 // the gateway answers 431 past its own, smaller, decoded limit
)

// runDaemon starts everything the configuration enables and blocks until ctx
// is cancelled, then shuts down with a fresh grace-period context.
func runDaemon(parent context.Context, cfg *config.File, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	var servers []*http.Server
	var ready atomic.Bool
	// fail stops whatever started before a startup error.
	fail := func(err error) error {
		cancel()
		closeAll(servers)
		if werr := g.Wait(); werr != nil && !errors.Is(werr, context.Canceled) {
			err = errors.Join(err, werr)
		}
		return err
	}

	certs, err := startCertificates(gctx, cfg, log)
	if err != nil {
		return fail(err)
	}

	m, err := startModes(gctx, cfg, certs, log)
	if err != nil {
		return fail(err)
	}

	for _, l := range cfg.Listeners {
		h := m.handler(l.Name)
		srv, ln, err := listen(l, certs, h)
		if err != nil {
			return fail(fmt.Errorf("listener %q: %w", l.Name, err))
		}
		servers = append(servers, srv)
		log.Info("listening", "listener", l.Name, "address", ln.Addr().String(), "client_auth", l.ClientAuth, "modes", m.names(l.Name))
		h3tls := srv.TLSConfig.Clone() // ServeTLS writes to srv.TLSConfig
		g.Go(func() error { return serve(srv, ln) })
		if m.http3(l.Name) {
			pc, err := net.ListenPacket("udp", ln.Addr().String())
			if err != nil {
				return fail(fmt.Errorf("listener %q: http3: %w", l.Name, err))
			}
			log.Info("listening", "listener", l.Name, "address", pc.LocalAddr().String(), "protocol", "h3")
			g.Go(func() error {
				defer pc.Close()
				return m.gateway.ServeHTTP3Handler(gctx, pc, h3tls, h)
			})
		}
	}

	if cfg.Ops.Address != "" {
		srv, ln, err := listenOps(cfg, certs, &ready)
		if err != nil {
			return fail(fmt.Errorf("ops: %w", err))
		}
		servers = append(servers, srv)
		log.Info("ops listening", "address", ln.Addr().String())
		g.Go(func() error { return serve(srv, ln) })
	}

	ready.Store(true)
	g.Go(func() error {
		<-gctx.Done()
		ready.Store(false)
		// A fresh context: gctx is already done and would leave no grace.
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
		defer cancel()
		log.Info("shutting down", "grace", cfg.ShutdownGrace.String())
		var errs []error
		for _, s := range servers {
			errs = append(errs, s.Shutdown(sctx))
		}
		return errors.Join(errs...)
	})
	err = g.Wait()
	if parent.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func serve(srv *http.Server, ln net.Listener) error {
	var err error
	if srv.TLSConfig != nil {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func closeAll(servers []*http.Server) {
	for _, s := range servers {
		s.Close()
	}
}

func newServer(h http.Handler, tc *tls.Config, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         tc,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

func listen(l config.Listener, certs *certificates, h http.Handler) (*http.Server, net.Listener, error) {
	mode, err := tlsx.ParseClientAuth(l.ClientAuth)
	if err != nil {
		return nil, nil, err
	}
	opts := tlsx.ServerOptions{Source: certs.source(l.Certificate), ClientAuth: mode, NextProtos: []string{"h2", "http/1.1"}}
	if l.ClientCA != "" {
		if opts.ClientCAs, err = tlsx.LoadCertPool(l.ClientCA); err != nil {
			return nil, nil, err
		}
	}
	tc, err := tlsx.ServerConfig(opts)
	if err != nil {
		return nil, nil, err
	}
	if *l.HSTS {
		h = tlsx.HSTS(h)
	}
	ln, err := net.Listen("tcp", l.Address)
	if err != nil {
		return nil, nil, err
	}
	return newServer(h, tc, certs.log), ln, nil
}

// placeholder answers on listeners that no mode has claimed yet.
func placeholder() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "not_found", "no mode serves this listener")
	})
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}
