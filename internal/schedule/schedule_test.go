package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// targets makes targets named prefix0, prefix1, ... on server (their DSN).
func targets(prefix string, n int, server string) []fleet.Target {
	ts := make([]fleet.Target, n)
	for i := range ts {
		ts[i] = fleet.Target{Name: fmt.Sprintf("%s%d", prefix, i), DSN: server}
	}
	return ts
}

func wave(name string, budget string, ts ...fleet.Target) fleet.WaveTargets {
	w := fleet.WaveTargets{Wave: fleet.Wave{Name: name}, Targets: ts}
	if budget != "" {
		b, err := fleet.ParseFailureBudget(budget)
		if err != nil {
			panic(err)
		}
		w.Wave.MaxFailures = b
	}
	return w
}

// fake is a target's work: an outcome per name (applied by default), a
// record of the calls, and the concurrency it saw, overall and per server.
type fake struct {
	mu       sync.Mutex
	outcome  map[string]report.Status
	hook     func(t fleet.Target) // runs inside the work, before it returns
	hold     time.Duration        // how long each target works
	calls    []string
	running  map[string]int // by server (DSN)
	peak     map[string]int
	total    int
	peakAll  int
	finished map[string]bool
}

func newFake() *fake {
	return &fake{outcome: map[string]report.Status{}, running: map[string]int{}, peak: map[string]int{}, finished: map[string]bool{}}
}

func (f *fake) fn(_ context.Context, t fleet.Target, _ *slog.Logger) report.Target {
	f.mu.Lock()
	f.calls = append(f.calls, t.Name)
	f.running[t.DSN]++
	f.total++
	f.peak[t.DSN] = max(f.peak[t.DSN], f.running[t.DSN])
	f.peakAll = max(f.peakAll, f.total)
	s, ok := f.outcome[t.Name]
	hook := f.hook
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running[t.DSN]--
		f.total--
		f.finished[t.Name] = true
		f.mu.Unlock()
	}()
	if f.hold > 0 {
		time.Sleep(f.hold)
	}
	if hook != nil {
		hook(t)
	}
	if !ok {
		s = report.StatusApplied
	}
	res := report.Target{Name: "ignored", Status: s, FromVersion: report.V(1), ToVersion: report.V(2)}
	if s != report.StatusApplied {
		res.ToVersion = report.V(1)
		res.Error = &report.Error{Class: ClassOther, Message: "it failed"}
	}
	return res
}

func (f *fake) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fake) fail(status report.Status, names ...string) {
	for _, n := range names {
		f.outcome[n] = status
	}
}

// recorder is an Observer that keeps every event in order.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) RunStarted(command string, n int) { r.add(fmt.Sprintf("run %s %d", command, n)) }
func (r *recorder) WaveStarted(name string, n int)   { r.add(fmt.Sprintf("wave %s %d", name, n)) }
func (r *recorder) TargetStarted(name string)        { r.add("start " + name) }
func (r *recorder) TargetFinished(res report.Target) {
	r.add(fmt.Sprintf("finish %s %s %s", res.Name, res.Wave, res.Status))
}
func (r *recorder) RunFinished() { r.add("done") }

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *recorder) count(prefix string) int {
	n := 0
	for _, e := range r.all() {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

func statuses(rep *report.Report) []string {
	out := make([]string, len(rep.Targets))
	for i, t := range rep.Targets {
		out[i] = t.Name + "=" + string(t.Status)
	}
	return out
}

func names(rep *report.Report) []string {
	out := make([]string, len(rep.Targets))
	for i, t := range rep.Targets {
		out[i] = t.Name
	}
	return out
}

func wantStatuses(t *testing.T, rep *report.Report, want ...string) {
	t.Helper()
	if got := statuses(rep); !slices.Equal(got, want) {
		t.Fatalf("statuses:\n got %v\nwant %v", got, want)
	}
}

func run(c Config, waves ...fleet.WaveTargets) (*report.Report, *fake) {
	f := newFake()
	return c.Run(context.Background(), "up", waves, f.fn), f
}

func TestEmptyRun(t *testing.T) {
	obs := &recorder{}
	rep := Config{Parallel: 4, Observer: obs}.Run(context.Background(), "status", nil, newFake().fn)
	if len(rep.Targets) != 0 || rep.Targets == nil || rep.Waves != nil || rep.Command != "status" {
		t.Fatalf("report of no targets: %+v", rep)
	}
	if got := obs.all(); !slices.Equal(got, []string{"run status 0", "done"}) {
		t.Fatalf("events %v", got)
	}
}

func TestEmptyWaveRunsAndDoesNotHalt(t *testing.T) {
	obs := &recorder{}
	f := newFake()
	rep := Config{Parallel: 2, Observer: obs}.Run(context.Background(), "up",
		[]fleet.WaveTargets{wave("empty", "0"), wave("next", "0", targets("n", 2, "s")...)}, f.fn)
	wantStatuses(t, rep, "n0=applied", "n1=applied")
	if len(rep.Waves) != 2 || rep.Waves[0].Name != "empty" || rep.Waves[0].Targets != 0 || rep.Waves[0].Halted {
		t.Fatalf("waves %+v", rep.Waves)
	}
	if obs.count("wave empty 0") != 1 {
		t.Fatalf("the empty wave was not started: %v", obs.all())
	}
}

func TestResultsInWaveAndFleetOrder(t *testing.T) {
	f := newFake()
	// The first target of each wave finishes last.
	f.hook = func(t fleet.Target) {
		if strings.HasSuffix(t.Name, "0") {
			time.Sleep(30 * time.Millisecond)
		}
	}
	ws := []fleet.WaveTargets{wave("a", "", targets("a", 4, "s")...), wave("b", "", targets("b", 3, "s")...)}
	rep := Config{Parallel: 4}.Run(context.Background(), "up", ws, f.fn)
	want := []string{"a0", "a1", "a2", "a3", "b0", "b1", "b2"}
	if got := names(rep); !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestResultNameWaveAndTimingFilledIn(t *testing.T) {
	rep, _ := run(Config{Parallel: 1}, wave("w", "", targets("t", 1, "s")...))
	res := rep.Targets[0]
	if res.Name != "t0" || res.Wave != "w" || res.StartedAt == nil || res.DurationMS < 0 {
		t.Fatalf("result %+v", res)
	}
	if res.StartedAt.Location() != time.UTC {
		t.Fatalf("started_at not UTC: %v", res.StartedAt)
	}
}

func TestFuncGetsTargetLogger(t *testing.T) {
	var mu sync.Mutex
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil))
	fn := func(_ context.Context, _ fleet.Target, log *slog.Logger) report.Target {
		log.Info("inside")
		return report.Target{Status: report.StatusUpToDate}
	}
	Config{Parallel: 1, Log: log}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w1", "", targets("t", 1, "s")...)}, fn)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "msg=inside target=t0 wave=w1") || !strings.Contains(out, `msg="target finished" target=t0 wave=w1 status=up_to_date`) {
		t.Fatalf("log:\n%s", out)
	}
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }

