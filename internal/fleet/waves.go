package fleet

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// Wave is one stage of a rollout: the targets it selects are migrated only
// after every earlier wave ended within its failure budget. A Wave is a
// value; nothing modifies it after Parse, so it is safe for concurrent reads.
type Wave struct {
	Name string
	// Select holds the labels a target must all have (label equality) to
	// join the wave. Nil means no select: the wave takes every target no
	// earlier wave took.
	Select map[string]string
	// MaxFailures is how many failed targets the wave tolerates before the
	// rollout halts; the zero FailureBudget (max_failures left out) is unlimited.
	MaxFailures FailureBudget
	// Order is how the wave's targets start: OrderFleet (as listed and
	// discovered), OrderSize (smallest first) or OrderName.
	Order string
	Line  int // line of the wave in the fleet file; 0 for one it did not define
}

// Wave orders.
const (
	OrderFleet = ""     // fleet order
	OrderSize  = "size" // smallest first: database size, or a schema's total relation size
	OrderName  = "name" // by target name
)

// RestWave is the name of the wave AssignWaves adds for the targets that no
// wave of the fleet file selects. A fleet file may not use it for a wave of
// its own unless some wave has no select (then no target is left over).
const RestWave = "rest"

func waveKeys() []string { return []string{"name", "select", "max_failures", "order"} }

const budgetHint = "a count like 0 or 2, or a percentage like 2%"

// WaveTargets is a wave and the targets it migrates, in fleet order.
type WaveTargets struct {
	Wave    Wave
	Targets []Target
}

// AssignWaves splits targets into waves. Each wave, in order, takes the
// targets its Select matches that no earlier wave took; a wave without
// Select takes all the rest. Targets keep their fleet order inside a wave.
//
// Targets that no wave takes form a final wave named RestWave with an
// unlimited budget, so that a fleet file's waves never silently drop a
// target. A wave that ends up with no targets is left out. Without waves,
// all targets form one wave, Wave{} (no name, unlimited budget). The result
// is nil when targets is empty.
//
// Every target is in exactly one WaveTargets, whatever waves holds.
func AssignWaves(targets []Target, waves []Wave) []WaveTargets {
	if len(targets) == 0 {
		return nil
	}
	if len(waves) == 0 {
		return []WaveTargets{{Targets: slices.Clone(targets)}}
	}
	taken := make([]bool, len(targets))
	var out []WaveTargets
	for _, wv := range waves {
		var ts []Target
		for i, t := range targets {
			if !taken[i] && Selector(wv.Select).Matches(t) {
				taken[i] = true
				ts = append(ts, t)
			}
		}
		if len(ts) > 0 {
			out = append(out, WaveTargets{Wave: wv, Targets: ts})
		}
	}
	var rest []Target
	for i, t := range targets {
		if !taken[i] {
			rest = append(rest, t)
		}
	}
	if len(rest) > 0 {
		out = append(out, WaveTargets{Wave: Wave{Name: RestWave}, Targets: rest})
	}
	return out
}

// waveEntry is one entry of the waves list as read, valid or not, kept for
// the checks that compare waves with each other.
type waveEntry struct {
	wave     Wave
	subject  string // `wave "canary"`, or "waves[2]" while the name is unknown
	nameLine int    // line of the name, for duplicates
	selectOK bool   // select is valid, or left out with no unknown key, so wave.Select means what it says
	ok       bool   // the whole entry is valid
}

// waves reads the waves list. A missing, null or empty list means no waves.
func (w *walker) waves(f field) []Wave {
	list := deref(f.val)
	switch {
	case list == nil || isNull(list):
		return nil
	case list.Kind != yaml.SequenceNode:
		w.probs.addf(f.val.Line, `waves must be a list (each entry "- name: ..." with an optional select and max_failures), got %s`, kindOf(list))
		return nil
	}
	entries := make([]waveEntry, 0, len(list.Content))
	firstLine := make(map[string]int)
	for i, item := range list.Content {
		e := w.wave(i, item)
		if name := e.wave.Name; name != "" {
			if first, dup := firstLine[name]; dup {
				w.probs.addf(e.nameLine, "wave %q is defined twice (first at line %d)", name, first)
				e.ok = false
			} else {
				firstLine[name] = e.nameLine
			}
		}
		entries = append(entries, e)
	}
	w.unreachableWaves(entries)
	w.reservedWaveName(entries)

	var out []Wave
	for _, e := range entries {
		if e.ok {
			out = append(out, e.wave)
		}
	}
	return out
}

