package rp

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is a module's outcome, as the suite reports it.
type Status string

const (
	Passed  Status = "PASSED"
	Failed  Status = "FAILED"
	Skipped Status = "SKIPPED"
)

// Result is one module in one variant of one plan.
type Result struct {
	Plan     Plan
	Variant  Variant
	Module   string
	Status   Status
	Reason   string
	Warnings []string
	Duration time.Duration
}

// Report holds every result of a Run, in plan, variant, module order.
type Report struct {
	Results []Result
	Elapsed time.Duration
}

// Counts are the outcomes of one plan.
type Counts struct {
	Plan                           Plan
	Variants                       int
	Total, Passed, Failed, Skipped int
}

// Counts returns the counts per plan, in the order the plans ran.
func (r *Report) Counts() []Counts {
	var out []Counts
	idx := map[string]int{}
	variants := map[string]map[Variant]bool{}
	for _, res := range r.Results {
		i, ok := idx[res.Plan.Name]
		if !ok {
			i = len(out)
			idx[res.Plan.Name] = i
			out = append(out, Counts{Plan: res.Plan})
			variants[res.Plan.Name] = map[Variant]bool{}
		}
		c := &out[i]
		variants[res.Plan.Name][res.Variant] = true
		c.Variants = len(variants[res.Plan.Name])
		c.Total++
		switch res.Status {
		case Passed:
			c.Passed++
		case Failed:
			c.Failed++
		case Skipped:
			c.Skipped++
		}
	}
	return out
}

// Failed returns the failed results.
func (r *Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Status == Failed {
			out = append(out, res)
		}
	}
	return out
}

// WriteTable prints the results table (plan, variant, module, status,
// reason), then the counts per plan.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PLAN\tVARIANT\tMODULE\tRESULT\tREASON")
	for _, res := range r.Results {
		reason := res.Reason
		if len(res.Warnings) > 0 {
			reason += " [warning: " + strings.Join(res.Warnings, "; ") + "]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", res.Plan.Short, res.Variant, res.Module, res.Status, oneLine(reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return r.WriteCounts(w)
}

// WriteCounts prints one line per plan.
func (r *Report) WriteCounts(w io.Writer) error {
	for _, c := range r.Counts() {
		if _, err := fmt.Fprintf(w, "%s: %d modules in %d variants: %d passed, %d failed, %d skipped\n",
			c.Plan.Name, c.Total, c.Variants, c.Passed, c.Failed, c.Skipped); err != nil {
			return err
		}
	}
	return nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return s
}