func TestHaltAtBudgetByCount(t *testing.T) {
	f := newFake()
	f.fail(report.StatusFailed, "c0", "c1")
	obs := &recorder{}
	ws := []fleet.WaveTargets{wave("canary", "1", targets("c", 4, "s")...), wave("rest", "", targets("r", 2, "s")...)}
	rep := Config{Parallel: 1, Observer: obs}.Run(context.Background(), "up", ws, f.fn)
	wantStatuses(t, rep, "c0=failed", "c1=failed", "c2=skipped", "c3=skipped", "r0=skipped", "r1=skipped")
	if got := f.called(); !slices.Equal(got, []string{"c0", "c1"}) {
		t.Fatalf("ran %v after the budget was spent", got)
	}
	reason := "rollout halted: 2 targets of canary failed, more than its max_failures of 1 (1 of 4 targets)"
	for _, res := range rep.Targets[2:4] {
		if res.Error == nil || res.Error.Class != ClassHalted || res.Error.Message != "not started: the wave exceeded its max_failures" || res.Wave != "canary" {
			t.Fatalf("skipped in the halted wave: %+v %+v", res, res.Error)
		}
	}
	for _, res := range rep.Targets[4:] {
		if res.Error == nil || res.Error.Class != ClassHalted || res.Error.Message != reason || res.Wave != "rest" {
			t.Fatalf("skipped in a later wave: %+v %+v", res, res.Error)
		}
	}
	if !rep.Waves[0].Halted || rep.Waves[0].Failures != 2 || rep.Waves[1].Halted || rep.Waves[1].Targets != 2 {
		t.Fatalf("waves %+v", rep.Waves)
	}
	if obs.count("wave rest") != 0 {
		t.Fatalf("a wave after the halt started: %v", obs.all())
	}
}

func TestWithinBudgetCarriesOn(t *testing.T) {
	f := newFake()
	f.fail(report.StatusFailed, "c0")
	ws := []fleet.WaveTargets{wave("canary", "1", targets("c", 3, "s")...), wave("rest", "0", targets("r", 2, "s")...)}
	rep := Config{Parallel: 1}.Run(context.Background(), "up", ws, f.fn)
	wantStatuses(t, rep, "c0=failed", "c1=applied", "c2=applied", "r0=applied", "r1=applied")
}

func TestHaltByPercent(t *testing.T) {
	f := newFake()
	f.fail(report.StatusFailed, "t0", "t1", "t2")
	// 20% of 10 allows 2: the third failure halts.
	rep := Config{Parallel: 1}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "20%", targets("t", 10, "s")...)}, f.fn)
	if got := f.called(); len(got) != 3 {
		t.Fatalf("ran %v", got)
	}
	if rep.Summary.Skipped != 7 || rep.Summary.Failed != 3 {
		t.Fatalf("summary %+v", rep.Summary)
	}
	if !strings.Contains(rep.Targets[9].Error.Message, "not started: the wave exceeded its max_failures") {
		t.Fatalf("last %+v", rep.Targets[9].Error)
	}
}

func TestPercentWithinBudget(t *testing.T) {
	f := newFake()
	f.fail(report.StatusFailed, "t0", "t1")
	rep := Config{Parallel: 1}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "20%", targets("t", 10, "s")...)}, f.fn)
	if rep.Summary.Applied != 8 || rep.Summary.Failed != 2 || rep.Waves[0].Halted {
		t.Fatalf("summary %+v waves %+v", rep.Summary, rep.Waves)
	}
}

