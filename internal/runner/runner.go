// Package runner runs commands over a fleet: for each target it connects,
// locks, reads the bookkeeping tables, plans and applies migrations, and records
// the outcome; a bounded errgroup schedules the targets. A failed target is a
// result in the report, never a reason to stop the others.
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
	"golang.org/x/sync/errgroup"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/ledger"
	"github.com/orchestrator-dev/orchestrator/internal/report"
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
	TxMode         TxMode        // TxTarget when empty
	Retries        int           // extra attempts of a transaction after a lock timeout or deadlock; -1 for none, 0 for fleet.DefaultRetries
	RetryBackoff   time.Duration // first pause before a retry; 200ms when 0
	RollbackOnHalt bool          // when a wave halts the rollout, undo what this run applied
	Logger         *slog.Logger  // progress and diagnostics; discarded when nil
	Observer       Observer      // told as targets start and finish; nil for none
}

// Wave is a group of targets that starts only when the previous wave ended
// within its failure budget. A run without waves is one wave.
type Wave struct {
	Name        string
	Targets     []fleet.Target
	MaxFailures fleet.FailureBudget
	Order       string // fleet.OrderSize, fleet.OrderName, or fleet order when ""
}

// OneWave puts every target in one unnamed wave with the given budget.
func OneWave(targets []fleet.Target, budget fleet.FailureBudget) []Wave {
	return []Wave{{Targets: targets, MaxFailures: budget}}
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
	observe        Observer
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
	r.observe = opts.Observer
	if r.observe == nil {
		r.observe = nopObserver{}
	}
	return r, nil
}

// targetFunc does one command's work on one target and returns its outcome.
type targetFunc func(ctx context.Context, t fleet.Target, log *slog.Logger) report.Target

// run schedules fn over the waves' targets, wave after wave, at most
// r.parallel targets at once, and assembles the report in wave order. Each
// worker writes only its own slot of the result slice. Once ctx is cancelled
// no new target starts (those are reported cancelled); once a wave exceeds
// its failure budget no new target starts either (skipped), and with
// rollback-on-halt what the run applied is undone.
func (r *Runner) run(ctx context.Context, command string, waves []Wave, fn targetFunc) *report.Report {
	started := time.Now()
	var all []report.Target
	var targets []fleet.Target
	var everyone []fleet.Target
	for _, w := range waves {
		everyone = append(everyone, w.Targets...)
	}
	r.observe.RunStarted(command, len(everyone))
	defer r.observe.RunFinished()
	slots := r.serverSlots(ctx, everyone)
	defer r.pool.drain()
	halted := ""
	var waveResults []report.WaveResult
	for _, w := range waves {
		if halted != "" || ctx.Err() != nil {
			for _, t := range w.Targets {
				status := report.StatusSkipped
				if halted == "" {
					status = report.StatusCancelled
				}
				res := notStarted(t, status)
				res.Wave = w.Name
				if halted != "" {
					res.Error = &report.Error{Class: ClassHalted, Message: halted}
				}
				r.observe.TargetFinished(res)
				all = append(all, res)
				targets = append(targets, t)
			}
			waveResults = append(waveResults, report.NewWaveResult(w.Name, w.MaxFailures.String(), w.Order, all[len(all)-len(w.Targets):]))
			continue
		}
		w, sizes := r.orderWave(ctx, w)
		results, reason := r.runWave(ctx, w, slots, fn)
		withSizes(results, sizes)
		waveResults = append(waveResults, report.NewWaveResult(w.Name, w.MaxFailures.String(), w.Order, results))
		all = append(all, results...)
		targets = append(targets, w.Targets...)
		if reason != "" {
			halted = reason
			r.log.Warn("rollout halted", "wave", w.Name, "reason", reason)
		}
	}
	if halted != "" && r.rollbackOnHalt && command == "up" {
		r.rollBackApplied(ctx, targets, all, halted)
	}
	rep := report.New(command, started, time.Since(started), all)
	rep.Waves = namedWaves(waveResults)
	return rep
}

