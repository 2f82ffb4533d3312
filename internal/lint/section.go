package lint

import (
	"errors"
	"fmt"
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
	"github.com/orchestrator-dev/orchestrator/internal/sqlscan"
)

// section lints the statements of one section in order, remembering the
// tables (and types) they create: those are empty when the next statement
// runs, so locking or rewriting them costs nothing.
type section struct {
	l       *linter
	dir     direction
	facts   *migrationFacts // the up's facts for the batch rules; nil for a down
	report  bool            // false for migrations at or below Options.Since
	created []relation
	stmt    stmtSpan // the statement being linted
}

// stmtSpan is the lines a statement covers, for suppressions.
type stmtSpan struct{ first, last int }

func (s *section) check() {
	d := s.dir
	stmts, err := source.Split(d.sql, d.first)
	if err != nil {
		// source.Load refuses such a set; a hand-built one may get here.
		line := d.first
		var se *source.SplitError
		if errors.As(err, &se) {
			line = se.Line
		}
		s.addf(line, RuleUnreadableSQL, "the %s section cannot be split into statements: %v", d.name(), err)
		return
	}
	if len(stmts) == 0 {
		if !d.up && !hasComment(d.sql) {
			s.addf(d.emptyAt, RuleMissingDown, "empty down section: `orchestrator down` would record this "+
				"migration as reverted while its changes stay; write the SQL that reverses the up section, or, if there "+
				"is nothing to undo, say so in a comment there")
		}
		return
	}
	if d.noTx && len(stmts) > 1 {
		second := stmts[1]
		line := second.Line
		if ts := sqlscan.Tokens(second.SQL, second.Line); len(ts) > 0 {
			line = ts[0].Line
		}
		s.addf(line, RuleNoTxMultipleStatements, "this NO TRANSACTION %s section has %d statements: "+
			"they run one by one outside a transaction, so a failure after the first leaves the target half-migrated "+
			"(reported failed, for a person to repair); give each statement a migration of its own", d.name(), len(stmts))
	}
	for _, st := range stmts {
		all := sqlscan.Tokens(st.SQL, st.Line)
		parts := splitTokens(all)
		prevEnd := 0
		for _, ts := range parts {
			s.stmt = stmtSpan{ts[0].Line, ts[len(ts)-1].Line}
			if s.report {
				s.l.collectIgnores(s.dir.file, st.SQL[prevEnd:ts[0].Pos], lineAt(st, prevEnd), s.stmt)
			}
			prevEnd = ts[len(ts)-1].End
			s.statement(ts, len(parts) > 1)
		}
	}
}

// lineAt is the file line of byte offset off in st.
func lineAt(st source.Statement, off int) int {
	return st.Line + strings.Count(st.SQL[:off], "\n")
}

// addf records a finding of rule at line, with the rule's severity.
func (s *section) addf(line int, rule, format string, args ...any) {
	if !s.report {
		return
	}
	r, _ := ruleInfo(rule)
	s.l.add(report.Diagnostic{File: s.dir.file, Line: line, Rule: rule, Severity: r.Severity, Message: fmt.Sprintf(format, args...)})
}

// flag records a finding of rule at line: what is wrong with subject, then
// the rule's why and what to do instead.
func (s *section) flag(line int, rule, subject string) {
	if !s.report {
		return
	}
	r, _ := ruleInfo(rule)
	s.l.add(report.Diagnostic{File: s.dir.file, Line: line, Rule: rule, Severity: r.Severity,
		Message: subject + ": " + r.Why + "; instead: " + r.Instead})
}

// statement lints one statement; inBlock is set when it shares a
// StatementBegin/StatementEnd block with others, which run as one query.
func (s *section) statement(ts []token, inBlock bool) {
	if ts[0].Is("do") {
		for _, t := range ts {
			if t.Kind == sqlscan.String && strings.Contains(t.Text, source.PlaceholderMarker) {
				s.addf(ts[0].Line, RuleScaffoldPlaceholder, "placeholder left by `orchestrator new`: "+
					"replace it with the SQL of the %s section (as it is, the migration fails on every target)", s.dir.name())
				return
			}
		}
	}
	s.concurrently(ts, inBlock)
	s.vacuum(ts, inBlock)
	if s.dir.up {
		s.longNames(ts)
		s.schemaQualified(ts)
	}
	s.serverVersions(ts)
	s.recordFacts(ts)
	switch {
	case ts[0].Is("create"):
		s.create(ts)
	case words(ts, 0, "alter", "table"):
		s.alterTable(ts)
	case words(ts, 0, "alter", "type"):
		s.alterType(ts)
	case words(ts, 0, "drop", "table"):
		s.dropTable(ts)
	case !s.dir.up:
	case ts[0].Is("reindex"):
		s.reindex(ts)
	case ts[0].Is("cluster"):
		s.cluster(ts)
	case ts[0].Is("lock"):
		s.lockTable(ts)
	case ts[0].Is("truncate"):
		s.truncate(ts)
	case ts[0].Is("delete"), ts[0].Is("update"):
		s.unboundedDML(ts)
	}
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
		if t.Is(w) {
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
