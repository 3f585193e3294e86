package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/cillers/fapid/config"
)

// newAgent builds the OAuth Agent mode.
func newAgent(ctx context.Context, cfg *config.File, certs *certificates, log *slog.Logger) (http.Handler, error) {
	return nil, errors.New("agent: not wired yet")
}
