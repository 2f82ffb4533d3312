package source

import (
	"fmt"
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/sqlscan"
)

// Statement is one SQL statement of a section, with the 1-based line (within
// the file) it starts on.
type Statement struct {
	SQL  string // trimmed, comments kept, without the terminating ';'
	Line int    // line of the statement's first non-whitespace character
}

// Split splits sql into statements on top-level semicolons. firstLine is the
// line number of sql's first line in its file (values below 1 count as 1).
//
// It understands PostgreSQL's lexical structure (with
// standard_conforming_strings on, the default), so semicolons inside these
// do not split:
//
//	'it''s'           strings, a quote doubled inside
//	E'it\'s'          escape strings, backslash escapes
//	"odd;name"        quoted identifiers
//	$$..$$ $fn$..$fn$ dollar quotes
//	-- ...            line comments
//	/* /* */ */       block comments, nested
//
// The text between lines "-- +goose StatementBegin" and
// "-- +goose StatementEnd" is one statement whatever semicolons it holds
// (a final ';' is removed from it too).
//
// Statements holding nothing but whitespace and comments are dropped.
// A statement's leading comments belong to it, except comments that follow
// the previous statement's ';' on the same line, which are dropped.
//
// An unterminated quote, dollar quote or comment, or a StatementBegin
// without StatementEnd, is a *SplitError naming the line where it starts.
func Split(sql string, firstLine int) ([]Statement, error) {
	stmts, err := split(sql, firstLine)
	if err != nil {
		return nil, err
	}
	if len(stmts) == 0 {
		return nil, nil
	}
	out := make([]Statement, len(stmts))
	for i, s := range stmts {
		out[i] = Statement{SQL: s.sql, Line: s.line}
	}
	return out, nil
}

// stmt is a statement as split finds it.
type stmt struct {
	sql        string
	line       int
	terminated bool // ended by ';' or StatementEnd rather than by the end of the text
}

// split is Split, also reporting whether each statement was terminated, which
// goose insists on.
func split(src string, firstLine int) ([]stmt, *SplitError) {
	if firstLine < 1 {
		firstLine = 1
	}
	var (
		stmts     []stmt
		lx        = lexer{src: src, line: firstLine}
		start     = -1 // offset of the pending statement's first token
		startLine int
		hasSQL    bool // the pending statement has more than comments
		afterSemi bool // still on the line of the previous statement's ';'
		lineStart = true

		inBlock   bool
		blockLine int  // line of the StatementBegin
		lastSemi  = -1 // in a block: offset of a ';' that is the last token but comments
	)
	for {
		tok, ok, err := lx.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		text := src[tok.start:tok.end]
		switch tok.kind {
		case tokSpace:
			if strings.IndexByte(text, '\n') >= 0 {
				lineStart, afterSemi = true, false
			}
			continue

		case tokLineComment:
			if lineStart {
				switch a, _ := parseAnnotation(text); a {
				case annBegin:
					if inBlock {
						return nil, &SplitError{Line: tok.line, Msg: fmt.Sprintf(
							"-- +goose StatementBegin inside the block opened at line %d: add -- +goose StatementEnd before opening another block", blockLine)}
					}
					if hasSQL {
						return nil, &SplitError{Line: startLine, Msg: fmt.Sprintf(
							"statement has no terminating ';' before the -- +goose StatementBegin at line %d: end it with ';'", tok.line)}
					}
					inBlock, blockLine, lastSemi = true, tok.line, -1
					start, hasSQL, afterSemi = -1, false, false
					lineStart = false
					continue
				case annEnd:
					if !inBlock {
						return nil, &SplitError{Line: tok.line, Msg: "-- +goose StatementEnd without a preceding -- +goose StatementBegin: " +
							"add StatementBegin on its own line above the statement, or delete this line"}
					}
					if hasSQL {
						body := src[start:tok.start]
						if lastSemi >= 0 {
							body = src[start:lastSemi] + src[lastSemi+1:tok.start]
						}
						stmts = append(stmts, stmt{sql: trimSpace(body), line: startLine, terminated: true})
					}
					inBlock, start, hasSQL = false, -1, false
					lineStart = false
					continue
				}
			}
			if start < 0 && !afterSemi {
				start, startLine = tok.start, tok.line
			}

		case tokBlockComment:
			if start < 0 && !afterSemi {
				start, startLine = tok.start, tok.line
			}

		case tokSemicolon:
			if inBlock {
				if start < 0 {
					start, startLine = tok.start, tok.line
				}
				lastSemi = tok.start
				break
			}
			if hasSQL {
				stmts = append(stmts, stmt{sql: trimSpace(src[start:tok.start]), line: startLine, terminated: true})
			}
			start, hasSQL, afterSemi = -1, false, true

		case tokSQL:
			if start < 0 {
				start, startLine = tok.start, tok.line
			}
			hasSQL, lastSemi = true, -1
		}
		lineStart = false
	}
	if inBlock {
		return nil, &SplitError{Line: blockLine, Msg: "-- +goose StatementBegin has no matching -- +goose StatementEnd: " +
			"add -- +goose StatementEnd on its own line after the statement"}
	}
	if hasSQL {
		stmts = append(stmts, stmt{sql: trimSpace(src[start:]), line: startLine})
	}
	return stmts, nil
}

