package sqlscan

import "strings"

// Kind is what a token of SQL text is, as far as a reader of statement
// shapes cares.
type Kind int

// Token kinds.
const (
	None    Kind = iota // past the end: a lookup out of range returns it, and it matches nothing
	Word                // an unquoted identifier or keyword, folded to lower case
	Ident               // a "quoted identifier", unescaped, case kept
	String              // a string constant or dollar-quoted body, quotes included
	Number              // a numeric constant
	Punct               // one character of anything else: ( ) , . ; operators
	Space               // a run of whitespace (Scan only)
	Comment             // a -- comment (its newline excluded) or a nested /* */ one (Scan only)
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

// IsSpace reports whether c is whitespace to PostgreSQL's lexer; anything
// wider would disagree with it about what is empty.
func IsSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// Scan reads the token of s that starts at offset i, whitespace and
// comments included, and returns its kind and the offset just past it.
// closed is false for a string, quoted identifier, dollar quote or block
// comment that nothing closes; it then runs to the end of s.
//
// Strings ('...', E'...' with backslash escapes) and dollar-quoted bodies
// are String tokens, "quoted identifiers" Ident tokens; a '$' that opens no
// dollar quote (a parameter such as $1) is a Punct.
func Scan(s string, i int) (k Kind, end int, closed bool) {
	c := s[i]
	switch {
	case IsSpace(c):
		for end = i + 1; end < len(s) && IsSpace(s[end]); end++ {
		}
		return Space, end, true
	case c == '-' && strings.HasPrefix(s[i:], "--"):
		if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
			return Comment, i + j, true
		}
		return Comment, len(s), true
	case c == '/' && strings.HasPrefix(s[i:], "/*"):
		end, closed = SkipBlockComment(s, i)
		return Comment, end, closed
	case c == '\'':
		end, closed = SkipQuoted(s, i+1, '\'', false)
		return String, end, closed
	case c == '"':
		end, closed = SkipQuoted(s, i+1, '"', false)
		return Ident, end, closed
	case c == '$' && DollarTag(s[i:]) != "":
		tag := DollarTag(s[i:])
		if j := strings.Index(s[i+len(tag):], tag); j >= 0 {
			return String, i + len(tag) + j + len(tag), true
		}
		return String, len(s), false
	case (c == 'e' || c == 'E') && i+1 < len(s) && s[i+1] == '\'':
		end, closed = SkipQuoted(s, i+2, '\'', true)
		return String, end, closed
	case IsIdentStart(c):
		for end = i + 1; end < len(s) && IsIdentCont(s[end]); end++ {
		}
		return Word, end, true
	case isDigit(c):
		// Digits and points, then an exponent: what follows (a name, a
		// dollar quote) is a token of its own, as in PostgreSQL.
		for end = i + 1; end < len(s) && (isDigit(s[end]) || s[end] == '.'); end++ {
		}
		if j := end + 1; j < len(s) && (s[end] == 'e' || s[end] == 'E') {
			if s[j] == '+' || s[j] == '-' {
				j++
			}
			if j < len(s) && isDigit(s[j]) {
				for end = j + 1; end < len(s) && isDigit(s[end]); end++ {
				}
			}
		}
		return Number, end, true
	}
	return Punct, i + 1, true
}

// Tokens cuts sql, whose first line is line firstLine of its file, into
// tokens. It never fails: callers lint text a loader has already checked,
// and anything left unterminated runs to the end of the text.
//
// It folds unquoted identifiers to lower case as PostgreSQL does (ASCII
// only), unescapes quoted identifiers, and skips whitespace and comments
// (see Scan); strings and dollar-quoted bodies are single tokens, so
// nothing inside a function body or a DO block is looked at.
func Tokens(sql string, firstLine int) []Token {
	out := make([]Token, 0, len(sql)/6+1) // a token per 6 bytes of typical DDL
	line := firstLine
	for i := 0; i < len(sql); {
		kind, end, _ := Scan(sql, i)
		if kind != Space && kind != Comment {
			text := sql[i:end]
			switch kind {
			case Word:
				text = lowerASCII(text)
			case Ident:
				text = strings.ReplaceAll(strings.TrimSuffix(text[1:], `"`), `""`, `"`)
			}
			out = append(out, Token{Kind: kind, Text: text, Line: line, Pos: i, End: end})
		}
		line += strings.Count(sql[i:end], "\n")
		i = end
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

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
