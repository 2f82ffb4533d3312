package runner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/apply"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/ledger"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// Status reports each target's current version and what is pending.
func (r *Runner) Status(ctx context.Context, targets []fleet.Target) *report.Report {
	known := r.batchStates(ctx, targets)
	invalid := batchInvalidOf(ctx, r, targets, known)
	return r.run(ctx, "status", []fleet.WaveTargets{{Targets: targets}}, func(ctx context.Context, t fleet.Target, _ *slog.Logger) report.Target {
		if st, ok := known[t.Name]; ok {
			res := r.describe(ctx, t, st, r.set.Latest(), PlanOptions{}, false)
			if res.Status != report.StatusFailed {
				res.Findings = append(res.Findings, invalidFindings(invalid[t.Name])...)
			}
			return res
		}
		return r.inspectTarget(ctx, t, r.set.Latest(), PlanOptions{}, false)
	})
}

// PlanOptions choose what a plan shows and does.
type PlanOptions struct {
	To     int64 // version to plan for; the set's latest when < 0
	SQL    bool  // include each pending migration's statements
	Verify bool  // rehearse: run the pending migrations in a transaction that is always rolled back
	// MaxExclusiveRows fails a rehearsal that holds an ACCESS EXCLUSIVE lock
	// on a table of more estimated rows than this; nil: no limit.
	MaxExclusiveRows *int64
}

// Plan reports, per target, the migrations up would apply. A plain plan is
// strictly read-only: sessions are opened with default_transaction_read_only
// and nothing is created, not even the version table. A verifying plan runs
// the migrations for real, with up's session settings and lock, inside a
// transaction it always rolls back.
func (r *Runner) Plan(ctx context.Context, targets []fleet.Target, o PlanOptions) *report.Report {
	if o.To < 0 {
		o.To = r.set.Latest()
	}
	known := map[string]state{}
	if !o.Verify {
		known = r.batchStates(ctx, targets)
	}
	rep := r.run(ctx, "plan", []fleet.WaveTargets{{Targets: targets}}, func(ctx context.Context, t fleet.Target, _ *slog.Logger) report.Target {
		if st, ok := known[t.Name]; ok {
			return r.describe(ctx, t, st, o.To, o, true)
		}
		return r.inspectTarget(ctx, t, o.To, o, true)
	})
	if o.Verify {
		rep.Rehearse = report.SummarizeRehearsal(rep.Targets, rehearsalTop, o.MaxExclusiveRows)
	}
	return rep
}

// inspectTarget reads a target's version table without writing. For a
// plan, to_version is where up would take the target; for status it is the
// current version.
func (r *Runner) inspectTarget(ctx context.Context, t fleet.Target, to int64, o PlanOptions, planned bool) report.Target {
	res := report.Target{}
	sess, err := r.open(ctx, t, !o.Verify)
	if err != nil {
		return r.failure(ctx, t, res, report.StatusFailed, err)
	}
	defer sess.close()
	if o.Verify {
		return r.verifyTarget(ctx, t, sess, to, o)
	}
	st, err := r.readInTx(ctx, sess, func(q *sql.Tx) (state, error) { return readState(ctx, q) })
	if err != nil {
		return r.failure(ctx, t, res, report.StatusFailed, err)
	}
	res = r.describe(ctx, t, st, to, o, planned)
	if !planned && res.Status != report.StatusFailed {
		r.noteInvalidIndexes(ctx, sess, &res)
	}
	return res
}

// readInTx runs fn in a read-only transaction carrying the session's limits
// (SET LOCAL): nothing is set on a server connection a pooler shares.
func (r *Runner) readInTx(ctx context.Context, sess *session, fn func(*sql.Tx) (state, error)) (state, error) {
	tx, err := sess.conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return state{applied: map[int64]bool{}}, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, sess.setQuery(true)); err != nil {
		return state{applied: map[int64]bool{}}, fmt.Errorf("session settings: %w", err)
	}
	return fn(tx)
}

// noteInvalidIndexes adds the target's INVALID indexes to a status result
// as findings.
func (r *Runner) noteInvalidIndexes(ctx context.Context, sess *session, res *report.Target) {
	names, err := invalidIndexes(ctx, sess.conn)
	if err != nil {
		return
	}
	res.Findings = append(res.Findings, invalidFindings(names)...)
}

