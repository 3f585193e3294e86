package main

import (
	"context"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"

	"github.com/cillers/fapid/config"
)

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "run -c FILE", stdout)
	file := fs.StringP("config", "c", "", "configuration file (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file == "" || fs.NArg() > 0 {
		return usageError("run needs -c FILE and no other arguments")
	}
	cfg, err := config.Load(*file)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	// Libraries we embed (smallstep, net/http) write to the standard logger:
	// route it into the structured log.
	stdlog.SetFlags(0)
	stdlog.SetOutput(slog.NewLogLogger(log.Handler(), slog.LevelDebug).Writer())
	log.Info("starting", "version", versionString(), "config", *file)
	if err := runDaemon(ctx, cfg, log); err != nil {
		log.Error("stopped", "err", err)
		return err
	}
	log.Info("stopped")
	return nil
}

func newLogger(c config.Log, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}
