package runner

import (
	"context"

	"github.com/orchestrator-dev/orchestrator/internal/apply"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// describeDown is a plan to a version below the target's: the down
// sections `down --to` would run, newest first, listed under revert (with
// their statements under --sql). Downs are not rehearsed.
func (r *Runner) describeDown(ctx context.Context, t fleet.Target, st state, to int64, o PlanOptions) report.Target {
	res := report.Target{FromVersion: report.V(st.current), ToVersion: report.V(st.current)}
	steps, err := r.stepsDown(st, to)
	if err != nil {
		return r.failure(ctx, t, res, report.StatusFailed, err)
	}
	if len(steps) == 0 {
		res.Status = report.StatusUpToDate
		return res
	}
	for _, s := range steps {
		pm := report.Migration{Version: s.m.Version, Name: s.m.Name}
		if o.SQL {
			stmts, err := s.m.DownStatements()
			if err != nil {
				return r.failure(ctx, t, res, report.StatusFailed, &apply.MigrationError{Migration: s.m, Err: err})
			}
			for _, st := range stmts {
				pm.Statements = append(pm.Statements, st.SQL)
			}
		}
		if o.Verify {
			pm.Note = "not rehearsed: plan --verify rehearses ups only"
		}
		res.Revert = append(res.Revert, pm)
	}
	res.Status = report.StatusPending
	res.ToVersion = report.V(to)
	return res
}
