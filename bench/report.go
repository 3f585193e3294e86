package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// Report is everything one run measured.
type Report struct {
	Options       Options
	GoVersion     string
	CPUs          int
	GOMAXPROCS    int
	CookieSource  string // how the browser's cookies were made
	PhantomJWTLen int

	Checks       []Check
	Singleflight []SingleflightTrial
	Rows         []Row
	Memory       MemoryResult
	Agent        AgentResult
	IdleRSS      RSSResult
	Profiles     []string
	Budgets      []Budget
}

// Row is one target: medians over the rounds.
type Row struct {
	Name, Desc string
	Runs       int
	Requests   int64 // all rounds
	Errors     int64
	FirstErr   string
	RPS        float64
	P50, P99   time.Duration
	ProxyCPU   time.Duration // per request, proxy process
	BackCPU    time.Duration // per request, upstream + stand-in process
	ClientCPU  time.Duration // per request, load generator
	Intro      int64         // introspections in all rounds
	AllocB     float64       // bytes allocated per request by the proxy process (median)
	Allocs     float64       // objects allocated per request by the proxy process (median)
	GCPer1k    float64       // proxy GC cycles per 1,000 requests (median)
	Other      float64       // median share of the machine used by other processes
	Steal      float64       // median share stolen by the hypervisor
	H3, Proxy  bool
	Uncached   bool

	// Base is the bare-proxy row with the same request over the same
	// protocol (bare for the browser request, bare-bearer, bare-h3).
	Base                     string
	VsDirect, VsBare, VsBase float64 // throughput ratios
	CPUVsBase                float64 // the baseline's proxy CPU/req ÷ this proxy CPU/req
	ServerVsBase             float64 // the same for proxy + upstream CPU/req

	rounds []roundFigures // per round, in round order (for paired ratios)
}

// roundFigures are one round's figures of a row.
type roundFigures struct {
	rps, proxy, server float64
}

// Budget is one DESIGN §7 budget and whether this run met it.
type Budget struct {
	Name, Want, Got string
	OK              bool
}

func newRow(t *target, ss []sample) Row {
	r := Row{Name: t.name, Desc: t.desc, Runs: len(ss), H3: t.h3, Proxy: t.proxy != nil, Uncached: t.uncached, Base: t.base}
	var rps, other, steal, ab, ao, gc []float64
	var p50, p99, px, bk, cl []time.Duration
	for _, s := range ss {
		n := s.load.requests
		r.Requests += n
		r.Errors += s.load.errors
		r.Intro += s.intro
		if r.FirstErr == "" {
			r.FirstErr = s.load.firstErr
		}
		rps = append(rps, s.rps())
		other, steal = append(other, s.other), append(steal, s.steal)
		if fn := float64(max(n, 1)); r.Proxy {
			ab, ao = append(ab, float64(s.alloc.Bytes)/fn), append(ao, float64(s.alloc.Objects)/fn)
			gc = append(gc, 1000*float64(s.alloc.GCs)/fn)
		}
		p50, p99 = append(p50, s.load.p50), append(p99, s.load.p99)
		px, bk, cl = append(px, perReq(s.proxyCPU, n)), append(bk, perReq(s.backCPU, n)), append(cl, perReq(s.clientCPU, n))
		r.rounds = append(r.rounds, roundFigures{rps: s.rps(), proxy: float64(perReq(s.proxyCPU, n)),
			server: float64(perReq(s.proxyCPU+s.backCPU, n))})
	}
	r.RPS = median(rps)
	r.Other, r.Steal = median(other), median(steal)
	r.AllocB, r.Allocs, r.GCPer1k = median(ab), median(ao), median(gc)
	r.P50, r.P99 = median(p50), median(p99)
	r.ProxyCPU, r.BackCPU, r.ClientCPU = median(px), median(bk), median(cl)
	return r
}

