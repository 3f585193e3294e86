// Command exampleapi runs the example API of package
// github.com/cillers/fapid/examples/api on its own: an HTTPS listener that
// requires client certificates, in front of the token checks.
//
//	exampleapi --listen 127.0.0.1:9443 --cert api.crt --key api.key \
//	  --client-ca root_ca.crt --ca root_ca.crt \
//	  --issuer https://gateway.example.test:8443 --audience https://api.example.test \
//	  --jwks-url https://127.0.0.1:8443/.well-known/jwks.json --jwks-server-name gateway.example.test
//
// When it is ready it prints one line "exampleapi: listening on https://ADDR"
// to standard output (useful with --listen 127.0.0.1:0). It stops on SIGINT
// or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cillers/fapid/examples/api"
	"github.com/cillers/fapid/internal/tlsx"
)

type options struct {
	listen, cert, key, clientCA   string
	issuer, audience, jwksURL, ca string
	jwksCert, jwksKey, publicURL  string
	prefix, jwksServerName        string
	requireBinding                bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "exampleapi: error:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	var o options
	fs := flag.NewFlagSet("exampleapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9443", "address to listen on (TLS, client certificate required)")
	fs.StringVar(&o.cert, "cert", "", "server certificate chain, PEM (reloaded when it changes)")
	fs.StringVar(&o.key, "key", "", "server private key, PEM")
	fs.StringVar(&o.clientCA, "client-ca", "", "CA bundle that verifies client certificates (the gateway's)")
	fs.StringVar(&o.issuer, "issuer", "", "exact iss of accepted tokens")
	fs.StringVar(&o.audience, "audience", "", "audience that must be in aud (empty: not checked)")
	fs.StringVar(&o.jwksURL, "jwks-url", "", "https URL of the issuer's JWKS")
	fs.StringVar(&o.ca, "ca", "", "CA bundle that verifies the JWKS server (empty: system roots)")
	fs.StringVar(&o.jwksCert, "jwks-cert", "", "client certificate for the JWKS fetch, PEM (optional)")
	fs.StringVar(&o.jwksKey, "jwks-key", "", "client key for the JWKS fetch, PEM (optional)")
	fs.StringVar(&o.jwksServerName, "jwks-server-name", "", "name to verify in the JWKS server's certificate (default: the URL's host)")
	fs.StringVar(&o.publicURL, "public-url", "", "this API's origin as callers address it; needed for DPoP-bound tokens")
	fs.StringVar(&o.prefix, "path-prefix", api.DefaultPathPrefix, "protected path prefix")
	fs.BoolVar(&o.requireBinding, "require-binding", true, "refuse tokens without cnf (sender constraint)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for name, v := range map[string]string{"cert": o.cert, "key": o.key, "client-ca": o.clientCA,
		"issuer": o.issuer, "jwks-url": o.jwksURL} {
		if v == "" {
			return nil, fmt.Errorf("--%s is required", name)
		}
	}
	if (o.jwksCert == "") != (o.jwksKey == "") {
		return nil, errors.New("--jwks-cert and --jwks-key go together")
	}
	return &o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	handler, err := newHandler(o, log)
	if err != nil {
		return err
	}
	src, err := tlsx.NewFileSource(o.cert, o.key)
	if err != nil {
		return err
	}
	clientCAs, err := tlsx.LoadCertPool(o.clientCA)
	if err != nil {
		return err
	}
	tc, err := api.ServerTLSConfig(src, clientCAs)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         tc,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	fmt.Fprintf(stdout, "exampleapi: listening on https://%s\n", ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler builds the API with its JWKS client.
func newHandler(o *options, log *slog.Logger) (http.Handler, error) {
	co := tlsx.ClientOptions{ServerName: o.jwksServerName}
	if o.ca != "" {
		pool, err := tlsx.LoadCertPool(o.ca)
		if err != nil {
			return nil, err
		}
		co.RootCAs = pool
	}
	if o.jwksCert != "" {
		src, err := tlsx.NewFileSource(o.jwksCert, o.jwksKey)
		if err != nil {
			return nil, err
		}
		co.Source = src
	}
	tc, err := tlsx.ClientConfig(co)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: tc, ForceAttemptHTTP2: true, TLSHandshakeTimeout: 10 * time.Second,
	}}
	return api.New(api.Config{
		Issuer: o.issuer, Audience: o.audience, JWKSURL: o.jwksURL, HTTPClient: hc,
		AllowUnbound: !o.requireBinding, PublicURL: o.publicURL, PathPrefix: o.prefix, Logger: log,
	})
}
