package report_test

import (
	"testing"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// TestAllowedAgreesWithFleet: a merged report weighs a wave's failures by
// the rule the runner used, so the barrier between waves agrees with it.
func TestAllowedAgreesWithFleet(t *testing.T) {
	for _, s := range []string{"0", "1", "7", "0%", "2%", "12.5%", "50%", "100%"} {
		b, err := fleet.ParseFailureBudget(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 1, 3, 40, 199, 1000} {
			got, limited := report.AllowedFor(b.String(), n)
			if !limited || got != b.Allowed(n) {
				t.Errorf("%s of %d: %d (%v), fleet says %d", s, n, got, limited, b.Allowed(n))
			}
		}
	}
	if _, limited := report.AllowedFor(fleet.FailureBudget{}.String(), 10); limited {
		t.Error("an unlimited budget reads as limited")
	}
}
