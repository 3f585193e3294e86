// Command fapid is a FAPI 2.0 security appliance: an OAuth Agent
// (token handler), a phantom-token gateway and an embedded PKI in one daemon.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default handling: a second
		// Ctrl-C or SIGTERM ends the process without waiting out the grace.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// errUsage marks an error caused by how the command was called.
var errUsage = errors.New("usage")

// usageError returns an error that exits with status 2.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "fapid: %v\nRun 'fapid --help' for usage.\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "fapid: error: %v\n", err)
		return 1
	}
}

// errHelp is returned after help was printed on request.
var errHelp = errors.New("help requested")

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
