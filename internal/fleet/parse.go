package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The keys each mapping of a fleet file may hold, in the order they are
// listed in messages. Functions, not variables: no package state to mutate.
func topKeys() []string { return []string{"defaults", "targets"} }

func defaultKeys() []string {
	return []string{"parallelism", "lock_timeout", "statement_timeout", "connect_timeout",
		"idle_in_transaction_timeout", "lock_wait", "timeout"}
}

func targetKeys() []string { return []string{"name", "dsn", "labels"} }

const (
	durationHint = "use e.g. 500ms, 2s, 5m"
	noTargets    = `no targets (add a "targets:" list; each entry needs a name and a dsn)`
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
	if t, ok := fields["targets"]; ok {
		f.Targets = w.targets(t)
	} else {
		w.probs.add(0, noTargets)
	}
	return f
}

// decode parses data as a single YAML document and returns its root node
// (nil for an empty file). Malformed YAML is recorded as a problem with the
// line the parser reports.
func (w *walker) decode(data []byte) (root *yaml.Node, ok bool) {
	// yaml.v3 has panicked on crafted input before; a fleet file is input,
	// so turn a parser panic into a problem rather than a crash.
	defer func() {
		if r := recover(); r != nil {
			w.probs.addf(0, "invalid YAML: the parser failed (%v)", r)
			root, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		w.probs.addProblem(yamlProblem(err, data))
		return nil, false
	}
	// Only the first document is read, so check that there is no other.
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		w.probs.addf(next.Line, `a fleet file holds one YAML document, but another starts here (remove the "---")`)
		return nil, false
	case !errors.Is(err, io.EOF):
		w.probs.addProblem(yamlProblem(err, data))
		return nil, false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, true
	}
	return deref(doc.Content[0]), true
}

// yamlProblem turns a yaml.v3 error ("yaml: line 3: mapping values are not
// allowed in this context") into a Problem on the offending line.
func yamlProblem(err error, data []byte) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil && n > 0 {
				line, msg = n, after
			}
		}
	}
	if isParserError(msg) {
		// For these yaml.v3 reports the 0-based line where the enclosing
		// block or flow collection starts, which can be far from the
		// mistake. The first line whose addition makes the file unparsable
		// is where a person should look.
		if n := firstBadLine(data); n > 0 {
			line = n
		} else if line > 0 {
			line++
		}
	}
	msg = "invalid YAML: " + strings.Join(strings.Fields(msg), " ")
	if tabIndented(data, line) {
		msg += " (this line is indented with a tab; YAML needs spaces)"
	}
	return Problem{Line: line, Msg: msg}
}

// isParserError reports whether msg is one of yaml.v3's parser (as opposed
// to scanner) errors, the ones whose line number is unreliable.
func isParserError(msg string) bool {
	return strings.HasPrefix(msg, "did not find expected ") ||
		strings.HasPrefix(msg, "found undefined tag handle") ||
		strings.HasPrefix(msg, "found duplicate %") ||
		strings.HasPrefix(msg, "found incompatible YAML document")
}

// firstBadLine returns the 1-based number of the first line of data such
// that data up to and including it does not parse as YAML, or 0. It bisects,
// so it costs a handful of parses.
func firstBadLine(data []byte) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	prefixOK := func(n int) bool { return yamlValid(bytes.Join(lines[:n], nil)) }
	lo, hi := 0, len(lines) // the first lo lines parse; the first hi lines do not
	if prefixOK(hi) {
		return 0
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if prefixOK(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// yamlValid reports whether every document in data parses.
func yamlValid(data []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		switch err := dec.Decode(&n); {
		case errors.Is(err, io.EOF):
			return true
		case err != nil:
			return false
		}
	}
}

// tabIndented reports whether 1-based line n of data starts with
// whitespace containing a tab, a classic cause of YAML errors.
func tabIndented(data []byte, n int) bool {
	if n <= 0 {
		return false
	}
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			return false
		}
		data = data[j+1:]
	}
	indent := data[:len(data)-len(bytes.TrimLeft(data, " \t"))]
	return bytes.IndexByte(indent, '\t') >= 0
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

