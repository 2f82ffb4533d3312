package lint

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/sqlscan"
)

// colType is a column type as a statement writes it, normalised: "int4",
// "int8", "serial", "varchar", "char", "text", "timestamp", "timestamptz",
// "json", ...; length is n of varchar(n) or char(n), 0 when none is given.
type colType struct {
	name   string
	length int
	shown  string // as written, for messages
}

// typeNames maps the spellings PostgreSQL accepts to one name.
var typeNames = map[string]string{
	"int": "int4", "integer": "int4", "int4": "int4", "smallint": "int2", "int2": "int2",
	"bigint": "int8", "int8": "int8", "serial": "serial", "serial4": "serial", "smallserial": "smallserial",
	"serial2": "smallserial", "bigserial": "bigserial", "serial8": "bigserial",
	"varchar": "varchar", "char": "char", "character": "char", "bpchar": "char", "text": "text",
	"timestamp": "timestamp", "timestamptz": "timestamptz", "json": "json", "jsonb": "jsonb",
}

// readType reads the type at a[j] (past a pg_catalog. prefix); ok is false
// when there is no type name there.
func readType(a []token, j int) (t colType, ok bool) {
	if words(a, j, "pg_catalog") && at(a, j+1).IsPunct('.') {
		j += 2
	}
	first := at(a, j)
	if first.Kind != sqlscan.Word {
		return colType{}, first.Kind == sqlscan.Ident
	}
	start := j
	name, known := typeNames[first.Text]
	if !known {
		name = first.Text
	}
	j++
	if (first.Is("character") || first.Is("char")) && at(a, j).Is("varying") {
		name = "varchar"
		j++
	}
	if words(a, j, "double", "precision") {
		j++
	}
	if at(a, j).IsPunct('(') && at(a, j+1).Kind == sqlscan.Number && at(a, j+2).IsPunct(')') {
		t.length, _ = strconv.Atoi(at(a, j+1).Text)
		j += 3
	}
	if name == "timestamp" {
		switch {
		case words(a, j, "with", "time", "zone"):
			name = "timestamptz"
			j += 3
		case words(a, j, "without", "time", "zone"):
			j += 3
		}
	}
	t.name = name
	var b strings.Builder
	for k, tok := range a[start:j] {
		if k > 0 && tok.IsName() && a[start+k-1].IsName() {
			b.WriteByte(' ')
		}
		b.WriteString(tok.Text)
	}
	t.shown = b.String()
	return t, true
}

func (t colType) isInt32() bool {
	return t.name == "int4" || t.name == "int2" || t.name == "serial" || t.name == "smallserial"
}

// typeRules flags the column types a new column should not have.
func (s *section) typeRules(line int, col string, t colType) {
	if !s.dir.up {
		return
	}
	switch t.name {
	case "timestamp":
		s.flag(line, RuleTimestamp, fmt.Sprintf("column %s is %s", col, t.shown))
	case "char":
		s.flag(line, RuleCharType, fmt.Sprintf("column %s is %s", col, t.shown))
	case "json":
		s.flag(line, RuleJSONType, fmt.Sprintf("column %s is json", col))
	}
}

// createTable reads the column definitions of CREATE TABLE name (...) at
// ts[i]: their types, for the type rules and for later type changes.
func (s *section) createTable(ts []token, i int) {
	r, k, ok := qualifiedName(ts, i)
	if !ok || !at(ts, k).IsPunct('(') {
		return
	}
	end, depth := len(ts), 0
	for j := k; j < len(ts); j++ {
		if ts[j].IsPunct('(') {
			depth++
		} else if ts[j].IsPunct(')') {
			if depth--; depth == 0 {
				end = j
				break
			}
		}
	}
	cols := map[string]colType{}
	var pk []string
	for _, el := range splitTopLevel(ts[k+1 : end]) {
		switch first := at(el, 0); {
		case !first.IsName():
		case first.Is("constraint"), first.Is("primary"), first.Is("unique"), first.Is("check"),
			first.Is("foreign"), first.Is("exclude"), first.Is("like"):
			if p := indexWords(el, "primary", "key"); p >= 0 && at(el, p+2).IsPunct('(') {
				for _, part := range splitTopLevel(el[p+3:]) {
					if c := at(part, 0); c.IsName() {
						pk = append(pk, c.Text)
					}
				}
			}
		default:
			t, ok := readType(el, 1)
			if !ok {
				continue
			}
			cols[first.Text] = t
			s.typeRules(el[0].Line, displayName(first), t)
			if indexWords(el, "primary", "key") >= 0 && t.isInt32() {
				s.flag(el[0].Line, RuleIntPrimaryKey, fmt.Sprintf("primary key %s is %s", displayName(first), t.shown))
			}
		}
	}
	if len(pk) == 1 {
		if t, ok := cols[pk[0]]; ok && t.isInt32() {
			s.flag(ts[0].Line, RuleIntPrimaryKey, fmt.Sprintf("primary key %s of %s is %s", pk[0], r.display, t.shown))
		}
	}
	s.l.columns[r.name] = cols
}

// indexWords returns the index in ts of the first depth-0 run of the
// keywords ws, or -1.
func indexWords(ts []token, ws ...string) int {
	depth := 0
	for i, t := range ts {
		switch {
		case t.IsPunct('('):
			depth++
		case t.IsPunct(')'):
			depth--
		case depth == 0 && words(ts, i, ws...):
			return i
		}
	}
	return -1
}