// verifyTarget rehearses: in one transaction that is always rolled back it
// takes the target's lock, reads the versions and runs what up would.
func (r *Runner) verifyTarget(ctx context.Context, t fleet.Target, sess *session, to int64, o PlanOptions) report.Target {
	ex := r.executorFor(sess, t)
	defer ex.rollback(ctx) // always: a rehearsal leaves nothing behind
	st, err := ex.begin(ctx)
	if err != nil {
		status := report.StatusFailed
		if errors.Is(err, errLocked) {
			status = report.StatusLocked
		}
		return r.failure(ctx, t, report.Target{}, status, err)
	}
	res := r.describe(ctx, t, st, to, o, true)
	if res.Status == report.StatusPending {
		pending, _ := pendingUp(r.set, st, to)
		if err := r.rehearse(ctx, ex, pending, res.Pending); err != nil {
			return r.failure(ctx, t, res, report.StatusFailed, err)
		}
		if err := checkExclusiveRows(res.Pending, o.MaxExclusiveRows); err != nil {
			return r.failure(ctx, t, res, report.StatusFailed, err)
		}
	}
	return res
}

// describe turns a target's state into its status or plan result.
func (r *Runner) describe(ctx context.Context, t fleet.Target, st state, to int64, o PlanOptions, planned bool) report.Target {
	if un := r.unadopted(st); un != nil {
		return *un
	}
	if planned && to < st.current {
		return r.describeDown(ctx, t, st, to, o)
	}
	res := report.Target{FromVersion: report.V(st.current), ToVersion: report.V(st.current)}
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
		pm := report.Migration{Version: m.Version, Name: m.Name}
		if o.SQL {
			stmts, err := m.UpStatements()
			if err != nil {
				return r.failure(ctx, t, res, report.StatusFailed, &apply.MigrationError{Migration: m, Err: err})
			}
			for _, s := range stmts {
				pm.Statements = append(pm.Statements, s.SQL)
			}
		}
		res.Pending = append(res.Pending, pm)
	}
	if planned {
		res.ToVersion = report.V(pending[len(pending)-1].Version)
	}
	return res
}

// rehearse runs pending inside the executor's open transaction exactly as
// up would (version table, migrations statement by statement, version
// rows); the caller always rolls it back, so data-dependent failures show
// before a release. The transaction holds the target's lock, so a
// rehearsal never overlaps a real run. A statement that ended the
// transaction (the load-time check keeps transaction control out of
// migration files; this is the guard behind it) stops the rehearsal as a
// failure. NO TRANSACTION migrations cannot be rehearsed; the ones after
// them are not either, as they may depend on them. Timings and notes go
// into out, which parallels pending.
func (r *Runner) rehearse(ctx context.Context, ex *executor, pending []*source.Migration, out []report.Migration) error {
	created, err := ledger.EnsureVersionTable(ctx, r.store, ex.sess.conn, ex.tables)
	if err != nil {
		return err
	}
	have := ex.tables
	var locks lockTracker
	for i, m := range pending {
		if m.NoTx {
			out[i].Note = "not rehearsable: NO TRANSACTION migrations cannot run inside the rehearsal's transaction"
			for j := i + 1; j < len(pending); j++ {
				out[j].Note = fmt.Sprintf("not rehearsed: follows %s, which could not be rehearsed", m.Name)
			}
			return nil
		}
		t0 := time.Now()
		stmts, err := m.UpStatements()
		if err != nil {
			return &apply.MigrationError{Migration: m, Err: err}
		}
		for _, st := range stmts {
			if scan, err := source.FindTxControl(st.SQL, st.Line); err != nil || len(scan.Found) > 0 {
				return &apply.MigrationError{Migration: m, Line: st.Line, Err: errors.New("rehearsal: transaction control in this statement; not run")}
			}
		}
		if _, err := ex.apply(ctx, step{m: m}); err != nil {
			var me *apply.MigrationError
			if errors.As(err, &me) {
				me.Err = fmt.Errorf("rehearsal: %w", me.Err)
			}
			return err
		}
		if err := record(ctx, ex.sess.conn, []step{{m: m}}, created, have); err != nil {
			return &apply.MigrationError{Migration: m, Err: err}
		}
		created, have.Version, have.Checksums = false, true, true
		ms := time.Since(t0).Milliseconds()
		out[i].DurationMS = &ms
		out[i].Note = "rehearsed"
		if out[i].Locks, err = locks.rehearsalLocks(ctx, ex.sess.conn); err != nil {
			return &apply.MigrationError{Migration: m, Err: err}
		}
	}
	return nil
}
