// Command fapid is a FAPI 2.0 security appliance: an OAuth Agent
// (token handler), a phantom-token gateway and an embedded PKI in one daemon.
package main

import (
	"context"
	"fmt"
	"io"

	"github.com/cillers/fapid/internal/cli"
)

func main() { cli.Main("fapid", run) }

// The shared command-line plumbing (internal/cli), under this command's names.
var (
	errUsage   = cli.ErrUsage
	errHelp    = cli.ErrHelp
	usageError = cli.UsageError
)

func exitCode(err error, stderr io.Writer) int { return cli.ExitCode("fapid", err, stderr) }

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "start the daemon with the modes the configuration enables", runCommand},
		{"check", "validate a configuration and list the FAPI 2.0 requirements it meets", checkCommand},
		{"pki", "manage the embedded PKI (init, issue; the online CA is fapid-ca)", pkiCommand},
		{"demo", "run the whole architecture locally (PKI, authorization server, agent, gateway, API, SPA)", demoCommand},
		{"conformance", "run the FAPI 2.0 client conformance harness (--oidf: print the OpenID suite plan)", conformanceCommand},
		{"version", "print the version", versionCommand},
	}
}

const usageHead = `fapid — a FAPI 2.0 security appliance: OAuth Agent (token handler),
phantom-token gateway and embedded PKI in one daemon.

Usage:
  fapid <command> [flags]

Commands:
`

func printUsage(w io.Writer) {
	fmt.Fprint(w, usageHead)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'fapid <command> --help' for a command's flags.\n")
}

// run dispatches to a subcommand. It is main without the process: tests call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr)
		return usageError("no command given")
	}
	switch args[0] {
	case "-h", "--help", "help":
		printUsage(stdout)
		return errHelp
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	return usageError("unknown command %q", args[0])
}
