package runner

import (
	"fmt"
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// OutOfOrderError reports migrations of the set that are older than the
// target's current version but were never applied there. Applying them now
// would run them after newer ones, which the set's authors never tested, so
// the target is left alone and a person decides.
type OutOfOrderError struct {
	Current int64
	Missing []int64
}

func (e *OutOfOrderError) Error() string {
	vs := make([]string, len(e.Missing))
	for i, v := range e.Missing {
		vs[i] = fmt.Sprint(v)
	}
	return fmt.Sprintf("version(s) %s of the migration set are not applied, but the target is already at version %d; "+
		"applying them out of order is refused: check how the target got ahead", strings.Join(vs, ", "), e.Current)
}

// pendingUp returns, in ascending order, the migrations that bring a target
// in state st to version to.
func pendingUp(set *source.Set, st state, to int64) ([]*source.Migration, error) {
	var pending []*source.Migration
	var missing []int64
	for _, m := range set.Migrations {
		if m.Version > to || st.applied[m.Version] {
			continue
		}
		if m.Version < st.current {
			missing = append(missing, m.Version)
			continue
		}
		pending = append(pending, m)
	}
	if len(missing) > 0 {
		return nil, &OutOfOrderError{Current: st.current, Missing: missing}
	}
	return pending, nil
}
