package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/cillers/fapid/pki"
	"github.com/cillers/fapid/pki/online"
)

// serve implements `fapid-ca serve`: the online CA until ctx is done.
func serve(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("serve", "serve --dir DIR [--listen HOST:PORT] [--provisioner NAME] [--provisioner-key FILE] [--dns-name NAME…]", stdout)
	dir := fs.String("dir", "", "CA directory (see 'fapid pki init')")
	listen := fs.String("listen", "127.0.0.1:9000", "address to listen on (port 0 picks a free port)")
	prov := fs.String("provisioner", online.DefaultProvisionerName, "name of the JWK provisioner (the token issuer)")
	provKey := fs.String("provisioner-key", "", "provisioner private JWK file, created (0600, no password) when absent (default DIR/"+pki.ProvisionerKeyFileName+")")
	dnsNames := fs.StringArray("dns-name", nil, "name or IP in the CA's own TLS certificate; the first is used in its URL; repeatable (default: the --listen host)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageError("serve: unexpected argument %q", fs.Arg(0))
	case *dir == "":
		return usageError("serve: --dir is required")
	case *prov == "":
		return usageError("serve: --provisioner must not be empty")
	}
	srv, err := online.NewServer(online.ServerOptions{
		Dir: *dir, Addr: *listen, ProvisionerName: *prov, ProvisionerKeyFile: *provKey, DNSNames: *dnsNames,
	})
	if err != nil {
		return err
	}
	if srv.ProvisionerKeyCreated() {
		fmt.Fprintf(stdout, "Created provisioner key %s (mode 0600)\n", srv.ProvisionerKeyFile())
	}
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx) }()
	readyCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan error, 1)
	go func() { ready <- srv.WaitReady(readyCtx) }()
	select {
	case err := <-runErr:
		cancel()
		<-ready
		return err
	case err := <-ready:
		if err == nil {
			fmt.Fprintf(stdout, "Online CA at %s (provisioner %q, key %s, root %s); stop with Ctrl-C\n",
				srv.URL(), *prov, srv.ProvisionerKeyFile(), filepath.Join(*dir, pki.RootCertFile))
		}
	}
	return <-runErr
}
