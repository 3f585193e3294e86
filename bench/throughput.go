package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// sample is one measured run of one target.
type sample struct {
	load      loadResult
	proxyCPU  time.Duration // the proxy process (bare or gateway)
	backCPU   time.Duration // upstream + authorization server stand-in
	clientCPU time.Duration // this process: the load generator
	intro     int64         // introspections during the run
	alloc     memCounters   // the proxy process's allocations during the run
	// other is the share of the machine's CPU (all cores) that processes
	// outside this run used meanwhile, steal the share the hypervisor took:
	// the noise indicators.
	other, steal float64
}

// throughput warms every target up, then runs Rounds rounds over all
// targets, forward on even rounds and backward on odd ones, so that drift
// on the machine spreads over all of them; each row is the median.
func (e *env) throughput(ctx context.Context) ([]Row, error) {
	o := e.o
	samples := make(map[*target][]sample)
	for _, t := range e.targets {
		e.say("warm-up %s", t.name)
		r := closedLoop(ctx, t, t.clients(o.Concurrency, e.pool), o.Warmup, o.WarmupRequests)
		if r.requests == 0 || r.errors == r.requests {
			return nil, fmt.Errorf("bench: %s: no successful request in warm-up: %s", t.name, r.firstErr)
		}
	}
	for round := range o.Rounds {
		order := e.runOrder()
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, t := range order {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			time.Sleep(o.Pause)
			s, err := e.measure(ctx, t)
			if err != nil {
				return nil, err
			}
			samples[t] = append(samples[t], s)
			e.say("round %d %-10s %8.0f req/s  p50 %-8v p99 %-8v proxy %v/req  other load %2.0f%%  errors %d",
				round+1, t.name, s.rps(), s.load.p50.Round(time.Microsecond), s.load.p99.Round(time.Microsecond),
				perReq(s.proxyCPU, s.load.requests).Round(time.Microsecond/10), 100*s.other, s.load.errors)
		}
	}
	rows := make([]Row, 0, len(e.targets))
	for _, t := range e.targets {
		rows = append(rows, newRow(t, samples[t]))
	}
	return rows, nil
}

// runOrder puts every gateway target right after its baseline, so that
// the runs a ratio compares are adjacent in time (reversed every other
// round, they stay adjacent).
func (e *env) runOrder() []*target {
	names := []string{"direct", "bare", "a cookie", "bare-bearer", "b bearer", "c mtls", "e uncached", "bare-h3", "d h3"}
	var out []*target
	for _, n := range names {
		if i := slices.IndexFunc(e.targets, func(t *target) bool { return t.name == n }); i >= 0 {
			out = append(out, e.targets[i])
		}
	}
	return out
}

// snapshot is every counter read around a run.
type snapshot struct {
	proxy, back, client, busy, steal time.Duration
	intro                            int64
	mem                              memCounters
}

// measure runs one target once, with CPU and introspection counts around.
func (e *env) measure(ctx context.Context, t *target) (sample, error) {
	a, err := e.snapshot(t)
	if err != nil {
		return sample{}, err
	}
	r := closedLoop(ctx, t, t.clients(e.o.Concurrency, e.pool), e.o.Duration, e.o.Requests)
	b, err := e.snapshot(t)
	if err != nil {
		return sample{}, err
	}
	s := sample{load: r, proxyCPU: b.proxy - a.proxy, backCPU: b.back - a.back, clientCPU: b.client - a.client,
		intro: b.intro - a.intro, alloc: memCounters{Bytes: b.mem.Bytes - a.mem.Bytes,
			Objects: b.mem.Objects - a.mem.Objects, GCs: b.mem.GCs - a.mem.GCs}}
	if wall := float64(r.elapsed) * float64(runtime.NumCPU()); wall > 0 && b.busy > 0 {
		ours := s.proxyCPU + s.backCPU + s.clientCPU
		s.other = max(0, float64(b.busy-a.busy-ours)/wall)
		s.steal = float64(b.steal-a.steal) / wall
	}
	return s, nil
}

// snapshot reads the CPU time of the proxy, the backends, this process and
// the whole machine, and the stand-in's introspection count. The machine
// counters are best effort (Linux /proc/stat).
func (e *env) snapshot(t *target) (s snapshot, err error) {
	if t.proxy != nil {
		if s.mem, err = t.proxy.mem(); err != nil {
			return s, err
		}
		if s.proxy, err = t.proxy.cpu(); err != nil {
			return s, err
		}
	}
	if s.back, err = e.back.cpu(); err != nil {
		return s, err
	}
	st, err := e.back.stats()
	if err != nil {
		return s, err
	}
	s.intro = st["introspections"]
	if s.client, err = processCPU(); err != nil {
		return s, err
	}
	s.busy, s.steal, _ = machineCPU()
	return s, nil
}

func (s sample) rps() float64 {
	if s.load.elapsed <= 0 {
		return 0
	}
	return float64(s.load.requests) / s.load.elapsed.Seconds()
}

func perReq(d time.Duration, n int64) time.Duration {
	if n <= 0 {
		return 0
	}
	return d / time.Duration(n)
}

// profiles runs every proxy target once more, unmeasured, while taking a
// CPU profile of its proxy process.
func (e *env) profiles(ctx context.Context) []string {
	var out []string
	if err := os.MkdirAll(e.o.ProfileDir, 0o755); err != nil {
		return []string{"error: " + err.Error()}
	}
	for _, t := range e.targets {
		if t.proxy == nil {
			continue
		}
		secs := max(1, int(e.o.Duration.Seconds())-1)
		path := filepath.Join(e.o.ProfileDir, strings.ReplaceAll(t.name, " ", "-")+".pprof")
		e.say("profiling %s into %s", t.name, path)
		done := make(chan error, 1)
		go func() { done <- saveProfile(t.proxy.ready.Control, secs, path) }()
		r := closedLoop(ctx, t, t.clients(e.o.Concurrency, e.pool), e.o.Duration, 0)
		if err := <-done; err != nil {
			out = append(out, t.name+": "+err.Error())
			continue
		}
		out = append(out, fmt.Sprintf("%s (%d requests in %v; %.0f req/s)", path, r.requests, r.elapsed.Round(time.Millisecond), float64(r.requests)/r.elapsed.Seconds()))
	}
	return out
}

func saveProfile(control string, secs int, path string) error {
	res, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", control, secs))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: %s", res.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
