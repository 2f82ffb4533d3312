package fleet

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/sync/errgroup"
)

// DiscoverySource is one entry of a fleet file's discover list: a server
// on which Discover finds targets. Exactly one of Databases, Schemas and
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

// targetOrigin is the Origin of a target the source found, e.g.
// "fleet.yaml:14 (databases tenant_%)" or "fleet.yaml:20 (tenants: query row 3)".
func (s DiscoverySource) targetOrigin(row int) string {
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
	p = truncate(p, 60)
	if strings.ContainsFunc(p, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '"' }) {
		return strconv.Quote(p)
	}
	return p
}

// Discover connects to the server of each of f's discover sources and
// returns a new Fleet whose Targets are f's listed targets followed by the
// targets each source found, source by source in file order (each source's
// in name order, or in its query's row order). The returned Fleet has no
// Discover sources, so its Targets are final; f itself is not modified.
// When f has no sources, Discover returns f and opens no connection.
//
// Sources are queried concurrently, at most f.Defaults.Parallelism at once,
// each on one connection with application_name "orchestrator:discover",
// connect_timeout f.Defaults.ConnectTimeout and a statement timeout of at
// most 30s, in read-only transactions.
//
// Every problem is reported together, as one *Error (like Parse): an
// unreachable server, a failed query, a bad query row, a target name
// defined twice (naming both origins), or no target at all (a source that
// finds nothing is fine as long as some target remains). Each problem
// is on the line of its source and never holds a DSN or password. If ctx
// ends first, the error wraps ctx.Err() instead and is not an *Error.
func Discover(ctx context.Context, f *Fleet) (*Fleet, error) {
	if len(f.Discover) == 0 {
		return f, nil
	}
	results := make([]found, len(f.Discover))
	var g errgroup.Group
	g.SetLimit(max(1, min(f.Defaults.Parallelism, len(f.Discover))))
	for i, src := range f.Discover {
		g.Go(func() error {
			results[i] = discoverSource(ctx, src, f.Defaults)
			return nil // a failed source is a problem in its slot
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("discover targets: %w", err)
	}
	return merge(f, results)
}

// found is what one source discovered: its targets, or why not.
type found struct {
	targets []Target
	probs   problems
}

// merge returns f with the targets of results appended, or an *Error.
func merge(f *Fleet, results []found) (*Fleet, error) {
	out := *f
	out.Discover = nil
	out.Targets = slices.Clone(f.Targets)
	origin := make(map[string]string, len(f.Targets))
	for _, t := range f.Targets {
		origin[t.Name] = t.Origin
	}
	var probs problems
	for i, r := range results {
		probs = append(probs, r.probs...)
		for _, t := range r.targets {
			if first, dup := origin[t.Name]; dup {
				probs.addf(f.Discover[i].Line, "target %q is defined twice: at %s and at %s (target names must be unique; rename one or narrow the source)", t.Name, first, t.Origin)
				continue
			}
			origin[t.Name] = t.Origin
			out.Targets = append(out.Targets, t)
		}
	}
	if len(probs) == 0 && len(out.Targets) == 0 {
		probs.add(0, "no targets: the file lists none and its discover sources found none")
	}
	if err := probs.err(f.Path); err != nil {
		return nil, err
	}
	return &out, nil
}

// newTarget is a target found by s, with the source's labels.
func (s DiscoverySource) newTarget(name, dsn, schema string, row int) Target {
	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	return Target{
		Name:   name,
		DSN:    dsn,
		Labels: labels,
		Origin: s.targetOrigin(row),
		Schema: schema,
	}
}
