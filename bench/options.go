package bench

import (
	"io"
	"time"
)

// Options control one run. Full and Tiny are the two presets.
type Options struct {
	// Concurrency is the number of closed-loop workers (connections).
	Concurrency int
	// Duration of one measured run; Requests, when positive, ends a run
	// after that many requests instead.
	Duration time.Duration
	Requests int64
	// Warmup runs once per target before the rounds (connections, caches,
	// discovery); WarmupRequests replaces it when positive.
	Warmup         time.Duration
	WarmupRequests int64
	// Rounds of all targets, interleaved (forward, then reverse order):
	// every figure in the table is the median over the rounds.
	Rounds int
	// Pause between two runs, to let the machine settle.
	Pause time.Duration

	// ConcurrentNew requests carry one new token at once, SingleflightTrials
	// times: each trial must cause exactly one introspection.
	ConcurrentNew      int
	SingleflightTrials int
	// MemTokens cached tokens for the memory-per-token figure.
	MemTokens int
	// Logins through the agent for the CPU-per-login figure, LoginConcurrency
	// at a time.
	Logins           int
	LoginConcurrency int

	// IdleRSS builds cmd/fapid (or uses FapidBinary) and measures the idle
	// RSS of `fapid run -c certs.example/fapid.yaml` after IdleSettle.
	IdleRSS     bool
	FapidBinary string
	IdleSettle  time.Duration
	// RepoRoot is the module root; empty means found from the working
	// directory.
	RepoRoot string

	// Only, when set, limits the targets to these names ("bare", "a cookie"
	// or just "a"); for investigations, not for the documented table.
	Only []string

	// ProfileDir, when set, receives one CPU profile (pprof) per proxy
	// target from an extra, unmeasured run after the rounds.
	ProfileDir string
	// Progress receives one line per step; nil discards.
	Progress io.Writer
}

// Full is the documented run: about 4 minutes on 2 cores. Many short
// rounds rather than a few long ones: on a shared machine other work comes
// in bursts of seconds, and a ratio of two adjacent 1.5 s runs is far less
// exposed to a burst than one of two runs a minute apart.
func Full() Options {
	return Options{
		Concurrency: 32, Duration: 1500 * time.Millisecond, Warmup: time.Second, Rounds: 10,
		Pause: 200 * time.Millisecond, ConcurrentNew: 100, SingleflightTrials: 3,
		MemTokens: 100_000, Logins: 300, LoginConcurrency: 4,
		IdleRSS: true, IdleSettle: 3 * time.Second,
	}
}

// Tiny is the test mode: a few hundred requests per target, no timing
// worth reading, every structure and invariant exercised.
func Tiny() Options {
	return Options{
		Concurrency: 8, Requests: 200, WarmupRequests: 40, Rounds: 2,
		ConcurrentNew: 32, SingleflightTrials: 2, MemTokens: 3000, Logins: 8, LoginConcurrency: 2,
	}
}

func (o Options) withDefaults() Options {
	f := Full()
	if o.Concurrency <= 0 {
		o.Concurrency = f.Concurrency
	}
	if o.Duration <= 0 && o.Requests <= 0 {
		o.Duration = f.Duration
	}
	if o.Rounds <= 0 {
		o.Rounds = 1
	}
	if o.ConcurrentNew <= 0 {
		o.ConcurrentNew = f.ConcurrentNew
	}
	if o.SingleflightTrials <= 0 {
		o.SingleflightTrials = 1
	}
	if o.LoginConcurrency <= 0 {
		o.LoginConcurrency = 1
	}
	if o.IdleSettle <= 0 {
		o.IdleSettle = f.IdleSettle
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}