func TestPercentRoundsDown(t *testing.T) {
	// 2% of 40 targets allows none (0.8 rounds down): the first failure halts.
	f := newFake()
	f.fail(report.StatusFailed, "t0")
	rep := Config{Parallel: 1}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "2%", targets("t", 40, "s")...)}, f.fn)
	if rep.Summary.Failed != 1 || rep.Summary.Skipped != 39 {
		t.Fatalf("summary %+v", rep.Summary)
	}
	// 2.5% of 40 allows exactly one.
	f = newFake()
	f.fail(report.StatusFailed, "t0")
	rep = Config{Parallel: 1}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "2.5%", targets("t", 40, "s")...)}, f.fn)
	if rep.Summary.Failed != 1 || rep.Summary.Applied != 39 {
		t.Fatalf("2.5%%: summary %+v", rep.Summary)
	}
}

func TestBudgetZeroHaltsOnFirstFailure(t *testing.T) {
	f := newFake()
	f.fail(report.StatusFailed, "t1")
	rep := Config{Parallel: 1}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "0", targets("t", 4, "s")...)}, f.fn)
	wantStatuses(t, rep, "t0=applied", "t1=failed", "t2=skipped", "t3=skipped")
}

func TestUnlimitedBudgetNeverHalts(t *testing.T) {
	f := newFake()
	f.fail(report.StatusFailed, "a0", "a1", "a2")
	rep := Config{Parallel: 2}.Run(context.Background(), "up",
		[]fleet.WaveTargets{wave("a", "", targets("a", 3, "s")...), wave("b", "", targets("b", 1, "s")...)}, f.fn)
	wantStatuses(t, rep, "a0=failed", "a1=failed", "a2=failed", "b0=applied")
}

func TestWhatSpendsTheBudget(t *testing.T) {
	for _, tc := range []struct {
		status report.Status
		spends bool
	}{
		{report.StatusFailed, true},
		{report.StatusLocked, true},
		{report.StatusRolledBack, true},
		{report.StatusApplied, false},
		{report.StatusUpToDate, false},
		{report.StatusUnadopted, false},
		{report.StatusError, false},
	} {
		f := newFake()
		f.fail(tc.status, "t0")
		rep := Config{Parallel: 1}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "0", targets("t", 2, "s")...)}, f.fn)
		if halted := rep.Targets[1].Status == report.StatusSkipped; halted != tc.spends {
			t.Errorf("%s: halted %v, want %v (%v)", tc.status, halted, tc.spends, statuses(rep))
		}
	}
}

func TestHaltOfARunWithoutWaves(t *testing.T) {
	f := newFake()
	f.fail(report.StatusLocked, "t0")
	rep := Config{Parallel: 1}.Run(context.Background(), "up", []fleet.WaveTargets{wave("", "0", targets("t", 3, "s")...)}, f.fn)
	wantStatuses(t, rep, "t0=locked", "t1=skipped", "t2=skipped")
	if rep.Targets[1].Error.Message != "not started: the run exceeded its max_failures" || rep.Targets[1].Wave != "" {
		t.Fatalf("%+v", rep.Targets[1].Error)
	}
	if rep.Waves != nil {
		t.Fatalf("a run without waves reports waves: %+v", rep.Waves)
	}
}

func TestRollbackReasonOfARunWithoutWaves(t *testing.T) {
	f := newFake()
	f.fail(report.StatusFailed, "t1")
	undo := func(_ context.Context, _ fleet.Target, _ *slog.Logger, _ int64) report.Target {
		return report.Target{Status: report.StatusApplied}
	}
	rep := Config{Parallel: 1, Undo: undo}.Run(context.Background(), "up", []fleet.WaveTargets{wave("", "0", targets("t", 2, "s")...)}, f.fn)
	want := "rolled back by --rollback-on-halt: rollout halted: 1 target of the run failed, more than its max_failures of 0 (0 of 2 targets)"
	if rep.Targets[0].Status != report.StatusRolledBack || rep.Targets[0].Error.Message != want {
		t.Fatalf("%+v %+v", rep.Targets[0], rep.Targets[0].Error)
	}
}

func TestCancelledBeforeTheRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := newFake()
	obs := &recorder{}
	rep := Config{Parallel: 2, Observer: obs}.Run(ctx, "up",
		[]fleet.WaveTargets{wave("a", "0", targets("a", 2, "s")...), wave("b", "", targets("b", 1, "s")...)}, f.fn)
	wantStatuses(t, rep, "a0=cancelled", "a1=cancelled", "b0=cancelled")
	for _, res := range rep.Targets {
		if res.Error != nil || res.StartedAt != nil {
			t.Fatalf("a cancelled target that never started: %+v", res)
		}
	}
	if len(f.called()) != 0 || obs.count("wave ") != 0 || obs.count("finish ") != 3 {
		t.Fatalf("ran %v; events %v", f.called(), obs.all())
	}
}

func TestCancelMidWaveCancelsTheRest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFake()
	f.hook = func(t fleet.Target) {
		if t.Name == "a1" {
			cancel()
		}
	}
	rep := Config{Parallel: 1}.Run(ctx, "up",
		[]fleet.WaveTargets{wave("a", "0", targets("a", 4, "s")...), wave("b", "0", targets("b", 2, "s")...)}, f.fn)
	// a1 itself finished its work: its outcome is its own.
	wantStatuses(t, rep, "a0=applied", "a1=applied", "a2=cancelled", "a3=cancelled", "b0=cancelled", "b1=cancelled")
	if rep.Targets[2].Wave != "a" || rep.Targets[4].Wave != "b" || rep.Targets[2].Error != nil {
		t.Fatalf("%+v %+v", rep.Targets[2], rep.Targets[4])
	}
}

