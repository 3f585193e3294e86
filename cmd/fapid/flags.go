package main

import (
	"io"

	"github.com/spf13/pflag"

	"github.com/cillers/fapid/internal/cli"
)

// newFlagSet returns a FlagSet for "fapid name" that reports errors instead
// of exiting.
func newFlagSet(name, usage string, stdout io.Writer) *pflag.FlagSet {
	return cli.NewFlagSet("fapid", name, usage, stdout)
}

// parseFlags parses args, printing usage for --help.
var parseFlags = cli.ParseFlags
