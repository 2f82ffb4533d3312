package sqlscan

import "strings"

// Kind is what a token of SQL text is, as far as a reader of statement
// shapes cares.
type Kind int

// Token kinds.
const (
	None   Kind = iota // past the end: a lookup out of range returns it, and it matches nothing
	Word               // an unquoted identifier or keyword, folded to lower case
	Ident              // a "quoted identifier", unescaped, case kept
	String             // a string constant or dollar-quoted body, quotes included
	Number             // a numeric constant
	Punct              // one character of anything else: ( ) , . ; operators
)

// Token is one token of SQL text: comments and whitespace are never tokens,
// so a reader cannot be fooled by a keyword inside either.
type Token struct {
	Kind Kind
	Text string // see Kind; a Punct is its one character
	Line int    // line in the file
	// Pos and End are the byte offsets of the token's first byte and just
	// past its last in the text given to Tokens.
	Pos, End int
}

// Is reports whether t is the keyword w (lower case).
func (t Token) Is(w string) bool { return t.Kind == Word && t.Text == w }

// IsName reports whether t can be (part of) a name.
func (t Token) IsName() bool { return t.Kind == Word || t.Kind == Ident }

// IsPunct reports whether t is the punctuation character c.
func (t Token) IsPunct(c byte) bool { return t.Kind == Punct && t.Text != "" && t.Text[0] == c }

// Tokens cuts sql, whose first line is line firstLine of its file, into
// tokens. It never fails: callers lint text a loader has already checked,
// and anything left unterminated runs to the end of the text.
//
// It folds unquoted identifiers to lower case as PostgreSQL does (ASCII
// only), unescapes quoted identifiers, and skips -- and nested /* */
// comments; strings ('...', E'...') and dollar-quoted bodies are single
// tokens, so nothing inside a function body or a DO block is looked at.
func Tokens(sql string, firstLine int) []Token {
	out := make([]Token, 0, len(sql)/6+1) // a token per 6 bytes of typical DDL
	line := firstLine
	i := 0
	for i < len(sql) {
		c := sql[i]
		start := i
		kind := Punct
		switch {
		case c == '\n':
			line++
			i++
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
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
			i, _ = SkipBlockComment(sql, i)
			line += strings.Count(sql[start:i], "\n")
			continue
		case c == '\'':
			kind, i = String, skipTo(SkipQuoted(sql, i+1, '\'', false))
		case c == '"':
			kind, i = Ident, skipTo(SkipQuoted(sql, i+1, '"', false))
		case c == '$' && DollarTag(sql[i:]) != "":
			tag := DollarTag(sql[i:])
			kind = String
			if j := strings.Index(sql[i+len(tag):], tag); j >= 0 {
				i += len(tag) + j + len(tag)
			} else {
				i = len(sql)
			}
		case (c == 'e' || c == 'E') && i+1 < len(sql) && sql[i+1] == '\'':
			kind, i = String, skipTo(SkipQuoted(sql, i+2, '\'', true))
		case IsIdentStart(c):
			kind = Word
			for i++; i < len(sql) && IsIdentCont(sql[i]); i++ {
			}
		case c >= '0' && c <= '9':
			kind = Number
			for i++; i < len(sql) && (IsIdentCont(sql[i]) || sql[i] == '.'); i++ {
			}
		default:
			i++
		}
		text := sql[start:i]
		switch kind {
		case Word:
			text = lowerASCII(text)
		case Ident:
			text = strings.ReplaceAll(strings.TrimSuffix(text[1:], `"`), `""`, `"`)
		}
		out = append(out, Token{Kind: kind, Text: text, Line: line, Pos: start, End: i})
		line += strings.Count(sql[start:i], "\n")
	}
	return out
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// skipTo drops the "closed" flag of a skip: an unterminated string runs to
// the end of the text.
func skipTo(end int, _ bool) int { return end }
