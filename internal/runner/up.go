package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/apply"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/ledger"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
	"github.com/orchestrator-dev/orchestrator/internal/sqlscan"
)

// Up brings every target to version to (the set's latest when to < 0).
func (r *Runner) Up(ctx context.Context, waves []fleet.WaveTargets, to int64) *report.Report {
	if to < 0 {
		to = r.set.Latest()
	}
	return r.run(ctx, "up", waves, func(ctx context.Context, t fleet.Target, log *slog.Logger) report.Target {
		return r.migrateTarget(ctx, t, log, func(st state) ([]step, error) {
			pending, err := pendingUp(r.set, st, to)
			steps := make([]step, len(pending))
			for i, m := range pending {
				steps[i] = step{m: m}
			}
			return steps, err
		})
	})
}

// Down brings every target back to version to with the down sections.
func (r *Runner) Down(ctx context.Context, waves []fleet.WaveTargets, to int64) *report.Report {
	return r.run(ctx, "down", waves, func(ctx context.Context, t fleet.Target, log *slog.Logger) report.Target {
		return r.migrateTarget(ctx, t, log, func(st state) ([]step, error) { return r.stepsDown(st, to) })
	})
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
	return r.run(ctx, "down", []fleet.WaveTargets{{Targets: todo}}, func(ctx context.Context, t fleet.Target, log *slog.Logger) report.Target {
		return r.migrateTarget(ctx, t, log, func(st state) ([]step, error) { return r.stepsDown(st, from[t.Name]) })
	})
}

// stepsDown lists, newest first, the applied migrations above version to.
func (r *Runner) stepsDown(st state, to int64) ([]step, error) {
	var steps []step
	var unknown []string
	for v := range st.applied {
		if v <= to {
			continue
		}
		m, ok := r.set.Find(v)
		if !ok {
			unknown = append(unknown, fmt.Sprint(v))
			continue
		}
		if !m.HasDown {
			return nil, &VersionError{Msg: fmt.Sprintf("migration %s has no down section: it cannot be rolled back", m.Name)}
		}
		steps = append(steps, step{m: m, down: true})
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, &VersionError{Msg: fmt.Sprintf("version(s) %s are applied but not in the migration set: their down sections are unknown", strings.Join(unknown, ", "))}
	}
	slices.SortFunc(steps, func(a, b step) int { return int(b.m.Version - a.m.Version) })
	return steps, nil
}

// VersionError is a target whose versions do not allow the requested move.
type VersionError struct{ Msg string }

func (e *VersionError) Error() string { return e.Msg }

