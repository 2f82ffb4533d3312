package runner

import (
	"testing"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

func TestFailedStatus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		facts failedFacts
		want  report.Status
	}{
		{"undone: back where it started", failedFacts{}, report.StatusRolledBack},
		{"undone, run interrupted", failedFacts{interrupted: true}, report.StatusCancelled},
		{"transaction ended by the migration", failedFacts{txEnded: true}, report.StatusFailed},
		{"transaction ended, interrupted", failedFacts{txEnded: true, interrupted: true}, report.StatusFailed},
		{"NO TRANSACTION file stopped halfway", failedFacts{partial: true}, report.StatusFailed},
		{"halfway, interrupted", failedFacts{partial: true, interrupted: true}, report.StatusFailed},
		{"undo did not finish", failedFacts{undoFailed: true}, report.StatusFailed},
		{"undo did not finish, interrupted", failedFacts{undoFailed: true, interrupted: true}, report.StatusFailed},
		{"version not read back", failedFacts{unread: true}, report.StatusFailed},
		{"version not read back, interrupted", failedFacts{unread: true, interrupted: true}, report.StatusFailed},
		{"not back at from_version", failedFacts{notBack: true}, report.StatusFailed},
		{"not back, interrupted", failedFacts{notBack: true, interrupted: true}, report.StatusFailed},
		{"INVALID index left", failedFacts{invalidIndex: true}, report.StatusFailed},
		{"INVALID index left, interrupted", failedFacts{invalidIndex: true, interrupted: true}, report.StatusFailed},
		{"undo failed and not back", failedFacts{undoFailed: true, notBack: true}, report.StatusFailed},
		{"everything at once", failedFacts{txEnded: true, partial: true, undoFailed: true, unread: true, notBack: true, invalidIndex: true, interrupted: true}, report.StatusFailed},
	} {
		if got := tc.facts.status(); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
