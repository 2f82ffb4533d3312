// Package runner runs commands over a fleet: for each target it connects,
// locks, reads the bookkeeping tables, plans and applies migrations, and records
// the outcome; package schedule runs the targets, wave after wave. A failed
// target is a result in the report, never a reason to stop the others.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/pressly/goose/v3/database"

	"github.com/orchestrator-dev/orchestrator/internal/dsn"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/ledger"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/schedule"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// Options configure a Runner.
type Options struct {
	Set *source.Set
	// Settings are the run's: a fleet's Defaults with the flags applied.
	// Its Parallelism bounds the targets in flight at once (the built-in
	// one when 0); its SharedSchemas follow a tenant's own schema in its
	// search_path; GolangMigrateIgnore leaves golang-migrate's version table
	// alone (not kept in step by up, down and adopt, and not compared with
	// goose's table), where by default a target that has it keeps it in step.
	Settings       fleet.Defaults
	TxMode         TxMode            // TxTarget when empty
	Retries        int               // extra attempts of a transaction after a lock timeout or deadlock; -1 for none, 0 for fleet.DefaultRetries
	RetryBackoff   time.Duration     // first pause before a retry; 200ms when 0
	RollbackOnHalt bool              // when a wave halts the rollout, undo what this run applied
	Logger         *slog.Logger      // progress and diagnostics; discarded when nil
	Observer       schedule.Observer // told as targets start and finish; nil for none
}

// Runner runs commands over targets. It is safe for concurrent use; each
// command call schedules its own targets.
type Runner struct {
	set            *source.Set
	settings       fleet.Defaults
	parallel       int
	txMode         TxMode
	retry          retryPolicy
	rollbackOnHalt bool
	log            *slog.Logger
	sched          schedule.Config // parallelism, observer, log and the servers' connection slots
	store          database.StoreExtender
	pool           pool // sessions shared by the schema-per-tenant targets of a database
	sharedSchemas  []string

	poolerMu    sync.Mutex
	poolers     map[string]bool // per DSN: reached through a transaction pooler
	keepMigrate bool            // keep golang-migrate's table in step where it exists
}

// New checks opts and returns a Runner.
func New(opts Options) (*Runner, error) {
	if opts.Set == nil || len(opts.Set.Migrations) == 0 {
		return nil, errors.New("runner: an empty migration set")
	}
	store, err := ledger.NewStore()
	if err != nil {
		return nil, err
	}
	r := &Runner{set: opts.Set, settings: opts.Settings, parallel: opts.Settings.Parallelism, txMode: opts.TxMode,
		rollbackOnHalt: opts.RollbackOnHalt, log: opts.Logger, store: store, sharedSchemas: opts.Settings.SharedSchemas,
		keepMigrate: opts.Settings.GolangMigrateTable != fleet.GolangMigrateIgnore, poolers: map[string]bool{},
		retry: retryPolicy{attempts: 1 + fleet.DefaultRetries, backoff: 200 * time.Millisecond}}
	if r.parallel <= 0 {
		r.parallel = fleet.BuiltinDefaults().Parallelism
	}
	if r.txMode == "" {
		r.txMode = TxTarget
	}
	switch {
	case opts.Retries < 0:
		r.retry.attempts = 1
	case opts.Retries > 0:
		r.retry.attempts = 1 + opts.Retries
	}
	if opts.RetryBackoff > 0 {
		r.retry.backoff = opts.RetryBackoff
	}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r.sched = schedule.Config{Parallel: r.parallel, Observer: opts.Observer, Log: r.log,
		Server: dsn.Server, Free: r.freeConnections, Sizes: r.readSizes}
	return r, nil
}

// run schedules fn over the waves' targets (see schedule.Config.Run), each
// within the per-target timeout and under its watchdog; with
// rollback-on-halt, a halted up undoes what it applied.
func (r *Runner) run(ctx context.Context, command string, waves []fleet.WaveTargets, fn schedule.Func) *report.Report {
	defer r.pool.drain()
	c := r.sched
	if r.rollbackOnHalt && command == "up" {
		c.Undo = r.undo
	}
	return c.Run(ctx, command, waves, func(ctx context.Context, t fleet.Target, log *slog.Logger) report.Target {
		if r.settings.Timeout > 0 {
			// The budget covers everything the target costs: the work
			// ends early enough to leave the read-back its share.
			end := time.Now().Add(r.settings.Timeout)
			reserve := min(r.settings.Timeout/5, 5*time.Second)
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadlineCause(context.WithValue(ctx, deadlineKey{}, end), end.Add(-reserve),
				fmt.Errorf("target timeout of %s exceeded: %w", r.settings.Timeout, context.DeadlineExceeded))
			defer cancel()
		}
		ctx, stopWatch := r.watchTarget(ctx, t)
		defer stopWatch()
		return fn(ctx, t, log)
	})
}

// undo brings t back to version from after a halt. When the undo ended
// before it read the target (interrupted, locked, unreachable), where the
// target stands is read again on a fresh session, detached from
// cancellation; when that fails too, the version stays unknown and the
// reason joins the error.
func (r *Runner) undo(ctx context.Context, t fleet.Target, log *slog.Logger, from int64) report.Target {
	undo := r.migrateTarget(ctx, t, log, func(st state) ([]step, error) { return r.stepsDown(st, from) })
	if undo.ToVersion != nil {
		return undo
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	sess, err := r.open(rctx, t, true)
	if err == nil {
		defer sess.close()
		var v int64
		if v, err = currentVersion(rctx, sess.conn); err == nil {
			undo.ToVersion = report.V(v)
			return undo
		}
	}
	if undo.Error == nil {
		undo.Error = &report.Error{Class: ClassOther, Message: "--rollback-on-halt could not roll this target back"}
	}
	undo.Error.Remedy = joinRemedy(undo.Error.Remedy, "the target's version could not be read back ("+t.Scrub(err.Error())+"): check "+ledger.VersionTable+" on it")
	return undo
}

// cause is the error to report when ctx ended: the timeout's own cause
// when a per-target budget ran out, else the cancellation.
func cause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return err
}

// interrupted reports whether the run (not only this target) was cancelled.
func interrupted(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), context.Canceled)
}
