package schedule

import (
	"cmp"
	"context"
	"slices"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

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
