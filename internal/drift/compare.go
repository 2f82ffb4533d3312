package drift

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// Compare returns the schema findings of actual against expected: each
// table, column, index, constraint, sequence, view, function, trigger,
// type, extension, policy and grant missing from actual, unexpected in it,
// or different, ordered by object. Identical schemas
// (equal fingerprints) have none. A nil snapshot is an empty schema.
//
// Findings read like "column users.nickname unexpected", "index
// api_keys.idx_api_keys_key_prefix missing" and "column sessions.user_agent
// type text, expected character varying(512)"; an object that differs in
// several ways has one finding per way. What follows from another finding
// is left out: the columns of a missing table, the index enforcing a
// missing constraint, the sequence of a missing column.
func Compare(actual, expected *Snapshot) []report.Finding {
	actual, expected = orEmpty(actual), orEmpty(expected)
	var d differ
	eachPair(&d, actual.Tables, expected.Tables, func(name string, _ *Table) string { return "table " + name },
		func(_ string, a, e *Table) { d.table(a, e) })
	for _, name := range union(actual.Sequences, expected.Sequences) {
		a, e := actual.Sequences[name], expected.Sequences[name]
		object := "sequence " + name
		switch {
		case a == nil:
			if !hasColumn(actual, e.OwnedBy) {
				break // the column's finding covers it
			}
			d.add(object, "missing")
		case e == nil:
			if !hasColumn(expected, a.OwnedBy) {
				break
			}
			d.add(object, "unexpected")
		default:
			d.sequence(object, a, e)
		}
	}
	d.objects(actual, expected)
	sortFindings(d.fs)
	return d.fs
}

// orEmpty returns s, or an empty snapshot for nil.
func orEmpty(s *Snapshot) *Snapshot {
	if s == nil {
		return &Snapshot{}
	}
	return s
}

// hasColumn reports whether s has the column ownedBy ("table.column")
// names. A free-standing sequence (ownedBy "") counts as having one, so
// that its own finding is kept.
func hasColumn(s *Snapshot, ownedBy string) bool {
	if ownedBy == "" {
		return true
	}
	table, column, _ := strings.Cut(ownedBy, ".")
	t := s.Tables[table]
	return t != nil && t.Columns[column] != nil
}

// differ collects findings.
type differ struct{ fs []report.Finding }

func (d *differ) add(object, detail string) {
	d.fs = append(d.fs, report.Finding{Kind: KindSchema, Object: object, Detail: detail})
}

// field adds "<label> <actual>, expected <expected>" when they differ.
func (d *differ) field(object, label, actual, expected string) {
	if actual != expected {
		d.add(object, fmt.Sprintf("%s %s, expected %s", label, actual, expected))
	}
}

// describe adds "<actual>, expected <expected>" when they differ, for
// properties whose descriptions need no label ("nullable, expected not
// null").
func (d *differ) describe(object, actual, expected string) {
	if actual != expected {
		d.add(object, actual+", expected "+expected)
	}
}

func (d *differ) table(a, e *Table) {
	object := "table " + e.Name
	if a.Kind != e.Kind {
		d.add(object, "is a "+a.Kind+", expected a "+e.Kind)
	}
	eachPair(d, a.Columns, e.Columns, func(name string, _ *Column) string { return "column " + e.Name + "." + name }, d.column)
	for _, name := range union(a.Indexes, e.Indexes) {
		ai, ei := a.Indexes[name], e.Indexes[name]
		object := "index " + e.Name + "." + name
		switch {
		case ai == nil:
			// A constraint's index goes with it: one finding, the constraint's.
			if ei.Constraint == "" || a.Constraints[ei.Constraint] != nil {
				d.add(object, "missing")
			}
		case ei == nil:
			if ai.Constraint == "" || e.Constraints[ai.Constraint] != nil {
				d.add(object, "unexpected")
			}
		default:
			d.index(object, ai, ei)
			// Which constraint an index enforces changes only with the
			// constraint, whose own finding says so.
			if ai.Constraint != ei.Constraint && !oneSided(a, e, ai.Constraint) && !oneSided(a, e, ei.Constraint) {
				d.describe(object, enforces(ai.Constraint), enforces(ei.Constraint))
			}
		}
	}
	eachPair(d, a.Constraints, e.Constraints, func(name string, _ *Constraint) string { return "constraint " + e.Name + "." + name }, d.constraint)
	d.tableExtras(a, e)
}

