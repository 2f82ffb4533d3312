package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/orchestrator-dev/orchestrator/internal/demo"
	"github.com/orchestrator-dev/orchestrator/internal/discovery"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/progress"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/runner"
	"github.com/orchestrator-dev/orchestrator/internal/schedule"
	"github.com/orchestrator-dev/orchestrator/internal/source"
	"github.com/orchestrator-dev/orchestrator/migrations"
)

// prepared is a validated command: everything is checked before the first
// connection is opened, so a bad input costs nothing.
type prepared struct {
	fleet  *fleet.Fleet
	set    *source.Set
	runner *runner.Runner
	format report.Format
	to     int64 // -1: the set's latest
	waves  []fleet.WaveTargets
}

func runUp(ctx context.Context, o runOptions) error {
	if o.wave != "" || len(o.after) > 0 {
		return runUpWave(ctx, o)
	}
	p, err := prepare(ctx, o)
	if err != nil {
		return err
	}
	return finish(ctx, o, p.format, p.runner.Up(ctx, p.waves, p.to))
}

func runDown(ctx context.Context, o runOptions) error {
	if len(o.undo) > 0 {
		return runUndo(ctx, o)
	}
	if !o.toSet {
		return usagef("down needs --to V: the version to roll back to (0 reverts everything), or --undo REPORT.json")
	}
	if !o.yes && !stdinIsTerminal() {
		return usagef("down reverts migrations and their data: with no terminal to confirm on, give --yes (nothing was touched; `plan --to %d` previews what down would do)", o.to)
	}
	p, err := prepare(ctx, o)
	if err != nil {
		return err
	}
	if !o.yes {
		preview := p.runner.Plan(ctx, p.fleet.Targets, runner.PlanOptions{To: p.to})
		if ctx.Err() != nil {
			return exitError{exitInterrupted}
		}
		prompt, n := downPrompt(preview, p.to)
		if n == 0 {
			fmt.Fprint(o.stderr, prompt)
		} else if !confirm(o.stderr, prompt) {
			fmt.Fprintln(o.stderr, "down not confirmed: nothing was touched")
			return exitError{exitUsage}
		}
	}
	rep := p.runner.Down(ctx, p.waves, p.to)
	markReverted(rep)
	return finish(ctx, o, p.format, rep)
}

// markReverted words a down report: a target brought down is `reverted`,
// with the migrations it undid under reverted.
func markReverted(rep *report.Report) {
	for i := range rep.Targets {
		t := &rep.Targets[i]
		if t.Status == report.StatusApplied {
			t.Status = report.StatusReverted
			t.Reverted, t.Applied = t.Applied, nil
		}
	}
	rep.Summary = report.Summarize(rep.Targets)
}

// downPrompt says what a down would do, from a plan to the same version:
// how many targets, grouped by the versions each would go through, and the
// targets it could not read. n is the number of targets down would change.
func downPrompt(preview *report.Report, to int64) (prompt string, n int) {
	type move struct{ from, names string }
	counts := map[move]int{}
	var order []move
	var unread []string
	for _, t := range preview.Targets {
		switch {
		case len(t.Revert) > 0:
			names := make([]string, len(t.Revert))
			for i, m := range t.Revert {
				names[i] = m.Name
			}
			k := move{report.VersionText(t.FromVersion), strings.Join(names, ", ")}
			if counts[k] == 0 {
				order = append(order, k)
			}
			counts[k]++
			n++
		case t.Status == report.StatusUpToDate:
		default:
			unread = append(unread, t.Name)
		}
	}
	var b strings.Builder
	if n == 0 {
		fmt.Fprintf(&b, "down --to %d: no target has a migration above %d\n", to, to)
		return b.String(), 0
	}
	fmt.Fprintf(&b, "down --to %d will revert %s of %d, running their down sections (the data of what they created goes too):\n",
		to, report.Plural(n, "target"), len(preview.Targets))
	for _, k := range order {
		fmt.Fprintf(&b, "  %s at %s → %d: %s\n", report.Plural(counts[k], "target"), k.from, to, k.names)
	}
	if already := len(preview.Targets) - n - len(unread); already > 0 {
		fmt.Fprintf(&b, "  %s already at or below %d\n", report.Plural(already, "target"), to)
	}
	if len(unread) > 0 {
		fmt.Fprintf(&b, "  %s could not be read now (%s); down will try them too\n", report.Plural(len(unread), "target"), strings.Join(unread, ", "))
	}
	b.WriteString("Type yes to go ahead: ")
	return b.String(), n
}

// stdinIsTerminal reports whether a person can answer a question.
var stdinIsTerminal = func() bool { return term.IsTerminal(int(os.Stdin.Fd())) }

// confirmInput is where answers are read from.
var confirmInput io.Reader = os.Stdin

