package fleet

import (
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"
)

// The keys each mapping of a fleet file may hold, in the order they are
// listed in messages. Functions, not variables: no package state to mutate.
func topKeys() []string { return []string{"defaults", "targets", "discover", "waves"} }

func defaultKeys() []string {
	return []string{"parallelism", "lock_timeout", "statement_timeout", "connect_timeout",
		"idle_in_transaction_timeout", "lock_wait", "timeout", "stall_timeout", "shared_schemas", "golang_migrate_table", "max_exclusive_rows"}
}

func targetKeys() []string { return []string{"name", "dsn", "direct_dsn", "labels"} }

const (
	durationHint = "use e.g. 500ms, 2s, 5m"
	noTargets    = `no targets (add a "targets:" list, each entry with a name and a dsn, or a "discover:" list)`
)

// walker walks one fleet file's yaml.Node tree, collecting every problem.
// It is used by one goroutine for one file.
type walker struct {
	path   string
	lookup func(string) (string, bool)
	probs  problems
}

// field is a known key of a mapping and its value.
type field struct{ key, val *yaml.Node }

// file walks the whole file. The returned Fleet is meaningful only if no
// problem was recorded.
func (w *walker) file(data []byte) *Fleet {
	f := &Fleet{Defaults: BuiltinDefaults()}
	root, ok := w.decode(data)
	if !ok {
		return f
	}
	if root == nil || isNull(root) {
		w.probs.add(0, noTargets)
		return f
	}
	if root.Kind != yaml.MappingNode {
		w.probs.addf(root.Line, "a fleet file must be a mapping with the keys defaults and targets, got %s", kindOf(root))
		return f
	}
	fields := w.fields(root, "at top level", topKeys())
	if d, ok := fields["defaults"]; ok {
		f.Defaults = w.defaults(d.val)
	}
	// A fleet may consist of discover sources alone; a discover key with
	// anything but an empty list in it counts, so that a malformed one is
	// not also reported as missing targets.
	d, hasDiscover := fields["discover"]
	if hasDiscover {
		l := deref(d.val)
		hasDiscover = l != nil && !isNull(l) && (l.Kind != yaml.SequenceNode || len(l.Content) > 0)
		f.Discover = w.discover(d)
	}
	if t, ok := fields["targets"]; ok {
		f.Targets = w.targets(t, hasDiscover)
	} else if !hasDiscover {
		w.probs.add(0, noTargets)
	}
	if wv, ok := fields["waves"]; ok {
		f.Waves = w.waves(wv)
	}
	return f
}

// fields checks the keys of mapping m (where says which, e.g. "in
// defaults") and returns the known ones. An unknown, duplicate or non-string
// key is a problem.
func (w *walker) fields(m *yaml.Node, where string, known []string) map[string]field {
	out := make(map[string]field, len(known))
	first := make(map[string]int)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		name, ok := w.key(k, where)
		if !ok {
			continue
		}
		if line, dup := first[name]; dup {
			w.probs.addf(k.Line, "duplicate key %q %s (first at line %d)", name, where, line)
			continue
		}
		first[name] = k.Line
		if !slices.Contains(known, name) {
			w.probs.add(k.Line, unknownKeyMsg(name, where, known))
			continue
		}
		out[name] = field{key: k, val: v}
	}
	return out
}

// key returns the name of mapping key k, or records why it has none.
func (w *walker) key(k *yaml.Node, where string) (string, bool) {
	r := deref(k)
	switch {
	case r == nil || r.Kind != yaml.ScalarNode:
		w.probs.addf(k.Line, "a key %s must be a plain name, got %s", where, kindOf(r))
		return "", false
	case r.Tag == "!!merge":
		w.probs.addf(k.Line, `merge keys ("<<") are not supported %s; write the keys out`, where)
		return "", false
	}
	return r.Value, true
}

// scalar returns the ${VAR}-expanded text of the scalar n (the value at path;
// want describes what it should be, for the message). A null is "". When the
// node is not a scalar or a reference cannot be expanded, the problem is
// recorded and ok is false. secret marks a DSN: its raw text is never quoted.
func (w *walker) scalar(n *yaml.Node, path, want string, secret bool) (string, bool) {
	r := deref(n)
	if r == nil || r.Kind != yaml.ScalarNode {
		w.probs.addf(n.Line, "%s must be %s, got %s", path, want, kindOf(r))
		return "", false
	}
	if isNull(r) {
		return "", true
	}
	s, errs := expand(r.Value, w.lookup)
	for _, e := range errs {
		w.probs.add(n.Line, e.message(path, secret))
	}
	return s, len(errs) == 0
}

// origin says where a target was defined, e.g. "fleet.yaml:12".
func (w *walker) origin(line int) string {
	if w.path == "" {
		return fmt.Sprintf("line %d", line)
	}
	return fmt.Sprintf("%s:%d", w.path, line)
}
