//go:build !linux

package bench

import (
	"errors"
	"syscall"
	"time"
)

var errLinuxOnly = errors.New("bench: the harness measures CPU and RSS on Linux only")

func processCPU() (time.Duration, error) { return 0, errLinuxOnly }

func childAttr() *syscall.SysProcAttr { return nil }

func statusKB(int, string) (int64, error) { return 0, errLinuxOnly }

func machineCPU() (time.Duration, time.Duration, error) { return 0, 0, errLinuxOnly }
