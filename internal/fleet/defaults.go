package fleet

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

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
		"stall_timeout":               &d.StallTimeout,
	}
	for _, key := range defaultKeys() { // in a fixed order, so problems are too
		f, ok := fields[key]
		if !ok {
			continue
		}
		path := "defaults." + key
		if key == "golang_migrate_table" {
			if v, ok := w.oneOf(f.val, path, GolangMigrateKeep, GolangMigrateIgnore); ok {
				d.GolangMigrateTable = v
			}
		} else if key == "parallelism" {
			if v, ok := w.positiveInt(f.val, path); ok {
				d.Parallelism = v
			}
		} else if key == "shared_schemas" {
			d.SharedSchemas = w.schemaList(f.val, path)
		} else if key == "max_exclusive_rows" {
			if v, ok := w.rowCount(f.val, path); ok {
				d.MaxExclusiveRows = &v
			}
		} else if v, ok := w.duration(f.val, path); ok {
			*durations[key] = v
		}
	}
	return d
}

// oneOf reads a scalar that must be one of values.
func (w *walker) oneOf(n *yaml.Node, path string, values ...string) (string, bool) {
	want := strings.Join(values, " or ")
	s, ok := w.scalar(n, path, want, false)
	if !ok {
		return "", false
	}
	s = strings.TrimSpace(s)
	for _, v := range values {
		if s == v {
			return v, true
		}
	}
	w.probs.addf(n.Line, "%s: %q is not %s", path, report.Truncate(s, 40), want)
	return "", false
}

func (w *walker) positiveInt(n *yaml.Node, path string) (int, bool) {
	s, ok := w.scalar(n, path, "a positive integer", false)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || v <= 0 {
		w.probs.addf(n.Line, "%s: %q is not a positive integer", path, report.Truncate(s, 40))
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
		w.probs.addf(n.Line, "%s: %q is not a duration (%s)", path, report.Truncate(s, 40), durationHint)
		return 0, false
	case v < 0:
		w.probs.addf(n.Line, "%s: %q is negative; it must be 0 or more", path, s)
		return 0, false
	}
	return v, true
}

// schemaList reads a list of schema names (shared_schemas).
func (w *walker) schemaList(n *yaml.Node, path string) []string {
	m := deref(n)
	if m == nil || isNull(m) {
		return nil
	}
	if m.Kind != yaml.SequenceNode {
		w.probs.addf(n.Line, "%s must be a list of schema names, as in [public, extensions], got %s", path, kindOf(m))
		return nil
	}
	var out []string
	seen := map[string]int{}
	for i, item := range m.Content {
		s, ok := w.scalar(item, fmt.Sprintf("%s[%d]", path, i), "a schema name", false)
		if !ok {
			continue
		}
		switch {
		case strings.TrimSpace(s) == "":
			w.probs.addf(item.Line, "%s[%d] is empty: name a schema", path, i)
		case len(s) > 63:
			w.probs.addf(item.Line, "%s[%d]: %q is longer than PostgreSQL's 63-byte limit for names", path, i, report.Truncate(s, 40))
		case seen[s] != 0:
			w.probs.addf(item.Line, "%s[%d]: schema %q is listed twice (first at line %d)", path, i, s, seen[s])
		default:
			seen[s] = item.Line
			out = append(out, s)
		}
	}
	return out
}

// rowCount reads a count of rows: 0 or more.
func (w *walker) rowCount(n *yaml.Node, path string) (int64, bool) {
	s, ok := w.scalar(n, path, "a count of rows (0 or more)", false)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v < 0 {
		w.probs.addf(n.Line, "%s: %q is not a count of rows (0 or more, like 100000)", path, report.Truncate(s, 40))
		return 0, false
	}
	return v, true
}
