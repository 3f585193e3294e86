// Command fapid-ca runs fapid's online certificate authority (smallstep's CA
// server with a JWK provisioner, package pki/online) beside the fapid daemon.
// Keeping it a separate process keeps the intermediate CA key out of the
// internet-facing daemon and smallstep's CA packages out of its memory.
package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/cillers/fapid/internal/cli"
)

func main() { cli.Main("fapid-ca", run) }

// The shared command-line plumbing (internal/cli), under this command's names.
var (
	errUsage   = cli.ErrUsage
	errHelp    = cli.ErrHelp
	usageError = cli.UsageError
	parseFlags = cli.ParseFlags
)

func exitCode(err error, stderr io.Writer) int { return cli.ExitCode("fapid-ca", err, stderr) }

// newFlagSet returns a FlagSet for "fapid-ca name" that reports errors
// instead of exiting.
func newFlagSet(name, usage string, stdout io.Writer) *pflag.FlagSet {
	return cli.NewFlagSet("fapid-ca", name, usage, stdout)
}

const usage = `fapid-ca — fapid's online certificate authority (smallstep CA server with a
JWK provisioner), run beside the fapid daemon.

Usage:
  fapid-ca <command> [flags]

Commands:
  serve     run the online CA for a CA directory made by 'fapid pki init' until stopped
  version   print the version

Run 'fapid-ca <command> --help' for a command's flags.
`

// run dispatches to a command. It is main without the process: tests call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError("no command given")
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return errHelp
	case "serve":
		return serve(ctx, args[1:], stdout)
	case "version":
		return versionCommand(args[1:], stdout)
	}
	return usageError("unknown command %q", args[0])
}
