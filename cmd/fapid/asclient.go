package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"time"

	"github.com/cillers/fapid/config"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/keys"
	"github.com/cillers/fapid/internal/tlsx"
)

// asHTTPClient returns the HTTP client for calls to the authorization
// server as one client registration: FAPI TLS policy, the server's CA and,
// when configured, the client certificate (tls_client_auth, RFC 8705).
func asHTTPClient(cfg *config.File, certs *certificates, certName string) (*http.Client, error) {
	var roots *x509.CertPool
	if f := cfg.AuthorizationServer.CAFile; f != "" {
		var err error
		if roots, err = tlsx.LoadCertPool(f); err != nil {
			return nil, fmt.Errorf("authorization_server.ca_file: %w", err)
		}
	}
	opts := tlsx.ClientOptions{RootCAs: roots}
	if certName != "" {
		opts.Source = certs.source(certName)
	}
	tc, err := tlsx.ClientConfig(opts)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		TLSClientConfig:     tc,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

// loadSigner loads a key reference as a JOSE signer; kid defaults to the
// key's RFC 7638 thumbprint.
func loadSigner(ctx context.Context, ref config.SecretRef, kid string) (*jws.Signer, error) {
	key, err := keys.Load(ctx, string(ref))
	if err != nil {
		return nil, err
	}
	if kid == "" {
		if kid, err = jws.Thumbprint(key.Public()); err != nil {
			return nil, err
		}
	}
	return jws.NewSigner(key, kid)
}
