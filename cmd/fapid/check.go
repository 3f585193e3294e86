package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/cillers/fapid/config"
	"github.com/cillers/fapid/internal/tlsx"
	"github.com/cillers/fapid/pki"
)

func checkCommand(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlagSet("check", "check -c FILE", stdout)
	file := fs.StringP("config", "c", "", "configuration file (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file == "" || fs.NArg() > 0 {
		return usageError("check needs -c FILE and no other arguments")
	}
	cfg, err := config.Load(*file)
	if err != nil {
		return err
	}
	if err := errors.Join(checkFiles(cfg), checkModeFiles(ctx, cfg)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: configuration is valid\n\n", *file)
	printRequirements(stdout, cfg)
	return nil
}

// checkFiles opens every file the configuration names, so that a bad path or
// a certificate that does not match its key is found before the daemon runs.
func checkFiles(cfg *config.File) error {
	var errs []error
	if cfg.PKI != nil {
		if _, err := pki.Open(cfg.PKI.Dir); err != nil {
			errs = append(errs, fmt.Errorf("pki.dir: %w", err))
		}
	}
	names := make([]string, 0, len(cfg.Certificates))
	for n := range cfg.Certificates {
		names = append(names, n)
	}
	sort.Strings(names)
	sources := map[string]tlsx.Source{}
	for _, n := range names {
		c := cfg.Certificates[n]
		if e := c.Embedded; e != nil {
			for what, f := range map[string]string{"root_file": e.RootFile, "provisioner_key": e.ProvisionerKey.Path()} {
				if f == "" {
					continue
				}
				if _, err := os.Stat(f); err != nil {
					errs = append(errs, fmt.Errorf("certificates.%s.embedded.%s: %w", n, what, err))
				}
			}
			continue
		}
		src, err := tlsx.NewFileSource(c.CertFile, c.Key.Path())
		if err != nil {
			errs = append(errs, fmt.Errorf("certificates.%s: %w", n, err))
			continue
		}
		sources[n] = src
	}
	if err := checkUsages(cfg, sources); err != nil {
		errs = append(errs, err)
	}
	for i, l := range cfg.Listeners {
		if l.ClientCA == "" {
			continue
		}
		if _, err := tlsx.LoadCertPool(l.ClientCA); err != nil {
			errs = append(errs, fmt.Errorf("listeners[%d].client_ca: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// checkModeFiles loads every key and CA file the agent and gateway sections
// name, with the same code run uses, so that check and run agree.
func checkModeFiles(ctx context.Context, cfg *config.File) error {
	var errs []error
	signer := func(path string, ref config.SecretRef) {
		if ref == "" {
			return
		}
		if _, err := loadSigner(ctx, ref, ""); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		}
	}
	pool := func(path, file string) {
		if file == "" {
			return
		}
		if _, err := tlsx.LoadCertPool(file); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		}
	}
	if as := cfg.AuthorizationServer; as != nil {
		pool("authorization_server.ca_file", as.CAFile)
	}
	if s := cfg.Session; s != nil {
		if _, err := sessionKeys(s); err != nil {
			errs = append(errs, err)
		}
	}
	if a := cfg.Agent; a != nil {
		signer("agent.client.key", a.Client.Key)
		signer("agent.dpop_key", a.DPoPKey)
	}
	if g := cfg.Gateway; g != nil {
		signer("gateway.introspection.client.key", g.Introspection.Client.Key)
		signer("gateway.signing_key", g.SigningKey)
		for i, r := range g.Routes {
			pool(fmt.Sprintf("gateway.routes[%d].upstream_ca", i), r.UpstreamCA)
		}
	}
	return errors.Join(errs...)
}

// printRequirements lists the FAPI 2.0 Security Profile requirements this
// configuration meets, and how.
func printRequirements(w io.Writer, cfg *config.File) {
	fmt.Fprintln(w, "FAPI 2.0 Security Profile requirements:")
	req := func(id, text, how string) { fmt.Fprintf(w, "  %-12s %-58s %s\n", id, text, how) }
	req("5.2.1-1", "TLS-protected endpoints only", fmt.Sprintf("met: %d TLS listener(s)%s", len(cfg.Listeners), opsNote(cfg)))
	req("5.2.1-2", "TLS 1.2 or later", "met: TLS 1.3, or TLS 1.2 as floor (built-in policy)")
	req("5.2.2-1/2", "TLS 1.2 only with BCP 195 cipher suites", "met: ECDHE-{ECDSA,RSA}-AES{128,256}-GCM only")
	var hsts, noHSTS []string
	for _, l := range cfg.Listeners {
		if *l.HSTS {
			hsts = append(hsts, l.Name)
		} else {
			noHSTS = append(noHSTS, l.Name)
		}
	}
	switch {
	case len(noHSTS) == 0:
		req("5.2.3-1", "browser endpoints prevent TLS stripping (HSTS)", fmt.Sprintf("met: HSTS on %v", hsts))
	default:
		req("5.2.3-1", "browser endpoints prevent TLS stripping (HSTS)", fmt.Sprintf("met only if %v are not browser-facing (hsts: false)", noHSTS))
	}
	var mtls []string
	for _, l := range cfg.Listeners {
		if l.ClientAuth != "none" {
			mtls = append(mtls, l.Name+"="+l.ClientAuth)
		}
	}
	if len(mtls) > 0 {
		req("5.3.4-5", "accept mTLS certificate-bound tokens (RFC 8705)", fmt.Sprintf("ready: client certificates on %v", mtls))
	}
	req("-", "secrets only by reference", "met: keys are file: or pkcs11: references")
	if a := cfg.Agent; a != nil {
		fmt.Fprintln(w, "\nAgent (client, FAPI 2.0 SP §5.3.3 and Message Signing):")
		req("5.3.3.1-1", "sender-constrained access tokens", "met: "+map[string]string{"mtls": "mTLS certificate-bound (RFC 8705)", "dpop": "DPoP-bound (RFC 9449), deployment key"}[a.SenderConstraint])
		req("5.3.3.1-2", "client authentication", "met: "+a.Client.Auth)
		req("5.3.3.1-5", "client assertion aud is the issuer string", "met (built in)")
		req("5.3.3.1-11", "issuer equals discovery issuer exactly", "met: checked at start")
		req("5.3.3.2-2", "pushed authorization requests (RFC 9126)", "met (always)")
		req("5.3.3.2-3", "PKCE S256", "met (always)")
		req("5.3.3.2-5", "iss in the authorization response (RFC 9207)", "met (always)")
		req("5.3.3.2-6", "only client_id and request_uri at the authorization endpoint", "met (always)")
		req("MS 5.3.2", "signed request objects (RFC 9101)", "met (always)")
		if a.ResponseMode == "jarm" {
			req("MS 5.3.1", "signed authorization responses (JARM)", "met: response_mode jarm")
		} else {
			req("MS 5.3.1", "signed authorization responses (JARM)", "not used: response_mode query (Security Profile only)")
		}
		req("-", "tokens never reach the browser", "met: sealed HttpOnly __Host- cookies, no JWT in any answer")
	}
	if g := cfg.Gateway; g != nil {
		fmt.Fprintln(w, "\nGateway (resource server, FAPI 2.0 SP §5.3.4):")
		req("5.3.4-1/2", "tokens only in the Authorization header", "met: Bearer/DPoP, never the query")
		req("5.3.4-3", "validity, integrity, expiry, revocation", "met: introspection ("+g.Introspection.Mode+"), cache bounded by exp")
		req("5.3.4-4", "authorization checked per request", "met: route scopes on every request")
		req("5.3.4-5", "sender-constrained tokens verified", "met: cnf x5t#S256 and jkt on every request")
	}
}

func opsNote(cfg *config.File) string {
	if cfg.Ops.Address != "" && cfg.Ops.Certificate == "" {
		return "; ops is plain HTTP on loopback (not an API endpoint)"
	}
	return ""
}
