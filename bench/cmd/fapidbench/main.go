// Command fapidbench measures what fapid's gateway and agent cost, side by
// side with a bare reverse proxy and the upstream itself, on loopback.
//
//	go run ./bench/cmd/fapidbench            # the full run, about 4 minutes
//	go run ./bench/cmd/fapidbench --tiny     # seconds; numbers not worth reading
//
// See package github.com/cillers/fapid/bench for the method.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/spf13/pflag"

	"github.com/cillers/fapid/bench"
)

func main() {
	bench.MaybeChild() // when re-executed as one of the benchmark's servers
	os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fapidbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := bench.Full()
	fs := pflag.NewFlagSet("fapidbench", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	tiny := fs.Bool("tiny", false, "the test mode: a few hundred requests per target")
	quiet := fs.BoolP("quiet", "q", false, "no progress lines on stderr")
	fs.IntVarP(&o.Concurrency, "concurrency", "c", o.Concurrency, "closed-loop workers (connections)")
	fs.DurationVarP(&o.Duration, "duration", "d", o.Duration, "length of one measured run")
	fs.IntVarP(&o.Rounds, "rounds", "r", o.Rounds, "interleaved rounds (the table shows medians)")
	fs.IntVar(&o.MemTokens, "mem-tokens", o.MemTokens, "cached tokens for the memory figure")
	fs.IntVar(&o.Logins, "logins", o.Logins, "agent logins for the CPU-per-login figure")
	fs.StringVar(&o.FapidBinary, "fapid-binary", "", "use this fapid binary for the idle-RSS figure instead of building ./cmd/fapid")
	noRSS := fs.Bool("no-idle-rss", false, "skip the idle-RSS figure")
	fs.StringVar(&o.ProfileDir, "profile", "", "also write a CPU profile of every proxy target into this directory (one extra run of -d each; use -d 10s)")
	fs.StringSliceVar(&o.Only, "only", nil, "measure only these targets (comma-separated: direct, bare, bare-h3, a … e); for investigations")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *tiny {
		t := bench.Tiny()
		t.FapidBinary, t.ProfileDir = o.FapidBinary, o.ProfileDir
		o = t
	}
	o.IdleRSS = !*noRSS && !*tiny
	if !*quiet {
		o.Progress = stderr
	}
	rep, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	rep.WriteText(stdout)
	return nil
}
