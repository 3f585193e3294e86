package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"
)

// newFlagSet returns a FlagSet that reports errors instead of exiting.
func newFlagSet(name, usage string, stdout io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: fapid %s\n\nFlags:\n%s", usage, fs.FlagUsages())
	}
	return fs
}

// parseFlags parses args, printing usage for --help.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) { // pflag has already printed the usage
		return errHelp
	}
	if err != nil {
		return usageError("%s: %v", fs.Name(), err)
	}
	return nil
}
