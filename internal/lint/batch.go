package lint

import (
	"fmt"
	"strings"

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
	first, last := g.migs[0].m.Version, g.migs[len(g.migs)-1].m.Version
	if first == last {
		return fmt.Sprint(first)
	}
	return fmt.Sprintf("%d-%d", first, last)
}

// batchRules applies the rules that look across the batch.
func (l *linter) batchRules() {
	segs := l.segments()
	var createdBefore []relation
	for _, g := range segs {
		if !g.noTx {
			l.segmentLocks(g, createdBefore)
			l.enumUses(g)
		}
		for _, mf := range g.migs {
			createdBefore = append(createdBefore, mf.created...)
		}
	}
	l.noTxSplits(segs)
}

// segmentLocks flags a transactional run that holds ACCESS EXCLUSIVE on
// more than one table that existed before the batch.
func (l *linter) segmentLocks(g segment, createdBefore []relation) {
	type held struct {
		r    relation
		file string
		line int
		span stmtSpan
	}
	var locks []held
	created := append([]relation(nil), createdBefore...)
	isCreated := func(r relation) bool {
		for _, c := range created {
			if c.same(r) {
				return true
			}
		}
		return false
	}
	for _, mf := range g.migs {
		for _, st := range mf.stmts {
			for _, r := range st.locks {
				if isCreated(r) || hasRelation(locks, func(h held) relation { return h.r }, r) {
					continue
				}
				locks = append(locks, held{r, mf.m.UpFile, st.line, st.span})
			}
		}
		created = append(created, mf.created...)
	}
	if len(locks) < 2 {
		return
	}
	parts := make([]string, len(locks))
	for i, h := range locks {
		parts[i] = fmt.Sprintf("%s (%s:%d)", h.r.display, h.file, h.line)
	}
	r, _ := ruleInfo(RuleBatchLocks)
	l.add(Finding{File: locks[1].file, Line: locks[1].line, Rule: RuleBatchLocks, Severity: r.Severity, Message: fmt.Sprintf(
		"migrations %s run in one transaction on each target and take ACCESS EXCLUSIVE locks on %d existing tables: %s: %s; instead: %s",
		g.versions(), len(locks), strings.Join(parts, ", "), r.Why, r.Instead)})
}

func hasRelation[T any](list []T, rel func(T) relation, r relation) bool {
	for _, x := range list {
		if rel(x).same(r) {
			return true
		}
	}
	return false
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
					l.add(Finding{File: mf.m.UpFile, Line: st.line, Rule: RuleEnumValueInBatch, Severity: r.Severity, Message: fmt.Sprintf(
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
// on both sides, and what the split does to atomicity.
func (l *linter) noTxSplits(segs []segment) {
	for k, g := range segs {
		if !g.noTx || !hasTx(segs[:k]) || !hasTx(segs[k+1:]) {
			continue
		}
		var runs []string
		for _, o := range segs {
			if o.noTx {
				runs = append(runs, o.versions()+" on its own, outside a transaction")
			} else {
				runs = append(runs, o.versions()+" in one transaction")
			}
		}
		mf := g.migs[0]
		line := mf.m.UpLine
		if len(mf.stmts) > 0 {
			line = mf.stmts[0].line
		}
		r, _ := ruleInfo(RuleNoTxSplitsBatch)
		l.add(Finding{File: mf.m.UpFile, Line: line, Rule: RuleNoTxSplitsBatch, Severity: r.Severity, Message: fmt.Sprintf(
			"NO TRANSACTION migration %d splits the batch: a target at version %d runs %s; a failure after %d rolls back "+
				"only its own transaction, and what committed before it (%s) is undone by running down sections, newest "+
				"first, not by a rollback (a down that fails leaves the target failed): %s; instead: %s",
			mf.m.Version, l.opts.Since, strings.Join(runs, ", then "), mf.m.Version, committedBefore(segs[:k+1]), r.Why, r.Instead)})
	}
}

func hasTx(segs []segment) bool {
	for _, g := range segs {
		if !g.noTx {
			return true
		}
	}
	return false
}

func committedBefore(segs []segment) string {
	var vs []string
	for _, g := range segs {
		vs = append(vs, g.versions())
	}
	return strings.Join(vs, ", ")
}
