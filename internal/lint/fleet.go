package lint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/sqlscan"
)

// The rules only a fleet tool has: names that must not reach past a
// tenant's search_path, names a tenant's server truncates, and statements
// the fleet's servers run differently.

// maxIdentifier is PostgreSQL's NAMEDATALEN - 1: longer names are cut.
const maxIdentifier = 63

// longNames flags each name longer than PostgreSQL keeps.
func (s *section) longNames(ts []token) {
	seen := map[string]bool{}
	for _, t := range ts {
		if t.IsName() && len(t.Text) > maxIdentifier && !seen[t.Text] {
			seen[t.Text] = true
			s.flag(t.Line, RuleLongName, fmt.Sprintf("name %s is %d bytes; PostgreSQL keeps %s", displayName(t), len(t.Text),
				displayName(token{Kind: t.Kind, Text: truncateName(t.Text)})))
		}
	}
}

// truncateName cuts s to 63 bytes without splitting a UTF-8 sequence, as
// PostgreSQL does.
func truncateName(s string) string {
	n := maxIdentifier
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// nameKeywords are the keywords a relation (or type, function) name
// follows; "on" counts only in CREATE, COMMENT and GRANT statements, and
// "from" and "join" only outside parentheses.
var nameKeywords = map[string]bool{
	"table": true, "into": true, "references": true, "from": true, "join": true, "index": true,
	"view": true, "sequence": true, "type": true, "function": true, "procedure": true, "on": true,
}

// systemSchemas are the schemas every tenant shares by design.
var systemSchemas = map[string]bool{"pg_catalog": true, "information_schema": true}

// schemaQualified flags names written with a schema: a shared set for
// tenant schemas must leave the schema to each target's search_path.
func (s *section) schemaQualified(ts []token) {
	onCounts := ts[0].Is("create") || ts[0].Is("comment") || ts[0].Is("grant") || ts[0].Is("revoke")
	depth := 0
	seen := map[string]bool{}
	for i, t := range ts {
		switch {
		case t.IsPunct('('):
			depth++
			continue
		case t.IsPunct(')'):
			depth--
			continue
		case !(nameKeywords[t.Text] && t.Kind == sqlscan.Word) && !(i == 0 && t.Is("update")):
			continue
		case t.Is("on") && !onCounts, (t.Is("from") || t.Is("join")) && depth > 0:
			continue
		}
		j := skip(ts, i+1, "if", "not", "exists")
		j = skip(ts, j, "if", "exists")
		j = skip(ts, j, "only")
		j = skip(ts, j, "concurrently")
		r, _, ok := qualifiedName(ts, j)
		if !ok || r.schema == "" || systemSchemas[r.schema] || slices.Contains(s.l.opts.SharedSchemas, r.schema) || seen[r.display] {
			continue
		}
		seen[r.display] = true
		msg := r.display + " names its schema"
		if s.l.opts.Fleet == FleetDatabases {
			s.addNote(ts[j].Line, RuleSchemaQualified, msg+": harmless while every target is a database of its own, "+
				"but the set could not serve tenant schemas; leave names unqualified, so each target's search_path decides")
			continue
		}
		s.flag(ts[j].Line, RuleSchemaQualified, msg)
	}
}

// addNote records a finding of rule as a note, whatever the rule's
// severity.
func (s *section) addNote(line int, rule, msg string) {
	if s.report {
		s.l.add(report.Diagnostic{File: s.dir.file, Line: line, Rule: rule, Severity: report.SeverityNote, Message: msg})
	}
}

// feature is a statement form that needs a given server version.
type feature struct {
	min   int // server_version_num
	what  string
	match func(ts []token) bool
}

// features are the forms the probe checks, by the version that brought
// them.
var features = []feature{
	{120000, "REINDEX CONCURRENTLY", func(ts []token) bool { return ts[0].Is("reindex") && hasWord(ts, "concurrently") }},
	{140000, "DETACH PARTITION ... CONCURRENTLY", func(ts []token) bool {
		return words(ts, 0, "alter", "table") && indexWords(ts, "detach", "partition") >= 0 && hasWord(ts, "concurrently")
	}},
	{150000, "UNIQUE NULLS NOT DISTINCT", func(ts []token) bool { return indexAnyDepth(ts, "nulls", "not", "distinct") >= 0 }},
	{150000, "MERGE", func(ts []token) bool { return ts[0].Is("merge") }},
	{140000, "CREATE OR REPLACE TRIGGER", func(ts []token) bool { return words(ts, 0, "create", "or", "replace", "trigger") }},
	{120000, "a stored generated column (GENERATED ALWAYS AS (...) STORED)", func(ts []token) bool {
		return indexAnyDepth(ts, "generated", "always", "as") >= 0 && hasWord(ts, "stored")
	}},
	{170000, "ALTER COLUMN ... SET EXPRESSION", func(ts []token) bool {
		return words(ts, 0, "alter", "table") && indexAnyDepth(ts, "set", "expression") >= 0
	}},
	{180000, "uuidv7()", func(ts []token) bool { return calls(ts, "uuidv7") }},
}

func calls(ts []token, fn string) bool {
	for k, t := range ts {
		if t.Is(fn) && at(ts, k+1).IsPunct('(') {
			return true
		}
	}
	return false
}

// indexAnyDepth is indexWords at any parenthesis depth.
func indexAnyDepth(ts []token, ws ...string) int {
	for i := range ts {
		if words(ts, i, ws...) {
			return i
		}
	}
	return -1
}

// serverVersions flags the forms some of the fleet's servers cannot run.
func (s *section) serverVersions(ts []token) {
	if len(s.l.opts.ServerVersions) == 0 {
		return
	}
	for _, f := range features {
		if f.match(ts) {
			s.needsServer(ts[0].Line, f.min, f.what)
		}
	}
	if calls(ts, "gen_random_uuid") {
		s.versionBehaviour(ts[0].Line, 130000, "gen_random_uuid()", "is built in from PostgreSQL 13 and needs the pgcrypto extension on older servers")
	}
	if !s.dir.noTx && words(ts, 0, "alter", "type") && indexAnyDepth(ts, "add", "value") >= 0 {
		s.needsServer(ts[0].Line, 120000, "ALTER TYPE ... ADD VALUE inside a transaction block")
	}
}

// needsServer flags a form that needs PostgreSQL min when servers older
// than that were found.
func (s *section) needsServer(line, min int, what string) {
	if older := olderThan(s.l.opts.ServerVersions, min); older != "" {
		r, _ := ruleInfo(RuleNeedsNewerServer)
		s.addf(line, RuleNeedsNewerServer, "%s needs PostgreSQL %s, and the fleet has servers at %s: %s; instead: %s",
			what, versionName(min), older, r.Why, r.Instead)
	}
}

// versionBehaviour flags a statement that is cheap from PostgreSQL min on,
// when older servers were found.
func (s *section) versionBehaviour(line, min int, what, how string) {
	if older := olderThan(s.l.opts.ServerVersions, min); older != "" {
		r, _ := ruleInfo(RuleVersionBehaviour)
		s.addf(line, RuleVersionBehaviour, "%s %s, and the fleet has servers at %s; instead: %s", what, how, older, r.Instead)
	}
}

// olderThan lists the distinct versions below min, with how many servers
// run each: "11.22 (2 servers), 12.3 (1 server)"; "" when there are none.
func olderThan(versions []int, min int) string {
	count := map[int]int{}
	for _, v := range versions {
		if v < min {
			count[v]++
		}
	}
	keys := make([]int, 0, len(count))
	for v := range count {
		keys = append(keys, v)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, v := range keys {
		parts[i] = fmt.Sprintf("%s (%s)", versionName(v), report.Plural(count[v], "server"))
	}
	return strings.Join(parts, ", ")
}

// versionName shows a server_version_num as PostgreSQL names the release:
// 150020 is 15.20, 110000 is 11, 90624 is 9.6.24.
func versionName(v int) string {
	if v < 100000 {
		return fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100)
	}
	if v%10000 == 0 {
		return fmt.Sprint(v / 10000)
	}
	return fmt.Sprintf("%d.%d", v/10000, v%10000)
}
