package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sort"
	"sync/atomic"
	"time"

	"github.com/cillers/fapid/config"
	"github.com/cillers/fapid/internal/tlsx"
)

// opsHandler serves /healthz (the process answers), /readyz (every listener
// is up and every certificate is currently valid) and /metrics (Prometheus
// text format).
type opsHandler struct {
	ready   *atomic.Bool
	certs   *certificates
	started time.Time
	now     func() time.Time
}

func (o *opsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSONError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
		return
	}
	switch r.URL.Path {
	case "/healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	case "/readyz":
		if reason := o.notReady(); reason != "" {
			writeJSONError(w, http.StatusServiceUnavailable, "not_ready", reason)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ready")
	case "/metrics":
		o.metrics(w)
	default:
		writeJSONError(w, http.StatusNotFound, "not_found", "unknown path")
	}
}

func (o *opsHandler) notReady() string {
	if !o.ready.Load() {
		return "starting"
	}
	now := o.now()
	names := make([]string, 0, len(o.certs.sources))
	for n := range o.certs.sources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		exp, err := leafNotAfter(o.certs.sources[n])
		if err != nil || !now.Before(exp) {
			return fmt.Sprintf("certificate %q is missing or expired", n)
		}
	}
	return ""
}

func (o *opsHandler) metrics(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprintf(w, "# HELP fapid_build_info Build information.\n# TYPE fapid_build_info gauge\n")
	fmt.Fprintf(w, "fapid_build_info{version=%q,goversion=%q} 1\n", versionString(), runtime.Version())
	fmt.Fprintf(w, "# HELP fapid_uptime_seconds Seconds since the daemon started.\n# TYPE fapid_uptime_seconds gauge\n")
	fmt.Fprintf(w, "fapid_uptime_seconds %.0f\n", o.now().Sub(o.started).Seconds())
	fmt.Fprintf(w, "# HELP fapid_certificate_expiry_timestamp_seconds NotAfter of each certificate source's current leaf.\n# TYPE fapid_certificate_expiry_timestamp_seconds gauge\n")
	exp := o.certs.expiry()
	names := make([]string, 0, len(exp))
	for n := range exp {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "fapid_certificate_expiry_timestamp_seconds{certificate=%q} %d\n", n, exp[n].Unix())
	}
	fmt.Fprintf(w, "# HELP go_goroutines Number of goroutines.\n# TYPE go_goroutines gauge\ngo_goroutines %d\n", runtime.NumGoroutine())
}

func listenOps(cfg *config.File, certs *certificates, ready *atomic.Bool) (*http.Server, net.Listener, error) {
	h := &opsHandler{ready: ready, certs: certs, started: time.Now(), now: time.Now}
	var tc *tls.Config
	if cfg.Ops.Certificate != "" {
		c, err := tlsx.ServerConfig(tlsx.ServerOptions{Source: certs.source(cfg.Ops.Certificate)})
		if err != nil {
			return nil, nil, err
		}
		tc = c
	}
	ln, err := net.Listen("tcp", cfg.Ops.Address)
	if err != nil {
		return nil, nil, err
	}
	return newServer(h, tc, certs.log), ln, nil
}