// columnOf returns the column name and type of the ADD [COLUMN] [IF NOT
// EXISTS] action a.
func columnOf(a []token) (token, colType, bool) {
	j := skip(a, 1, "column")
	j = skip(a, j, "if", "not", "exists")
	col := at(a, j)
	if !col.IsName() {
		return token{}, colType{}, false
	}
	t, ok := readType(a, j+1)
	return col, t, ok
}

// addColumnType records an added column's type and applies the type rules.
func (s *section) addColumnType(r relation, a []token) {
	col, t, ok := columnOf(a)
	if !ok {
		return
	}
	if cols := s.l.columns[r.name]; cols != nil {
		cols[col.Text] = t
	}
	s.typeRules(a[0].Line, displayName(col), t)
	if indexWords(a, "primary", "key") >= 0 && t.isInt32() {
		s.flag(a[0].Line, RuleIntPrimaryKey, fmt.Sprintf("primary key %s is %s", displayName(col), t.shown))
	}
}

// changeType lints ALTER COLUMN col TYPE at a[j]: a varchar that gets
// shorter, and the new type's rules.
func (s *section) changeType(r relation, col token, a []token, j int) {
	t, ok := readType(a, j)
	if !ok {
		return
	}
	s.typeRules(a[0].Line, displayName(col), t)
	cols := s.l.columns[r.name]
	old, known := cols[col.Text]
	if known && t.name == "varchar" && t.length > 0 &&
		((old.name == "varchar" && (old.length == 0 || old.length > t.length)) || old.name == "text") {
		s.flag(a[0].Line, RuleVarcharShrink, fmt.Sprintf("column %s of %s goes from %s to %s", displayName(col), r.display, old.shown, t.shown))
	}
	if cols != nil {
		cols[col.Text] = t
	}
}

// constraintKind returns the keyword that starts the table constraint an
// ADD action adds (after ADD [CONSTRAINT name]) and its index, or "" when
// the action adds a column.
func constraintKind(a []token) (string, int) {
	k := 1
	if at(a, 1).Is("constraint") {
		k = 3
	}
	switch t := at(a, k); {
	case t.Is("primary"), t.Is("unique"), t.Is("check"), t.Is("foreign"), t.Is("exclude"):
		return t.Text, k
	}
	return "", k
}

func (s *section) addsConstraint(a []token) bool {
	kind, _ := constraintKind(a)
	return kind != ""
}

// addConstraint lints ADD [CONSTRAINT name] on an existing table and
// reports whether a was a constraint.
func (s *section) addConstraint(r relation, a []token) bool {
	kind, k := constraintKind(a)
	notValid := indexWords(a, "not", "valid") >= 0
	line := a[0].Line
	switch kind {
	case "":
		return false
	case "foreign":
		if !notValid {
			s.flag(line, RuleForeignKeyNotValid, "FOREIGN KEY without NOT VALID on existing table "+r.display)
		}
	case "check":
		if !notValid {
			s.flag(line, RuleCheckNotValid, "CHECK without NOT VALID on existing table "+r.display)
		}
	case "unique":
		if !at(a, k+1).Is("using") {
			s.flag(line, RuleUniqueWithoutIndex, "UNIQUE constraint without USING INDEX on existing table "+r.display)
		}
	case "primary":
		if !at(a, k+2).Is("using") {
			s.flag(line, RulePrimaryKeyWithoutIndex, "PRIMARY KEY without USING INDEX on existing table "+r.display)
		}
	}
	return true
}

// volatileFunctions are the volatile built-ins a DEFAULT commonly calls.
var volatileFunctions = map[string]bool{
	"random": true, "gen_random_uuid": true, "uuid_generate_v1": true, "uuid_generate_v1mc": true,
	"uuid_generate_v4": true, "uuidv4": true, "uuidv7": true, "clock_timestamp": true, "timeofday": true,
	"nextval": true, "gen_random_bytes": true, "random_normal": true,
}

// addColumnDefault flags an added column whose value is computed per row,
// and, on fleets that have servers older than 11, one with a constant
// default (instant from 11 only). rest is the action past the column name.
func (s *section) addColumnDefault(r relation, line int, rest []token, hasDefault bool) {
	var why string
	switch {
	case at(rest, 0).Kind == sqlscan.Word && strings.Contains(at(rest, 0).Text, "serial"):
		why = "a " + at(rest, 0).Text + " column"
	case indexWords(rest, "generated") >= 0 && indexWords(rest, "identity") >= 0:
		why = "an identity column"
	case indexWords(rest, "generated") >= 0 && indexWords(rest, "stored") >= 0:
		why = "a stored generated column"
	default:
		for k, t := range rest {
			if t.Kind == sqlscan.Word && volatileFunctions[t.Text] && at(rest, k+1).IsPunct('(') {
				why = "a DEFAULT calling " + t.Text + "()"
				break
			}
		}
	}
	if why != "" {
		s.flag(line, RuleVolatileDefault, fmt.Sprintf("ADD COLUMN on existing table %s with %s", r.display, why))
		return
	}
	if hasDefault && s.dir.up {
		s.versionBehaviour(line, 110000, "ADD COLUMN with a DEFAULT on existing table "+r.display,
			"is instant from PostgreSQL 11 but rewrites the table under an ACCESS EXCLUSIVE lock on older servers")
	}
}
