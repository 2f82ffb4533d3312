// Package progress shows how a run is going, on stderr: a live bar on a
// terminal (done of the total, how many are running, the finished ones
// counted by outcome, the current wave, elapsed time and an estimate of what
// is left). Elsewhere (cron, CI) it
// draws nothing: the run's log has one plain line per finished target.
package progress

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/schollz/progressbar/v3"

	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/schedule"
)

// New returns the observer for a run: a live bar when stderr is a terminal
// and the operator did not ask for quiet, nil (nothing) otherwise.
func New(stderr io.Writer, terminal, quiet bool) schedule.Observer {
	if !terminal || quiet {
		return nil
	}
	return &Bar{w: stderr}
}

// Bar draws a live progress bar. Safe for concurrent use.
type Bar struct {
	w       io.Writer
	mu      sync.Mutex
	bar     *progressbar.ProgressBar
	command string
	wave    string
	started map[string]bool
	done    map[report.Status]int // finished targets by outcome
}

// RunStarted implements schedule.Observer.
func (b *Bar) RunStarted(command string, targets int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.command = command
	b.started = map[string]bool{}
	b.done = map[report.Status]int{}
	b.bar = progressbar.NewOptions(targets,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetDescription(b.describe()),
	)
}

// WaveStarted implements schedule.Observer.
func (b *Bar) WaveStarted(name string, _ int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.wave = name
	b.refresh()
}

// TargetStarted implements schedule.Observer.
func (b *Bar) TargetStarted(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.started[name] = true
	b.refresh()
}

// TargetFinished implements schedule.Observer.
func (b *Bar) TargetFinished(res report.Target) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.started, res.Name)
	if b.done == nil {
		b.done = map[report.Status]int{}
	}
	b.done[res.Status]++
	b.refresh() // before Add: a bar at 100% draws no new description
	if b.bar != nil {
		_ = b.bar.Add(1)
	}
}

// RunFinished implements schedule.Observer.
func (b *Bar) RunFinished() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		_ = b.bar.Finish()
		fmt.Fprint(b.w, "\r")
	}
}

func (b *Bar) refresh() {
	if b.bar != nil {
		b.bar.Describe(b.describe())
	}
}

func (b *Bar) describe() string {
	s := b.command
	if b.wave != "" {
		s += " · wave " + b.wave
	}
	s += fmt.Sprintf(" · %d running", len(b.started))
	if counts := outcomes(b.done); counts != "" {
		s += " · " + counts
	}
	return s
}

// outcomes counts finished targets by status, in the report's order of
// statuses (any other status last, by name): "40 applied, 2 up_to_date,
// 1 failed".
func outcomes(done map[report.Status]int) string {
	var parts []string
	seen := map[report.Status]bool{}
	for _, s := range report.Statuses {
		seen[s] = true
		if n := done[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	var other []string
	for s, n := range done {
		if !seen[s] && n > 0 {
			other = append(other, fmt.Sprintf("%d %s", n, s))
		}
	}
	sort.Strings(other)
	return strings.Join(append(parts, other...), ", ")
}