// confirm asks on w and reads one line: only "yes" (or "y") goes ahead.
func confirm(w io.Writer, prompt string) bool {
	fmt.Fprint(w, prompt)
	line, _ := bufio.NewReader(confirmInput).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "yes", "y":
		return true
	}
	return false
}

func runStatus(ctx context.Context, o runOptions) error {
	p, err := prepare(ctx, o)
	if err != nil {
		return err
	}
	return finish(ctx, o, p.format, p.runner.Status(ctx, p.fleet.Targets))
}

func runPlan(ctx context.Context, o runOptions, withSQL, verify bool) error {
	if _, err := maxExclusiveRows(o, fleet.Defaults{}, verify); err != nil {
		return err // before any connection
	}
	p, err := prepare(ctx, o)
	if err != nil {
		return err
	}
	limit, _ := maxExclusiveRows(o, p.fleet.Defaults, verify)
	return finish(ctx, o, p.format, p.runner.Plan(ctx, p.fleet.Targets, runner.PlanOptions{To: p.to, SQL: withSQL, Verify: verify, MaxExclusiveRows: limit}))
}

func runDrift(ctx context.Context, o runOptions, scratch, promPath string) error {
	if err := checkOutputPath("--prometheus", promPath); err != nil {
		return err
	}
	p, err := prepare(ctx, o)
	if err != nil {
		return err
	}
	rep := p.runner.Drift(ctx, p.fleet.Targets, runner.DriftOptions{ScratchDSN: scratch})
	if promPath != "" {
		err := report.WriteFileAtomic(promPath, func(w io.Writer) error { return report.WritePrometheus(w, rep, time.Now()) })
		if err != nil {
			fmt.Fprintf(o.stderr, "error: writing %s: %v\n", promPath, err)
			return exitError{outputFailed(rep)}
		}
	}
	return finish(ctx, o, p.format, rep)
}

func runAdopt(ctx context.Context, o runOptions, version int64, force bool, scratch string) error {
	p, err := prepare(ctx, o)
	if err != nil {
		return err
	}
	if version >= 0 {
		if err := checkVersion(p.set, version); err != nil {
			return usageError{strings.Replace(err.Error(), "--to", "--version", 1)}
		}
	} else if version < -1 {
		return usagef("--version %d: versions are never negative", version)
	}
	return finish(ctx, o, p.format, p.runner.Adopt(ctx, p.waves, runner.AdoptOptions{Version: version, Force: force, ScratchDSN: scratch}))
}

func runMerge(ctx context.Context, o runOptions, files []string) error {
	format, err := report.ParseFormat(o.format)
	if err != nil {
		return usageError{err.Error()}
	}
	if err := checkOutputPath("--report", o.reportPath); err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("report merge needs the JSON report files of the shards")
	}
	var reps []*report.Report
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return usagef("%v", err)
		}
		rep, err := report.Read(f)
		f.Close()
		if err != nil {
			return usagef("%s: %v", name, err)
		}
		reps = append(reps, rep)
	}
	merged, err := report.Merge(reps)
	if err != nil {
		return usageError{err.Error()}
	}
	return finish(ctx, o, format, merged)
}

func runTargets(ctx context.Context, o runOptions) error {
	format, err := report.ParseFormat(o.format)
	if err != nil {
		return usageError{err.Error()}
	}
	fl, err := resolveFleet(ctx, o)
	if err != nil {
		return err
	}
	list := make([]report.TargetInfo, len(fl.Targets))
	for i, t := range fl.Targets {
		list[i] = report.TargetInfo{Name: t.Name, DSN: t.RedactedDSN(), Labels: t.Labels, Origin: t.Origin}
	}
	return report.WriteTargets(o.stdout, format, list)
}

func runDemo(ctx context.Context, o runOptions, d demo.Options) error {
	server := o.dsn
	if server == "" {
		server, _ = o.lookup("DATABASE_URL")
	}
	if server == "" {
		server = demo.DefaultServer
	}
	set, err := loadSet(o.migrationsDir)
	if err != nil {
		return err
	}
	d.Server, d.Set, d.Out, d.Runner = server, set, o.stdout, runner.Options{Logger: newLogger(o)}
	err = demo.Run(ctx, d)
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(o.stderr, "error: %v\n", err)
		return exitError{exitFailed}
	}
	return err
}

