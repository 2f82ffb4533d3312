package lint

import (
	"errors"
	"fmt"
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// section lints the statements of one section in order, remembering the
// tables they create: those are empty when the next statement runs, so
// locking or rewriting them costs nothing.
type section struct {
	dir      direction
	created  []relation
	findings []Finding
}

func checkSection(d direction) []Finding {
	stmts, err := source.Split(d.sql, d.first)
	if err != nil {
		// source.Load refuses such a set; a hand-built one may get here.
		line := d.first
		var se *source.SplitError
		if errors.As(err, &se) {
			line = se.Line
		}
		return []Finding{{File: d.file, Line: line, Rule: RuleUnreadableSQL, Severity: SeverityError,
			Message: fmt.Sprintf("the %s section cannot be split into statements: %v", d.name(), err)}}
	}
	s := &section{dir: d}
	if len(stmts) == 0 {
		if !d.up && !hasComment(d.sql) {
			s.add(d.emptyAt, RuleMissingDown, SeverityWarning, "empty down section: `orchestrator down` would record this "+
				"migration as reverted while its changes stay; write the SQL that reverses the up section, or, if there "+
				"is nothing to undo, say so in a comment there")
		}
		return s.findings
	}
	if d.noTx && len(stmts) > 1 {
		second := stmts[1]
		line := second.Line
		if ts := tokenize(second.SQL, second.Line); len(ts) > 0 {
			line = ts[0].line
		}
		s.add(line, RuleNoTxMultipleStatements, SeverityWarning, fmt.Sprintf("this NO TRANSACTION %s section has %d statements: "+
			"they run one by one outside a transaction, so a failure after the first leaves the target half-migrated "+
			"(reported failed, for a person to repair); give each statement a migration of its own", d.name(), len(stmts)))
	}
	for _, st := range stmts {
		parts := splitTokens(tokenize(st.SQL, st.Line))
		for _, ts := range parts {
			s.statement(ts, len(parts) > 1)
		}
	}
	return s.findings
}

func (s *section) add(line int, rule string, sev Severity, msg string) {
	s.findings = append(s.findings, Finding{File: s.dir.file, Line: line, Rule: rule, Severity: sev, Message: msg})
}

// statement lints one statement; inBlock is set when it shares a
// StatementBegin/StatementEnd block with others, which run as one query.
func (s *section) statement(ts []token, inBlock bool) {
	if ts[0].is("do") {
		for _, t := range ts {
			if t.kind == tokString && strings.Contains(t.text, source.PlaceholderMarker) {
				s.add(ts[0].line, RuleScaffoldPlaceholder, SeverityError, fmt.Sprintf("placeholder left by `orchestrator new`: "+
					"replace it with the SQL of the %s section (as it is, the migration fails on every target)", s.dir.name()))
				return
			}
		}
	}
	s.concurrently(ts, inBlock)
	switch {
	case ts[0].is("create"):
		s.create(ts)
	case words(ts, 0, "alter", "table"):
		s.alterTable(ts)
	case words(ts, 0, "drop", "table"):
		s.dropTable(ts)
	}
}

// concurrently flags a CONCURRENTLY that will meet a transaction block.
// REFRESH MATERIALIZED VIEW CONCURRENTLY is the one form allowed inside one.
func (s *section) concurrently(ts []token, inBlock bool) {
	if ts[0].is("refresh") || !hasWord(ts, "concurrently") {
		return
	}
	what := "CONCURRENTLY"
	switch {
	case ts[0].is("create"):
		what = "CREATE INDEX CONCURRENTLY"
	case words(ts, 0, "drop", "index"):
		what = "DROP INDEX CONCURRENTLY"
	case ts[0].is("reindex"):
		what = "REINDEX CONCURRENTLY"
	case words(ts, 0, "alter", "table"):
		what = "DETACH PARTITION CONCURRENTLY"
	}
	switch {
	case !s.dir.noTx:
		s.add(ts[0].line, RuleConcurrentlyInTx, SeverityError, fmt.Sprintf("%s cannot run inside a transaction block, and this "+
			"%s section is not marked NO TRANSACTION: it fails on every target; put the statement alone in a migration "+
			"of its own and add the line '-- +goose NO TRANSACTION' to %s", what, s.dir.name(), s.dir.file))
	case inBlock:
		s.add(ts[0].line, RuleConcurrentlyInTx, SeverityError, fmt.Sprintf("%s shares a StatementBegin/StatementEnd block "+
			"with other statements: they are sent as one query, which PostgreSQL runs as a transaction block, so it "+
			"fails on every target; give it a block of its own, or drop the annotations", what))
	}
}

// create handles CREATE TABLE / MATERIALIZED VIEW (remembered as new) and
// CREATE INDEX.
func (s *section) create(ts []token) {
	i := skip(ts, 1, "or", "replace")
	if t := at(ts, i); t.is("global") || t.is("local") {
		i++
	}
	if t := at(ts, i); t.is("temporary") || t.is("temp") || t.is("unlogged") {
		i++
	}
	switch {
	case at(ts, i).is("table"):
		s.remember(ts, skip(ts, i+1, "if", "not", "exists"))
	case words(ts, i, "materialized", "view"):
		s.remember(ts, skip(ts, i+2, "if", "not", "exists"))
	case at(ts, i).is("unique"), at(ts, i).is("index"):
		s.createIndex(ts, skip(ts, i, "unique"))
	}
}

func (s *section) remember(ts []token, i int) {
	if r, _, ok := qualifiedName(ts, i); ok {
		s.created = append(s.created, r)
	}
}

// createIndex flags CREATE INDEX without CONCURRENTLY on an existing table.
// ON ONLY builds nothing (it is how an index on a partitioned table starts),
// so it is left alone.
func (s *section) createIndex(ts []token, i int) {
	if !at(ts, i).is("index") || !s.dir.up || at(ts, i+1).is("concurrently") {
		return
	}
	for ; i < len(ts) && !ts[i].is("on"); i++ {
	}
	if at(ts, i+1).is("only") {
		return
	}
	r, _, ok := qualifiedName(ts, i+1)
	if !ok || s.isNew(r) {
		return
	}
	s.add(ts[0].line, RuleIndexNotConcurrent, SeverityWarning, fmt.Sprintf("CREATE INDEX without CONCURRENTLY on existing "+
		"table %s: the build blocks every write to the table on each tenant until it finishes; use CREATE INDEX "+
		"CONCURRENTLY, alone in a migration marked '-- +goose NO TRANSACTION'", r.display))
}

// alterTable lints each action of an ALTER TABLE.
func (s *section) alterTable(ts []token) {
	i := skip(ts, 2, "if", "exists")
	i = skip(ts, i, "only")
	r, i, ok := qualifiedName(ts, i)
	if !ok {
		return
	}
	if at(ts, i).isPunct('*') {
		i++
	}
	isNew := s.isNew(r)
	for _, a := range splitTopLevel(ts[i:]) {
		switch {
		case len(a) == 0:
		case words(a, 0, "rename", "to"):
			if n, _, ok := qualifiedName(a, 2); ok && isNew {
				n.schema = r.schema
				s.created = append(s.created, n)
			}
		case isNew || !s.dir.up:
			// A table created above is empty; downs are not linted for
			// locks and data loss.
		case a[0].is("add"):
			s.addColumn(r, a)
		case a[0].is("alter"):
			s.alterColumn(r, a)
		case a[0].is("drop"):
			s.dropColumn(r, a)
		}
	}
}

// addColumn flags ADD [COLUMN] ... NOT NULL (or PRIMARY KEY) without a
// default: it fails on every tenant whose table has a row.
func (s *section) addColumn(r relation, a []token) {
	j := 1
	switch t := at(a, j); {
	case t.is("column"):
		j++
	case t.is("constraint"), t.is("primary"), t.is("unique"), t.is("check"), t.is("foreign"), t.is("exclude"):
		return
	}
	j = skip(a, j, "if", "not", "exists")
	col := at(a, j)
	if !col.isName() {
		return
	}
	rest := a[j+1:]
	hasDefault, notNull := false, false
	switch at(rest, 0).text { // serial types come with a default
	case "serial", "bigserial", "smallserial", "serial2", "serial4", "serial8":
		hasDefault = at(rest, 0).kind == tokWord
	}
	depth := 0
	for k, t := range rest {
		switch {
		case t.isPunct('('):
			depth++
		case t.isPunct(')'):
			depth--
		case depth > 0:
		case t.is("default"):
			hasDefault = hasDefault || !at(rest, k+1).is("null")
		case t.is("generated"): // identity or generated column
			hasDefault = true
		case t.is("not") && at(rest, k+1).is("null"), t.is("primary") && at(rest, k+1).is("key"):
			notNull = true
		}
	}
	if !notNull || hasDefault {
		return
	}
	s.add(a[0].line, RuleAddColumnNotNull, SeverityWarning, fmt.Sprintf("ADD COLUMN %s NOT NULL without a DEFAULT on "+
		"existing table %s: it fails on every tenant where the table has rows; give it a DEFAULT (a constant one is "+
		"instant since PostgreSQL 11), or add it nullable, backfill it, and SET NOT NULL in a later migration",
		displayName(col), r.display))
}

// alterColumn flags ALTER [COLUMN] c [SET DATA] TYPE.
func (s *section) alterColumn(r relation, a []token) {
	if at(a, 1).is("constraint") {
		return
	}
	j := skip(a, 1, "column")
	col := at(a, j)
	if !col.isName() || !(at(a, j+1).is("type") || words(a, j+1, "set", "data", "type")) {
		return
	}
	s.add(a[0].line, RuleColumnTypeChange, SeverityWarning, fmt.Sprintf("column %s of %s changes type: unless the types are "+
		"binary-compatible (varchar(n) to a larger n or to text), PostgreSQL rewrites the table and its indexes "+
		"holding an ACCESS EXCLUSIVE lock, so reads and writes wait on every tenant; on a big table add a new "+
		"column, backfill it in batches and switch over instead", displayName(col), r.display))
}

// dropColumn flags DROP [COLUMN] in an up section.
func (s *section) dropColumn(r relation, a []token) {
	if at(a, 1).is("constraint") {
		return
	}
	j := skip(a, 1, "column")
	j = skip(a, j, "if", "exists")
	col := at(a, j)
	if !col.isName() {
		return
	}
	s.add(a[0].line, RuleDestructiveUp, SeverityWarning, fmt.Sprintf("DROP COLUMN %s of %s in an up section deletes its data "+
		"on every tenant, and no down section can bring it back; deploy code that no longer uses the column first, "+
		"and keep a backup", displayName(col), r.display))
}

// dropTable flags DROP TABLE of an existing table in an up section, and
// forgets the tables it drops that were created above.
func (s *section) dropTable(ts []token) {
	var existing []string
	for _, part := range splitTopLevel(ts[skip(ts, 2, "if", "exists"):]) {
		r, _, ok := qualifiedName(part, 0)
		switch {
		case !ok:
		case s.isNew(r):
			s.forget(r)
		default:
			existing = append(existing, r.display)
		}
	}
	if len(existing) == 0 || !s.dir.up {
		return
	}
	s.add(ts[0].line, RuleDestructiveUp, SeverityWarning, fmt.Sprintf("DROP TABLE %s in an up section deletes the data on "+
		"every tenant, and no down section can bring it back; make sure nothing uses it any more, and keep a backup",
		strings.Join(existing, ", ")))
}

// isNew reports whether r was created by an earlier statement of the section.
func (s *section) isNew(r relation) bool {
	for _, c := range s.created {
		if c.same(r) {
			return true
		}
	}
	return false
}

func (s *section) forget(r relation) {
	kept := s.created[:0]
	for _, c := range s.created {
		if !c.same(r) {
			kept = append(kept, c)
		}
	}
	s.created = kept
}

func hasWord(ts []token, w string) bool {
	for _, t := range ts {
		if t.is(w) {
			return true
		}
	}
	return false
}

// hasComment reports whether sql holds a comment other than a goose
// annotation: an empty down with one says on purpose that nothing needs
// undoing.
func hasComment(sql string) bool {
	if strings.Contains(sql, "/*") {
		return true
	}
	for l := range strings.Lines(sql) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(l), "--")
		rest = strings.TrimSpace(rest)
		if ok && rest != "" && !strings.HasPrefix(strings.ToLower(rest), "+goose") {
			return true
		}
	}
	return false
}
