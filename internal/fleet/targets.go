package fleet

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/orchestrator-dev/orchestrator/internal/dsn"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// targets reads the targets list. Duplicate names are reported on the
// second definition, pointing at the first. An empty list is a problem
// unless the file has discover sources (mayBeEmpty).
func (w *walker) targets(f field, mayBeEmpty bool) []Target {
	list := deref(f.val)
	switch {
	case list == nil || isNull(list):
		if !mayBeEmpty {
			w.probs.add(f.key.Line, noTargets)
		}
		return nil
	case list.Kind != yaml.SequenceNode:
		w.probs.addf(f.val.Line, "targets must be a list (each entry \"- name: ...\" with a dsn), got %s", kindOf(list))
		return nil
	case len(list.Content) == 0:
		if !mayBeEmpty {
			w.probs.add(f.val.Line, noTargets)
		}
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
		if why := CheckName(name); why != "" {
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
	} else {
		t.DSN = w.dsn(f, path, subject, "dsn", "")
	}

	if f, found := fields["direct_dsn"]; found {
		t.DirectDSN = w.dsn(f, path, subject, "direct_dsn", " (leave the key out to use dsn for everything)")
	}

	if f, found := fields["labels"]; found {
		w.labels(f.val, path+".labels", t.Labels, CheckLabelKey)
	}
	return t, nameLine, len(w.probs) == before
}

// labels reads a mapping of label key: value into out (a target's labels,
// a wave's select). checkKey says why a key is not allowed there, or "".
func (w *walker) labels(n *yaml.Node, path string, out map[string]string, checkKey func(string) string) {
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
		if why := checkKey(key); why != "" {
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

// CheckLabelKey returns why key cannot be a label key, or "" if it can.
func CheckLabelKey(key string) string {
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

// dsn reads the DSN of field key of path: a string that dsn.Parse accepts.
// When it is not, the problem says so (never quoting it) and dsn returns "".
// emptyHint follows the problem of an empty DSN.
func (w *walker) dsn(f field, path, subject, key, emptyHint string) string {
	s, ok := w.scalar(f.val, path+"."+key, "a string", true)
	switch {
	case !ok:
		return ""
	case strings.TrimSpace(s) == "":
		w.probs.addf(f.val.Line, "%s: %s is empty%s", subject, key, emptyHint)
		return ""
	}
	if _, msg := dsn.Parse(s); msg != "" {
		w.probs.addf(f.val.Line, "%s: %s %s", subject, key, msg)
		return ""
	}
	return s
}

const labelsHint = "(give a jsonb object of strings, or text like tier=canary,region=eu)"

// RowLabels reads the labels column of a discover query row: a decoded
// json/jsonb object of strings when isJSON, else text of k=v pairs joined by
// commas. On a bad value it returns why, quoting no more than a short piece.
func RowLabels(v any, isJSON bool) (map[string]string, string) {
	if !isJSON {
		s, ok := v.(string)
		if !ok {
			return nil, "neither jsonb nor text " + labelsHint
		}
		return parseLabelText(s)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, "not a JSON object " + labelsHint
	}
	out := make(map[string]string, len(obj))
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if why := CheckLabelKey(k); why != "" {
			return nil, fmt.Sprintf("key %q %s", k, why)
		}
		s, ok := obj[k].(string)
		if !ok {
			return nil, fmt.Sprintf("the value of %q is not a string %s", k, labelsHint)
		}
		out[k] = s
	}
	return out, ""
}

// parseLabelText reads "k=v,k=v" (spaces around keys and values are
// ignored; "" is no labels).
func parseLabelText(s string) (map[string]string, string) {
	out := make(map[string]string)
	if strings.TrimSpace(s) == "" {
		return out, ""
	}
	for pair := range strings.SplitSeq(s, ",") {
		pair = strings.TrimSpace(pair)
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Sprintf("%q is not key=value %s", report.Truncate(pair, 40), labelsHint)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if why := CheckLabelKey(k); why != "" {
			return nil, fmt.Sprintf("key %q %s", k, why)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Sprintf("the key %q is given twice", k)
		}
		out[k] = v
	}
	return out, ""
}
