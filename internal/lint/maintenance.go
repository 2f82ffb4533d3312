package lint

import (
	"fmt"
	"strings"
)

// The rules on statements other than CREATE and ALTER TABLE: maintenance
// commands, explicit locks, data changes, triggers and enum types. All but
// vacuum run on up sections only (statement dispatches them).

// vacuum flags VACUUM where a transaction block will meet it, and VACUUM
// FULL anywhere in an up.
func (s *section) vacuum(ts []token, inBlock bool) {
	if !ts[0].Is("vacuum") {
		return
	}
	if !s.dir.noTx || inBlock {
		s.flag(ts[0].Line, RuleVacuumInTx, fmt.Sprintf("VACUUM in the %s section, which runs in a transaction block", s.dir.name()))
		return
	}
	full := false
	for k, t := range ts {
		if t.Is("full") && !at(ts, k+1).Is("false") && !at(ts, k+1).Is("off") && !at(ts, k+1).Is("0") {
			full = true
		}
	}
	if full && s.dir.up {
		s.flag(ts[0].Line, RuleVacuumFull, "VACUUM FULL")
	}
}

// reindex flags REINDEX without CONCURRENTLY, unless of a table created
// above.
func (s *section) reindex(ts []token) {
	if hasWord(ts, "concurrently") {
		return
	}
	i := 1
	if at(ts, i).IsPunct('(') {
		for ; i < len(ts) && !ts[i].IsPunct(')'); i++ {
		}
		i++
	}
	what := at(ts, i).Text
	if r, _, ok := qualifiedName(ts, i+1); ok && what == "table" && s.isNew(r) {
		return
	}
	s.flag(ts[0].Line, RuleReindexNotConcurrent, "REINDEX "+strings.ToUpper(what)+" without CONCURRENTLY")
}

// cluster flags CLUSTER of an existing table (or of every clustered table).
func (s *section) cluster(ts []token) {
	i := skip(ts, 1, "verbose")
	r, _, ok := qualifiedName(ts, i)
	switch {
	case !ok:
		s.flag(ts[0].Line, RuleCluster, "CLUSTER of every previously clustered table")
	case !s.isNew(r):
		s.flag(ts[0].Line, RuleCluster, "CLUSTER of existing table "+r.display)
	}
}

// lockTable flags LOCK [TABLE] of existing tables.
func (s *section) lockTable(ts []token) {
	if existing := s.existingList(ts, skip(ts, skip(ts, 1, "table"), "only")); len(existing) > 0 {
		s.flag(ts[0].Line, RuleLockTable, "LOCK TABLE "+strings.Join(existing, ", "))
	}
}

// truncate flags TRUNCATE ... CASCADE.
func (s *section) truncate(ts []token) {
	if names := s.existingList(ts, skip(ts, skip(ts, 1, "table"), "only")); len(names) > 0 && hasWord(ts, "cascade") {
		s.flag(ts[0].Line, RuleTruncateCascade, "TRUNCATE "+strings.Join(names, ", ")+" CASCADE")
	}
}

// existingList reads the comma-separated names at ts[i] up to the first
// keyword that ends the list, and returns the ones not created above.
func (s *section) existingList(ts []token, i int) []string {
	var out []string
	for {
		r, next, ok := qualifiedName(ts, i)
		if !ok || r.schema == "" && isListEnd(r.name) {
			return out
		}
		if !s.isNew(r) {
			out = append(out, r.display)
		}
		if at(ts, next).IsPunct('*') {
			next++
		}
		if !at(ts, next).IsPunct(',') {
			return out
		}
		i = skip(ts, next+1, "only")
	}
}

func isListEnd(w string) bool {
	switch w {
	case "in", "nowait", "cascade", "restrict", "restart", "continue":
		return true
	}
	return false
}

// unboundedDML flags DELETE FROM t / UPDATE t SET ... without a WHERE at
// the statement's top level, unless t was created above.
func (s *section) unboundedDML(ts []token) {
	i := 1
	rule, verb := RuleUpdateWithoutWhere, "UPDATE"
	if ts[0].Is("delete") {
		rule, verb = RuleDeleteWithoutWhere, "DELETE"
		i = skip(ts, 1, "from")
	}
	i = skip(ts, i, "only")
	r, _, ok := qualifiedName(ts, i)
	if !ok || s.isNew(r) || indexWords(ts, "where") >= 0 {
		return
	}
	s.flag(ts[0].Line, rule, fmt.Sprintf("%s of every row of %s, without WHERE", verb, r.display))
}

// createTrigger flags CREATE TRIGGER on an existing table.
func (s *section) createTrigger(ts []token, i int) {
	if !s.dir.up {
		return
	}
	for ; i < len(ts) && !ts[i].Is("on"); i++ {
	}
	r, _, ok := qualifiedName(ts, i+1)
	if ok && !s.isNew(r) {
		s.flag(ts[0].Line, RuleTrigger, "CREATE TRIGGER on existing table "+r.display)
	}
}

// alterType flags RENAME VALUE of an enum that existed before the section.
// ADD VALUE is for the batch rules.
func (s *section) alterType(ts []token) {
	r, i, ok := qualifiedName(ts, 2)
	if !ok || !s.dir.up || s.isNew(r) || !words(ts, i, "rename", "value") {
		return
	}
	s.flag(ts[0].Line, RuleRenameEnumValue, fmt.Sprintf("RENAME VALUE %s of enum %s", at(ts, i+2).Text, r.display))
}
