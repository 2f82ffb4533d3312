package schedule

import "github.com/orchestrator-dev/orchestrator/internal/report"

// Observer is told as targets start and finish, for progress displays. Its
// methods are called from the run's worker goroutines, concurrently: an
// implementation must be safe for concurrent use and quick.
type Observer interface {
	// RunStarted is called once with the number of targets of the run.
	RunStarted(command string, targets int)
	// WaveStarted is called as each wave begins ("" for a run without waves).
	WaveStarted(name string, targets int)
	// TargetStarted is called when a worker begins a target.
	TargetStarted(name string)
	// TargetFinished is called with each target's outcome, including targets
	// that never started (skipped, cancelled).
	TargetFinished(res report.Target)
	// RunFinished is called once, before the report is returned.
	RunFinished()
}

// nopObserver ignores everything.
type nopObserver struct{}

func (nopObserver) RunStarted(string, int)       {}
func (nopObserver) WaveStarted(string, int)      {}
func (nopObserver) TargetStarted(string)         {}
func (nopObserver) TargetFinished(report.Target) {}
func (nopObserver) RunFinished()                 {}