func TestCancelOutranksHaltInTheWaveButNotAfter(t *testing.T) {
	// The failure that spends the budget and the interruption come
	// together: the rest of the wave is cancelled (the run was stopped),
	// the later waves are skipped (the rollout halted).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFake()
	f.fail(report.StatusFailed, "a0")
	f.hook = func(t fleet.Target) { cancel() }
	rep := Config{Parallel: 1}.Run(ctx, "up",
		[]fleet.WaveTargets{wave("a", "0", targets("a", 2, "s")...), wave("b", "", targets("b", 1, "s")...)}, f.fn)
	wantStatuses(t, rep, "a0=failed", "a1=cancelled", "b0=skipped")
	if rep.Targets[1].Error != nil || rep.Targets[2].Error == nil || rep.Targets[2].Error.Class != ClassHalted {
		t.Fatalf("%+v / %+v", rep.Targets[1].Error, rep.Targets[2].Error)
	}
}

func TestCancelWhileWaitingForAConnectionSlot(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	release := make(chan struct{})
	fn := func(_ context.Context, t fleet.Target, _ *slog.Logger) report.Target {
		close(started)
		<-release
		return report.Target{Status: report.StatusApplied}
	}
	free := func(context.Context, fleet.Target) (int, error) { return 1, nil }
	done := make(chan *report.Report)
	go func() {
		done <- Config{Parallel: 4, Server: byDSN, Free: free}.Run(ctx, "up",
			[]fleet.WaveTargets{wave("w", "", targets("t", 3, "s")...)}, fn)
	}()
	<-started
	time.Sleep(20 * time.Millisecond) // the other two wait for the one slot
	cancel()
	close(release)
	rep := <-done
	if rep.Summary.Applied != 1 || rep.Summary.Cancelled != 2 {
		t.Fatalf("%v", statuses(rep))
	}
}

func TestHaltStopsTargetsQueuedForParallelism(t *testing.T) {
	// Targets already handed to a worker but not begun check the budget
	// again: none starts once the wave is over it.
	f := newFake()
	f.fail(report.StatusFailed, "t0", "t1")
	f.hold = 20 * time.Millisecond
	rep := Config{Parallel: 2}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "1", targets("t", 8, "s")...)}, f.fn)
	if got := f.called(); len(got) > 4 {
		t.Fatalf("ran %v after the budget was spent", got)
	}
	for _, res := range rep.Targets[2:] {
		if res.Status != report.StatusSkipped && res.Status != report.StatusApplied {
			t.Fatalf("%v", statuses(rep))
		}
	}
	if rep.Summary.Skipped < 4 {
		t.Fatalf("summary %+v", rep.Summary)
	}
}

func TestRollbackOnHaltOrder(t *testing.T) {
	f := newFake()
	f.fail(report.StatusUpToDate, "a1")
	f.fail(report.StatusFailed, "b1", "b2")
	var mu sync.Mutex
	var undone []string
	undo := func(_ context.Context, t fleet.Target, _ *slog.Logger, from int64) report.Target {
		mu.Lock()
		undone = append(undone, fmt.Sprintf("%s@%d", t.Name, from))
		mu.Unlock()
		return report.Target{Status: report.StatusApplied, ToVersion: report.V(from), Applied: []report.Migration{{Version: 2, Name: "2_x.sql"}}}
	}
	ws := []fleet.WaveTargets{
		wave("a", "0", targets("a", 3, "s")...),
		wave("b", "1", targets("b", 4, "s")...),
		wave("c", "", targets("c", 2, "s")...),
	}
	rep := Config{Parallel: 1, Undo: undo}.Run(context.Background(), "up", ws, f.fn)
	// Every applied target of every wave that ran, in report order; not the
	// up-to-date, failed or skipped ones.
	if want := []string{"a0@1", "a2@1", "b0@1"}; !slices.Equal(undone, want) {
		t.Fatalf("undone %v, want %v", undone, want)
	}
	wantStatuses(t, rep, "a0=rolled_back", "a1=up_to_date", "a2=rolled_back",
		"b0=rolled_back", "b1=failed", "b2=failed", "b3=skipped", "c0=skipped", "c1=skipped")
	res := rep.Targets[0]
	want := "rolled back by --rollback-on-halt: rollout halted: 2 targets of b failed, more than its max_failures of 1 (1 of 4 targets)"
	if res.Error == nil || res.Error.Class != ClassHalted || res.Error.Message != want {
		t.Fatalf("rolled-back error %+v", res.Error)
	}
	if *res.ToVersion != 1 || len(res.Reverted) != 1 || res.Reverted[0].Name != "2_x.sql" || *res.FromVersion != 1 {
		t.Fatalf("rolled-back result %+v", res)
	}
	// The wave's record counts its failures as they were when it halted.
	if rep.Waves[1].Failures != 2 || rep.Waves[0].Failures != 0 {
		t.Fatalf("waves %+v", rep.Waves)
	}
}

