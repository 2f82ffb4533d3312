package drift

import (
	"cmp"
	"maps"
	"slices"
	"sync"

	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// PeerResult is the outcome of comparing targets at the same version with
// each other, the fallback when no scratch database can be created to build
// the expected schema from the migration set.
type PeerResult struct {
	// Baseline is the target whose schema was taken as the expected one.
	Baseline string `json:"baseline"`
	// Tie reports that another schema is shared by as many targets as the
	// baseline's, so that the choice between them was arbitrary: the
	// findings say how the targets differ, not which of them drifted.
	Tie bool `json:"tie"`
	// Findings holds the findings of each target whose schema differs from
	// the baseline's; targets that match it have no entry.
	Findings map[string][]report.Finding `json:"findings"`
}

// Peers compares the snapshots of targets at the same version (by target
// name; nil snapshots are ignored) with each other. The rule:
//
//   - targets are grouped by fingerprint, and the schema shared by the most
//     targets is the expected one;
//   - when several schemas are shared by that many targets, the one of the
//     target whose name sorts first is taken, and Tie is set;
//   - every other target gets Compare's findings against the expected
//     schema, computed once per distinct schema.
//
// With one target, or all alike, there are no findings. A peer comparison
// can only say that a target differs from the others: if most targets
// drifted the same way, the odd ones out are the ones reported.
func Peers(snaps map[string]*Snapshot) PeerResult {
	type group struct {
		first string // the name that sorts first
		snap  *Snapshot
		names []string
	}
	groups := map[string]*group{}
	for _, name := range slices.Sorted(maps.Keys(snaps)) {
		s := snaps[name]
		if s == nil {
			continue
		}
		fp := s.Fingerprint()
		g := groups[fp]
		if g == nil {
			g = &group{first: name, snap: s}
			groups[fp] = g
		}
		g.names = append(g.names, name)
	}
	res := PeerResult{Findings: map[string][]report.Finding{}}
	if len(groups) == 0 {
		return res
	}
	ranked := slices.SortedFunc(maps.Values(groups), func(a, b *group) int {
		return cmp.Or(cmp.Compare(len(b.names), len(a.names)), cmp.Compare(a.first, b.first))
	})
	base := ranked[0]
	res.Baseline = base.first
	res.Tie = len(ranked) > 1 && len(ranked[1].names) == len(base.names)
	for _, g := range ranked[1:] {
		fs := Compare(g.snap, base.snap)
		for _, name := range g.names {
			res.Findings[name] = slices.Clone(fs)
		}
	}
	return res
}

// Comparer is Compare with a memory: a pair of schemas already compared
// (by fingerprint) is not compared again, so a fleet of identical targets
// costs one comparison per distinct schema and version. The zero value is
// ready to use; it is safe for concurrent use.
type Comparer struct {
	mu   sync.Mutex
	memo map[[2]string][]report.Finding
}

// Compare returns Compare(actual, expected), from memory when it can. The
// caller may modify the slice it gets.
func (c *Comparer) Compare(actual, expected *Snapshot) []report.Finding {
	key := [2]string{actual.Fingerprint(), expected.Fingerprint()}
	c.mu.Lock()
	fs, ok := c.memo[key]
	c.mu.Unlock()
	if !ok {
		fs = Compare(actual, expected)
		c.mu.Lock()
		if c.memo == nil {
			c.memo = map[[2]string][]report.Finding{}
		}
		c.memo[key] = fs
		c.mu.Unlock()
	}
	return slices.Clone(fs)
}

// Check returns every finding for st: its version and checksum findings
// against the set, then, for a target that has a version table, its schema
// findings against expected, the schema the set produces at st.Version
// (from a Reference, or from peers). A nil expected leaves the schema
// unchecked.
func (c *Comparer) Check(set *source.Set, st *State, expected *Snapshot) []report.Finding {
	fs := VersionFindings(set, st.Initialized, st.Applied)
	if expected != nil && st.Initialized {
		fs = append(fs, c.Compare(st.Snapshot, expected)...)
	}
	return fs
}
