package fleet

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

func discoverKeys() []string {
	return []string{"name", "server", "databases", "schemas", "query", "labels"}
}

// discoverKinds are the keys of which a discover entry has exactly one,
// with what each wants, for messages.
func discoverKinds() []struct{ key, want, hint string } {
	return []struct{ key, want, hint string }{
		{"databases", "a LIKE pattern", "a LIKE pattern over database names such as tenant_%, where % matches any run of characters and _ any one"},
		{"schemas", "a LIKE pattern", "a LIKE pattern over schema names such as tenant_%, where % matches any run of characters and _ any one"},
		{"query", "SQL text", "SQL returning the columns name and dsn, and optionally labels"},
	}
}

// discover reads the discover list. A missing, null or empty list means no
// sources. Duplicate source names are reported on the second one.
func (w *walker) discover(f field) []DiscoverySource {
	list := deref(f.val)
	switch {
	case list == nil || isNull(list):
		return nil
	case list.Kind != yaml.SequenceNode:
		w.probs.addf(f.val.Line, `discover must be a list (each entry "- server: ..." with one of databases, schemas or query), got %s`, kindOf(list))
		return nil
	}
	var out []DiscoverySource
	firstLine := make(map[string]int)
	for i, item := range list.Content {
		s, nameLine, ok := w.source(i, item)
		if s.Name != "" {
			if first, dup := firstLine[s.Name]; dup {
				w.probs.addf(nameLine, "discover source %q is defined twice (first at line %d)", s.Name, first)
				ok = false
			} else {
				firstLine[s.Name] = nameLine
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// source reads discover[i]. Like target, it returns the source with its
// Name set whenever the name is valid, the line of that name, and whether
// the whole entry is valid.
func (w *walker) source(i int, item *yaml.Node) (s DiscoverySource, nameLine int, ok bool) {
	path := fmt.Sprintf("discover[%d]", i)
	line := item.Line
	m := deref(item)
	if m == nil || m.Kind != yaml.MappingNode {
		w.probs.addf(line, "%s must be a mapping with a server and one of databases, schemas or query, got %s", path, kindOf(m))
		return DiscoverySource{}, line, false
	}
	before := len(w.probs)
	s = DiscoverySource{Index: i, Line: line, Origin: w.origin(line), Labels: map[string]string{}}
	fields := w.fields(m, "in "+path, discoverKeys())

	nameLine = line
	if f, found := fields["name"]; found {
		if name, ok := w.scalar(f.val, path+".name", "a string", false); ok {
			if item.Kind != yaml.AliasNode {
				nameLine = f.val.Line
			}
			if why := checkName(name); why != "" {
				w.probs.addf(f.val.Line, "%s.name %s", path, why)
			} else {
				s.Name = name
			}
		}
	}
	subject := path
	if s.Name != "" {
		subject = fmt.Sprintf("discover %q", s.Name)
	}

	if f, found := fields["server"]; !found {
		w.probs.addf(line, "%s has no server (the DSN of the PostgreSQL server to discover targets on)", subject)
	} else if dsn, ok := w.scalar(f.val, path+".server", "a string", true); ok {
		if strings.TrimSpace(dsn) == "" {
			w.probs.addf(f.val.Line, "%s: server is empty", subject)
		} else if _, msg := parseDSN(dsn); msg != "" {
			w.probs.addf(f.val.Line, "%s: server %s", subject, msg)
		} else {
			s.Server = dsn
		}
	}

	w.sourceKind(&s, fields, path, subject, line)

	if f, found := fields["labels"]; found {
		w.labels(f.val, path+".labels", s.Labels, checkLabelKey)
	}
	return s, nameLine, len(w.probs) == before
}

// sourceKind reads the one of databases, schemas and query that a discover
// entry must have into s.
func (w *walker) sourceKind(s *DiscoverySource, fields map[string]field, path, subject string, line int) {
	var given []string
	for _, k := range discoverKinds() {
		f, found := fields[k.key]
		if !found {
			continue
		}
		given = append(given, k.key)
		if len(given) > 1 {
			w.probs.addf(f.key.Line, "%s has both %s and %s; give exactly one (use another discover entry for the other)", subject, given[0], k.key)
		}
		v, ok := w.scalar(f.val, path+"."+k.key, k.want, false)
		if !ok {
			continue
		}
		if strings.TrimSpace(v) == "" {
			w.probs.addf(f.val.Line, "%s: %s is empty (give %s)", subject, k.key, k.hint)
			continue
		}
		switch k.key {
		case "databases":
			s.Databases = v
		case "schemas":
			s.Schemas = v
		default:
			s.Query = v
		}
	}
	if len(given) == 0 {
		w.probs.addf(line, "%s needs one of databases (a LIKE pattern over database names), schemas (a LIKE pattern over schema names, one target per schema) or query (SQL returning name and dsn)", subject)
	}
}