func TestRollbackThatFailsSaysHowToFinish(t *testing.T) {
	f := newFake()
	f.fail(report.StatusFailed, "t2")
	undo := func(_ context.Context, t fleet.Target, _ *slog.Logger, from int64) report.Target {
		if t.Name == "t0" {
			return report.Target{Status: report.StatusLocked, Error: &report.Error{Class: "locked", Message: "lock held", Remedy: "wait"}}
		}
		return report.Target{Status: report.StatusFailed, ToVersion: report.V(2)}
	}
	rep := Config{Parallel: 1, Undo: undo}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "0", targets("t", 3, "s")...)}, f.fn)
	wantStatuses(t, rep, "t0=failed", "t1=failed", "t2=failed")
	e := rep.Targets[0].Error
	if e.Class != "locked" || e.Message != "lock held" || e.Remedy != "wait; run `orchestrator down --to 1` for this target" || rep.Targets[0].ToVersion != nil {
		t.Fatalf("t0: %+v %+v", rep.Targets[0], e)
	}
	e = rep.Targets[1].Error
	if e.Class != ClassOther || e.Message != "--rollback-on-halt could not roll this target back" || e.Remedy != "run `orchestrator down --to 1` for this target" || *rep.Targets[1].ToVersion != 2 {
		t.Fatalf("t1: %+v", e)
	}
}

func TestNoRollbackWithoutAHalt(t *testing.T) {
	f := newFake()
	f.fail(report.StatusFailed, "t0")
	called := make(chan string, 10)
	undo := func(_ context.Context, t fleet.Target, _ *slog.Logger, _ int64) report.Target {
		called <- t.Name
		return report.Target{Status: report.StatusApplied}
	}
	rep := Config{Parallel: 2, Undo: undo}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "1", targets("t", 3, "s")...)}, f.fn)
	wantStatuses(t, rep, "t0=failed", "t1=applied", "t2=applied")
	if len(called) != 0 {
		t.Fatalf("undone without a halt: %s", <-called)
	}
}

func TestHaltWithoutUndoLeavesAppliedAlone(t *testing.T) {
	f := newFake()
	f.fail(report.StatusFailed, "t1")
	rep := Config{Parallel: 1}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "0", targets("t", 3, "s")...)}, f.fn)
	wantStatuses(t, rep, "t0=applied", "t1=failed", "t2=skipped")
	if rep.Targets[0].Error != nil {
		t.Fatalf("%+v", rep.Targets[0].Error)
	}
}

func TestRollbackParallelismBound(t *testing.T) {
	f := newFake()
	f.fail(report.StatusFailed, "z0")
	var mu sync.Mutex
	running, peak := 0, 0
	undo := func(_ context.Context, _ fleet.Target, _ *slog.Logger, _ int64) report.Target {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
		return report.Target{Status: report.StatusUpToDate}
	}
	ws := []fleet.WaveTargets{wave("a", "", targets("a", 12, "s")...), wave("z", "0", targets("z", 1, "s")...)}
	rep := Config{Parallel: 3, Undo: undo}.Run(context.Background(), "up", ws, f.fn)
	if rep.Summary.RolledBack != 12 || peak > 3 {
		t.Fatalf("rolled back %d, at most %d at once", rep.Summary.RolledBack, peak)
	}
}

func TestParallelismBound(t *testing.T) {
	f := newFake()
	f.hold = 5 * time.Millisecond
	rep := Config{Parallel: 3}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "", targets("t", 30, "s")...)}, f.fn)
	if rep.Summary.Applied != 30 {
		t.Fatalf("summary %+v", rep.Summary)
	}
	if f.peakAll > 3 || f.peakAll < 2 {
		t.Fatalf("%d targets at once with parallelism 3", f.peakAll)
	}
}

func TestParallelismBelowOneIsOne(t *testing.T) {
	f := newFake()
	f.hold = 2 * time.Millisecond
	rep := Config{}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "", targets("t", 5, "s")...)}, f.fn)
	if rep.Summary.Applied != 5 || f.peakAll != 1 {
		t.Fatalf("summary %+v, %d at once", rep.Summary, f.peakAll)
	}
}

func byDSN(dsn string) (string, string) { return dsn, "" }

func TestConnectionSlotsPerServer(t *testing.T) {
	f := newFake()
	f.hold = 5 * time.Millisecond
	var mu sync.Mutex
	var asked []string
	free := func(_ context.Context, t fleet.Target) (int, error) {
		mu.Lock()
		asked = append(asked, t.Name)
		mu.Unlock()
		switch t.DSN {
		case "small":
			return 2, nil
		case "broken":
			return 0, errors.New("unreachable")
		}
		return 100, nil
	}
	var ts []fleet.Target
	ts = append(ts, targets("s", 10, "small")...)
	ts = append(ts, targets("b", 10, "big")...)
	ts = append(ts, targets("x", 6, "broken")...)
	ts = append(ts, targets("o", 1, "one")...)
	rep := Config{Parallel: 6, Server: byDSN, Free: free}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "", ts...)}, f.fn)
	if rep.Summary.Applied != len(ts) {
		t.Fatalf("summary %+v", rep.Summary)
	}
	if f.peak["small"] > 2 {
		t.Fatalf("%d targets at once on a server with 2 free connections", f.peak["small"])
	}
	if f.peakAll > 6 {
		t.Fatalf("%d targets at once with parallelism 6", f.peakAll)
	}
	// Asked once per server of several targets, through its first target;
	// a server of one target is not asked.
	slices.Sort(asked)
	if want := []string{"b0", "s0", "x0"}; !slices.Equal(asked, want) {
		t.Fatalf("asked %v, want %v", asked, want)
	}
}

