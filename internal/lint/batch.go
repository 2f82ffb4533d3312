package lint

import (
	"fmt"
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
	"github.com/orchestrator-dev/orchestrator/internal/sqlscan"
)

// The batch rules look at the up sections above Options.Since in version
// order, as one target receives them: consecutive transactional migrations
// run in one transaction, and each NO TRANSACTION migration runs on its
// own between them.

// migrationFacts is what the batch rules need from one migration's up.
type migrationFacts struct {
	m       *source.Migration
	created []relation // tables and types its up creates
	stmts   []stmtFacts
}

// stmtFacts is what the batch rules need from one statement.
type stmtFacts struct {
	line     int
	span     stmtSpan
	locks    []relation // tables it holds ACCESS EXCLUSIVE on
	enumAdds []string   // enum values it adds (ALTER TYPE ... ADD VALUE)
	enumType string
	literals []string // the values of its '...' string constants
}

// recordFacts keeps what the batch rules need from an up statement.
func (s *section) recordFacts(ts []token) {
	if s.facts == nil || !s.report {
		return
	}
	f := stmtFacts{line: ts[0].Line, span: s.stmt}
	for _, t := range ts {
		if t.Kind == sqlscan.String && strings.HasPrefix(t.Text, "'") {
			f.literals = append(f.literals, strings.ReplaceAll(strings.TrimSuffix(t.Text[1:], "'"), "''", "'"))
		}
	}
	switch {
	case words(ts, 0, "alter", "table"):
		i := skip(ts, skip(ts, 2, "if", "exists"), "only")
		if r, next, ok := qualifiedName(ts, i); ok && takesAccessExclusive(ts[next:]) {
			f.locks = append(f.locks, r)
		}
	case words(ts, 0, "drop", "table"):
		for _, part := range splitTopLevel(ts[skip(ts, 2, "if", "exists"):]) {
			if r, _, ok := qualifiedName(part, 0); ok && !isListEnd(r.name) {
				f.locks = append(f.locks, r)
			}
		}
	case ts[0].Is("truncate"), ts[0].Is("lock") && indexWords(ts, "in") < 0 || ts[0].Is("lock") && indexWords(ts, "access", "exclusive") >= 0:
		f.locks = append(f.locks, s.listed(ts, skip(ts, skip(ts, 1, "table"), "only"))...)
	case ts[0].Is("cluster"):
		if r, _, ok := qualifiedName(ts, skip(ts, 1, "verbose")); ok {
			f.locks = append(f.locks, r)
		}
	case words(ts, 0, "alter", "type"):
		if r, i, ok := qualifiedName(ts, 2); ok && words(ts, i, "add", "value") {
			j := skip(ts, i+2, "if", "not", "exists")
			if v := at(ts, j); v.Kind == sqlscan.String && strings.HasPrefix(v.Text, "'") {
				f.enumAdds = append(f.enumAdds, f.literals[indexOf(ts, j)])
				f.enumType = r.display
			}
		}
	}
	s.facts.stmts = append(s.facts.stmts, f)
}

// indexOf returns which '...' literal of ts the token at j is.
func indexOf(ts []token, j int) int {
	n := 0
	for _, t := range ts[:j] {
		if t.Kind == sqlscan.String && strings.HasPrefix(t.Text, "'") {
			n++
		}
	}
	return n
}

// listed reads the comma-separated names at ts[i].
func (s *section) listed(ts []token, i int) []relation {
	var out []relation
	for {
		r, next, ok := qualifiedName(ts, i)
		if !ok || r.schema == "" && isListEnd(r.name) {
			return out
		}
		out = append(out, r)
		if at(ts, next).IsPunct('*') {
			next++
		}
		if !at(ts, next).IsPunct(',') {
			return out
		}
		i = skip(ts, next+1, "only")
	}
}

// takesAccessExclusive reports whether the ALTER TABLE actions ts take an
// ACCESS EXCLUSIVE lock: all but the few that take a weaker one.
func takesAccessExclusive(ts []token) bool {
	for _, a := range splitTopLevel(ts) {
		switch {
		case len(a) == 0:
		case words(a, 0, "validate", "constraint"), words(a, 0, "attach", "partition"),
			a[0].Is("enable"), a[0].Is("disable"), words(a, 0, "cluster", "on"), words(a, 0, "set", "without", "cluster"),
			words(a, 0, "detach", "partition") && hasWord(a, "concurrently"):
		case a[0].Is("add") && (indexWords(a, "foreign", "key") >= 0 || indexWords(a, "references") >= 0) &&
			indexWords(a, "column") < 0:
		case a[0].Is("alter") && indexWords(a, "set", "statistics") >= 0:
		default:
			return true
		}
	}
	return false
}

// segment is a run of the batch that commits as one: several
// transactional migrations, or one NO TRANSACTION migration.
type segment struct {
	migs []*migrationFacts
	noTx bool
}

func (l *linter) segments() []segment {
	var out []segment
	for _, mf := range l.batch {
		if mf.m.NoTx {
			out = append(out, segment{migs: []*migrationFacts{mf}, noTx: true})
			continue
		}
		if n := len(out); n > 0 && !out[n-1].noTx {
			out[n-1].migs = append(out[n-1].migs, mf)
			continue
		}
		out = append(out, segment{migs: []*migrationFacts{mf}})
	}
	return out
}

