// Package runner runs commands over a fleet: for each target it connects,
// locks, reads the version table, plans and applies migrations, and records
// the outcome; a bounded errgroup schedules the targets. A failed target is a
// result in the report, never a reason to stop the others.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/pressly/goose/v3/database"
	"golang.org/x/sync/errgroup"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// DefaultParallelism bounds concurrent targets when neither the fleet file
// nor a flag says otherwise.
const DefaultParallelism = 8

// Settings are the per-session limits of a run.
type Settings struct {
	LockTimeout              time.Duration // PostgreSQL lock_timeout for DDL
	StatementTimeout         time.Duration // PostgreSQL statement_timeout
	IdleInTransactionTimeout time.Duration // idle_in_transaction_session_timeout
	ConnectTimeout           time.Duration // dialing and authentication
	LockWait                 time.Duration // how long to poll for the target's advisory lock
	Timeout                  time.Duration // whole budget per target; 0 means none
}

// Options configure a Runner.
type Options struct {
	Set         *source.Set
	Settings    Settings
	Parallelism int          // targets in flight at once; DefaultParallelism when 0
	Logger      *slog.Logger // progress and diagnostics; discarded when nil
}

// Runner runs commands over targets. It is safe for concurrent use; each
// command call schedules its own targets.
type Runner struct {
	set      *source.Set
	settings Settings
	parallel int
	log      *slog.Logger
	store    database.StoreExtender
}

// New checks opts and returns a Runner.
func New(opts Options) (*Runner, error) {
	if opts.Set == nil || len(opts.Set.Migrations) == 0 {
		return nil, errors.New("runner: an empty migration set")
	}
	store, err := newStore()
	if err != nil {
		return nil, err
	}
	r := &Runner{set: opts.Set, settings: opts.Settings, parallel: opts.Parallelism, log: opts.Logger, store: store}
	if r.parallel <= 0 {
		r.parallel = DefaultParallelism
	}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return r, nil
}

// targetFunc does one command's work on one target and returns its outcome.
type targetFunc func(ctx context.Context, t fleet.Target, log *slog.Logger) report.Target

// run schedules fn over targets, at most r.parallel at once, and assembles
// the report in fleet order. Each worker writes only its own slot of the
// result slice. Once ctx is cancelled no new target starts; those never
// started are reported cancelled.
func (r *Runner) run(ctx context.Context, command string, targets []fleet.Target, fn targetFunc) *report.Report {
	started := time.Now()
	results := make([]report.Target, len(targets))
	var g errgroup.Group
	g.SetLimit(r.parallel)
	for i, t := range targets {
		if ctx.Err() != nil {
			results[i] = notStarted(t, report.StatusCancelled)
			continue
		}
		g.Go(func() error {
			if ctx.Err() != nil {
				results[i] = notStarted(t, report.StatusCancelled)
				return nil
			}
			log := r.log.With("target", t.Name)
			tctx, cancel := ctx, context.CancelFunc(func() {})
			if r.settings.Timeout > 0 {
				tctx, cancel = context.WithTimeoutCause(ctx, r.settings.Timeout,
					fmt.Errorf("target timeout of %s exceeded: %w", r.settings.Timeout, context.DeadlineExceeded))
			}
			t0 := time.Now()
			res := fn(tctx, t, log)
			cancel()
			res.Name = t.Name
			res.DurationMS = time.Since(t0).Milliseconds()
			results[i] = res
			logResult(log, res)
			return nil
		})
	}
	_ = g.Wait() // workers never return errors: outcomes live in results
	return report.New(command, started, time.Since(started), results)
}

func notStarted(t fleet.Target, s report.Status) report.Target {
	return report.Target{Name: t.Name, Status: s}
}

func logResult(log *slog.Logger, t report.Target) {
	attrs := []any{"status", string(t.Status), "from", t.FromVersion, "to", t.ToVersion, "ms", t.DurationMS}
	if t.Error != nil {
		attrs = append(attrs, "error", t.Error.Message)
		if t.Error.SQLState != "" {
			attrs = append(attrs, "sqlstate", t.Error.SQLState)
		}
		log.Warn("target finished", attrs...)
		return
	}
	log.Info("target finished", attrs...)
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