// migrateTarget locks one target, plans its steps from its version table and
// runs them. A failure after something was committed is compensated: what
// this run did is undone, newest first, so the target returns to where it
// started; what cannot be undone is reported `failed` with a remedy.
func (r *Runner) migrateTarget(ctx context.Context, t fleet.Target, log *slog.Logger, plan func(state) ([]step, error)) report.Target {
	res := report.Target{}
	sess, err := r.open(ctx, t, false)
	if err != nil {
		return r.failure(ctx, t, res, report.StatusFailed, err)
	}
	defer func() { sess.close() }()
	ex := r.executorFor(sess, t)
	locked := func(err error) report.Target {
		status := report.StatusFailed
		if errors.Is(err, errLocked) {
			status = report.StatusLocked
		}
		res = r.failure(ctx, t, res, status, err)
		if status == report.StatusLocked {
			res.Error.BlockedBy = t.Scrub(lockHolder(ctx, sess.conn, lockKeyFor(t)))
		}
		return res
	}
	// The lock, the versions and (in the common case) the whole batch live
	// in one transaction.
	st, err := ex.begin(ctx)
	if err != nil {
		return locked(err)
	}
	if un := r.unadopted(st); un != nil {
		ex.rollback(ctx)
		return *un // another tool's or a person's: never re-run its migrations
	}
	res.FromVersion, res.ToVersion = report.V(st.current), report.V(st.current)
	steps, err := plan(st)
	if err != nil {
		ex.rollback(ctx)
		return r.failure(ctx, t, res, report.StatusFailed, err)
	}
	if len(steps) == 0 {
		ex.rollback(ctx)
		res.Status = report.StatusUpToDate
		return res
	}
	if m := firstNoTx(steps); m != nil {
		// NO TRANSACTION work needs one server session throughout: the
		// session lock, then planning again under it.
		ex.rollback(ctx)
		usedDirect := false
		if t.DirectDSN != "" {
			direct := t
			direct.DSN, direct.DirectDSN = t.DirectDSN, ""
			ds, err := r.open(ctx, direct, false)
			if err != nil {
				return r.failure(ctx, t, res, report.StatusFailed, err)
			}
			sess.close()
			sess, t = ds, direct
			ex = r.executorFor(sess, t)
			usedDirect = true
		}
		pooled, err := r.transactionPooler(ctx, t, sess)
		if err != nil {
			return r.failure(ctx, t, res, report.StatusFailed, err)
		}
		if pooled {
			return r.failure(ctx, t, res, report.StatusFailed, &PoolerError{Migration: m.Name, Direct: usedDirect})
		}
		have, err := acquireLock(ctx, sess.conn, ex.key, r.settings.LockWait)
		if err != nil {
			return locked(err)
		}
		ex.sessionLocked = true
		if sess.pool != nil {
			// A pooled session outlives the target; a session of its own
			// releases the lock as it closes, which saves a round trip.
			defer releaseLock(ctx, sess.conn, ex.key)
		}
		if st, err = readVersionRows(ctx, sess.conn, have); err != nil {
			return r.failure(ctx, t, res, report.StatusFailed, err)
		}
		if un := r.unadopted(st); un != nil {
			return *un
		}
		ex.tables = r.have(st)
		res.FromVersion, res.ToVersion = report.V(st.current), report.V(st.current)
		if steps, err = plan(st); err != nil {
			return r.failure(ctx, t, res, report.StatusFailed, err)
		}
		if len(steps) == 0 {
			res.Status = report.StatusUpToDate
			return res
		}
	}
	log.Debug("running", "steps", len(steps), "from", st.current)

	out := ex.run(ctx, steps)
	if out.attempts > 1 {
		res.Attempts = out.attempts
	}
	if out.err == nil {
		res.Applied = out.done
		res.Status = report.StatusApplied
		v, err := r.readLatest(ctx, t, sess)
		if err != nil {
			res.Status = report.StatusFailed
			res.Error = toReportError(t, fmt.Errorf("migrations committed, but the version could not be read back: %w", err))
			return res
		}
		res.ToVersion = report.V(v)
		return res
	}

	var remedy string
	facts := failedFacts{txEnded: errors.As(out.err, new(*apply.TxEndedError)), partial: out.partial != nil,
		invalidIndex: errors.As(out.err, new(*InvalidIndexError))}
	switch {
	case facts.txEnded:
		// What the transaction ran before the statement may be committed
		// without version rows: nothing is undone on a guess.
		remedy = txEndedRemedy(out)
	case facts.partial:
		// What a half-run NO TRANSACTION file left behind is unknown: its
		// down section was written for the whole file, so running it is a
		// guess. Nothing more is touched; a person decides.
		remedy = partialRemedy(out)
	case len(out.steps) > 0:
		res.Reverted, remedy = r.compensate(ctx, t, sess, ex, out)
		facts.undoFailed = remedy != ""
	}
	if v, err := r.readBack(ctx, t, sess); err != nil {
		res.ToVersion = nil
		// The transaction's fate is unknown to us: say so rather than claim
		// a rollback we could not confirm.
		facts.unread = true
		remedy = joinRemedy(remedy, "the target's version could not be read back after the failure: check "+ledger.VersionTable+" on it before running again")
	} else {
		res.ToVersion = report.V(v)
		facts.notBack = v != *res.FromVersion
		if facts.notBack && remedy == "" {
			remedy = fmt.Sprintf("the target is at version %d, not back at %d: check %s and the schema", v, *res.FromVersion, ledger.VersionTable)
		}
	}
	facts.interrupted = interrupted(ctx)
	res.Status = facts.status()
	res.Error = toReportError(t, cause(ctx, out.err))
	if facts.interrupted {
		res.Error.Class = ClassCancelled
	}
	res.Error.Remedy = joinRemedy(res.Error.Remedy, remedy)
	res.Error.BlockedBy = t.Scrub(sqlscan.MaskLiterals(out.blocked))
	return res
}