// prepare validates every input of a command that runs over targets.
func prepare(ctx context.Context, o runOptions) (*prepared, error) {
	format, err := report.ParseFormat(o.format)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	if err := checkOutputPath("--report", o.reportPath); err != nil {
		return nil, err
	}
	// The migration set and the fleet file are checked before discovery
	// opens its first connection.
	set, err := loadSet(o.migrationsDir)
	if err != nil {
		return nil, err
	}
	fl, err := resolveFleet(ctx, o)
	if err != nil {
		return nil, err
	}
	p := &prepared{fleet: fl, set: set, format: format, to: -1}
	if o.toSet {
		if err := checkVersion(set, o.to); err != nil {
			return nil, err
		}
		p.to = o.to
	}
	settings := withFlags(fl.Defaults, o)
	if settings.Parallelism < 1 {
		return nil, usagef("--parallel must be at least 1, got %d", settings.Parallelism)
	}
	txMode := runner.TxTarget
	if o.txMode != "" {
		if txMode, err = runner.ParseTxMode(o.txMode); err != nil {
			return nil, usageError{"--tx-mode: " + err.Error()}
		}
	}
	budget := fleet.FailureBudget{}
	if o.maxFailures != "" {
		if budget, err = fleet.ParseFailureBudget(o.maxFailures); err != nil {
			return nil, usageError{"--max-failures: " + err.Error()}
		}
	}
	retries := 0 // the runner's default
	if o.retriesSet {
		switch {
		case o.retries < 0:
			return nil, usagef("--retries must be 0 or more, got %d", o.retries)
		case o.retries == 0:
			retries = -1 // none
		default:
			retries = o.retries
		}
	}
	p.waves = fleet.AssignWaves(fl.Targets, fl.Waves)
	if o.maxFailures != "" {
		for i := range p.waves {
			p.waves[i].Wave.MaxFailures = budget // the flag overrides every wave's budget
		}
	}
	p.runner, err = runner.New(runner.Options{
		Set:            set,
		Settings:       settings,
		TxMode:         txMode,
		Retries:        retries,
		RollbackOnHalt: o.rollbackHalt,
		Logger:         newLogger(o),
		Observer:       newProgress(o),
	})
	return p, err
}

// resolveFleet reads the fleet, asks its discover sources for their
// targets, and narrows the result to the selected targets and shard. Every
// input is checked before discovery opens its first connection; selection
// and sharding come after it, so every shard of a run sees the same fleet
// whatever order discovery returned it in.
func resolveFleet(ctx context.Context, o runOptions) (*fleet.Fleet, error) {
	sel, err := parseSelection(o)
	if err != nil {
		return nil, err
	}
	fl, err := readFleet(o)
	if err != nil {
		return nil, err
	}
	if fl, err = discovery.Discover(ctx, fl); err != nil {
		var fe *fleet.Error
		if errors.As(err, &fe) {
			return nil, discoveryError{fe}
		}
		return nil, err
	}
	return sel.apply(fl)
}

// selection is what --select, --target and --shard choose.
type selection struct {
	flags        runOptions
	selectors    []fleet.Selector
	shard, count int // count 0: no sharding
}

func parseSelection(o runOptions) (selection, error) {
	sel := selection{flags: o}
	for _, s := range o.selectors {
		parsed, err := fleet.ParseSelector(s)
		if err != nil {
			return sel, usagef("--select %s: %v", s, err)
		}
		sel.selectors = append(sel.selectors, parsed)
	}
	if _, err := fleet.Select(nil, nil, o.globs); err != nil {
		return sel, usagef("--target: %v", err)
	}
	if o.shard != "" {
		jobIndex, _ := o.lookup(fleet.JobIndexEnv)
		i, n, err := fleet.ParseShard(o.shard, jobIndex)
		if err != nil {
			return sel, usagef("--shard %s: %v", o.shard, err)
		}
		sel.shard, sel.count = i, n
	}
	return sel, nil
}

// apply narrows fl to the selection. Selecting nothing is a mistake worth
// stopping for; a shard that gets nothing of a small fleet is not.
func (sel selection) apply(fl *fleet.Fleet) (*fleet.Fleet, error) {
	selected, err := fleet.Select(fl.Targets, sel.selectors, sel.flags.globs)
	if err != nil {
		return nil, usagef("--target: %v", err)
	}
	if len(selected) == 0 {
		return nil, usagef("no target of the fleet matches --select %s --target %s",
			strings.Join(sel.flags.selectors, " --select "), strings.Join(sel.flags.globs, " --target "))
	}
	if sel.count > 0 {
		selected = fleet.Shard(selected, sel.shard, sel.count)
	}
	fl.Targets = selected
	return fl, nil
}

// readFleet resolves where the targets come from. Flags beat the
// environment; two explicit sources are a mistake, not a guess.
func readFleet(o runOptions) (*fleet.Fleet, error) {
	switch {
	case o.fleetPath != "" && o.dsn != "":
		return nil, usagef("give either --fleet or --dsn, not both")
	case o.fleetPath != "":
		return fleet.Load(o.fleetPath, o.lookup)
	case o.dsn != "":
		return fleet.Single(o.dsn)
	}
	if path, ok := o.lookup("ORCH_FLEET"); ok && path != "" {
		return fleet.Load(path, o.lookup)
	}
	if dsn, ok := o.lookup("DATABASE_URL"); ok && dsn != "" {
		return fleet.Single(dsn)
	}
	return nil, usagef("no targets: give --fleet FILE or --dsn URL (or set ORCH_FLEET or DATABASE_URL)")
}

