package fleet

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// FailureBudget is how many failed targets a wave tolerates before the rollout
// halts: a count ("2") or a share of the wave ("2%"). The zero FailureBudget is
// unlimited.
type FailureBudget struct {
	Limited bool
	Count   int     // when Percent is 0
	Percent float64 // share of the wave's targets, 0 < Percent <= 100
}

// ParseFailureBudget reads a max_failures value: a non-negative count or a
// percentage.
func ParseFailureBudget(s string) (FailureBudget, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v < 0 || v > 100 || math.IsNaN(v) {
			return FailureBudget{}, fmt.Errorf("%q is not a percentage between 0%% and 100%%", s)
		}
		return FailureBudget{Limited: true, Percent: v}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return FailureBudget{}, fmt.Errorf("%q is neither a count (0, 1, 2...) nor a percentage (like 2%%)", s)
	}
	return FailureBudget{Limited: true, Count: n}, nil
}

// Allowed is how many failures a wave of n targets tolerates; a percentage
// rounds down, so 2% of 40 targets allows none.
func (b FailureBudget) Allowed(n int) int {
	switch {
	case !b.Limited:
		return math.MaxInt
	case b.Percent > 0:
		return int(math.Floor(b.Percent * float64(n) / 100))
	}
	return b.Count
}

// String renders the budget as written.
func (b FailureBudget) String() string {
	switch {
	case !b.Limited:
		return "unlimited"
	case b.Percent > 0:
		return strconv.FormatFloat(b.Percent, 'f', -1, 64) + "%"
	}
	return strconv.Itoa(b.Count)
}