func (d *differ) column(object string, a, e *Column) {
	d.field(object, "type", a.Type, e.Type)
	d.describe(object, nullability(a.NotNull), nullability(e.NotNull))
	if a.Default != e.Default {
		switch {
		case a.Default == "":
			d.add(object, "no default, expected default "+e.Default)
		case e.Default == "":
			d.add(object, "default "+a.Default+", expected no default")
		default:
			d.field(object, "default", a.Default, e.Default)
		}
	}
	d.describe(object, identityText(a.Identity), identityText(e.Identity))
	d.describe(object, generatedText(a.Generated), generatedText(e.Generated))
	d.describe(object, collationText(a.Collation), collationText(e.Collation))
}

func nullability(notNull bool) string {
	if notNull {
		return "not null"
	}
	return "nullable"
}

func identityText(identity string) string {
	if identity == "" {
		return "not an identity column"
	}
	return "generated " + identity + " as identity"
}

func generatedText(expr string) string {
	if expr == "" {
		return "not generated"
	}
	return "generated always as (" + expr + ") stored"
}

func (d *differ) index(object string, a, e *Index) {
	d.field(object, "definition", a.Definition, e.Definition)
	d.describe(object, either(a.Unique, "unique", "not unique"), either(e.Unique, "unique", "not unique"))
	d.describe(object, either(a.Valid, "valid", "invalid"), either(e.Valid, "valid", "invalid"))
}

// oneSided reports whether constraint exists in only one of two tables,
// which makes it a missing or unexpected constraint.
func oneSided(a, e *Table, constraint string) bool {
	return constraint != "" && (a.Constraints[constraint] == nil) != (e.Constraints[constraint] == nil)
}

// either words a flag for a finding: yes when on, else no.
func either(on bool, yes, no string) string {
	if on {
		return yes
	}
	return no
}

// eachPair walks the names of two maps of one object kind: a name on one
// side only is a missing or unexpected object, a name on both sides is
// compared. object names the finding, from the side that has the name
// (the expected side when both do).
func eachPair[T any](d *differ, actual, expected map[string]*T, object func(name string, t *T) string, compare func(object string, a, e *T)) {
	for _, name := range union(actual, expected) {
		a, e := actual[name], expected[name]
		switch {
		case a == nil:
			d.add(object(name, e), "missing")
		case e == nil:
			d.add(object(name, a), "unexpected")
		default:
			compare(object(name, e), a, e)
		}
	}
}

func enforces(constraint string) string {
	if constraint == "" {
		return "enforces no constraint"
	}
	return "enforces constraint " + constraint
}

func (d *differ) constraint(object string, a, e *Constraint) {
	d.field(object, "type", a.Type, e.Type)
	d.field(object, "definition", a.Definition, e.Definition)
	d.field(object, "on update", a.OnUpdate, e.OnUpdate)
	d.field(object, "on delete", a.OnDelete, e.OnDelete)
	if a.Validated != e.Validated {
		d.describe(object, validation(a.Validated), validation(e.Validated))
	}
}

func validation(validated bool) string {
	if validated {
		return "validated"
	}
	return "not validated"
}

func (d *differ) sequence(object string, a, e *Sequence) {
	if a.OwnedBy != e.OwnedBy {
		d.describe(object, ownership(a.OwnedBy), ownership(e.OwnedBy))
	}
	d.field(object, "type", a.Type, e.Type)
	for _, f := range [...]struct {
		label            string
		actual, expected int64
	}{
		{"start", a.Start, e.Start},
		{"increment", a.Increment, e.Increment},
		{"minimum", a.Min, e.Min},
		{"maximum", a.Max, e.Max},
		{"cache", a.Cache, e.Cache},
	} {
		d.field(object, f.label, strconv.FormatInt(f.actual, 10), strconv.FormatInt(f.expected, 10))
	}
	if a.Cycle != e.Cycle {
		d.describe(object, cycling(a.Cycle), cycling(e.Cycle))
	}
	d.grants(object, a.Grants, e.Grants)
}

func ownership(ownedBy string) string {
	if ownedBy == "" {
		return "owned by no column"
	}
	return "owned by " + ownedBy
}

func cycling(cycle bool) string {
	if cycle {
		return "cycles"
	}
	return "does not cycle"
}