func median[T int64 | float64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Row returns the row called name, or nil.
func (r *Report) Row(name string) *Row {
	for i := range r.Rows {
		if r.Rows[i].Name == name {
			return &r.Rows[i]
		}
	}
	return nil
}

// paired is the median over the rounds of f(a's round, b's round): the
// two runs of a round are close in time, so drift on the machine cancels
// better than in a ratio of medians.
func paired(a, b *Row, f func(x, y roundFigures) float64) float64 {
	var v []float64
	for i := range min(len(a.rounds), len(b.rounds)) {
		if q := f(a.rounds[i], b.rounds[i]); q > 0 && !math.IsInf(q, 0) && !math.IsNaN(q) {
			v = append(v, q)
		}
	}
	return median(v)
}

// finish fills the ratios (medians of per-round ratios) and the budgets.
func (r *Report) finish() {
	direct, bare := r.Row("direct"), r.Row("bare")
	rps := func(x, y roundFigures) float64 { return x.rps / y.rps }
	for i := range r.Rows {
		row := &r.Rows[i]
		if direct != nil {
			row.VsDirect = paired(row, direct, rps)
		}
		if bare != nil {
			row.VsBare = paired(row, bare, rps)
		}
		if base := r.Row(row.Base); base != nil {
			row.VsBase = paired(row, base, rps)
			row.CPUVsBase = paired(row, base, func(x, y roundFigures) float64 { return y.proxy / x.proxy })
			row.ServerVsBase = paired(row, base, func(x, y roundFigures) float64 { return y.server / x.server })
		}
	}
	if a := r.Row("a cookie"); a != nil && bare != nil {
		r.Budgets = append(r.Budgets,
			Budget{"cookie + cache hit, req/s vs bare proxy", "≥ 0.90×", fmt.Sprintf("%.2f×", a.VsBare), a.VsBare >= 0.9},
			Budget{"cookie + cache hit, proxy process CPU/req vs bare proxy", "≥ 0.90× (bare ÷ ours)",
				fmt.Sprintf("%.2f× (medians %s bare, %s ours)", a.CPUVsBase, us(bare.ProxyCPU), us(a.ProxyCPU)), a.CPUVsBase >= 0.9},
			Budget{"cookie + cache hit, server CPU/req (proxy + upstream) vs bare proxy", "≥ 0.90× (bare ÷ ours)",
				fmt.Sprintf("%.2f× (medians %s bare, %s ours)", a.ServerVsBase, us(bare.ProxyCPU+bare.BackCPU), us(a.ProxyCPU+a.BackCPU)),
				a.ServerVsBase >= 0.9})
	}
	calls := int64(0)
	for _, t := range r.Singleflight {
		calls = max(calls, t.Calls)
	}
	if len(r.Singleflight) > 0 {
		r.Budgets = append(r.Budgets, Budget{"introspections for N concurrent requests, one new token", "1",
			fmt.Sprintf("%d (max over %d trials of N=%d)", calls, len(r.Singleflight), r.Singleflight[0].Requests), calls == 1})
	}
	if r.Memory.Err == "" {
		r.Budgets = append(r.Budgets, Budget{"heap per cached token", "≤ 1536 B",
			fmt.Sprintf("%.0f B", r.Memory.PerToken), r.Memory.PerToken <= 1536})
	}
	if r.IdleRSS.RSSKB > 0 {
		r.Budgets = append(r.Budgets, Budget{"idle RSS of fapid run (example config)", "≤ 25 MB",
			fmt.Sprintf("%.1f MB", float64(r.IdleRSS.RSSKB)/1024), r.IdleRSS.RSSKB <= 25*1024})
	}
}

// WriteText prints the report as Markdown.
func (r *Report) WriteText(w io.Writer) {
	o := r.Options
	run := fmt.Sprintf("%v per run", o.Duration)
	if o.Requests > 0 {
		run = fmt.Sprintf("%d requests per run", o.Requests)
	}
	fmt.Fprintf(w, "## fapidbench: %s, %d CPUs (GOMAXPROCS %d), concurrency %d, %s, medians of %d interleaved rounds\n\n",
		r.GoVersion, r.CPUs, r.GOMAXPROCS, o.Concurrency, run, o.Rounds)
	fmt.Fprintf(w, "Every server is its own process; CPU is getrusage of each process over each run. The load generator "+
		"(%d closed-loop workers, one keep-alive HTTP/1.1 or QUIC connection each) shares the same %d CPUs, so req/s "+
		"follows the total CPU per request (client + proxy + upstream); the proxy's CPU per request is the steadier figure.\n\n",
		o.Concurrency, r.CPUs)
	fmt.Fprintln(w, "| target | req/s | p50 | p99 | ×direct | ×bare | ×baseline | errors | other load (steal) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, row := range r.Rows {
		base := "—"
		if row.Base != "" && row.Base != row.Name {
			base = fmt.Sprintf("%.2f (%s)", row.VsBase, row.Base)
		}
		fmt.Fprintf(w, "| %s — %s | %.0f | %s | %s | %.3f | %.2f | %s | %d | %.0f%% (%.0f%%) |\n", row.Name, row.Desc, row.RPS,
			ms(row.P50), ms(row.P99), row.VsDirect, row.VsBare, base, row.Errors, 100*row.Other, 100*row.Steal)
	}
	fmt.Fprint(w, "\nPer request (medians):\n\n")
	fmt.Fprintln(w, "| target | proxy CPU | CPU ×baseline | proxy allocs | proxy GCs per 1k | upstream+AS CPU | load generator CPU | introspections |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, row := range r.Rows {
		px, eff, alloc, gcs := "—", "—", "—", "—"
		if row.Proxy {
			px, alloc, gcs = us(row.ProxyCPU), fmt.Sprintf("%.0f (%.1f KB)", row.Allocs, row.AllocB/1024), fmt.Sprintf("%.2f", row.GCPer1k)
		}
		if row.Proxy && row.Base != row.Name {
			eff = fmt.Sprintf("%.2f", row.CPUVsBase)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %.4f |\n", row.Name, px, eff, alloc, gcs,
			us(row.BackCPU), us(row.ClientCPU), float64(row.Intro)/float64(max(1, row.Requests)))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "×bare = req/s ÷ the bare proxy's with the browser request. ×baseline and CPU ×baseline compare with the bare proxy "+
		"receiving the same request over the same protocol (named): req/s ÷ its req/s, and its proxy CPU per request ÷ this one's; above 1 is cheaper than bare. "+
		"Every ratio is the median of the per-round ratios (the two runs of a round are adjacent in time).")
	fmt.Fprintln(w, "other load = share of the machine's CPU used by processes outside this run during its runs, and stolen by the hypervisor (medians): the noise on the figures.")
	fmt.Fprintf(w, "Browser cookies: %s. Phantom JWT: %d characters.\n\n", r.CookieSource, r.PhantomJWTLen)
	r.writeExtras(w)
}

func (r *Report) writeExtras(w io.Writer) {
	fmt.Fprintln(w, "### Invariants and memory")
	for _, t := range r.Singleflight {
		fmt.Fprintf(w, "- %d concurrent requests with one new token: %d introspection(s), %d answered 200\n", t.Requests, t.Calls, t.OK)
	}
	m := r.Memory
	if m.Err != "" {
		fmt.Fprintf(w, "- memory per cached token: error: %s\n", m.Err)
	} else {
		fmt.Fprintf(w, "- memory per cached token: %.0f B (heap %.1f → %.1f MB after GC for %d tokens; each keeps a %d-character JWT; %d introspections to fill, %d when 1,000 are asked again)\n",
			m.PerToken, mb(m.HeapBefore), mb(m.HeapAfter), m.Tokens, m.JWTLen, m.Calls, m.Recalls)
	}
	a := r.Agent
	if a.Err != "" && a.Logins-a.Failed <= 0 {
		fmt.Fprintf(w, "- agent CPU per login: error: %s\n", a.Err)
	} else {
		fmt.Fprintf(w, "- agent CPU per login (login/start + login/end, agent process only): %s; stand-in AS (excluded): %s; %d logins, %d failed\n",
			us(a.AgentCPU), us(a.ASCPU), a.Logins, a.Failed)
	}
	switch rs := r.IdleRSS; {
	case rs.Skipped != "":
		fmt.Fprintf(w, "- idle RSS of fapid run: skipped (%s)\n", rs.Skipped)
	case rs.Err != "":
		fmt.Fprintf(w, "- idle RSS of fapid run: error: %s\n", rs.Err)
	default:
		fmt.Fprintf(w, "- idle RSS of `fapid run -c %s`: %.1f MB = %.1f MB anonymous (heap, stacks) + %.1f MB file-backed (the binary's pages); VmHWM %.1f MB\n",
			rs.Config, kbMB(rs.RSSKB), kbMB(rs.AnonKB), kbMB(rs.FileKB), kbMB(rs.HWMKB))
	}
	for _, p := range r.Profiles {
		fmt.Fprintf(w, "- profile: %s\n", p)
	}
	fmt.Fprintln(w, "\n### Checks and budgets (DESIGN §7)")
	for _, c := range r.Checks {
		if !c.OK {
			fmt.Fprintf(w, "- FAILED check: %s (%s)\n", c.Name, c.Detail)
		}
	}
	fmt.Fprintf(w, "- %d of %d correctness checks passed\n", countOK(r.Checks), len(r.Checks))
	for _, b := range r.Budgets {
		verdict := "met"
		if !b.OK {
			verdict = "MISSED"
		}
		fmt.Fprintf(w, "- %s: %s (want %s) — %s\n", b.Name, b.Got, b.Want, verdict)
	}
}

func countOK(cs []Check) int {
	n := 0
	for _, c := range cs {
		if c.OK {
			n++
		}
	}
	return n
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
func mb(b uint64) float64       { return float64(b) / (1 << 20) }
func kbMB(kb int64) float64     { return float64(kb) / 1024 }
