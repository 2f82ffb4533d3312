package runner

import (
	"context"
	"log/slog"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

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
	return r.run(ctx, "down", []fleet.WaveTargets{{Targets: todo}}, func(ctx context.Context, t fleet.Target, log *slog.Logger) report.Target {
		return r.migrateTarget(ctx, t, log, func(st state) ([]step, error) { return r.stepsDown(st, from[t.Name]) })
	})
}
