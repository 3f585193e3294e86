package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/cillers/fapid/pki"
)

const pkiUsage = `Usage:
  fapid pki <subcommand> [flags]

Subcommands:
  init    create a root and an intermediate CA (EC P-256) in a directory
  issue   issue a server and/or client certificate from the CA in a directory

Run 'fapid pki <subcommand> --help' for its flags.

The online CA (smallstep's CA server with a JWK provisioner) is a separate
command that runs beside fapid: 'fapid-ca serve --dir DIR --listen HOST:PORT'.
Point certificates.NAME.embedded.ca_url at it.
`

// pkiCommand implements `fapid pki …`; args are those after "pki".
func pkiCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, pkiUsage)
		return usageError("pki needs a subcommand: init or issue")
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, pkiUsage)
		return errHelp
	case "init":
		return pkiInit(args[1:], stdout)
	case "issue":
		return pkiIssue(ctx, args[1:], stdout)
	case "serve":
		return usageError("pki serve: the online CA is the separate command 'fapid-ca serve'")
	}
	return usageError("pki: unknown subcommand %q (want init or issue)", args[0])
}

func pkiInit(args []string, stdout io.Writer) error {
	fs := newFlagSet("pki init", "pki init --dir DIR [--name NAME] [--root-lifetime D] [--intermediate-lifetime D]", stdout)
	dir := fs.String("dir", "", "directory for the CA files (created 0700 if missing; must not hold CA files)")
	name := fs.String("name", pki.DefaultName, `prefix of the subject names ("<name> Root", "<name> Intermediate")`)
	rootLife := fs.Duration("root-lifetime", pki.DefaultRootLifetime, "validity of the root certificate")
	interLife := fs.Duration("intermediate-lifetime", pki.DefaultIntermediateLifetime, "validity of the intermediate (capped by the root)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageError("pki init: unexpected argument %q", fs.Arg(0))
	case *dir == "":
		return usageError("pki init: --dir is required")
	case *name == "":
		return usageError("pki init: --name must not be empty")
	case *rootLife <= 0 || *interLife <= 0:
		return usageError("pki init: lifetimes must be positive")
	case *interLife > *rootLife:
		return usageError("pki init: --intermediate-lifetime exceeds --root-lifetime")
	}
	ca, err := pki.Init(*dir, pki.InitOptions{Name: *name, RootLifetime: *rootLife, IntermediateLifetime: *interLife})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(ca.Root().Raw)
	d := ca.Dir()
	fmt.Fprintf(stdout, "Created CA %q in %s\n", *name, d)
	fmt.Fprintf(stdout, "  root certificate          %s (valid until %s)\n", ca.RootFile(), ca.Root().NotAfter.Format(time.DateOnly))
	fmt.Fprintf(stdout, "  root SHA-256 fingerprint  %s\n", hex.EncodeToString(sum[:]))
	fmt.Fprintf(stdout, "  intermediate certificate  %s (valid until %s)\n",
		filepath.Join(d, pki.IntermediateCertFile), ca.Intermediate().NotAfter.Format(time.DateOnly))
	fmt.Fprintf(stdout, "  private keys (mode 0600)  %s, %s\n", filepath.Join(d, pki.RootKeyFile), filepath.Join(d, pki.IntermediateKeyFile))
	fmt.Fprintf(stdout, "Keep %s offline: issuing needs only the intermediate.\n", pki.RootKeyFile)
	return nil
}

func pkiIssue(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("pki issue", "pki issue --dir DIR --cn NAME --san X [--san Y…] (--server|--client) [--lifetime D] --out PREFIX", stdout)
	dir := fs.String("dir", "", "CA directory (see 'fapid pki init')")
	cn := fs.String("cn", "", "subject common name")
	sans := fs.StringArray("san", nil, "subject alternative name: DNS name, IP address, URI (spiffe://…) or e-mail; repeatable")
	server := fs.Bool("server", false, "allow TLS server authentication (EKU serverAuth)")
	client := fs.Bool("client", false, "allow TLS client authentication (EKU clientAuth, RFC 8705 mTLS)")
	lifetime := fs.Duration("lifetime", 2160*time.Hour, "validity (capped by the intermediate's)")
	out := fs.String("out", "", "write PREFIX.crt (leaf + intermediate) and PREFIX.key (mode 0600); existing files are not overwritten")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageError("pki issue: unexpected argument %q", fs.Arg(0))
	case *dir == "":
		return usageError("pki issue: --dir is required")
	case *cn == "":
		return usageError("pki issue: --cn is required")
	case len(*sans) == 0:
		return usageError("pki issue: at least one --san is required")
	case !*server && !*client:
		return usageError("pki issue: choose --server, --client or both")
	case *lifetime <= 0:
		return usageError("pki issue: --lifetime must be positive")
	case *out == "":
		return usageError("pki issue: --out is required")
	}
	ca, err := pki.Open(*dir)
	if err != nil {
		return err
	}
	iss, err := ca.Issue(ctx, pki.IssueRequest{CommonName: *cn, SANs: *sans, Server: *server, Client: *client, Lifetime: *lifetime})
	if errors.Is(err, pki.ErrInvalidRequest) {
		return usageError("%v", err)
	}
	if err != nil {
		return err
	}
	crt, key := *out+".crt", *out+".key"
	if err := pki.WriteIssued(iss, crt, key); err != nil {
		return err
	}
	var usage []string
	if *server {
		usage = append(usage, "serverAuth")
	}
	if *client {
		usage = append(usage, "clientAuth")
	}
	leaf := iss.Leaf()
	fmt.Fprintf(stdout, "Issued %q (%s), valid until %s\n", *cn, strings.Join(usage, ", "), leaf.NotAfter.Format(time.RFC3339))
	if leaf.NotAfter.Equal(ca.Intermediate().NotAfter) {
		fmt.Fprintln(stdout, "  (lifetime capped by the intermediate's expiry)")
	}
	fmt.Fprintf(stdout, "  certificate  %s (leaf + intermediate)\n", crt)
	fmt.Fprintf(stdout, "  private key  %s (mode 0600)\n", key)
	return nil
}
