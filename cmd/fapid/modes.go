package main

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/cillers/fapid/config"
	"github.com/cillers/fapid/gateway"
)

// modes holds the agent and gateway handlers and the listeners they serve.
type modes struct {
	cfg      *config.File
	agent    http.Handler // nil when the agent is off
	gateway  *gateway.Gateway
	basePath string
}

// startModes builds the modes the configuration enables.
func startModes(ctx context.Context, cfg *config.File, certs *certificates, log *slog.Logger) (*modes, error) {
	m := &modes{cfg: cfg}
	if cfg.Agent != nil {
		h, err := newAgent(ctx, cfg, certs, log)
		if err != nil {
			return nil, err
		}
		m.agent, m.basePath = h, cfg.Agent.BasePath
	}
	if cfg.Gateway != nil {
		gw, err := newGateway(ctx, cfg, certs, log)
		if err != nil {
			return nil, err
		}
		m.gateway = gw
	}
	return m, nil
}

func (m *modes) agentOn(listener string) bool {
	return m.agent != nil && m.cfg.Agent.Listener == listener
}

func (m *modes) gatewayOn(listener string) bool {
	return m.gateway != nil && m.cfg.Gateway.Listener == listener
}

// http3 reports whether the listener also serves HTTP/3.
func (m *modes) http3(listener string) bool {
	return m.gatewayOn(listener) && *m.cfg.Gateway.HTTP3
}

func (m *modes) names(listener string) string {
	var n []string
	if m.agentOn(listener) {
		n = append(n, "agent")
	}
	if m.gatewayOn(listener) {
		n = append(n, "gateway")
	}
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ",")
}

// handler routes a listener's requests: the agent's base path to the
// agent, everything else to the gateway, or the placeholder.
func (m *modes) handler(listener string) http.Handler {
	var rest http.Handler = placeholder()
	if m.gatewayOn(listener) {
		rest = m.gateway.Handler()
	}
	if !m.agentOn(listener) {
		return rest
	}
	agent, base := m.agent, m.basePath
	if m.gatewayOn(listener) {
		agent = m.gateway.HeaderLimit(agent) // one host, one header limit (431)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == base || strings.HasPrefix(p, base+"/") {
			agent.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
}
