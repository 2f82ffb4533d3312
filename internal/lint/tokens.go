package lint

import (
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/sqlscan"
)

// The rules read statements as sqlscan tokens; this file holds what they
// need on top of the lexer: lookahead without bounds checks, keyword
// sequences, and the shapes of names and lists.

type token = sqlscan.Token

// at returns ts[i], or a token that matches nothing when i is out of range,
// so rules can look ahead without bounds checks.
func at(ts []token, i int) token {
	if i < 0 || i >= len(ts) {
		return token{}
	}
	return ts[i]
}

// splitTokens cuts ts at ';' tokens: the statements of a
// StatementBegin/StatementEnd block, which source.Split keeps as one.
// Empty pieces are dropped.
func splitTokens(ts []token) [][]token {
	var out [][]token
	start := 0
	for i := 0; i <= len(ts); i++ {
		if i == len(ts) || ts[i].IsPunct(';') {
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
		case t.IsPunct('('):
			depth++
		case t.IsPunct(')'):
			depth--
		case t.IsPunct(',') && depth == 0:
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
		if !ts[i+k].Is(w) {
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
	for i < len(ts) && ts[i].IsName() {
		parts = append(parts, ts[i].Text)
		shown = append(shown, displayName(ts[i]))
		i++
		if i+1 < len(ts) && ts[i].IsPunct('.') && ts[i+1].IsName() {
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
	if t.Kind == sqlscan.Ident {
		return `"` + strings.ReplaceAll(t.Text, `"`, `""`) + `"`
	}
	return t.Text
}
