package report

import (
	"testing"
	"time"
)

func TestMergeWaves(t *testing.T) {
	shard := func(failures int) *Report {
		var ts []Target
		for i := 0; i < 5; i++ {
			s := StatusApplied
			if i < failures {
				s = StatusRolledBack
			}
			ts = append(ts, Target{Name: string(rune('a' + failures*10 + i)), Status: s, Wave: "everyone"})
		}
		r := New("up", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), 0, ts)
		r.Wave = "everyone"
		r.Waves = []WaveResult{NewWaveResult("everyone", "20%", "size", ts)}
		return r
	}
	a, b := shard(1), shard(2)
	if a.Waves[0].Halted || *a.Waves[0].Allowed != 1 {
		t.Fatalf("one shard alone: %+v", a.Waves[0])
	}
	m, err := Merge([]*Report{a, b})
	if err != nil {
		t.Fatal(err)
	}
	w := m.Waves[0]
	if w.Targets != 10 || w.Failures != 3 || *w.Allowed != 2 || !w.Halted || m.Wave != "everyone" {
		t.Errorf("merged: %+v (wave %q)", w, m.Wave)
	}
	if got, want := w.Reason(), "wave everyone: 3 of its 10 target(s) failed, more than its max_failures of 20% (2 allowed)"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	b.Waves[0].MaxFailures = "1"
	if _, err := Merge([]*Report{a, b}); err == nil {
		t.Error("shards that disagree on the budget merged")
	}
}
