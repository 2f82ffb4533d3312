// Package sqlscan holds PostgreSQL's lexical rules (after its scan.l) for
// the pieces of SQL text that hide semicolons and keywords: quoted strings
// and identifiers, nested block comments and dollar quotes. The migration
// splitter and the migration lint both scan SQL with them. Pure functions,
// safe for concurrent use.
package sqlscan

import "strings"

// IsIdentStart reports whether c may start an unquoted identifier; bytes
// >= 0x80 (UTF-8 letters) may, as in PostgreSQL.
func IsIdentStart(c byte) bool {
	return c == '_' || c >= 0x80 || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

// IsIdentCont reports whether c may continue an unquoted identifier.
func IsIdentCont(c byte) bool { return IsIdentStart(c) || c == '$' || (c >= '0' && c <= '9') }

// SkipQuoted returns the offset just past the quote q closing the quoted
// text that starts at i; a doubled quote, and with backslash a
// backslash-escaped character, does not close it. ok is false (and end is
// len(s)) when nothing closes it.
func SkipQuoted(s string, i int, q byte, backslash bool) (end int, ok bool) {
	for i < len(s) {
		switch c := s[i]; {
		case backslash && c == '\\':
			i += 2
		case c == q && i+1 < len(s) && s[i+1] == q:
			i += 2
		case c == q:
			return i + 1, true
		default:
			i++
		}
	}
	return len(s), false
}

// SkipBlockComment returns the offset just past the */ closing the comment
// opened at i, counting nested /* */ pairs as PostgreSQL does. ok is false
// (and end is len(s)) when the comment is not closed.
func SkipBlockComment(s string, i int) (end int, ok bool) {
	depth := 0
	for i < len(s) {
		switch {
		case strings.HasPrefix(s[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(s[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i, true
			}
		default:
			i++
		}
	}
	return len(s), false
}

// DollarTag returns the dollar-quote delimiter ("$$" or "$tag$") s starts
// with, or "" when s starts with something else (a parameter such as $1).
func DollarTag(s string) string {
	j := 1
	if j < len(s) && IsIdentStart(s[j]) {
		for j++; j < len(s) && IsIdentCont(s[j]) && s[j] != '$'; j++ {
		}
	}
	if j < len(s) && s[j] == '$' {
		return s[:j+1]
	}
	return ""
}

// MaskLiterals replaces the contents of every string literal in SQL text
// with "...": 'secret', E'sec\'ret' and $tag$secret$tag$ all become '...'
// (an E, B, X, N or U& prefix stays). Identifiers ("name"), comments and
// everything else are kept, so the statement still shows what it does but
// not the values it carries (ALTER ROLE app PASSWORD '...'). Text cut off
// inside a literal is masked to its end.
func MaskLiterals(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		kind, end, _ := Scan(s, i)
		switch {
		case kind != String:
			b.WriteString(s[i:end])
		case s[i] == 'e' || s[i] == 'E':
			b.WriteString(s[i:i+1] + "'...'")
		default:
			b.WriteString("'...'")
		}
		i = end
	}
	return b.String()
}
