package runner

import (
	"context"
	"log/slog"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// Status reports each target's current version and what is pending.
func (r *Runner) Status(ctx context.Context, targets []fleet.Target) *report.Report {
	return r.run(ctx, "status", OneWave(targets, fleet.Budget{}), func(ctx context.Context, t fleet.Target, _ *slog.Logger) report.Target {
		return r.inspectTarget(ctx, t, r.set.Latest(), false)
	})
}

// Plan reports, per target, the migrations up would apply to reach version
// to (the set's latest when to < 0). It is strictly read-only: sessions are
// opened with default_transaction_read_only, and nothing is created, not even
// the version table.
func (r *Runner) Plan(ctx context.Context, targets []fleet.Target, to int64) *report.Report {
	if to < 0 {
		to = r.set.Latest()
	}
	return r.run(ctx, "plan", OneWave(targets, fleet.Budget{}), func(ctx context.Context, t fleet.Target, _ *slog.Logger) report.Target {
		return r.inspectTarget(ctx, t, to, true)
	})
}

// inspectTarget reads a target's version table without locking or writing.
// For a plan, to_version is where up would take the target; for status it is
// the current version.
func (r *Runner) inspectTarget(ctx context.Context, t fleet.Target, to int64, planned bool) report.Target {
	res := report.Target{}
	sess, err := r.open(ctx, t, true)
	if err != nil {
		return r.failure(ctx, t, res, report.StatusFailed, err)
	}
	defer sess.close()
	st, err := readState(ctx, r.store, sess.conn)
	if err != nil {
		return r.failure(ctx, t, res, report.StatusFailed, err)
	}
	res.FromVersion, res.ToVersion = st.current, st.current
	pending, err := pendingUp(r.set, st, to)
	if err != nil {
		return r.failure(ctx, t, res, report.StatusFailed, err)
	}
	if len(pending) == 0 {
		res.Status = report.StatusUpToDate
		return res
	}
	res.Status = report.StatusPending
	for _, m := range pending {
		res.Pending = append(res.Pending, report.Migration{Version: m.Version, Name: m.Name})
	}
	if planned {
		res.ToVersion = pending[len(pending)-1].Version
	}
	return res
}
