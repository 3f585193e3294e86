package rp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/conformance/rp"
)

// TestPlans runs every module of both plans in every variant against
// fapid's OAuth Agent: every module must pass or be skipped for a stated
// reason that the suite would also skip or that the agent cannot take part
// in.
func TestPlans(t *testing.T) {
	start := time.Now()
	rep, err := rp.Run(t.Context(), rp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	rep.WriteTable(&table)
	for _, res := range rep.Results {
		t.Run(res.Plan.Short+"/"+res.Variant.String()+"/"+res.Module, func(t *testing.T) {
			switch res.Status {
			case rp.Failed:
				t.Errorf("FAILED: %s", res.Reason)
			case rp.Skipped:
				t.Skip(res.Reason)
			}
		})
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("results:\n%s", table.String())
	}
	var counts strings.Builder
	rep.WriteCounts(&counts)
	t.Logf("%d module runs in %s:\n%s", len(rep.Results), time.Since(start).Round(time.Millisecond), counts.String())
}
