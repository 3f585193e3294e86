// Package cli is the command-line plumbing shared by fapid and fapid-ca:
// main = signal.NotifyContext → run(ctx) error, exit statuses (0 success,
// 1 error, 2 usage error), and pflag sets that report errors instead of
// exiting. Only commands import it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/pflag"
)

// ErrUsage marks an error caused by how the command was called (status 2).
var ErrUsage = errors.New("usage")

// ErrHelp is returned after help was printed on request (status 0).
var ErrHelp = errors.New("help requested")

// UsageError returns an error that exits with status 2.
func UsageError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUsage}, args...)...)
}

// ExitCode reports err on stderr, prefixed with prog, and returns the
// process exit status.
func ExitCode(prog string, err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", prog, err, prog)
		return 2
	default:
		fmt.Fprintf(stderr, "%s: error: %v\n", prog, err)
		return 1
	}
}

// Main runs run with a context cancelled on SIGINT or SIGTERM and exits
// with its status. After the first signal the default handling returns, so
// a second Ctrl-C or SIGTERM ends the process without waiting out a grace
// period.
func Main(prog string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(ExitCode(prog, err, os.Stderr))
}

// NewFlagSet returns a FlagSet for "prog name" that reports errors instead
// of exiting; --help prints "Usage: prog usage" and the flags to stdout.
func NewFlagSet(prog, name, usage string, stdout io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: %s %s\n\nFlags:\n%s", prog, usage, fs.FlagUsages())
	}
	return fs
}

// ParseFlags parses args: ErrHelp after --help (pflag has printed the
// usage), a usage error for anything else that is wrong.
func ParseFlags(fs *pflag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		return ErrHelp
	}
	if err != nil {
		return UsageError("%s: %v", fs.Name(), err)
	}
	return nil
}

// Version is the build's version: linkerVersion when set at build time
// (-ldflags "-X main.version=v1.2.3"), else the module version from the
// build info, else "devel".
func Version(linkerVersion string) string {
	if linkerVersion != "" {
		return linkerVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
