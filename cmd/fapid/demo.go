package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cillers/fapid/config"
	"github.com/cillers/fapid/conformance/interop"
)

// demoOptions are the demo's flags.
type demoOptions struct {
	state        string
	domain       string
	apiPort      int
	spaPort      int
	upstreamPort int
	asPort       int
	logLevel     string
}

const demoUsage = `demo [flags]

Runs the whole architecture on this machine, with no Docker and no outside CA:
the embedded PKI, the reference FAPI 2.0 authorization server (node-oidc-provider,
needs Node.js 20+), fapid with the agent and the gateway, an example API (mTLS,
checks the certificate binding) and an example SPA on its own origin. It prints
the URL to open and runs until interrupted (Ctrl-C), then stops everything.`

func parseDemoFlags(args []string, stdout io.Writer) (demoOptions, error) {
	var o demoOptions
	fs := newFlagSet("demo", demoUsage, stdout)
	fs.StringVar(&o.state, "state", ".fapid/demo", "state folder: CA, keys, certificates, fapid.yaml (reused on the next start)")
	fs.StringVar(&o.domain, "domain", "fapid.localhost", "site of the demo: the SPA is www.DOMAIN, fapid is api.DOMAIN (*.localhost resolves to this machine)")
	fs.IntVar(&o.apiPort, "api-port", 8443, "port of fapid's agent and gateway (https://api.DOMAIN:PORT)")
	fs.IntVar(&o.spaPort, "spa-port", 8444, "port of the example SPA (https://www.DOMAIN:PORT)")
	fs.IntVar(&o.upstreamPort, "upstream-port", 9443, "port of the example API behind the gateway (127.0.0.1, mTLS)")
	fs.IntVar(&o.asPort, "as-port", 0, "port of the reference authorization server (127.0.0.1); 0 picks a free one")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error (logs go to stderr)")
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usageError("demo takes no arguments (got %q)", fs.Arg(0))
	}
	return o, o.validate()
}

func (o demoOptions) validate() error {
	if o.state == "" {
		return usageError("--state must not be empty")
	}
	if !validDemoDomain(o.domain) {
		return usageError("--domain %q is not a DNS name such as fapid.localhost", o.domain)
	}
	seen := map[int]string{}
	for _, p := range []struct {
		flag string
		port int
		zero bool
	}{{"api-port", o.apiPort, false}, {"spa-port", o.spaPort, false}, {"upstream-port", o.upstreamPort, false}, {"as-port", o.asPort, true}} {
		if p.port < 0 || p.port > 65535 || (p.port == 0 && !p.zero) {
			return usageError("--%s %d: want a port from 1 to 65535", p.flag, p.port)
		}
		if p.port == 0 {
			continue
		}
		if other, ok := seen[p.port]; ok {
			return usageError("--%s and --%s are both %d", other, p.flag, p.port)
		}
		seen[p.port] = p.flag
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return usageError("--log-level %q: want debug, info, warn or error", o.logLevel)
	}
	return nil
}

// validDemoDomain accepts lower-case DNS names of at least two labels.
func validDemoDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(d) > 200 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// demoCommand runs `fapid demo`.
func demoCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseDemoFlags(args, stdout)
	if err != nil {
		return err
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(o.logLevel)) // validated
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	// Libraries we embed (smallstep, net/http) write to the standard logger.
	stdlog.SetFlags(0)
	stdlog.SetOutput(slog.NewLogLogger(log.Handler(), slog.LevelDebug).Writer())
	return runDemo(ctx, o, stdout, log)
}

// demo is one running sandbox.
type demo struct {
	o     demoOptions
	log   *slog.Logger
	state *demoState
	ports *demoPorts
	as    *interop.Server
	errc  chan error // a part that stopped on its own
	srvs  []*http.Server
}

// runDemo starts every part, prints the summary and waits for ctx. An
// interrupt (ctx done) is not an error, also during the start.
func runDemo(ctx context.Context, o demoOptions, stdout io.Writer, log *slog.Logger) error {
	err := startAndWait(ctx, o, stdout, log)
	if err != nil && ctx.Err() != nil {
		log.Info("demo interrupted", "during", err.Error())
		return nil
	}
	if err == nil {
		log.Info("demo stopped")
	}
	return err
}

func startAndWait(ctx context.Context, o demoOptions, stdout io.Writer, log *slog.Logger) error {
	d := &demo{o: o, log: log, errc: make(chan error, 8)}
	ports, err := reserveDemoPorts(o)
	if err != nil {
		return err
	}
	d.ports = ports
	defer ports.close()
	if d.state, err = openDemoState(ctx, o.state); err != nil {
		return err
	}
	d.state.logCreated(log)
	defer d.stopAS()
	if err := d.startAS(ctx); err != nil {
		return err
	}
	// The daemon, the API and the SPA stop when this returns.
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer d.shutdownServers()
	if err := d.startAPI(dctx); err != nil {
		return err
	}
	cfg, err := d.writeConfig()
	if err != nil {
		return err
	}
	daemonDone := make(chan error, 1)
	go func() { daemonDone <- runDaemon(dctx, cfg, log) }()
	if err := d.waitDaemon(ctx, daemonDone); err != nil {
		cancel()
		return errors.Join(err, <-daemonDone)
	}
	if err := d.startSPA(dctx); err != nil {
		cancel()
		return errors.Join(err, <-daemonDone)
	}
	printDemoSummary(stdout, d.summary())
	if err := d.wait(ctx, daemonDone); err != nil {
		return err
	}
	log.Info("demo stopping")
	cancel()
	return <-daemonDone
}

