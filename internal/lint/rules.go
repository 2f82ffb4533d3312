package lint

import (
	"fmt"
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/sqlscan"
)

// concurrently flags a CONCURRENTLY that will meet a transaction block.
// REFRESH MATERIALIZED VIEW CONCURRENTLY is the one form allowed inside one.
func (s *section) concurrently(ts []token, inBlock bool) {
	if ts[0].Is("refresh") || !hasWord(ts, "concurrently") {
		return
	}
	what := "CONCURRENTLY"
	switch {
	case ts[0].Is("create"):
		what = "CREATE INDEX CONCURRENTLY"
	case words(ts, 0, "drop", "index"):
		what = "DROP INDEX CONCURRENTLY"
	case ts[0].Is("reindex"):
		what = "REINDEX CONCURRENTLY"
	case words(ts, 0, "alter", "table"):
		what = "DETACH PARTITION CONCURRENTLY"
	}
	switch {
	case !s.dir.noTx:
		s.add(ts[0].Line, RuleConcurrentlyInTx, report.SeverityError, fmt.Sprintf("%s cannot run inside a transaction block, and this "+
			"%s section is not marked NO TRANSACTION: it fails on every target; put the statement alone in a migration "+
			"of its own and add the line '-- +goose NO TRANSACTION' to %s", what, s.dir.name(), s.dir.file))
	case inBlock:
		s.add(ts[0].Line, RuleConcurrentlyInTx, report.SeverityError, fmt.Sprintf("%s shares a StatementBegin/StatementEnd block "+
			"with other statements: they are sent as one query, which PostgreSQL runs as a transaction block, so it "+
			"fails on every target; give it a block of its own, or drop the annotations", what))
	}
}

// create handles CREATE TABLE / MATERIALIZED VIEW (remembered as new) and
// CREATE INDEX.
func (s *section) create(ts []token) {
	i := skip(ts, 1, "or", "replace")
	if t := at(ts, i); t.Is("global") || t.Is("local") {
		i++
	}
	if t := at(ts, i); t.Is("temporary") || t.Is("temp") || t.Is("unlogged") {
		i++
	}
	switch {
	case at(ts, i).Is("table"):
		j := skip(ts, i+1, "if", "not", "exists")
		s.remember(ts, j)
		s.createTable(ts, j)
	case at(ts, i).Is("type"):
		s.remember(ts, i+1)
	case at(ts, i).Is("trigger"), words(ts, i, "constraint", "trigger"):
		s.createTrigger(ts, i)
	case words(ts, i, "materialized", "view"):
		s.remember(ts, skip(ts, i+2, "if", "not", "exists"))
	case at(ts, i).Is("unique"), at(ts, i).Is("index"):
		s.createIndex(ts, skip(ts, i, "unique"))
	}
}

func (s *section) remember(ts []token, i int) {
	if r, _, ok := qualifiedName(ts, i); ok {
		s.created = append(s.created, r)
		if s.facts != nil {
			s.facts.created = append(s.facts.created, r)
		}
	}
}

