// Package schedule runs one command's work over a fleet's targets, wave
// after wave: at most Parallel targets at once, and no more on one server
// than it has connections free. A wave whose failures exceed its
// max_failures halts the rollout: no new target starts, and those that did
// not are reported skipped (cancelled instead when the run was
// interrupted); what the run applied may then be undone. The work on each
// target is the caller's Func, so nothing here opens a connection.
package schedule

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// Error classes of the outcomes the scheduler writes itself.
const (
	ClassHalted = "halted" // not started, or rolled back, because a wave halted the rollout
	ClassOther  = "other"  // a failure of no known kind
)

// Func does one command's work on one target and returns its outcome; the
// scheduler fills in its name, wave, start time and duration. log names the
// target (and its wave).
type Func func(ctx context.Context, t fleet.Target, log *slog.Logger) report.Target

// Config says how a run is scheduled; a zero field means none.
type Config struct {
	Parallel int          // targets in flight at once; 1 when less
	Observer Observer     // told as targets start and finish
	Log      *slog.Logger // progress and diagnostics
	// Server names the server of a target's DSN (its database is not
	// used): the targets of one server share its connection slots (at most
	// Free of them run at once; Parallel when Free is nil or fails, or the
	// server has one target).
	Server func(dsn string) (server, database string)
	Free   func(ctx context.Context, via fleet.Target) (int, error)
	// Sizes reads the sizes of a wave's targets (by name) for a wave of
	// order size; a target it leaves out starts after the others.
	Sizes func(ctx context.Context, targets []fleet.Target) map[string]int64
	// Undo runs, once a wave halted the rollout, on every target the run
	// applied, to bring it back to version from. Its outcome is applied or
	// up_to_date when it did; its ToVersion is where t stands, nil when
	// unknown.
	Undo func(ctx context.Context, t fleet.Target, log *slog.Logger, from int64) report.Target
}

// Run schedules fn over the waves' targets and assembles the report in
// wave order. Each worker writes only its own slot of a wave's results.
func (c Config) Run(ctx context.Context, command string, waves []fleet.WaveTargets, fn Func) *report.Report {
	return c.run(ctx, command, waves, fn, "")
}

// Skip reports every target of waves as skipped for reason, without
// starting any: a barrier before the waves found an earlier wave over its
// budget.
func Skip(command string, waves []fleet.WaveTargets, reason string) *report.Report {
	return Config{}.run(context.Background(), command, waves, nil, reason)
}

// run is Run once the rollout halted for the reason halted, if not "".
func (c Config) run(ctx context.Context, command string, waves []fleet.WaveTargets, fn Func, halted string) *report.Report {
	c.Parallel = max(c.Parallel, 1)
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	started := time.Now()
	var everyone []fleet.Target
	for _, w := range waves {
		everyone = append(everyone, w.Targets...)
	}
	c.Observer.RunStarted(command, len(everyone))
	defer c.Observer.RunFinished()
	slots := c.slots(ctx, everyone)
	var all []report.Target
	var targets []fleet.Target // parallel to all
	var results []report.WaveResult
	for _, w := range waves {
		var res []report.Target
		switch {
		case halted != "" || ctx.Err() != nil:
			for _, t := range w.Targets {
				res = append(res, notStarted(t, w.Wave.Name, halted))
				c.Observer.TargetFinished(res[len(res)-1])
			}
		default:
			var sizes map[string]int64
			w, sizes = c.order(ctx, w)
			var reason string
			res, reason = c.runWave(ctx, w, slots, fn)
			withSizes(res, sizes)
			if reason != "" {
				halted = reason
				c.Log.Warn("rollout halted", "wave", w.Wave.Name, "reason", reason)
			}
		}
		results = append(results, report.NewWaveResult(w.Wave.Name, w.Wave.MaxFailures.String(), w.Wave.Order, res))
		all = append(all, res...)
		targets = append(targets, w.Targets...)
	}
	if halted != "" && c.Undo != nil {
		c.rollBack(ctx, targets, all, halted)
	}
	rep := report.New(command, started, time.Since(started), all)
	for _, w := range results {
		if w.Name != "" { // a fleet file's waves, not the one wave of a plain run
			rep.Waves = results
			break
		}
	}
	return rep
}

