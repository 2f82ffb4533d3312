package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Shard says which of count stable shards of the selected targets a report
// covers (index from 0).
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// WaveResult is one wave's outcome against its failure budget: how many of
// its targets failed (rolled back, failed or locked) and how many it
// allowed. In a merged report the counts cover every shard of the wave, so
// the budget holds across machines.
type WaveResult struct {
	Name        string `json:"name"`
	Targets     int    `json:"targets"`
	Failures    int    `json:"failures"`
	MaxFailures string `json:"max_failures"`      // as written: "0", "2", "5%" or "unlimited"
	Allowed     *int   `json:"allowed,omitempty"` // failures the wave tolerates at its size; absent when unlimited
	Halted      bool   `json:"halted,omitempty"`  // more failures than allowed: later waves must not start
	Order       string `json:"order,omitempty"`   // how the wave's targets were ordered: size or name
}

// CountsAgainstBudget reports whether an outcome spends a wave's failure
// budget.
func CountsAgainstBudget(s Status) bool {
	return s == StatusRolledBack || s == StatusFailed || s == StatusLocked
}

// NewWaveResult counts the failures among a wave's targets and weighs them
// against its budget.
func NewWaveResult(name, maxFailures, order string, targets []Target) WaveResult {
	w := WaveResult{Name: name, Targets: len(targets), MaxFailures: maxFailures, Order: order}
	for _, t := range targets {
		if CountsAgainstBudget(t.Status) {
			w.Failures++
		}
	}
	w.weigh()
	return w
}

// weigh sets Allowed and Halted from MaxFailures, Targets and Failures.
func (w *WaveResult) weigh() {
	w.Allowed, w.Halted = nil, false
	n, limited := allowedFor(w.MaxFailures, w.Targets)
	if limited {
		w.Allowed = &n
		w.Halted = w.Failures > n
	}
}

// Reason says why the wave halts the rollout; "" when it does not.
func (w WaveResult) Reason() string {
	if !w.Halted {
		return ""
	}
	return fmt.Sprintf("wave %s: %d of its %d target(s) failed, more than its max_failures of %s (%d allowed)",
		w.Name, w.Failures, w.Targets, w.MaxFailures, *w.Allowed)
}

// allowedFor is how many failures a budget as written tolerates over n
// targets: a count as is, a percentage rounded down; false when unlimited
// (or unreadable, which a report written by the tool never holds).
func allowedFor(maxFailures string, n int) (int, bool) {
	s := strings.TrimSpace(maxFailures)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return 0, false
		}
		return int(math.Floor(v * float64(n) / 100)), true
	}
	c, err := strconv.Atoi(s)
	if err != nil {
		return 0, false
	}
	return c, true
}

// mergeWaves sums the wave results of several shards by wave name, in the
// order the waves first appear, and weighs each total against its budget.
func mergeWaves(reports []*Report) ([]WaveResult, error) {
	var out []WaveResult
	at := map[string]int{}
	for i, r := range reports {
		for _, w := range r.Waves {
			j, ok := at[w.Name]
			if !ok {
				at[w.Name] = len(out)
				w.Allowed, w.Halted = nil, false
				out = append(out, w)
				continue
			}
			if out[j].MaxFailures != w.MaxFailures {
				return nil, fmt.Errorf("report %d gives wave %q a max_failures of %s, an earlier one %s: only shards of one run merge",
					i+1, w.Name, w.MaxFailures, out[j].MaxFailures)
			}
			out[j].Targets += w.Targets
			out[j].Failures += w.Failures
		}
	}
	for i := range out {
		out[i].weigh()
	}
	return out, nil
}

// writeWaves prints each wave's failures against its budget.
func writeWaves(w interface{ Write([]byte) (int, error) }, waves []WaveResult) {
	if len(waves) == 0 {
		return
	}
	fmt.Fprintln(w, "\nwaves:")
	for _, wv := range waves {
		name := wv.Name
		if name == "" {
			name = "(all targets)"
		}
		line := fmt.Sprintf("  %s: %d of %d failed, max_failures %s", name, wv.Failures, wv.Targets, wv.MaxFailures)
		if wv.Allowed != nil {
			line += fmt.Sprintf(" (%d allowed)", *wv.Allowed)
		}
		if wv.Order != "" {
			line += ", order " + wv.Order
		}
		if wv.Halted {
			line += ": halted"
		}
		fmt.Fprintln(w, line)
	}
}
