package main

import (
	"context"
	"fmt"
	"io"

	"github.com/cillers/fapid/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func versionString() string { return cli.Version(version) }

func versionCommand(_ context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		return usageError("version takes no arguments")
	}
	_, err := fmt.Fprintf(stdout, "fapid %s\n", versionString())
	return err
}
