// Command fapid-ca runs fapid's online certificate authority (smallstep's CA
// server with a JWK provisioner, package pki/online) beside the fapid daemon.
// Keeping it a separate process keeps the intermediate CA key out of the
// internet-facing daemon and smallstep's CA packages out of its memory.
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
		// Ctrl-C or SIGTERM ends the process without waiting.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// errUsage marks an error caused by how the command was called.
var errUsage = errors.New("usage")

// errHelp is returned after help was printed on request.
var errHelp = errors.New("help requested")

// usageError returns an error that exits with status 2.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "fapid-ca: %v\nRun 'fapid-ca --help' for usage.\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "fapid-ca: error: %v\n", err)
		return 1
	}
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