func TestServerWithoutFreeConnectionsStillRunsOneAtATime(t *testing.T) {
	f := newFake()
	f.hold = 2 * time.Millisecond
	free := func(context.Context, fleet.Target) (int, error) { return 0, nil }
	rep := Config{Parallel: 4, Server: byDSN, Free: free}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "", targets("t", 6, "s")...)}, f.fn)
	if rep.Summary.Applied != 6 || f.peak["s"] != 1 {
		t.Fatalf("summary %+v, %d at once", rep.Summary, f.peak["s"])
	}
}

func TestFreeErrorKeepsParallelism(t *testing.T) {
	f := newFake()
	f.hold = 10 * time.Millisecond
	free := func(context.Context, fleet.Target) (int, error) { return 1, errors.New("no") }
	Config{Parallel: 4, Server: byDSN, Free: free}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "", targets("t", 16, "s")...)}, f.fn)
	if f.peak["s"] < 2 {
		t.Fatalf("at most %d at once: the failed question limited the server", f.peak["s"])
	}
}

func TestSlotsSpanWaves(t *testing.T) {
	// The slots of a server hold across waves: asked once, before the first.
	f := newFake()
	f.hold = 3 * time.Millisecond
	var mu sync.Mutex
	asked := 0
	free := func(context.Context, fleet.Target) (int, error) {
		mu.Lock()
		asked++
		mu.Unlock()
		return 1, nil
	}
	ws := []fleet.WaveTargets{wave("a", "", targets("a", 1, "s")...), wave("b", "", targets("b", 4, "s")...)}
	Config{Parallel: 4, Server: byDSN, Free: free}.Run(context.Background(), "up", ws, f.fn)
	if asked != 1 || f.peak["s"] != 1 {
		t.Fatalf("asked %d times, %d at once", asked, f.peak["s"])
	}
}

func TestSlotsReleasedAfterFailure(t *testing.T) {
	f := newFake()
	f.fail(report.StatusFailed, "t0", "t1", "t2", "t3")
	free := func(context.Context, fleet.Target) (int, error) { return 1, nil }
	done := make(chan *report.Report)
	go func() {
		done <- Config{Parallel: 3, Server: byDSN, Free: free}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "", targets("t", 5, "s")...)}, f.fn)
	}()
	select {
	case rep := <-done:
		wantStatuses(t, rep, "t0=failed", "t1=failed", "t2=failed", "t3=failed", "t4=applied")
	case <-time.After(10 * time.Second):
		t.Fatal("a failed target kept its server's slot")
	}
}

func TestSlotReleasedAfterPanicAndThePanicIsTheTargetsFailure(t *testing.T) {
	obs := &recorder{}
	fn := func(_ context.Context, t fleet.Target, _ *slog.Logger) report.Target {
		if t.Name == "t1" {
			panic("boom")
		}
		return report.Target{Status: report.StatusApplied}
	}
	free := func(context.Context, fleet.Target) (int, error) { return 1, nil }
	done := make(chan *report.Report)
	go func() {
		done <- Config{Parallel: 2, Server: byDSN, Free: free, Observer: obs}.Run(context.Background(), "up",
			[]fleet.WaveTargets{wave("w", "", targets("t", 4, "s")...)}, fn)
	}()
	var rep *report.Report
	select {
	case rep = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a panicking target kept its server's slot")
	}
	wantStatuses(t, rep, "t0=applied", "t1=failed", "t2=applied", "t3=applied")
	e := rep.Targets[1].Error
	if e == nil || e.Class != ClassOther || e.Message != "internal error: boom" || rep.Targets[1].Name != "t1" || rep.Targets[1].StartedAt == nil {
		t.Fatalf("%+v %+v", rep.Targets[1], e)
	}
	if obs.count("finish t1 w failed") != 1 {
		t.Fatalf("events %v", obs.all())
	}
}

func TestPanicSpendsTheBudget(t *testing.T) {
	fn := func(_ context.Context, t fleet.Target, _ *slog.Logger) report.Target {
		if t.Name == "t0" {
			panic(errors.New("nil map"))
		}
		return report.Target{Status: report.StatusApplied}
	}
	rep := Config{Parallel: 1}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "0", targets("t", 3, "s")...)}, fn)
	wantStatuses(t, rep, "t0=failed", "t1=skipped", "t2=skipped")
}