// defaults reads the defaults mapping over the built-in defaults.
func (w *walker) defaults(n *yaml.Node) Defaults {
	d := BuiltinDefaults()
	m := deref(n)
	if m == nil || isNull(m) {
		return d
	}
	if m.Kind != yaml.MappingNode {
		w.probs.addf(n.Line, "defaults must be a mapping of settings (%s), got %s", strings.Join(defaultKeys(), ", "), kindOf(m))
		return d
	}
	fields := w.fields(m, "in defaults", defaultKeys())
	durations := map[string]*time.Duration{
		"lock_timeout":                &d.LockTimeout,
		"statement_timeout":           &d.StatementTimeout,
		"connect_timeout":             &d.ConnectTimeout,
		"idle_in_transaction_timeout": &d.IdleInTransactionTimeout,
		"lock_wait":                   &d.LockWait,
		"timeout":                     &d.Timeout,
	}
	for _, key := range defaultKeys() { // in a fixed order, so problems are too
		f, ok := fields[key]
		if !ok {
			continue
		}
		path := "defaults." + key
		if key == "parallelism" {
			if v, ok := w.positiveInt(f.val, path); ok {
				d.Parallelism = v
			}
		} else if v, ok := w.duration(f.val, path); ok {
			*durations[key] = v
		}
	}
	return d
}

func (w *walker) positiveInt(n *yaml.Node, path string) (int, bool) {
	s, ok := w.scalar(n, path, "a positive integer", false)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || v <= 0 {
		w.probs.addf(n.Line, "%s: %q is not a positive integer", path, truncate(s, 40))
		return 0, false
	}
	return v, true
}

func (w *walker) duration(n *yaml.Node, path string) (time.Duration, bool) {
	s, ok := w.scalar(n, path, "a duration ("+durationHint+")", false)
	if !ok {
		return 0, false
	}
	s = strings.TrimSpace(s)
	if s == "" {
		w.probs.addf(n.Line, "%s is empty (%s)", path, durationHint)
		return 0, false
	}
	v, err := time.ParseDuration(s)
	switch {
	case err != nil:
		w.probs.addf(n.Line, "%s: %q is not a duration (%s)", path, truncate(s, 40), durationHint)
		return 0, false
	case v < 0:
		w.probs.addf(n.Line, "%s: %q is negative; it must be 0 or more", path, s)
		return 0, false
	}
	return v, true
}

// targets reads the targets list. Duplicate names are reported on the
// second definition, pointing at the first.
func (w *walker) targets(f field) []Target {
	list := deref(f.val)
	switch {
	case list == nil || isNull(list):
		w.probs.add(f.key.Line, noTargets)
		return nil
	case list.Kind != yaml.SequenceNode:
		w.probs.addf(f.val.Line, "targets must be a list (each entry \"- name: ...\" with a dsn), got %s", kindOf(list))
		return nil
	case len(list.Content) == 0:
		w.probs.add(f.val.Line, noTargets)
		return nil
	}
	var out []Target
	firstLine := make(map[string]int)
	for i, item := range list.Content {
		t, nameLine, ok := w.target(i, item)
		if t.Name != "" {
			if first, dup := firstLine[t.Name]; dup {
				w.probs.addf(nameLine, "target %q is defined twice (first at line %d)", t.Name, first)
				ok = false
			} else {
				firstLine[t.Name] = nameLine
			}
		}
		if ok {
			out = append(out, t)
		}
	}
	return out
}