// loadSet reads the migration set: a directory, or the set built into the
// binary.
func loadSet(dir string) (*source.Set, error) {
	if dir == "" {
		return source.Load(migrations.FS, ".")
	}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, usagef("--migrations %s: %v", dir, err)
	}
	if !info.IsDir() {
		return nil, usagef("--migrations %s: not a directory", dir)
	}
	set, err := source.Load(os.DirFS(dir), ".")
	var se *source.Error
	if errors.As(err, &se) {
		se.Dir = dir
	}
	return set, err
}

// checkVersion accepts 0 or a version of the set as a --to value.
func checkVersion(set *source.Set, v int64) error {
	if v == 0 {
		return nil
	}
	if v < 0 {
		return usagef("--to %d: versions are never negative", v)
	}
	if _, ok := set.Find(v); ok {
		return nil
	}
	vs := set.Versions()
	parts := make([]string, len(vs))
	for i, x := range vs {
		parts[i] = fmt.Sprint(x)
	}
	return usagef("--to %d: no such version in the migration set (versions: %s)", v, strings.Join(parts, ", "))
}

// withFlags is d with the flags that override the fleet's defaults applied.
func withFlags(d fleet.Defaults, o runOptions) fleet.Defaults {
	s := d
	if o.parallel != 0 {
		s.Parallelism = o.parallel
	}
	for name, v := range o.durations {
		switch name {
		case flagLockTimeout:
			s.LockTimeout = v
		case flagStatementTimeout:
			s.StatementTimeout = v
		case flagConnectTimeout:
			s.ConnectTimeout = v
		case flagLockWait:
			s.LockWait = v
		case flagTimeout:
			s.Timeout = v
		case flagStallTimeout:
			s.StallTimeout = v
		}
	}
	return s
}

// newProgress is the live bar on a terminal; nothing elsewhere, where the
// log's one line per finished target is the progress.
func newProgress(o runOptions) schedule.Observer {
	if o.verbose {
		return nil
	}
	return progress.New(o.stderr, isTerminal(o.stderr), o.quiet)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newLogger(o runOptions) *slog.Logger {
	level := slog.LevelInfo
	switch {
	case o.verbose:
		level = slog.LevelDebug
	case o.quiet, isTerminal(o.stderr):
		// On a terminal the live bar shows progress; per-target lines would
		// only scroll it away. Warnings (failed targets) still print.
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(o.stderr, &slog.HandlerOptions{Level: level}))
}

// outputFailed is the exit code when a report could not be written after
// the run: the run's own outcome when a target needs attention (1, 3 or
// 130 say more than the lost file), else 2, the code of a place that
// cannot be written (checked before the run, so this is rare: a full disk).
// Exit 1 stays reserved for targets. stderr has said what happened.
func outputFailed(rep *report.Report) int {
	switch {
	case !rep.OK():
		return exitFailed
	case rep.Drifted():
		return exitDrift
	}
	return exitUsage
}

// finish prints the report, writes the JSON copy, and turns the outcome into
// the exit code.
func finish(ctx context.Context, o runOptions, format report.Format, rep *report.Report) error {
	if err := report.WriteWith(o.stdout, format, rep, report.Options{All: o.all}); err != nil {
		fmt.Fprintf(o.stderr, "error: writing the report to stdout: %v\n", err)
		return exitError{outputFailed(rep)}
	}
	if o.reportPath != "" {
		if err := report.WriteFileAtomic(o.reportPath, func(w io.Writer) error { return report.WriteJSON(w, rep) }); err != nil {
			fmt.Fprintf(o.stderr, "error: writing the report to %s: %v\n", o.reportPath, err)
			return exitError{outputFailed(rep)}
		}
	}
	switch {
	case ctx.Err() != nil:
		return exitError{exitInterrupted}
	case !rep.OK():
		return exitError{exitFailed}
	case rep.Drifted():
		return exitError{exitDrift}
	}
	return nil
}

// maxExclusiveRows is the rehearsal's limit: the flag, else the fleet's
// setting.
func maxExclusiveRows(o runOptions, d fleet.Defaults, verify bool) (*int64, error) {
	if o.maxExclusiveRows == nil {
		return d.MaxExclusiveRows, nil
	}
	switch {
	case !verify:
		return nil, usagef("--%s needs --verify: only a rehearsal sees the locks", flagMaxExclusiveRows)
	case *o.maxExclusiveRows < 0:
		return nil, usagef("--%s must be 0 or more, got %d", flagMaxExclusiveRows, *o.maxExclusiveRows)
	}
	return o.maxExclusiveRows, nil
}