func TestWavesRunInOrder(t *testing.T) {
	obs := &recorder{}
	f := newFake()
	f.hook = func(t fleet.Target) {
		if t.Name == "a3" {
			time.Sleep(20 * time.Millisecond) // the last of wave a to finish
		}
	}
	ws := []fleet.WaveTargets{wave("a", "", targets("a", 4, "s")...), wave("b", "", targets("b", 4, "s")...), wave("c", "", targets("c", 2, "s")...)}
	Config{Parallel: 4, Observer: obs}.Run(context.Background(), "up", ws, f.fn)
	events := obs.all()
	pos := func(e string) int {
		i := slices.Index(events, e)
		if i < 0 {
			t.Fatalf("no event %q in %v", e, events)
		}
		return i
	}
	for _, pair := range [][2]string{{"a", "b"}, {"b", "c"}} {
		prev, next := pair[0], pair[1]
		start := pos("wave " + next + " " + map[string]string{"b": "4", "c": "2"}[next])
		for i, e := range events {
			if strings.HasPrefix(e, "finish "+prev) && i > start {
				t.Fatalf("wave %s started before %q: %v", next, e, events)
			}
			if strings.HasPrefix(e, "start "+next) && i < start {
				t.Fatalf("%q before its wave started: %v", e, events)
			}
		}
	}
	got := f.called()
	for i, name := range got {
		if want := "abc"[min(i/4, 2)]; name[0] != want {
			t.Fatalf("call %d is %s, of wave %c's turn: %v", i, name, want, got)
		}
	}
}

func TestObserverSeesEveryStartAndFinish(t *testing.T) {
	obs := &recorder{}
	f := newFake()
	f.fail(report.StatusFailed, "a0", "a1")
	ws := []fleet.WaveTargets{wave("a", "1", targets("a", 5, "s")...), wave("b", "", targets("b", 3, "s")...)}
	rep := Config{Parallel: 1, Observer: obs}.Run(context.Background(), "up", ws, f.fn)
	events := obs.all()
	// The skipped targets of the halted wave may be told in any order.
	slices.Sort(events[6:9])
	want := []string{
		"run up 8",
		"wave a 5",
		"start a0", "finish a0 a failed",
		"start a1", "finish a1 a failed",
		"finish a2 a skipped", "finish a3 a skipped", "finish a4 a skipped",
		"finish b0 b skipped", "finish b1 b skipped", "finish b2 b skipped",
		"done",
	}
	if !slices.Equal(events, want) {
		t.Fatalf("events:\n got %q\nwant %q", events, want)
	}
	if obs.count("finish ") != len(rep.Targets) {
		t.Fatalf("%d finishes for %d targets", obs.count("finish "), len(rep.Targets))
	}
}

func TestObserverCountsUnderConcurrency(t *testing.T) {
	obs := &recorder{}
	f := newFake()
	f.fail(report.StatusFailed, "a3")
	ws := []fleet.WaveTargets{wave("a", "", targets("a", 20, "s")...), wave("b", "", targets("b", 20, "t")...)}
	Config{Parallel: 8, Observer: obs}.Run(context.Background(), "up", ws, f.fn)
	events := obs.all()
	if events[0] != "run up 40" || events[len(events)-1] != "done" || obs.count("run ") != 1 || obs.count("done") != 1 {
		t.Fatalf("run events: %v", events)
	}
	if obs.count("start ") != 40 || obs.count("finish ") != 40 || obs.count("wave ") != 2 {
		t.Fatalf("%d starts, %d finishes, %d waves", obs.count("start "), obs.count("finish "), obs.count("wave "))
	}
	// Each target starts before it finishes, inside its wave.
	for i, e := range events {
		if name, ok := strings.CutPrefix(e, "start "); ok {
			j := slices.IndexFunc(events, func(x string) bool { return strings.HasPrefix(x, "finish "+name+" ") })
			if j < i {
				t.Fatalf("%s finished at %d before it started at %d", name, j, i)
			}
		}
	}
}

func TestRunFinishedAfterRollback(t *testing.T) {
	obs := &recorder{}
	f := newFake()
	f.fail(report.StatusFailed, "t1")
	undo := func(_ context.Context, t fleet.Target, _ *slog.Logger, _ int64) report.Target {
		obs.add("undo " + t.Name)
		return report.Target{Status: report.StatusApplied}
	}
	Config{Parallel: 1, Observer: obs, Undo: undo}.Run(context.Background(), "up", []fleet.WaveTargets{wave("w", "0", targets("t", 2, "s")...)}, f.fn)
	events := obs.all()
	if want := []string{"undo t0", "done"}; !slices.Equal(events[len(events)-2:], want) {
		t.Fatalf("events %v", events)
	}
}

func TestWaveResults(t *testing.T) {
	f := newFake()
	f.fail(report.StatusFailed, "a0")
	ws := []fleet.WaveTargets{wave("a", "50%", targets("a", 4, "s")...), wave("b", "", targets("b", 2, "s")...)}
	ws[1].Wave.Order = fleet.OrderName
	rep := Config{Parallel: 2}.Run(context.Background(), "up", ws, f.fn)
	if len(rep.Waves) != 2 {
		t.Fatalf("waves %+v", rep.Waves)
	}
	a, b := rep.Waves[0], rep.Waves[1]
	if a.Name != "a" || a.Targets != 4 || a.Failures != 1 || a.MaxFailures != "50%" || a.Allowed == nil || *a.Allowed != 2 || a.Halted {
		t.Fatalf("wave a %+v", a)
	}
	if b.Name != "b" || b.Targets != 2 || b.MaxFailures != "unlimited" || b.Order != fleet.OrderName || b.Allowed != nil {
		t.Fatalf("wave b %+v", b)
	}
}