func (g segment) versions() string {
	return versionRange(g.migs[0].m.Version, g.migs[len(g.migs)-1].m.Version)
}

// batchRules applies the rules that look across the batch.
func (l *linter) batchRules() {
	segs := l.segments()
	created := relations{}
	for _, g := range segs {
		if !g.noTx {
			l.segmentLocks(g, created)
		}
		for _, mf := range g.migs {
			created.add(mf.created...)
		}
		if !g.noTx {
			l.enumUses(g)
		}
	}
	l.noTxSplits(segs)
}

// relations is a set of relations indexed by name, for the batch rules'
// lookups across a set of any size.
type relations map[string][]relation

func (rs relations) add(list ...relation) {
	for _, r := range list {
		rs[r.name] = append(rs[r.name], r)
	}
}

func (rs relations) has(r relation) bool {
	for _, c := range rs[r.name] {
		if c.same(r) {
			return true
		}
	}
	return false
}

// segmentLocks flags a transactional run that holds ACCESS EXCLUSIVE on
// more than one table that existed before the batch. createdBefore holds
// what earlier runs of the batch created.
func (l *linter) segmentLocks(g segment, createdBefore relations) {
	type held struct {
		r    relation
		file string
		line int
	}
	var locks []held
	seen := relations{}
	created := relations{}
	for _, mf := range g.migs {
		for _, st := range mf.stmts {
			for _, r := range st.locks {
				if createdBefore.has(r) || created.has(r) || seen.has(r) {
					continue
				}
				seen.add(r)
				locks = append(locks, held{r, mf.m.UpFile, st.line})
			}
		}
		created.add(mf.created...)
	}
	if len(locks) < 2 {
		return
	}
	parts := make([]string, len(locks))
	for i, h := range locks {
		parts[i] = fmt.Sprintf("%s (%s:%d)", h.r.display, h.file, h.line)
	}
	r, _ := ruleInfo(RuleBatchLocks)
	l.add(report.Diagnostic{File: locks[1].file, Line: locks[1].line, Rule: RuleBatchLocks, Severity: r.Severity, Message: fmt.Sprintf(
		"migrations %s run in one transaction on each target and take ACCESS EXCLUSIVE locks on %d existing tables: %s: %s; instead: %s",
		g.versions(), len(locks), strings.Join(parts, ", "), r.Why, r.Instead)})
}

// enumUses flags a statement that uses an enum value an earlier statement
// of the same transactional run added.
func (l *linter) enumUses(g segment) {
	type added struct {
		value, typ, file string
		line             int
	}
	var values []added
	for _, mf := range g.migs {
		for _, st := range mf.stmts {
			for _, lit := range st.literals {
				for _, a := range values {
					if lit != a.value {
						continue
					}
					r, _ := ruleInfo(RuleEnumValueInBatch)
					l.add(report.Diagnostic{File: mf.m.UpFile, Line: st.line, Rule: RuleEnumValueInBatch, Severity: r.Severity, Message: fmt.Sprintf(
						"uses '%s', which %s:%d adds to enum %s in the same transaction (migrations %s commit together), "+
							"so it fails on every target with \"unsafe use of new value\": %s; instead: %s",
						a.value, a.file, a.line, a.typ, g.versions(), r.Why, r.Instead)})
				}
			}
			for _, v := range st.enumAdds {
				values = append(values, added{v, st.enumType, mf.m.UpFile, st.line})
			}
		}
	}
}

// noTxSplits notes each NO TRANSACTION migration with transactional ones
// on both sides, and what the split does to atomicity: the runs next to it,
// and what a failure after it leaves.
func (l *linter) noTxSplits(segs []segment) {
	txBefore := false
	txAfter := make([]bool, len(segs)+1)
	for k := len(segs) - 1; k >= 0; k-- {
		txAfter[k] = txAfter[k+1] || !segs[k].noTx
	}
	for k, g := range segs {
		if !g.noTx || !txBefore || !txAfter[k+1] {
			txBefore = txBefore || !g.noTx
			continue
		}
		mf := g.migs[0]
		line := mf.m.UpLine
		if len(mf.stmts) > 0 {
			line = mf.stmts[0].line
		}
		first := segs[0].migs[0].m.Version
		r, _ := ruleInfo(RuleNoTxSplitsBatch)
		l.add(report.Diagnostic{File: mf.m.UpFile, Line: line, Rule: RuleNoTxSplitsBatch, Severity: r.Severity, Message: fmt.Sprintf(
			"NO TRANSACTION migration %d splits the batch: a target at version %d runs %s, then %d on its own, outside a "+
				"transaction, then %s; a failure after %d rolls back only the run it happens in, and what committed "+
				"before (%s) is undone by running down sections, newest first, not by a rollback (a down that fails "+
				"leaves the target failed): %s; instead: %s",
			mf.m.Version, l.opts.Since, segs[k-1].describe(), mf.m.Version, segs[k+1].describe(), mf.m.Version,
			versionRange(first, mf.m.Version), r.Why, r.Instead)})
	}
}

// describe says how a run commits.
func (g segment) describe() string {
	if g.noTx {
		return g.versions() + " on its own, outside a transaction"
	}
	return g.versions() + " in one transaction"
}

func versionRange(first, last int64) string {
	if first == last {
		return fmt.Sprint(first)
	}
	return fmt.Sprintf("%d-%d", first, last)
}