// runWave runs one wave's targets and says why the rollout must halt, if it
// must.
func (c Config) runWave(ctx context.Context, w fleet.WaveTargets, slots map[string]chan struct{}, fn Func) ([]report.Target, string) {
	results := make([]report.Target, len(w.Targets))
	allowed := w.Wave.MaxFailures.Allowed(len(w.Targets))
	c.Observer.WaveStarted(w.Wave.Name, len(w.Targets))
	var failures atomic.Int64
	over := func() bool { return failures.Load() > int64(allowed) }
	var g errgroup.Group
	g.SetLimit(c.Parallel)
	for i, t := range w.Targets {
		if ctx.Err() != nil || over() {
			results[i] = notStartedIn(ctx, t, w.Wave.Name, over())
			c.Observer.TargetFinished(results[i])
			continue
		}
		g.Go(func() error {
			results[i] = c.target(ctx, t, w.Wave.Name, slots[t.Name], fn, over)
			if report.CountsAgainstBudget(results[i].Status) {
				failures.Add(1)
			}
			c.Observer.TargetFinished(results[i])
			return nil
		})
	}
	_ = g.Wait() // workers never return errors: outcomes live in results
	if n := int(failures.Load()); n > allowed {
		name := w.Wave.Name
		if name == "" {
			name = "the run"
		}
		return results, fmt.Sprintf("rollout halted: %s of %s failed, more than its max_failures of %s (%d of %d targets)",
			report.Plural(n, "target"), name, w.Wave.MaxFailures, allowed, len(w.Targets))
	}
	return results, ""
}

// target runs fn on t once a slot of t's server is free, unless the run
// was cancelled or the wave went over its budget meanwhile. A panic in fn
// is t's failure, not the run's.
func (c Config) target(ctx context.Context, t fleet.Target, wave string, slot chan struct{}, fn Func, over func() bool) (res report.Target) {
	if ctx.Err() != nil || over() {
		return notStartedIn(ctx, t, wave, over())
	}
	select {
	case slot <- struct{}{}:
		defer func() { <-slot }()
	case <-ctx.Done():
		return notStartedIn(ctx, t, wave, false)
	}
	log := c.Log.With("target", t.Name)
	if wave != "" {
		log = log.With("wave", wave)
	}
	c.Observer.TargetStarted(t.Name)
	t0 := time.Now()
	defer func() {
		if p := recover(); p != nil {
			log.Error("target panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			res = report.Target{Status: report.StatusFailed, Error: &report.Error{Class: ClassOther, Message: fmt.Sprintf("internal error: %v", p)}}
		}
		res.Name, res.Wave = t.Name, wave
		res.StartedAt = startedAt(t0)
		res.DurationMS = time.Since(t0).Milliseconds()
		if res.Status != report.StatusClean {
			// clean is provisional (drift's word until its comparison,
			// which logs the final status itself).
			LogResult(log, res)
		}
	}()
	return fn(ctx, t, log)
}

// notStartedIn is a target of wave that did not start: skipped when the
// wave went over its budget, cancelled when the run was interrupted.
func notStartedIn(ctx context.Context, t fleet.Target, wave string, halted bool) report.Target {
	if !halted || ctx.Err() != nil {
		return notStarted(t, wave, "")
	}
	if wave == "" {
		return notStarted(t, wave, "not started: the run exceeded its max_failures")
	}
	return notStarted(t, wave, "not started: the wave exceeded its max_failures")
}

// notStarted is a target of wave that did not start: skipped because a
// wave halted the rollout for reason, cancelled when there is none.
func notStarted(t fleet.Target, wave, reason string) report.Target {
	if reason == "" {
		return report.Target{Name: t.Name, Wave: wave, Status: report.StatusCancelled}
	}
	return report.Target{Name: t.Name, Wave: wave, Status: report.StatusSkipped, Error: &report.Error{Class: ClassHalted, Message: reason}}
}

// rollBack undoes, on every target this run applied, what it applied,
// bringing each back to its from_version: in report order, at most
// Parallel at once.
func (c Config) rollBack(ctx context.Context, targets []fleet.Target, results []report.Target, reason string) {
	var g errgroup.Group
	g.SetLimit(c.Parallel)
	for i := range results {
		if results[i].Status != report.StatusApplied || results[i].FromVersion == nil {
			continue
		}
		t, res := targets[i], &results[i]
		g.Go(func() error {
			log := c.Log.With("target", t.Name)
			from := *res.FromVersion
			undo := c.Undo(ctx, t, log, from)
			res.Reverted = undo.Applied
			res.ToVersion = undo.ToVersion
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
				if res.Error.Remedy != "" {
					res.Error.Remedy += "; "
				}
				res.Error.Remedy += fmt.Sprintf("run `orchestrator down --to %d` for this target", from)
			}
			LogResult(log, *res)
			return nil
		})
	}
	_ = g.Wait()
}

