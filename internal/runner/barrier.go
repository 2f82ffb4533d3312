package runner

import (
	"context"
	"log/slog"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// Skip reports every target of waves as skipped for reason, without
// opening a connection: the barrier before a wave found the previous wave
// over its budget.
func (r *Runner) Skip(command string, waves []Wave, reason string) *report.Report {
	started := time.Now()
	var all []report.Target
	var results []report.WaveResult
	for _, w := range waves {
		first := len(all)
		for _, t := range w.Targets {
			res := notStarted(t, report.StatusSkipped)
			res.Wave = w.Name
			res.Error = &report.Error{Class: ClassHalted, Message: reason}
			all = append(all, res)
		}
		results = append(results, report.NewWaveResult(w.Name, w.MaxFailures.String(), w.Order, all[first:]))
	}
	rep := report.New(command, started, time.Since(started), all)
	rep.Waves = namedWaves(results)
	return rep
}

// Undo brings every target that prior shows applied back to the version it
// started from (its from_version), with the down sections, as a down run:
// the merged reports of a wave's shards say what the wave applied, so a
// wave that halted across machines can be rolled back from them. Targets
// are matched by name; prior targets not in targets are left alone (they
// belong to another shard).
func (r *Runner) Undo(ctx context.Context, targets []fleet.Target, prior []report.Target) *report.Report {
	from := map[string]int64{}
	for _, p := range prior {
		if p.Status == report.StatusApplied && p.FromVersion != nil {
			from[p.Name] = *p.FromVersion
		}
	}
	var todo []fleet.Target
	for _, t := range targets {
		if _, ok := from[t.Name]; ok {
			todo = append(todo, t)
		}
	}
	return r.run(ctx, "down", OneWave(todo, fleet.FailureBudget{}), func(ctx context.Context, t fleet.Target, log *slog.Logger) report.Target {
		return r.migrateTarget(ctx, t, log, func(st state) ([]step, error) { return r.stepsDown(st, from[t.Name]) })
	})
}