// createIndex flags CREATE INDEX without CONCURRENTLY on an existing table.
// ON ONLY builds nothing (it is how an index on a partitioned table starts),
// so it is left alone.
func (s *section) createIndex(ts []token, i int) {
	if !at(ts, i).Is("index") || !s.dir.up || at(ts, i+1).Is("concurrently") {
		return
	}
	for ; i < len(ts) && !ts[i].Is("on"); i++ {
	}
	if at(ts, i+1).Is("only") {
		return
	}
	r, _, ok := qualifiedName(ts, i+1)
	if !ok || s.isNew(r) {
		return
	}
	s.add(ts[0].Line, RuleIndexNotConcurrent, report.SeverityWarning, fmt.Sprintf("CREATE INDEX without CONCURRENTLY on existing "+
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
	if at(ts, i).IsPunct('*') {
		i++
	}
	isNew := s.isNew(r)
	for _, a := range splitTopLevel(ts[i:]) {
		switch {
		case len(a) == 0:
		case words(a, 0, "rename", "to"):
			switch n, _, ok := qualifiedName(a, 2); {
			case ok && isNew:
				n.schema = r.schema
				s.created = append(s.created, n)
				if s.facts != nil {
					s.facts.created = append(s.facts.created, n)
				}
			case s.dir.up && !isNew:
				s.flag(a[0].Line, RuleRenameTable, "RENAME of existing table "+r.display)
			}
		case !s.dir.up:
			// Downs are not linted for locks and data loss.
		case isNew:
			// A table created above is empty: only its types matter.
			if a[0].Is("add") && !s.addsConstraint(a) {
				s.addColumnType(r, a)
			}
		case a[0].Is("add"):
			if !s.addConstraint(r, a) {
				s.addColumnType(r, a)
				s.addColumn(r, a)
			}
		case a[0].Is("alter"):
			s.alterColumn(r, a)
		case a[0].Is("drop"):
			s.dropColumn(r, a)
		case a[0].Is("rename") && !at(a, 1).Is("constraint"):
			if col := at(a, skip(a, 1, "column")); col.IsName() {
				s.flag(a[0].Line, RuleRenameColumn, fmt.Sprintf("RENAME of column %s of existing table %s", displayName(col), r.display))
			}
		case (a[0].Is("enable") || a[0].Is("disable")) && (at(a, 1).Is("trigger") || at(a, 2).Is("trigger")):
			s.flag(a[0].Line, RuleTrigger, fmt.Sprintf("%s TRIGGER on existing table %s", strings.ToUpper(a[0].Text), r.display))
		case words(a, 0, "detach", "partition") && !hasWord(a, "concurrently") && !hasWord(a, "finalize"):
			s.flag(a[0].Line, RuleDetachNotConcurrent, "DETACH PARTITION without CONCURRENTLY from "+r.display)
		}
	}
}

// addColumn flags ADD [COLUMN] ... NOT NULL (or PRIMARY KEY) without a
// default: it fails on every tenant whose table has a row.
func (s *section) addColumn(r relation, a []token) {
	j := 1
	switch t := at(a, j); {
	case t.Is("column"):
		j++
	case t.Is("constraint"), t.Is("primary"), t.Is("unique"), t.Is("check"), t.Is("foreign"), t.Is("exclude"):
		return
	}
	j = skip(a, j, "if", "not", "exists")
	col := at(a, j)
	if !col.IsName() {
		return
	}
	rest := a[j+1:]
	hasDefault, notNull := false, false
	switch at(rest, 0).Text { // serial types come with a default
	case "serial", "bigserial", "smallserial", "serial2", "serial4", "serial8":
		hasDefault = at(rest, 0).Kind == sqlscan.Word
	}
	depth := 0
	for k, t := range rest {
		switch {
		case t.IsPunct('('):
			depth++
		case t.IsPunct(')'):
			depth--
		case depth > 0:
		case t.Is("default"):
			hasDefault = hasDefault || !at(rest, k+1).Is("null")
		case t.Is("generated"): // identity or generated column
			hasDefault = true
		case t.Is("not") && at(rest, k+1).Is("null"), t.Is("primary") && at(rest, k+1).Is("key"):
			notNull = true
		}
	}
	s.addColumnDefault(r, a[0].Line, rest, hasDefault)
	if !notNull || hasDefault {
		return
	}
	s.add(a[0].Line, RuleAddColumnNotNull, report.SeverityWarning, fmt.Sprintf("ADD COLUMN %s NOT NULL without a DEFAULT on "+
		"existing table %s: it fails on every tenant where the table has rows; give it a DEFAULT (a constant one is "+
		"instant since PostgreSQL 11), or add it nullable, backfill it, and SET NOT NULL in a later migration",
		displayName(col), r.display))
}

// alterColumn flags ALTER [COLUMN] c [SET DATA] TYPE, SET NOT NULL and
// DROP NOT NULL.
func (s *section) alterColumn(r relation, a []token) {
	if at(a, 1).Is("constraint") {
		return
	}
	j := skip(a, 1, "column")
	col := at(a, j)
	switch {
	case !col.IsName():
		return
	case words(a, j+1, "set", "not", "null"):
		s.flag(a[0].Line, RuleSetNotNull, fmt.Sprintf("SET NOT NULL on column %s of existing table %s", displayName(col), r.display))
		return
	case words(a, j+1, "drop", "not", "null"):
		s.flag(a[0].Line, RuleDropNotNull, fmt.Sprintf("DROP NOT NULL on column %s of existing table %s", displayName(col), r.display))
		return
	case at(a, j+1).Is("type"):
		s.changeType(r, col, a, j+2)
	case words(a, j+1, "set", "data", "type"):
		s.changeType(r, col, a, j+4)
	default:
		return
	}
	s.add(a[0].Line, RuleColumnTypeChange, report.SeverityWarning, fmt.Sprintf("column %s of %s changes type: unless the types are "+
		"binary-compatible (varchar(n) to a larger n or to text), PostgreSQL rewrites the table and its indexes "+
		"holding an ACCESS EXCLUSIVE lock, so reads and writes wait on every tenant; on a big table add a new "+
		"column, backfill it in batches and switch over instead", displayName(col), r.display))
}

// dropColumn flags DROP [COLUMN] in an up section.
func (s *section) dropColumn(r relation, a []token) {
	if at(a, 1).Is("constraint") {
		return
	}
	j := skip(a, 1, "column")
	j = skip(a, j, "if", "exists")
	col := at(a, j)
	if !col.IsName() {
		return
	}
	s.add(a[0].Line, RuleDestructiveUp, report.SeverityWarning, fmt.Sprintf("DROP COLUMN %s of %s in an up section deletes its data "+
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
	s.add(ts[0].Line, RuleDestructiveUp, report.SeverityWarning, fmt.Sprintf("DROP TABLE %s in an up section deletes the data on "+
		"every tenant, and no down section can bring it back; make sure nothing uses it any more, and keep a backup",
		strings.Join(existing, ", ")))
}

// add records a finding with a message written out in full.
func (s *section) add(line int, rule string, _ report.Severity, msg string) {
	s.addf(line, rule, "%s", msg)
}