// wait blocks until ctx ends or a part stops on its own. daemonDone is left
// for the caller when ctx ended.
func (d *demo) wait(ctx context.Context, daemonDone chan error) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-daemonDone:
		daemonDone <- nil
		if err == nil {
			err = errors.New("the daemon stopped")
		}
		return fmt.Errorf("fapid daemon: %w", err)
	case <-d.as.Done():
		return errors.New("the reference authorization server (node) exited; see its log lines above")
	case err := <-d.errc:
		return err
	}
}

func (d *demo) writeConfig() (*config.File, error) {
	path := d.state.path(demoConfigFile)
	err := writeDemoConfig(path, demoConfig{
		Domain: d.o.domain, APIPort: d.o.apiPort, SPAOrigin: d.spaOrigin(), Issuer: d.as.Issuer(),
		UpstreamPort: d.o.upstreamPort, AgentID: demoAgentClientID, GatewayID: demoGatewayClientID,
		CADir: demoCADir, AgentKey: demoAgentKeyFile, SessionKey: demoSessionKeyFile,
	})
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("the generated configuration does not load (a bug): %w", err)
	}
	d.log.Info("configuration written", "file", path)
	return cfg, nil
}

func (d *demo) spaOrigin() string { return fmt.Sprintf("https://www.%s:%d", d.o.domain, d.o.spaPort) }
func (d *demo) apiOrigin() string { return fmt.Sprintf("https://api.%s:%d", d.o.domain, d.o.apiPort) }

// waitDaemon waits until fapid's listener completes a TLS handshake as
// api.<domain>, or the daemon fails.
func (d *demo) waitDaemon(ctx context.Context, daemonDone chan error) error {
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := d.ports.handshake(ctx, d.o.apiPort, "api."+d.o.domain, d.state.ca.RootPool()); err == nil {
			return nil
		}
		select {
		case err := <-daemonDone:
			daemonDone <- nil
			if err == nil {
				err = errors.New("stopped during start")
			}
			return fmt.Errorf("fapid daemon: %w", err)
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-deadline.C:
			return fmt.Errorf("fapid did not answer on 127.0.0.1:%d within 30s", d.o.apiPort)
		case <-tick.C:
		}
	}
}

// demoSummary is what the user needs, printed on stdout.
type demoSummary struct {
	URL, CAFile, Config, Issuer, APIOrigin, Upstream, State string
	LocalhostDomain                                         bool
	Domain                                                  string
}

func (d *demo) summary() demoSummary {
	return demoSummary{
		URL: d.spaOrigin() + "/", CAFile: d.state.ca.RootFile(), Config: d.state.path(demoConfigFile),
		Issuer: d.as.Issuer(), APIOrigin: d.apiOrigin(), Upstream: fmt.Sprintf("https://127.0.0.1:%d", d.o.upstreamPort),
		State: d.state.dir, LocalhostDomain: strings.HasSuffix(d.o.domain, ".localhost") || d.o.domain == "localhost",
		Domain: d.o.domain,
	}
}

func printDemoSummary(w io.Writer, s demoSummary) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("")
	p("fapid demo is running.")
	p("")
	p("  Open:        %s", s.URL)
	p("  Sign in:     any username and password (for example alice / secret), then continue on the consent page")
	p("  Trust CA:    %s", s.CAFile)
	p("               Chromium/Chrome on Linux: certutil -d sql:$HOME/.pki/nssdb -A -t \"C,,\" -n \"fapid demo CA\" -i %s", s.CAFile)
	p("               Firefox: Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import (trust for websites)")
	p("               macOS: security add-trusted-cert -r trustRoot -k ~/Library/Keychains/login.keychain-db %s", s.CAFile)
	p("               (restart the browser after adding it; remove it again when you are done)")
	if s.LocalhostDomain {
		p("  Hosts:       Chrome, Edge and Firefox resolve *.localhost to this machine; for other browsers")
		p("               map www.%s and api.%s to 127.0.0.1 in /etc/hosts", s.Domain, s.Domain)
	} else {
		p("  Hosts:       map www.%s and api.%s to 127.0.0.1 (for example in /etc/hosts)", s.Domain, s.Domain)
	}
	p("")
	p("  SPA (static, its own origin):        %s", strings.TrimSuffix(s.URL, "/"))
	p("  fapid agent + gateway:               %s  (/oauth-agent/, /api/)", s.APIOrigin)
	p("  example API (mTLS, behind gateway):  %s", s.Upstream)
	p("  authorization server (oidc-provider): %s", s.Issuer)
	p("  fapid configuration:                 %s", s.Config)
	p("  state (CA, keys; reused next time):  %s", s.State)
	p("")
	p("Press Ctrl-C to stop.")
}
