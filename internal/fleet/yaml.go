package fleet

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

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
// allowed in this context") into a problem on the offending line.
func yamlProblem(err error, data []byte) report.Diagnostic {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil && n > 0 {
				line, msg = n, after
			}
		}
	}
	if line == 0 || isParserError(msg) {
		// For parser errors yaml.v3 reports the 0-based line where the
		// enclosing block or flow collection starts, which can be far from
		// the mistake, and for some errors (an unknown anchor) no line at
		// all. The first line whose addition makes the file unparsable is
		// where a person should look.
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
	return problem(line, msg)
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
