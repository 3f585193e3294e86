package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	MaybeChild() // the harness re-executes this test binary as its servers
	os.Exit(m.Run())
}

// TestTinyRun runs the whole harness with a few hundred requests per
// target and checks its structure and the invariants that do not depend on
// timing. It never looks at a rate, a latency or a CPU time.
func TestTinyRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := Tiny()
	o.Progress = logWriter{t}
	start := time.Now()
	rep, err := Run(ctx, o)
	t.Logf("tiny run took %v", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rep.CookieSource, "agent") {
		t.Errorf("cookies not from an agent login: %s", rep.CookieSource)
	}
	for _, c := range rep.Checks {
		if !c.OK {
			t.Errorf("check failed: %s (%s)", c.Name, c.Detail)
		}
	}
	want := []string{"direct", "bare", "bare-bearer", "bare-h3", "a cookie", "b bearer", "c mtls", "d h3", "e uncached"}
	if len(rep.Rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rep.Rows), len(want))
	}
	for i, row := range rep.Rows {
		checkRow(t, row, want[i], o)
	}
	if len(rep.Singleflight) != o.SingleflightTrials {
		t.Fatalf("%d singleflight trials, want %d", len(rep.Singleflight), o.SingleflightTrials)
	}
	for _, s := range rep.Singleflight {
		if s.Calls != 1 || s.OK != s.Requests {
			t.Errorf("%d concurrent requests with one new token: %d introspections, %d answered 200; want 1 and all", s.Requests, s.Calls, s.OK)
		}
	}
	checkMemory(t, rep.Memory, o.MemTokens)
	if a := rep.Agent; a.Failed != 0 || a.Logins != o.Logins || a.AgentCPU <= 0 {
		t.Errorf("agent logins: %+v", a)
	}
	var out strings.Builder
	rep.WriteText(&out)
	for _, s := range append(want, "heap per cached token", "introspections for N concurrent requests") {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, out.String())
		}
	}
}

func checkRow(t *testing.T, row Row, name string, o Options) {
	t.Helper()
	if row.Name != name {
		t.Errorf("row %q, want %q", row.Name, name)
	}
	if row.Runs != o.Rounds || row.Requests != int64(o.Rounds)*o.Requests {
		t.Errorf("%s: %d runs, %d requests; want %d and %d", name, row.Runs, row.Requests, o.Rounds, int64(o.Rounds)*o.Requests)
	}
	if row.Errors != 0 {
		t.Errorf("%s: %d errors, first: %s", name, row.Errors, row.FirstErr)
	}
	switch {
	case row.Uncached && row.Intro != row.Requests:
		// Every request carries a new token: exactly one call each.
		t.Errorf("%s: %d introspections for %d new tokens", name, row.Intro, row.Requests)
	case !row.Uncached && row.Intro > int64(row.Runs):
		// Cached: at most a refill when an entry's minute is up.
		t.Errorf("%s: %d introspections on a cached token", name, row.Intro)
	}
	if (name == "direct" && row.VsDirect != 1) || row.VsDirect <= 0 || row.VsBare <= 0 || (row.Proxy && (row.VsBase <= 0 || row.CPUVsBase <= 0)) {
		t.Errorf("%s: ratios ×direct %v ×bare %v ×%s %v, CPU %v", name, row.VsDirect, row.VsBare, row.Base, row.VsBase, row.CPUVsBase)
	}
}

func checkMemory(t *testing.T, m MemoryResult, n int) {
	t.Helper()
	if m.Err != "" {
		t.Fatalf("memory: %s", m.Err)
	}
	retried := 0
	for _, c := range m.Retried {
		retried += c
	}
	// One introspection per token, plus one per retry of a refusal.
	if m.Tokens != n || m.Calls < int64(n) || m.Calls > int64(n+retried) || m.Recalls != 0 {
		t.Errorf("memory: %d tokens, %d introspections to fill (%d retried), %d to ask again; want %d, %d, 0",
			m.Tokens, m.Calls, retried, m.Recalls, n, n)
	}
	if m.PerToken <= 0 || m.PerToken > 1536 {
		t.Errorf("memory per cached token %.0f B, budget 1536 B (DESIGN §7)", m.PerToken)
	}
}

// logWriter sends the harness's progress lines to the test log (-v).
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
