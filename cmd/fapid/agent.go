package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/cillers/fapid/agent"
	"github.com/cillers/fapid/config"
	"github.com/cillers/fapid/fapi"
)

// newAgent builds the OAuth Agent mode.
func newAgent(ctx context.Context, cfg *config.File, certs *certificates, log *slog.Logger) (http.Handler, error) {
	a := cfg.Agent
	hc, err := asHTTPClient(cfg, certs, a.Client.Certificate)
	if err != nil {
		return nil, fmt.Errorf("agent.client: %w", err)
	}
	fc := fapi.Config{
		Issuer:                cfg.AuthorizationServer.Issuer,
		ClientID:              a.Client.ID,
		AuthMethod:            fapi.AuthMethod(a.Client.Auth),
		HTTPClient:            hc,
		UseMTLSAliases:        *cfg.AuthorizationServer.UseMTLSEndpointAliases,
		SenderConstraint:      fapi.SenderConstraint(a.SenderConstraint),
		ResponseMode:          fapi.ResponseModeQuery,
		Scopes:                a.Scopes,
		Resources:             a.Resources,
		RedirectURI:           a.RedirectURI,
		PostLogoutRedirectURI: a.PostLogoutRedirectURI,
	}
	if a.ResponseMode == "jarm" {
		fc.ResponseMode = fapi.ResponseModeJWT
	}
	if fc.Signer, err = loadSigner(ctx, a.Client.Key, a.Client.KeyID); err != nil {
		return nil, fmt.Errorf("agent.client.key: %w", err)
	}
	if a.DPoPKey != "" {
		if fc.DPoPSigner, err = loadSigner(ctx, a.DPoPKey, ""); err != nil {
			return nil, fmt.Errorf("agent.dpop_key: %w", err)
		}
	}
	ks, err := sessionKeys(cfg.Session)
	if err != nil {
		return nil, err
	}
	ag, err := agent.New(agent.Config{
		FAPI:           fc,
		CookieKeys:     ks,
		BasePath:       a.BasePath,
		CookiePrefix:   cfg.Session.CookiePrefix,
		TrustedOrigins: cfg.Session.TrustedOrigins,
		Compat:         agent.Compat(a.Compat),
		Logger:         log.With("mode", "agent"),
	})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	// Refuse to start against the wrong server: the discovery document's
	// issuer must equal the configured one byte for byte (FAPI 2.0 5.3.3.1-11).
	if err := ag.Discover(ctx); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	return ag.Handler(), nil
}
