//go:build !unix

package interop

import (
	"context"
	"errors"
	"os/exec"
	"syscall"
)

var errUnsupported = errors.New("interop: the reference server launcher needs a unix system")

func platformOK() error { return errUnsupported }

func ownGroup(*exec.Cmd) {}

func signalGroup(int, syscall.Signal) error { return errUnsupported }

// GroupAlive reports whether any process of the process group pgid still exists (unix only).
func GroupAlive(int) bool { return false }

func lockFile(context.Context, string) (func(), error) { return nil, errUnsupported }