// wave reads waves[i].
func (w *walker) wave(i int, item *yaml.Node) waveEntry {
	path := fmt.Sprintf("waves[%d]", i)
	line := item.Line
	e := waveEntry{wave: Wave{Line: line}, subject: path, nameLine: line}
	m := deref(item)
	if m == nil || m.Kind != yaml.MappingNode {
		w.probs.addf(line, "%s must be a mapping with a name (and optionally select and max_failures), got %s", path, kindOf(m))
		return e
	}
	before := len(w.probs)
	fields := w.fields(m, "in "+path, waveKeys())
	keysOK := len(w.probs) == before

	if f, found := fields["name"]; !found {
		w.probs.addf(line, "%s has no name", path)
	} else if name, ok := w.scalar(f.val, path+".name", "a string", false); ok {
		if item.Kind != yaml.AliasNode { // an alias's lines point at its anchor
			e.nameLine = f.val.Line
		}
		if why := CheckName(name); why != "" {
			w.probs.addf(f.val.Line, "%s.name %s", path, why)
		} else {
			e.wave.Name = name
			e.subject = fmt.Sprintf("wave %q", name)
		}
	}

	// Without select the wave takes all the rest, unless a key was
	// misspelled: that may have been the select.
	e.selectOK = keysOK
	if f, found := fields["select"]; found {
		e.wave.Select, e.selectOK = w.waveSelect(f, path+".select", e.subject)
	}
	if f, found := fields["max_failures"]; found {
		if b, ok := w.failureBudget(f.val, path+".max_failures", e.subject); ok {
			e.wave.MaxFailures = b
		}
	}
	if f, found := fields["order"]; found {
		if o, ok := w.scalar(f.val, path+".order", "size or name", false); ok {
			switch o {
			case OrderSize, OrderName:
				e.wave.Order = o
			default:
				w.probs.addf(f.val.Line, "%s: order %q is not known (use size: smallest first, or name; leave it out for fleet order)", e.subject, report.Truncate(o, 40))
			}
		}
	}
	e.ok = len(w.probs) == before
	return e
}

// waveSelect reads a wave's select mapping. An empty one is a problem: it
// would match every target, which is what leaving select out says clearly.
func (w *walker) waveSelect(f field, path, subject string) (map[string]string, bool) {
	if m := deref(f.val); m != nil && (isNull(m) || m.Kind == yaml.MappingNode && len(m.Content) == 0) {
		w.probs.addf(f.key.Line, "%s: select is empty (give the label: value pairs a target must all have, or leave select out so the wave takes every remaining target)", subject)
		return nil, false
	}
	before := len(w.probs)
	sel := make(map[string]string)
	w.labels(f.val, path, sel, checkSelectKey)
	return sel, len(w.probs) == before
}

// checkSelectKey returns why key can never match a label, or "" if it can.
func checkSelectKey(key string) string {
	if strings.Contains(key, "=") {
		return `contains "=", which no target label can`
	}
	return CheckLabelKey(key)
}

// failureBudget reads a max_failures value: a YAML number or string that
// ParseFailureBudget accepts.
func (w *walker) failureBudget(n *yaml.Node, path, subject string) (FailureBudget, bool) {
	s, ok := w.scalar(n, path, "a count or a percentage ("+budgetHint+")", false)
	if !ok {
		return FailureBudget{}, false
	}
	if strings.TrimSpace(s) == "" {
		w.probs.addf(n.Line, "%s: max_failures is empty (%s; leave it out for no limit)", subject, budgetHint)
		return FailureBudget{}, false
	}
	b, err := ParseFailureBudget(s)
	if err != nil {
		w.probs.addf(n.Line, "%s: max_failures %v", subject, err)
		return FailureBudget{}, false
	}
	return b, true
}

// unreachableWaves reports every wave that can never receive a target
// because an earlier wave takes every target it would select: one without
// select, or one whose select is a subset of its own. Waves whose select is
// itself broken are left out of the comparison; they have a problem already.
func (w *walker) unreachableWaves(entries []waveEntry) {
	for j, later := range entries {
		if !later.selectOK {
			continue
		}
		for _, earlier := range entries[:j] {
			if !earlier.selectOK || !isSubset(earlier.wave.Select, later.wave.Select) {
				continue
			}
			if earlier.wave.Select == nil {
				w.probs.addf(later.wave.Line, "%s can never receive targets: %s above it has no select and takes all the rest", later.subject, earlier.subject)
			} else {
				w.probs.addf(later.wave.Line, "%s can never receive targets: %s above it (select %s) takes every target its select matches", later.subject, earlier.subject, Selector(earlier.wave.Select))
			}
			break
		}
	}
}

// reservedWaveName reports a wave named RestWave when targets may be left
// over, since AssignWaves would then add a second wave of that name.
func (w *walker) reservedWaveName(entries []waveEntry) {
	for _, e := range entries {
		switch {
		case !e.selectOK:
			return // it may be meant to take all the rest; its problem comes first
		case e.wave.Select == nil:
			return // it takes all the rest: nothing is ever left over
		}
	}
	for _, e := range entries {
		if e.wave.Name == RestWave {
			w.probs.addf(e.nameLine, "wave name %q is reserved for the targets no wave selects (rename this wave, or end the list with a wave without select)", RestWave)
		}
	}
}

// isSubset reports whether every pair of a is in b.
func isSubset(a, b map[string]string) bool {
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