// target reads targets[i]. It returns the target (its Name set whenever the
// name itself is valid, so duplicates are still found), the line of its name
// and whether the whole target is valid.
func (w *walker) target(i int, item *yaml.Node) (t Target, nameLine int, ok bool) {
	path := fmt.Sprintf("targets[%d]", i)
	line := item.Line
	m := deref(item)
	if m == nil || m.Kind != yaml.MappingNode {
		w.probs.addf(line, "%s must be a mapping with a name and a dsn, got %s", path, kindOf(m))
		return Target{}, line, false
	}
	before := len(w.probs)
	t = Target{Labels: map[string]string{}, Origin: w.origin(line)}
	fields := w.fields(m, "in "+path, targetKeys())

	nameLine = line
	if f, found := fields["name"]; !found {
		w.probs.addf(line, "%s has no name", path)
	} else if name, ok := w.scalar(f.val, path+".name", "a string", false); ok {
		if item.Kind != yaml.AliasNode { // an alias's lines point at its anchor
			nameLine = f.val.Line
		}
		if why := checkName(name); why != "" {
			w.probs.addf(f.val.Line, "%s.name %s", path, why)
		} else {
			t.Name = name
		}
	}
	subject := path
	if t.Name != "" {
		subject = fmt.Sprintf("target %q", t.Name)
	}

	if f, found := fields["dsn"]; !found {
		w.probs.addf(line, "%s has no dsn", subject)
	} else if dsn, ok := w.scalar(f.val, path+".dsn", "a string", true); ok {
		if strings.TrimSpace(dsn) == "" {
			w.probs.addf(f.val.Line, "%s: dsn is empty", subject)
		} else if _, msg := parseDSN(dsn); msg != "" {
			w.probs.addf(f.val.Line, "%s: dsn %s", subject, msg)
		} else {
			t.DSN = dsn
		}
	}

	if f, found := fields["labels"]; found {
		w.labels(f.val, path+".labels", t.Labels)
	}
	return t, nameLine, len(w.probs) == before
}

// labels reads a labels mapping into out.
func (w *walker) labels(n *yaml.Node, path string, out map[string]string) {
	m := deref(n)
	if m == nil || isNull(m) {
		return
	}
	if m.Kind != yaml.MappingNode {
		w.probs.addf(n.Line, "%s must be a mapping of key: value, got %s", path, kindOf(m))
		return
	}
	first := make(map[string]int)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		key, ok := w.key(k, "in "+path)
		if !ok {
			continue
		}
		if why := checkLabelKey(key); why != "" {
			w.probs.addf(k.Line, "%s: label key %q %s", path, key, why)
			continue
		}
		if line, dup := first[key]; dup {
			w.probs.addf(k.Line, "%s: label %q is defined twice (first at line %d)", path, key, line)
			continue
		}
		first[key] = k.Line
		valuePath := path + "." + key
		if !isPlainName(key) {
			valuePath = fmt.Sprintf("%s[%q]", path, key)
		}
		if r := deref(v); r != nil && isNull(r) {
			w.probs.addf(v.Line, `%s has no value (write "" for an empty one)`, valuePath)
			continue
		}
		if s, ok := w.scalar(v, valuePath, "a string", false); ok {
			out[key] = s
		}
	}
}

// checkLabelKey returns why key cannot be a label key, or "" if it can.
func checkLabelKey(key string) string {
	switch {
	case key == "":
		return "is empty"
	case strings.Contains(key, "="):
		return `contains "=", which --select key=value cannot match`
	case strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "contains a control character"
	}
	return ""
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

// deref follows aliases to the anchored node; nil if there is none.
func deref(n *yaml.Node) *yaml.Node {
	for range 8 {
		if n == nil || n.Kind != yaml.AliasNode {
			return n
		}
		n = n.Alias
	}
	return nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// kindOf describes a node for "must be X, got Y" messages. It never quotes
// a scalar's value: that might be a DSN.
func kindOf(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "nothing"
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "true/false"
		default:
			return "a string"
		}
	}
	return "something else"
}

// isPlainName reports whether s can be shown unquoted in a path.
func isPlainName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r == '/' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')) {
			return false
		}
	}
	return true
}