// runWave runs one wave's targets and says why the rollout must halt, if it
// must.
func (r *Runner) runWave(ctx context.Context, w Wave, slots map[string]chan struct{}, fn targetFunc) ([]report.Target, string) {
	results := make([]report.Target, len(w.Targets))
	allowed := w.MaxFailures.Allowed(len(w.Targets))
	r.observe.WaveStarted(w.Name, len(w.Targets))
	var mu sync.Mutex
	failures := 0
	over := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return failures > allowed
	}
	var g errgroup.Group
	g.SetLimit(r.parallel)
	for i, t := range w.Targets {
		if ctx.Err() != nil || over() {
			results[i] = r.notStartedIn(ctx, t, w, over())
			r.observe.TargetFinished(results[i])
			continue
		}
		g.Go(func() error {
			if ctx.Err() != nil || over() {
				results[i] = r.notStartedIn(ctx, t, w, over())
				r.observe.TargetFinished(results[i])
				return nil
			}
			slot := slots[t.Name]
			select {
			case slot <- struct{}{}:
				defer func() { <-slot }()
			case <-ctx.Done():
				results[i] = r.notStartedIn(ctx, t, w, false)
				r.observe.TargetFinished(results[i])
				return nil
			}
			log := r.log.With("target", t.Name)
			if w.Name != "" {
				log = log.With("wave", w.Name)
			}
			tctx, cancel := ctx, context.CancelFunc(func() {})
			if r.settings.Timeout > 0 {
				// The budget covers everything the target costs: the work
				// ends early enough to leave the read-back its share.
				end := time.Now().Add(r.settings.Timeout)
				reserve := min(r.settings.Timeout/5, 5*time.Second)
				tctx, cancel = context.WithDeadlineCause(context.WithValue(ctx, deadlineKey{}, end), end.Add(-reserve),
					fmt.Errorf("target timeout of %s exceeded: %w", r.settings.Timeout, context.DeadlineExceeded))
			}
			wctx, stopWatch := r.watchTarget(tctx, t)
			r.observe.TargetStarted(t.Name)
			t0 := time.Now()
			res := fn(wctx, t, log)
			stopWatch()
			cancel()
			res.Name, res.Wave = t.Name, w.Name
			res.StartedAt = startedAt(t0)
			res.DurationMS = time.Since(t0).Milliseconds()
			results[i] = res
			if countsAgainstBudget(res.Status) {
				mu.Lock()
				failures++
				mu.Unlock()
			}
			if res.Status != report.StatusClean {
				// clean is drift's provisional word until the
				// comparison: drift logs the final status itself.
				logResult(log, res)
			}
			r.observe.TargetFinished(res)
			return nil
		})
	}
	_ = g.Wait() // workers never return errors: outcomes live in results
	if over() {
		name := w.Name
		if name == "" {
			name = "the run"
		}
		return results, fmt.Sprintf("rollout halted: %s of %s failed, more than its max_failures of %s (%d of %d targets)",
			report.Plural(failures, "target"), name, w.MaxFailures, allowed, len(w.Targets))
	}
	return results, ""
}

func (r *Runner) notStartedIn(ctx context.Context, t fleet.Target, w Wave, halted bool) report.Target {
	res := notStarted(t, report.StatusCancelled)
	if halted && ctx.Err() == nil {
		res.Status = report.StatusSkipped
		res.Error = &report.Error{Class: ClassHalted, Message: "not started: the wave exceeded its max_failures"}
		if w.Name == "" {
			res.Error.Message = "not started: the run exceeded its max_failures"
		}
	}
	res.Wave = w.Name
	return res
}

// countsAgainstBudget: outcomes that spend a wave's failure budget.
func countsAgainstBudget(s report.Status) bool {
	return s == report.StatusRolledBack || s == report.StatusFailed || s == report.StatusLocked
}

// rollBackApplied undoes, on every target this run applied, what it applied,
// bringing each back to its from_version.
func (r *Runner) rollBackApplied(ctx context.Context, targets []fleet.Target, results []report.Target, reason string) {
	var g errgroup.Group
	g.SetLimit(r.parallel)
	for i := range results {
		if results[i].Status != report.StatusApplied {
			continue
		}
		t, res := targets[i], &results[i]
		g.Go(func() error {
			log := r.log.With("target", t.Name)
			from := *res.FromVersion
			undo := r.migrateTarget(ctx, t, log, func(st state) ([]step, error) { return r.stepsDown(st, from) })
			res.Reverted = undo.Applied
			res.ToVersion = undo.ToVersion
			if res.ToVersion == nil {
				// The undo ended before it read the target (interrupted,
				// locked, unreachable): where the target stands is read
				// again, or left unknown with the reason.
				res.ToVersion, undo.Error = r.rereadVersion(ctx, t, undo.Error)
			}
			switch undo.Status {
			case report.StatusApplied, report.StatusUpToDate:
				res.Status = report.StatusRolledBack
				res.Error = &report.Error{Class: ClassHalted, Message: "rolled back by --rollback-on-halt: " + reason}
			default:
				res.Status = report.StatusFailed
				res.Error = undo.Error
				if res.Error == nil {
					res.Error = &report.Error{Class: ClassOther, Message: "--rollback-on-halt could not roll this target back"}
				}
				res.Error.Remedy = joinRemedy(res.Error.Remedy, fmt.Sprintf("run `orchestrator down --to %d` for this target", from))
			}
			logResult(log, *res)
			return nil
		})
	}
	_ = g.Wait()
}

// rereadVersion reads a target's version on a fresh session, detached from
// cancellation; when that fails too, the version stays unknown and the
// reason joins the error.
func (r *Runner) rereadVersion(ctx context.Context, t fleet.Target, e *report.Error) (*int64, *report.Error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	sess, err := r.open(rctx, t, true)
	if err == nil {
		defer sess.close()
		var v int64
		if v, err = currentVersion(rctx, sess.conn); err == nil {
			return report.V(v), e
		}
	}
	if e == nil {
		e = &report.Error{Class: ClassOther, Message: "--rollback-on-halt could not roll this target back"}
	}
	e.Remedy = joinRemedy(e.Remedy, "the target's version could not be read back ("+t.Scrub(err.Error())+"): check "+ledger.VersionTable+" on it")
	return nil, e
}

func notStarted(t fleet.Target, s report.Status) report.Target {
	return report.Target{Name: t.Name, Status: s}
}

func logResult(log *slog.Logger, t report.Target) {
	attrs := []any{"status", string(t.Status), "from", report.VersionText(t.FromVersion), "to", report.VersionText(t.ToVersion), "ms", t.DurationMS}
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