// failedFacts are what is known about a target whose steps failed, once
// what could be undone was.
type failedFacts struct {
	txEnded      bool // a migration ended the tool's transaction
	partial      bool // a NO TRANSACTION file stopped halfway
	undoFailed   bool // undoing what this run committed did not finish
	unread       bool // the version could not be read back
	notBack      bool // the version read back is not the one the target started at
	invalidIndex bool // an INVALID index is left
	interrupted  bool // the run was cancelled
}

// status is the final status of a target whose steps failed: failed when
// a person must look, whether or not the run was interrupted; else
// cancelled when the run was interrupted, rolled_back when it was not
// (the target is back where it started).
func (f failedFacts) status() report.Status {
	switch {
	case f.txEnded, f.partial, f.undoFailed, f.unread, f.notBack, f.invalidIndex:
		return report.StatusFailed
	case f.interrupted:
		return report.StatusCancelled
	}
	return report.StatusRolledBack
}

// compensate undoes, newest first, what this run committed on the target,
// including the half-done NO TRANSACTION step, on a context detached from
// cancellation: an interrupted run must still leave the target whole. It
// returns what was undone and, when something could not be, the remedy.
func (r *Runner) compensate(ctx context.Context, t fleet.Target, sess *session, ex *executor, out outcome) ([]report.Migration, string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.compensationBudget())
	defer cancel()
	conn, err := r.usable(cctx, t, sess)
	if err != nil {
		return nil, fmt.Sprintf("could not reconnect to undo %s: %v; undo them with `orchestrator down --to <from_version>` once the target is reachable",
			describeSteps(out.steps), t.Scrub(err.Error()))
	}
	if conn != sess {
		ex = r.executorFor(conn, t)
		defer conn.close()
	}
	var reverted []report.Migration
	inverse := make([]step, 0, len(out.steps))
	for i := len(out.steps) - 1; i >= 0; i-- {
		inverse = append(inverse, out.steps[i].inverse())
	}
	undo := ex.run(cctx, inverse)
	reverted = append(reverted, undo.done...)
	if undo.err != nil {
		left := inverse[len(undo.steps):]
		return reverted, fmt.Sprintf("undoing this run failed at %s (%s); still %s: fix the cause, then run `orchestrator %s` for this target, "+
			"or repair by hand and correct %s", left[0].m.Name, t.Scrub(undo.err.Error()), describeUndone(left), undoCommand(left), ledger.VersionTable)
	}
	return reverted, ""
}

// usable returns sess if its connection still answers, else a fresh
// session.
func (r *Runner) usable(ctx context.Context, t fleet.Target, sess *session) (*session, error) {
	if err := sess.conn.PingContext(ctx); err == nil {
		return sess, nil
	}
	// Each transaction of the undo takes the lock itself, and a NO
	// TRANSACTION undo takes the session lock first.
	return r.open(ctx, t, false)
}

func (r *Runner) compensationBudget() time.Duration {
	return max(2*time.Minute, r.settings.StatementTimeout)
}

func direction(down bool) string {
	if down {
		return "down"
	}
	return "up"
}

func describeSteps(steps []step) string {
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.m.Name + " (" + direction(s.down) + ")"
	}
	return strings.Join(names, ", ")
}

// describeUndone says which migrations remain applied (or reverted) because
// their undo did not run.
func describeUndone(left []step) string {
	var applied, reverted []string
	for _, s := range left {
		if s.down {
			applied = append(applied, s.m.Name)
		} else {
			reverted = append(reverted, s.m.Name)
		}
	}
	var parts []string
	if len(applied) > 0 {
		parts = append(parts, "applied: "+strings.Join(applied, ", "))
	}
	if len(reverted) > 0 {
		parts = append(parts, "reverted: "+strings.Join(reverted, ", "))
	}
	return strings.Join(parts, "; ")
}

// undoCommand is the command that finishes an interrupted undo.
func undoCommand(left []step) string {
	if left[0].down {
		return fmt.Sprintf("down --to %d", left[len(left)-1].m.Version-1)
	}
	return fmt.Sprintf("up --to %d", left[len(left)-1].m.Version)
}

