package lint

import (
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/sqlscan"
)

// tokKind is what a token of SQL text is, as far as the rules care.
type tokKind int

const (
	tokNone   tokKind = iota // past the end: at returns it, and it matches nothing
	tokWord                  // an unquoted identifier or keyword, folded to lower case
	tokIdent                 // a "quoted identifier", unescaped, case kept
	tokString                // a string constant or dollar-quoted body, quotes included
	tokNumber                // a numeric constant
	tokPunct                 // one character of anything else: ( ) , . ; operators
)

// token is one token of a statement: comments and whitespace are never
// tokens, so a rule cannot be fooled by a keyword inside either.
type token struct {
	kind tokKind
	text string // see tokKind; a tokPunct is its one character
	line int    // line in the file
}

// at returns ts[i], or a token that matches nothing when i is out of range,
// so rules can look ahead without bounds checks.
func at(ts []token, i int) token {
	if i < 0 || i >= len(ts) {
		return token{}
	}
	return ts[i]
}

// is reports whether t is the keyword w (lower case).
func (t token) is(w string) bool { return t.kind == tokWord && t.text == w }

// isName reports whether t can be (part of) a name.
func (t token) isName() bool { return t.kind == tokWord || t.kind == tokIdent }

// isPunct reports whether t is the punctuation character c.
func (t token) isPunct(c byte) bool { return t.kind == tokPunct && t.text != "" && t.text[0] == c }

// tokenize cuts sql, whose first line is line firstLine of its file, into
// tokens. It never fails: source.Load has already refused text that does not
// lex, and anything left unterminated here runs to the end of the text.
//
// It folds unquoted identifiers to lower case as PostgreSQL does (ASCII
// only), unescapes quoted identifiers, and skips -- and nested /* */
// comments; strings ('...', E'...') and dollar-quoted bodies are single
// tokens, so nothing inside a function body or a DO block is looked at.
func tokenize(sql string, firstLine int) []token {
	var out []token
	line := firstLine
	i := 0
	for i < len(sql) {
		c := sql[i]
		start := i
		kind := tokPunct
		switch {
		case c == '\n':
			line++
			i++
			continue
		case isSpace(c):
			i++
			continue
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			if j := strings.IndexByte(sql[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(sql)
			}
			continue
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			i = skipped(sqlscan.SkipBlockComment(sql, i))
			line += strings.Count(sql[start:i], "\n")
			continue
		case c == '\'':
			kind, i = tokString, skipped(sqlscan.SkipQuoted(sql, i+1, '\'', false))
		case c == '"':
			kind, i = tokIdent, skipped(sqlscan.SkipQuoted(sql, i+1, '"', false))
		case c == '$' && sqlscan.DollarTag(sql[i:]) != "":
			tag := sqlscan.DollarTag(sql[i:])
			kind = tokString
			if j := strings.Index(sql[i+len(tag):], tag); j >= 0 {
				i += len(tag) + j + len(tag)
			} else {
				i = len(sql)
			}
		case (c == 'e' || c == 'E') && i+1 < len(sql) && sql[i+1] == '\'':
			kind, i = tokString, skipped(sqlscan.SkipQuoted(sql, i+2, '\'', true))
		case sqlscan.IsIdentStart(c):
			kind = tokWord
			for i++; i < len(sql) && sqlscan.IsIdentCont(sql[i]); i++ {
			}
		case c >= '0' && c <= '9':
			kind = tokNumber
			for i++; i < len(sql) && (sqlscan.IsIdentCont(sql[i]) || sql[i] == '.'); i++ {
			}
		default:
			i++
		}
		text := sql[start:i]
		switch kind {
		case tokWord:
			text = lowerASCII(text)
		case tokIdent:
			text = strings.ReplaceAll(strings.TrimSuffix(text[1:], `"`), `""`, `"`)
		}
		out = append(out, token{kind: kind, text: text, line: line})
		line += strings.Count(sql[start:i], "\n")
	}
	return out
}

// splitTokens cuts ts at ';' tokens: the statements of a
// StatementBegin/StatementEnd block, which source.Split keeps as one.
// Empty pieces are dropped.
func splitTokens(ts []token) [][]token {
	var out [][]token
	start := 0
	for i := 0; i <= len(ts); i++ {
		if i == len(ts) || ts[i].isPunct(';') {
			if i > start {
				out = append(out, ts[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// splitTopLevel cuts ts at commas outside parentheses: the actions of an
// ALTER TABLE, the names of a DROP TABLE.
func splitTopLevel(ts []token) [][]token {
	var out [][]token
	depth, start := 0, 0
	for i, t := range ts {
		switch {
		case t.isPunct('('):
			depth++
		case t.isPunct(')'):
			depth--
		case t.isPunct(',') && depth == 0:
			out = append(out, ts[start:i])
			start = i + 1
		}
	}
	return append(out, ts[start:])
}

// words reports whether ts[i:] starts with the keywords ws.
func words(ts []token, i int, ws ...string) bool {
	if i+len(ws) > len(ts) {
		return false
	}
	for k, w := range ws {
		if !ts[i+k].is(w) {
			return false
		}
	}
	return true
}

// skip returns i advanced past the keywords ws when ts[i:] starts with them,
// else i.
func skip(ts []token, i int, ws ...string) int {
	if words(ts, i, ws...) {
		return i + len(ws)
	}
	return i
}

// relation is a table name as a statement writes it: an unqualified name
// has schema "".
type relation struct {
	schema, name string
	display      string // as written, for messages
}

// same reports whether a and b may name the same table: an unqualified name
// matches the same name in any schema, since the search path decides.
func (a relation) same(b relation) bool {
	return a.name == b.name && (a.schema == "" || b.schema == "" || a.schema == b.schema)
}

// qualifiedName reads a possibly schema-qualified name at ts[i] and returns
// it and the index after it; ok is false when there is no name there.
func qualifiedName(ts []token, i int) (r relation, next int, ok bool) {
	var parts, shown []string
	for i < len(ts) && ts[i].isName() {
		parts = append(parts, ts[i].text)
		shown = append(shown, displayName(ts[i]))
		i++
		if i+1 < len(ts) && ts[i].isPunct('.') && ts[i+1].isName() {
			i++
			continue
		}
		break
	}
	if len(parts) == 0 {
		return relation{}, i, false
	}
	r.name = parts[len(parts)-1]
	if len(parts) > 1 {
		r.schema = parts[len(parts)-2]
	}
	r.display = strings.Join(shown, ".")
	return r, i, true
}

// displayName shows a name token as it would be written.
func displayName(t token) string {
	if t.kind == tokIdent {
		return `"` + strings.ReplaceAll(t.text, `"`, `""`) + `"`
	}
	return t.text
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' }

// skipped drops the "closed" flag of an sqlscan skip: an unterminated
// string or comment runs to the end of the text, which Load has already
// refused for a real migration.
func skipped(end int, _ bool) int { return end }
