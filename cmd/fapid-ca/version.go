package main

import (
	"fmt"
	"io"

	"github.com/cillers/fapid/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func versionString() string { return cli.Version(version) }

func versionCommand(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return usageError("version takes no arguments")
	}
	_, err := fmt.Fprintf(stdout, "fapid-ca %s\n", versionString())
	return err
}
