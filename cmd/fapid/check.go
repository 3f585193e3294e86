package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/cillers/fapid/config"
	"github.com/cillers/fapid/internal/tlsx"
	"github.com/cillers/fapid/pki"
)

func checkCommand(_ context.Context, args []string, stdout, _ io.Writer) error {
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
	if err := checkFiles(cfg); err != nil {
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
	for _, n := range names {
		c := cfg.Certificates[n]
		if c.Embedded != nil || c.Key.Scheme() != "file" {
			continue
		}
		if _, err := tlsx.NewFileSource(c.CertFile, c.Key.Path()); err != nil {
			errs = append(errs, fmt.Errorf("certificates.%s: %w", n, err))
		}
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
}

func opsNote(cfg *config.File) string {
	if cfg.Ops.Address != "" && cfg.Ops.Certificate == "" {
		return "; ops is plain HTTP on loopback (not an API endpoint)"
	}
	return ""
}
