package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/cillers/fapid/config"
	"github.com/cillers/fapid/internal/tlsx"
	"github.com/cillers/fapid/pki"
)

// certificates holds the daemon's named certificate sources.
type certificates struct {
	log     *slog.Logger
	sources map[string]tlsx.Source
}

func (c *certificates) source(name string) tlsx.Source { return c.sources[name] }

// startCertificates loads file certificates and starts a renewer for each
// embedded one; the first embedded certificate is obtained before it returns.
func startCertificates(ctx context.Context, cfg *config.File, log *slog.Logger) (*certificates, error) {
	certs := &certificates{log: log, sources: map[string]tlsx.Source{}}
	var local *pki.CA
	names := make([]string, 0, len(cfg.Certificates))
	for n := range cfg.Certificates {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		c := cfg.Certificates[name]
		if c.Embedded == nil {
			if c.Key.Scheme() != "file" {
				return nil, fmt.Errorf("certificate %q: only file: keys are supported for TLS certificates", name)
			}
			src, err := tlsx.NewFileSource(c.CertFile, c.Key.Path())
			if err != nil {
				return nil, fmt.Errorf("certificate %q: %w", name, err)
			}
			certs.sources[name] = src
			continue
		}
		e := c.Embedded
		var iss pki.Issuer
		if e.CAURL != "" {
			cl, err := pki.NewClient(e.CAURL, e.RootFile, e.Provisioner, e.ProvisionerKey.Path())
			if err != nil {
				return nil, fmt.Errorf("certificate %q: %w", name, err)
			}
			iss = cl
		} else {
			if local == nil {
				var err error
				if local, err = pki.Open(cfg.PKI.Dir); err != nil {
					return nil, fmt.Errorf("certificate %q: %w", name, err)
				}
			}
			iss = local
		}
		server, client := slices.Contains(e.Usage, "server"), slices.Contains(e.Usage, "client")
		h := tlsx.NewHolder(nil)
		clog := log.With("certificate", name)
		r := pki.NewRenewer(iss, pki.IssueRequest{
			CommonName: e.CommonName, SANs: e.SANs, Server: server, Client: client, Lifetime: e.Lifetime,
		}, h,
			pki.WithOnRenew(func(leaf *x509.Certificate) {
				clog.Info("certificate renewed", "serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
			}),
			pki.WithOnError(func(err error, retryIn time.Duration) {
				clog.Error("certificate renewal failed; serving the previous certificate", "error", err.Error(), "retry_in", retryIn.String())
			}))
		if err := r.Start(ctx); err != nil {
			return nil, fmt.Errorf("certificate %q: %w", name, err)
		}
		log.Info("certificate from embedded CA", "certificate", name, "lifetime", e.Lifetime.String())
		certs.sources[name] = h
	}
	if err := checkUsages(cfg, certs.sources); err != nil {
		return nil, err
	}
	return certs, nil
}

// checkUsages refuses, before anything listens, a certificate whose
// extended key usage does not fit where the configuration uses it: every
// peer would refuse it later.
func checkUsages(cfg *config.File, sources map[string]tlsx.Source) error {
	var errs []error
	check := func(path, name string, usage x509.ExtKeyUsage) {
		if src, ok := sources[name]; ok && name != "" {
			if err := tlsx.CheckUsage(src, usage); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", path, err))
			}
		}
	}
	for i, l := range cfg.Listeners {
		check(fmt.Sprintf("listeners[%d].certificate", i), l.Certificate, x509.ExtKeyUsageServerAuth)
	}
	check("ops.certificate", cfg.Ops.Certificate, x509.ExtKeyUsageServerAuth)
	if a := cfg.Agent; a != nil {
		check("agent.client.certificate", a.Client.Certificate, x509.ExtKeyUsageClientAuth)
	}
	if g := cfg.Gateway; g != nil {
		check("gateway.introspection.client.certificate", g.Introspection.Client.Certificate, x509.ExtKeyUsageClientAuth)
		check("gateway.session_certificate", g.SessionCertificate, x509.ExtKeyUsageClientAuth)
		for i, r := range g.Routes {
			check(fmt.Sprintf("gateway.routes[%d].upstream_certificate", i), r.UpstreamCertificate, x509.ExtKeyUsageClientAuth)
		}
	}
	return errors.Join(errs...)
}

// expiry returns the NotAfter of each certificate source's current leaf.
func (c *certificates) expiry() map[string]time.Time {
	out := make(map[string]time.Time, len(c.sources))
	for name, s := range c.sources {
		if t, err := leafNotAfter(s); err == nil {
			out[name] = t
		}
	}
	return out
}

func leafNotAfter(s tlsx.Source) (time.Time, error) {
	tc, err := s.Certificate()
	if err != nil {
		return time.Time{}, err
	}
	return leafOf(tc)
}

func leafOf(tc *tls.Certificate) (time.Time, error) {
	if tc == nil || len(tc.Certificate) == 0 {
		return time.Time{}, errors.New("no certificate")
	}
	leaf := tc.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(tc.Certificate[0]); err != nil {
			return time.Time{}, err
		}
	}
	return leaf.NotAfter, nil
}