// firstSQLLine returns the line of the first token of src that is neither
// whitespace, comment nor ';', and whether there is one. Annotations are
// comments to it.
func firstSQLLine(src string, firstLine int) (int, bool, *SplitError) {
	lx := lexer{src: src, line: firstLine}
	for {
		tok, ok, err := lx.next()
		if err != nil || !ok {
			return 0, false, err
		}
		if tok.kind == tokSQL {
			return tok.line, true, nil
		}
	}
}

// trimSpace trims PostgreSQL's whitespace (sqlscan.IsSpace) from s.
func trimSpace(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r < 0x80 && sqlscan.IsSpace(byte(r)) })
}

type tokKind int

const (
	tokSpace        tokKind = iota // a run of whitespace
	tokLineComment                 // -- to the end of the line, newline excluded
	tokBlockComment                // /* ... */, nested
	tokSemicolon                   // a top-level ';'
	tokSQL                         // anything else: a word, string, operator, ...
)

type token struct {
	kind       tokKind
	start, end int // byte offsets in the source
	line       int // line of start
}

// lexer cuts SQL into tokens just finely enough to find top-level semicolons
// and comments.
type lexer struct {
	src  string
	pos  int
	line int
}

// next returns the next token, false at the end of the source, or an error
// for a construct that is never closed.
func (l *lexer) next() (token, bool, *SplitError) {
	s, i := l.src, l.pos
	if i >= len(s) {
		return token{}, false, nil
	}
	kind, end, closed := sqlscan.Scan(s, i)
	tok := token{kind: tokSQL, start: i, end: end, line: l.line}
	switch {
	case kind == sqlscan.Space:
		tok.kind = tokSpace
	case kind == sqlscan.Comment && s[i] == '-':
		tok.kind = tokLineComment
	case kind == sqlscan.Comment:
		tok.kind = tokBlockComment
	case kind == sqlscan.Punct && s[i] == ';':
		tok.kind = tokSemicolon
	}
	l.pos = end
	l.line += strings.Count(s[i:end], "\n")
	if !closed {
		return token{}, false, &SplitError{Line: tok.line, Msg: unclosedMsg(s[i:])}
	}
	return tok, true, nil
}

// unclosedMsg says what is left open at the start of s.
func unclosedMsg(s string) string {
	switch s[0] {
	case '/':
		return "unterminated block comment: the /* opened here has no closing */ " +
			"(block comments nest in PostgreSQL: every /* needs its own */)"
	case '\'':
		return "unterminated string: the ' opened here has no closing ' (a quote inside a string is written '')"
	case '"':
		return `unterminated quoted identifier: the " opened here has no closing " (a quote inside an identifier is written "")`
	case 'e', 'E':
		return `unterminated E'...' string: the ' opened here has no closing ' ` +
			`(inside E'...' a quote is written \' or '', and a backslash \\)`
	}
	tag := sqlscan.DollarTag(s)
	return fmt.Sprintf("unterminated dollar-quoted string: the %s opened here has no closing %s", tag, tag)
}
