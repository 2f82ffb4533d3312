package runner

import "testing"

// TestDriftBatchSize: one database reads the whole budget a query;
// databases read at once share it, each never below the minimum.
func TestDriftBatchSize(t *testing.T) {
	for _, tc := range []struct{ databases, want int }{
		{0, driftBatchBudget}, {1, driftBatchBudget}, {2, driftBatchBudget / 2},
		{4, driftBatchBudget / 4}, {8, driftBatchMin}, {100, driftBatchMin},
	} {
		if got := driftBatchSize(tc.databases); got != tc.want {
			t.Errorf("driftBatchSize(%d) = %d, want %d", tc.databases, got, tc.want)
		}
	}
}