// partialRemedy tells a person how to finish after a NO TRANSACTION file
// stopped halfway.
func partialRemedy(out outcome) string {
	p := out.partial
	var b strings.Builder
	fmt.Fprintf(&b, "migration %s (NO TRANSACTION, %s) stopped after %d of %d statements and is not recorded as applied; "+
		"what its first %d statement(s) did is still there", p.step.m.Name, direction(p.step.down), p.ran, p.total, p.ran)
	if p.ran == 0 {
		b.Reset()
		fmt.Fprintf(&b, "migration %s (NO TRANSACTION, %s) failed in its first statement and is not recorded as applied; "+
			"a failed CREATE INDEX CONCURRENTLY leaves an INVALID index behind (see pg_index.indisvalid)", p.step.m.Name, direction(p.step.down))
	}
	if len(out.steps) > 0 {
		fmt.Fprintf(&b, "; this run also %s: %s", map[bool]string{false: "applied", true: "reverted"}[p.step.down], describeSteps(out.steps))
	}
	fmt.Fprintf(&b, ". Remove what the file left (its %s section shows what it creates), then run `orchestrator %s` again for this target",
		direction(!p.step.down), direction(p.step.down))
	return b.String()
}

func joinRemedy(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// failure records err on res with status s.
func (r *Runner) failure(ctx context.Context, t fleet.Target, res report.Target, s report.Status, err error) report.Target {
	if interrupted(ctx) && s != report.StatusLocked {
		s = report.StatusCancelled
	}
	res.Status = s
	res.Error = toReportError(t, cause(ctx, err))
	if s == report.StatusCancelled {
		res.Error.Class = ClassCancelled
	}
	return res
}

// readLatest re-reads the version after a successful run: the version
// table exists, so goose's one-query latest version is enough.
func (r *Runner) readLatest(ctx context.Context, t fleet.Target, sess *session) (int64, error) {
	rctx, cancel := budgeted(ctx, 15*time.Second)
	defer cancel()
	if v, err := r.store.GetLatestVersion(rctx, sess.conn); err == nil {
		return v, nil
	}
	return r.readBack(ctx, t, sess)
}

// readBack re-reads a target's version after work on it ended, on a context
// detached from cancellation. When the session is no longer usable (the
// connection was lost or the statement cancelled) it reads on a fresh one.
func (r *Runner) readBack(ctx context.Context, t fleet.Target, sess *session) (int64, error) {
	ctx, cancel := budgeted(ctx, 15*time.Second)
	defer cancel()
	v, err := currentVersion(ctx, sess.conn)
	if err == nil {
		return v, nil
	}
	fresh, cerr := r.open(ctx, t, true)
	if cerr != nil {
		return 0, errors.Join(err, cerr)
	}
	defer fresh.close()
	return currentVersion(ctx, fresh.conn)
}

// executorFor returns an executor of the run's settings on sess.
func (r *Runner) executorFor(sess *session, t fleet.Target) *executor {
	return &executor{sess: sess, store: r.store, mode: r.txMode, policy: r.retry, key: lockKeyFor(t), lockWait: r.settings.LockWait, have: r.have}
}

// firstNoTx returns the migration of the first NO TRANSACTION step, or nil.
func firstNoTx(steps []step) *source.Migration {
	for _, s := range steps {
		if s.noTx() {
			return s.m
		}
	}
	return nil
}

// txEndedRemedy tells a person what a migration that ended the tool's
// transaction left behind.
func txEndedRemedy(out outcome) string {
	var me *apply.MigrationError
	name := "a migration"
	if errors.As(out.err, &me) {
		name = me.Migration.Name
		if me.Line > 0 {
			name += fmt.Sprintf(" (line %d)", me.Line)
		}
	}
	msg := name + " ended the tool's transaction: what its batch ran before that statement may be committed (check the schema), " +
		"and none of that batch's versions are recorded; remove the transaction control from the file, repair the target by hand, then run again"
	if len(out.steps) > 0 {
		msg += "; earlier transactions of this run committed " + describeSteps(out.steps) + " with their versions"
	}
	return msg
}
