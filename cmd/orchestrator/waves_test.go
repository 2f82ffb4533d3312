package main

import (
	"strings"
	"testing"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

func TestBarrier(t *testing.T) {
	shard := func(command, wave string, index, count int, statuses ...report.Status) *report.Report {
		var ts []report.Target
		for i, s := range statuses {
			ts = append(ts, report.Target{Name: wave + "-" + string(rune('a'+index*10+i)), Wave: wave, Status: s})
		}
		r := report.New(command, time.Unix(0, 0), 0, ts)
		r.Wave = wave
		if count > 0 {
			r.Shard = &report.Shard{Index: index, Count: count}
		}
		r.Waves = []report.WaveResult{report.NewWaveResult(wave, "1", "", ts)}
		return r
	}
	ok, bad := report.StatusApplied, report.StatusRolledBack
	cases := []struct {
		name   string
		reps   []*report.Report
		reason string // "" with err "": the next wave may start
		err    string
	}{
		{"unsharded within budget", []*report.Report{shard("up", "early", 0, 0, ok, bad)}, "", ""},
		{"each shard within budget, over it together", []*report.Report{shard("up", "early", 0, 2, ok, bad), shard("up", "early", 1, 2, bad, ok)},
			"wave early: 2 of its 4 target(s) failed, more than its max_failures of 1 (1 allowed)", ""},
		{"a skipped target means an earlier halt", []*report.Report{shard("up", "early", 0, 0, ok, report.StatusSkipped)}, "did not finish", ""},
		{"missing shard", []*report.Report{shard("up", "early", 0, 3, ok), shard("up", "early", 2, 3, ok)}, "", "shard 1/3 is missing"},
		{"shard twice", []*report.Report{shard("up", "early", 0, 2, ok), shard("up", "early", 0, 2, ok)}, "", "both are shard 0/2"},
		{"shard counts differ", []*report.Report{shard("up", "early", 0, 2, ok), shard("up", "early", 1, 3, ok)}, "", "shard 1/3"},
		{"wrong wave", []*report.Report{shard("up", "canary", 0, 0, ok)}, "", "a report of wave canary, but the wave before this one is early"},
		{"not a wave run", []*report.Report{shard("up", "", 0, 0, ok)}, "", "not a report of one wave"},
		{"not up", []*report.Report{shard("plan", "early", 0, 0, ok)}, "", "a report of plan"},
		{"unsharded and a shard", []*report.Report{shard("up", "early", 0, 0, ok), shard("up", "early", 1, 2, ok)}, "", "no shard"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := make([]string, len(tc.reps))
			for i := range files {
				files[i] = "r" + string(rune('0'+i)) + ".json"
			}
			reason, err := barrier(tc.reps, files, "early")
			switch {
			case tc.err != "":
				if _, usage := err.(usageError); !usage || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want a usage error saying %q", err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case tc.reason == "" && reason != "", tc.reason != "" && !strings.Contains(reason, tc.reason):
				t.Fatalf("reason %q, want %q", reason, tc.reason)
			}
		})
	}
}
