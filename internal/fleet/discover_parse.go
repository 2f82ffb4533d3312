package fleet

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// DiscoverySource is one entry of a fleet file's discover list: a server
// on which discovery.Discover finds targets. Exactly one of Databases, Schemas and
// Query is set. Server is a secret, like Target.DSN: never print it. Nothing
// modifies a DiscoverySource after Parse, so it is safe for concurrent reads.
type DiscoverySource struct {
	Name   string // the entry's name, for messages; "" when it has none (see Label)
	Index  int    // position in the discover list
	Line   int    // line of the entry in the fleet file
	Origin string // where it was defined, e.g. "fleet.yaml:14"
	Server string // ${VAR}-expanded DSN of the server; never print it

	// Databases is a LIKE pattern over the server's database names: one
	// target per match, named after the database, its DSN the server's with
	// the database swapped in. Templates, databases that refuse connections
	// and maintenance databases (postgres, rdsadmin, ...) never match.
	Databases string
	// Schemas is a LIKE pattern over the schema names of the server's
	// database (schema-per-tenant): one target per match, named after the
	// schema, with Schema set and the server's DSN. System schemas never
	// match.
	Schemas string
	// Query is SQL run on the server (a catalog database) in a read-only
	// transaction: one target per row, from the columns name and dsn (text)
	// and optionally labels (a jsonb object of strings, or text
	// "k=v,k=v"). Row values are data: ${VAR} is not expanded in them.
	Query string

	// Labels are given to every target the source finds (a query row's own
	// labels win over them). Never nil.
	Labels map[string]string
}

// Kind returns "databases", "schemas" or "query".
func (s DiscoverySource) Kind() string {
	switch {
	case s.Databases != "":
		return "databases"
	case s.Schemas != "":
		return "schemas"
	default:
		return "query"
	}
}

// Label names the source in messages: `discover[0] (databases tenant_%)`,
// or `discover "cluster-a" (databases tenant_%)` when it has a name. It is
// safe to show: it never holds the server DSN or the query.
func (s DiscoverySource) Label() string {
	if s.Name != "" {
		return fmt.Sprintf("discover %q (%s)", s.Name, s.describe())
	}
	return fmt.Sprintf("discover[%d] (%s)", s.Index, s.describe())
}

// describe is what the source looks for: "databases tenant_%",
// "schemas tenant_%" or "query".
func (s DiscoverySource) describe() string {
	switch {
	case s.Databases != "":
		return "databases " + showPattern(s.Databases)
	case s.Schemas != "":
		return "schemas " + showPattern(s.Schemas)
	default:
		return "query"
	}
}

// TargetOrigin is the Origin of a target the source found, e.g.
// "fleet.yaml:14 (databases tenant_%)" or "fleet.yaml:20 (tenants: query row 3)".
func (s DiscoverySource) TargetOrigin(row int) string {
	what := s.describe()
	if row > 0 {
		what += " row " + strconv.Itoa(row)
	}
	if s.Name != "" {
		what = s.Name + ": " + what
	}
	return s.Origin + " (" + what + ")"
}

// showPattern returns p as written when that reads unambiguously in a
// message, else quoted; long patterns are cut.
func showPattern(p string) string {
	p = report.Truncate(p, 60)
	if strings.ContainsFunc(p, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '"' }) {
		return strconv.Quote(p)
	}
	return p
}

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
			if why := CheckName(name); why != "" {
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
	} else {
		s.Server = w.dsn(f, path, subject, "server", "")
	}

	w.sourceKind(&s, fields, path, subject, line)

	if f, found := fields["labels"]; found {
		w.labels(f.val, path+".labels", s.Labels, CheckLabelKey)
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