func TestOrderByName(t *testing.T) {
	ts := []fleet.Target{{Name: "c"}, {Name: "a"}, {Name: "b"}}
	w := wave("w", "", ts...)
	w.Wave.Order = fleet.OrderName
	rep, f := run(Config{Parallel: 1}, w)
	if got := names(rep); !slices.Equal(got, []string{"a", "b", "c"}) || !slices.Equal(f.called(), got) {
		t.Fatalf("report %v, ran %v", got, f.called())
	}
	if ts[0].Name != "c" {
		t.Fatal("the caller's targets were reordered")
	}
}

func TestOrderBySizeUnknownLast(t *testing.T) {
	ts := []fleet.Target{{Name: "big"}, {Name: "u1"}, {Name: "small"}, {Name: "u2"}, {Name: "mid"}}
	w := wave("w", "", ts...)
	w.Wave.Order = fleet.OrderSize
	sizes := func(_ context.Context, got []fleet.Target) map[string]int64 {
		if len(got) != len(ts) {
			t.Errorf("asked the sizes of %d targets", len(got))
		}
		return map[string]int64{"big": 300, "small": 1, "mid": 20}
	}
	rep, f := run(Config{Parallel: 1, Sizes: sizes}, w)
	want := []string{"small", "mid", "big", "u1", "u2"}
	if got := names(rep); !slices.Equal(got, want) || !slices.Equal(f.called(), want) {
		t.Fatalf("report %v, ran %v", got, f.called())
	}
	if *rep.Targets[0].SizeBytes != 1 || *rep.Targets[2].SizeBytes != 300 || rep.Targets[3].SizeBytes != nil {
		t.Fatalf("sizes %+v", rep.Targets)
	}
	if rep.Waves[0].Order != fleet.OrderSize {
		t.Fatalf("wave %+v", rep.Waves[0])
	}
}

func TestOrderBySizeWithoutSizesKeepsFleetOrder(t *testing.T) {
	w := wave("w", "", targets("t", 4, "s")...)
	w.Wave.Order = fleet.OrderSize
	rep, _ := run(Config{Parallel: 1}, w)
	if got := names(rep); !slices.Equal(got, []string{"t0", "t1", "t2", "t3"}) {
		t.Fatalf("%v", got)
	}
}

func TestFleetOrderReadsNoSizes(t *testing.T) {
	sizes := func(context.Context, []fleet.Target) map[string]int64 {
		t.Error("sizes read for a wave in fleet order")
		return nil
	}
	ts := []fleet.Target{{Name: "b"}, {Name: "a"}}
	rep, _ := run(Config{Parallel: 1, Sizes: sizes}, wave("w", "", ts...))
	if got := names(rep); !slices.Equal(got, []string{"b", "a"}) || rep.Targets[0].SizeBytes != nil {
		t.Fatalf("%v", got)
	}
}

func TestNoSizesReadForWavesAfterAHalt(t *testing.T) {
	f := newFake()
	f.fail(report.StatusFailed, "a0")
	asked := 0
	sizes := func(context.Context, []fleet.Target) map[string]int64 { asked++; return nil }
	later := wave("b", "", targets("b", 2, "s")...)
	later.Wave.Order = fleet.OrderSize
	rep := Config{Parallel: 1, Sizes: sizes}.Run(context.Background(), "up", []fleet.WaveTargets{wave("a", "0", targets("a", 1, "s")...), later}, f.fn)
	if asked != 0 || rep.Summary.Skipped != 2 {
		t.Fatalf("asked %d, summary %+v", asked, rep.Summary)
	}
}

func TestSkip(t *testing.T) {
	ws := []fleet.WaveTargets{wave("b", "1", targets("b", 2, "s")...)}
	rep := Skip("up", ws, "not started: wave a halted")
	wantStatuses(t, rep, "b0=skipped", "b1=skipped")
	for _, res := range rep.Targets {
		if res.Wave != "b" || res.Error == nil || res.Error.Class != ClassHalted || res.Error.Message != "not started: wave a halted" {
			t.Fatalf("%+v", res)
		}
	}
	if rep.Summary.Skipped != 2 || len(rep.Waves) != 1 || rep.Waves[0].MaxFailures != "1" || rep.Waves[0].Halted {
		t.Fatalf("summary %+v waves %+v", rep.Summary, rep.Waves)
	}
	// A shard of the wave may hold no target: the wave is still recorded.
	rep = Skip("up", []fleet.WaveTargets{wave("b", "", nil...)}, "x")
	if len(rep.Targets) != 0 || len(rep.Waves) != 1 || rep.Waves[0].Name != "b" {
		t.Fatalf("%+v", rep)
	}
}

func TestCleanIsNotLogged(t *testing.T) {
	var mu sync.Mutex
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil))
	fn := func(_ context.Context, t fleet.Target, _ *slog.Logger) report.Target {
		if t.Name == "t0" {
			return report.Target{Status: report.StatusClean}
		}
		return report.Target{Status: report.StatusError, Error: &report.Error{Class: ClassOther, Message: "nope", SQLState: "42P01"}}
	}
	Config{Parallel: 1, Log: log}.Run(context.Background(), "drift", []fleet.WaveTargets{wave("", "", targets("t", 2, "s")...)}, fn)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if strings.Contains(out, "target=t0") {
		t.Fatalf("a provisional clean was logged:\n%s", out)
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "target=t1 status=error") || !strings.Contains(out, "error=nope sqlstate=42P01") {
		t.Fatalf("log:\n%s", out)
	}
}