// startedAt is a result's start time as the report shows it.
func startedAt(t time.Time) *time.Time {
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

// LogResult logs a target's outcome: a warning when it carries an error.
func LogResult(log *slog.Logger, t report.Target) {
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

// order puts the wave's targets in the order it asks for and returns the
// size of each target it read (by name). With OrderSize the smallest start
// first; a target whose size is unknown starts after the others, in fleet
// order. OrderName sorts by name; fleet order leaves the wave as it is.
func (c Config) order(ctx context.Context, w fleet.WaveTargets) (fleet.WaveTargets, map[string]int64) {
	switch w.Wave.Order {
	case fleet.OrderName:
		w.Targets = slices.Clone(w.Targets)
		slices.SortStableFunc(w.Targets, func(a, b fleet.Target) int { return cmp.Compare(a.Name, b.Name) })
		return w, nil
	case fleet.OrderSize:
	default:
		return w, nil
	}
	var sizes map[string]int64
	if c.Sizes != nil {
		sizes = c.Sizes(ctx, w.Targets)
	}
	w.Targets = slices.Clone(w.Targets)
	slices.SortStableFunc(w.Targets, func(a, b fleet.Target) int {
		sa, okA := sizes[a.Name]
		sb, okB := sizes[b.Name]
		switch {
		case okA && okB:
			return cmp.Compare(sa, sb)
		case okA:
			return -1
		case okB:
			return 1
		}
		return 0
	})
	return w, sizes
}

// withSizes records in each result the size its wave's order used.
func withSizes(results []report.Target, sizes map[string]int64) {
	for i := range results {
		if n, ok := sizes[results[i].Name]; ok {
			results[i].SizeBytes = &n
		}
	}
}

// slots caps, per server, how many targets run at once by what the server
// can still accept (Free), as parallelism above that would only queue on
// "too many connections" errors: one question per server of several
// targets, through its first target; a server that cannot be asked keeps
// the run's parallelism. The result maps each target's name to its
// server's semaphore.
func (c Config) slots(ctx context.Context, targets []fleet.Target) map[string]chan struct{} {
	keys := make([]string, len(targets))
	var servers []string
	first := map[string]fleet.Target{}
	count := map[string]int{}
	for i, t := range targets {
		if c.Server != nil {
			keys[i], _ = c.Server(t.DSN)
		}
		k := keys[i]
		if _, ok := first[k]; !ok {
			first[k] = t
			servers = append(servers, k)
		}
		count[k]++
	}
	perServer := map[string]chan struct{}{}
	for _, k := range servers {
		limit := min(c.Parallel, count[k])
		if count[k] > 1 && c.Free != nil {
			if free, err := c.Free(ctx, first[k]); err == nil && free < limit {
				c.Log.Warn("lowering parallelism for a server short of connections",
					"server", k, "free_connections", free, "parallelism", max(1, free))
				limit = max(1, free)
			}
		}
		perServer[k] = make(chan struct{}, limit)
	}
	slots := make(map[string]chan struct{}, len(targets))
	for i, t := range targets {
		slots[t.Name] = perServer[keys[i]]
	}
	return slots
}
