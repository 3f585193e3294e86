package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/cillers/fapid/agent"
	"github.com/cillers/fapid/config"
	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/gateway"
	"github.com/cillers/fapid/internal/seal"
	"github.com/cillers/fapid/internal/tlsx"
)

// sessionKeys loads the session's cookie keys: the first seals, all open.
func sessionKeys(s *config.Session) ([]seal.Key, error) {
	ks := make([]seal.Key, 0, len(s.Keys))
	for i, ref := range s.Keys {
		k, err := seal.LoadKeyFile(ref.Path())
		if err != nil {
			return nil, fmt.Errorf("session.keys[%d]: %w", i, err)
		}
		ks = append(ks, k)
	}
	return ks, nil
}

// newGateway builds the gateway mode from the configuration.
func newGateway(ctx context.Context, cfg *config.File, certs *certificates, log *slog.Logger) (*gateway.Gateway, error) {
	g := cfg.Gateway
	in := g.Introspection
	hc, err := asHTTPClient(cfg, certs, in.Client.Certificate)
	if err != nil {
		return nil, fmt.Errorf("gateway.introspection: %w", err)
	}
	fc := fapi.Config{
		Issuer:            cfg.AuthorizationServer.Issuer,
		ClientID:          in.Client.ID,
		AuthMethod:        fapi.AuthMethod(in.Client.Auth),
		HTTPClient:        hc,
		UseMTLSAliases:    *cfg.AuthorizationServer.UseMTLSEndpointAliases,
		IntrospectionMode: fapi.IntrospectionMode(in.Mode),
	}
	if in.Client.Key != "" {
		if fc.Signer, err = loadSigner(ctx, in.Client.Key, in.Client.KeyID); err != nil {
			return nil, fmt.Errorf("gateway.introspection.client.key: %w", err)
		}
	}
	client, err := fapi.NewClient(fc)
	if err != nil {
		return nil, fmt.Errorf("gateway.introspection: %w", err)
	}
	gc := gateway.Config{
		AuthorizationServers: []gateway.AuthorizationServer{{
			Name:         cfg.AuthorizationServer.Issuer,
			Introspector: gateway.NewFAPIIntrospector(client),
			Forward:      gateway.ForwardMode(in.Forward),
		}},
		PublicOrigin:         g.PublicOrigin,
		ForwardAuthPath:      g.ForwardAuthPath,
		IntrospectionTimeout: in.Timeout,
		Cache: gateway.CacheConfig{
			MaxEntries: g.Cache.MaxEntries, MaxTTL: g.Cache.MaxTTL, NegativeTTL: g.Cache.NegativeTTL,
		},
		DPoP:   gateway.DPoPConfig{Nonce: g.DPoPNonce},
		Logger: log.With("mode", "gateway"),
	}
	if s := cfg.Session; s != nil {
		ks, err := sessionKeys(s)
		if err != nil {
			return nil, err
		}
		// The agent's sealed values may exceed seal's default size cap.
		if gc.Cookies, err = seal.New(ks, seal.WithMaxSize(agent.MaxSealedValue)); err != nil {
			return nil, err
		}
		gc.CookiePrefix = s.CookiePrefix
		gc.TrustedOrigins = s.TrustedOrigins
	}
	if g.SessionCertificate != "" {
		gc.SessionCertificate = certs.source(g.SessionCertificate)
	}
	for _, p := range g.TrustedProxies {
		gc.TrustedProxies = append(gc.TrustedProxies, netip.MustParsePrefix(p)) // validated in config
	}
	if a := cfg.Agent; a != nil && a.DPoPKey != "" {
		// The agent's deployment DPoP key: the gateway signs the upstream
		// proof for the browser sessions bound to it.
		if gc.SessionDPoPSigner, err = loadSigner(ctx, a.DPoPKey, ""); err != nil {
			return nil, fmt.Errorf("agent.dpop_key: %w", err)
		}
	}
	if g.SigningKey != "" {
		if gc.Signer, err = loadSigner(ctx, g.SigningKey, g.SigningKeyID); err != nil {
			return nil, fmt.Errorf("gateway.signing_key: %w", err)
		}
	}
	for i, r := range g.Routes {
		route := gateway.Route{
			Prefix: r.Prefix, Upstream: r.Upstream, UpstreamServerName: r.UpstreamServerName,
			StripPrefix: r.StripPrefix, Anonymous: r.Anonymous, Scopes: r.Scopes, Audience: r.Audience,
			UpstreamPublicURL: r.UpstreamPublicURL, UpstreamTrustsGatewayDPoP: r.UpstreamTrustsGatewayDPoP,
		}
		for _, c := range r.Credentials {
			route.Credentials = append(route.Credentials, gateway.Credential(c))
		}
		if r.UpstreamCA != "" {
			var pool *x509.CertPool
			if pool, err = tlsx.LoadCertPool(r.UpstreamCA); err != nil {
				return nil, fmt.Errorf("gateway.routes[%d].upstream_ca: %w", i, err)
			}
			route.UpstreamCAs = pool
		}
		if r.UpstreamCertificate != "" {
			route.UpstreamCertificate = certs.source(r.UpstreamCertificate)
		}
		gc.Routes = append(gc.Routes, route)
	}
	gw, err := gateway.New(gc)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return gw, nil
}
