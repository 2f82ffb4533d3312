package main

import (
	"strings"
	"testing"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

func TestDownPrompt(t *testing.T) {
	m := func(v int64, name string) report.Migration { return report.Migration{Version: v, Name: name} }
	preview := report.New("plan", time.Now(), time.Second, []report.Target{
		{Name: "a", Status: report.StatusPending, FromVersion: report.V(4), ToVersion: report.V(2), Revert: []report.Migration{m(4, "004_d"), m(3, "003_c")}},
		{Name: "b", Status: report.StatusPending, FromVersion: report.V(4), ToVersion: report.V(2), Revert: []report.Migration{m(4, "004_d"), m(3, "003_c")}},
		{Name: "c", Status: report.StatusPending, FromVersion: report.V(3), ToVersion: report.V(2), Revert: []report.Migration{m(3, "003_c")}},
		{Name: "d", Status: report.StatusUpToDate, FromVersion: report.V(2), ToVersion: report.V(2)},
		{Name: "e", Status: report.StatusFailed, Error: &report.Error{Message: "connection refused"}},
	})
	prompt, n := downPrompt(preview, 2)
	for _, want := range []string{"will revert 3 targets of 5", "2 targets at 4 → 2: 004_d, 003_c", "1 target at 3 → 2: 003_c",
		"1 target already at or below 2", "1 target could not be read now (e)", "Type yes"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("prompt lacks %q:\n%s", want, prompt)
		}
	}
	if n != 3 {
		t.Errorf("n = %d", n)
	}
	for answer, want := range map[string]bool{"yes\n": true, "y\n": true, "\n": false, "no\n": false, "": false, "yess\n": false} {
		confirmInput = strings.NewReader(answer)
		var b strings.Builder
		if got := confirm(&b, "go? "); got != want || b.String() != "go? " {
			t.Errorf("answer %q: %v", answer, got)
		}
	}
}

func TestMarkReverted(t *testing.T) {
	rep := report.New("down", time.Now(), time.Second, []report.Target{
		{Name: "a", Status: report.StatusApplied, FromVersion: report.V(4), ToVersion: report.V(2), Applied: []report.Migration{{Version: 4, Name: "004_d"}}},
		{Name: "b", Status: report.StatusUpToDate, FromVersion: report.V(2), ToVersion: report.V(2)},
	})
	markReverted(rep)
	if a := rep.Targets[0]; a.Status != report.StatusReverted || len(a.Applied) != 0 || len(a.Reverted) != 1 {
		t.Errorf("%+v", a)
	}
	if rep.Summary.Reverted != 1 || rep.Summary.Applied != 0 {
		t.Errorf("summary %+v", rep.Summary)
	}
}
