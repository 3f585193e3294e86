package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		err    error
		code   int
		stderr string
	}{
		{nil, 0, ""},
		{ErrHelp, 0, ""},
		{UsageError("no command given"), 2, "prog: usage: no command given\nRun 'prog --help' for usage.\n"},
		{fmt.Errorf("wrapped: %w", UsageError("x")), 2, "Run 'prog --help'"},
		{errors.New("boom"), 1, "prog: error: boom\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if got := ExitCode("prog", tt.err, &b); got != tt.code || !strings.Contains(b.String(), tt.stderr) {
			t.Errorf("ExitCode(%v) = %d, %q; want %d, %q", tt.err, got, b.String(), tt.code, tt.stderr)
		}
	}
}

func TestParseFlags(t *testing.T) {
	var out bytes.Buffer
	fs := NewFlagSet("prog", "sub", "sub -c FILE", &out)
	c := fs.StringP("config", "c", "", "file")
	if err := ParseFlags(fs, []string{"-c", "a.yaml"}); err != nil || *c != "a.yaml" {
		t.Fatalf("parse: %v %q", err, *c)
	}
	if err := ParseFlags(fs, []string{"--nope"}); !errors.Is(err, ErrUsage) {
		t.Fatalf("unknown flag: %v", err)
	}
	if err := ParseFlags(fs, []string{"--help"}); !errors.Is(err, ErrHelp) || !strings.HasPrefix(out.String(), "Usage: prog sub -c FILE") {
		t.Fatalf("help: %v %q", err, out.String())
	}
}
