//go:build unix

package interop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func platformOK() error { return nil }

// ownGroup starts cmd in a new process group whose id is its pid.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends sig to every process in the group pgid. A group that is already gone is not
// an error.
func signalGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 0 {
		return fmt.Errorf("interop: bad process group %d", pgid)
	}
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("interop: signal process group %d: %w", pgid, err)
	}
	return nil
}

// GroupAlive reports whether any process of the process group pgid still exists. Tests use it to
// prove that Stop leaves nothing behind.
func GroupAlive(pgid int) bool {
	if pgid <= 0 {
		return false
	}
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// lockFile takes an exclusive flock on path (created if needed) and returns its release. It waits
// for another holder, or until ctx ends.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("interop: lock: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("interop: lock %s: %w", path, err)
		}
		return func() { f.Close() }, nil // closing the descriptor releases the lock
	case <-ctx.Done():
		go func() { <-done; f.Close() }()
		return nil, fmt.Errorf("interop: waiting for %s: %w", path, context.Cause(ctx))
	}
}
