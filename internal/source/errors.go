package source

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error lists every problem found in a migration set, not just the first, so
// one run of `orchestrator validate` shows everything that needs fixing.
// Load returns it (as error) whenever the set cannot be used; match it with
// errors.As.
type Error struct {
	Dir      string    // the directory as given to Load
	Problems []Problem // sorted by File, then Line
}

// Problem is one thing wrong with a migration set: where it is and what to do
// about it.
type Problem struct {
	// File is the path of the file, relative to the fs.FS given to Load; ""
	// when the problem concerns the directory itself (it is empty, or
	// cannot be read).
	File string
	// Line is 1-based. A problem with a file as a whole (its name, its
	// version, its pairing) points at line 1; Line is 0 when there is no
	// text to point at (an unreadable file, the directory).
	Line int
	// Msg says what is wrong and how to fix it.
	Msg string
}

// String formats p as "file:line: msg", leaving out what p does not have.
func (p Problem) String() string {
	switch {
	case p.File == "":
		return p.Msg
	case p.Line <= 0:
		return p.File + ": " + p.Msg
	default:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
}

// Error formats one problem per line, after a summary line when there is
// more than one. A directory-level problem (File == "") is prefixed with Dir.
func (e *Error) Error() string {
	var b strings.Builder
	if len(e.Problems) != 1 {
		fmt.Fprintf(&b, "migration set %s: %d problems", e.Dir, len(e.Problems))
	}
	for i, p := range e.Problems {
		if i > 0 || len(e.Problems) != 1 {
			b.WriteByte('\n')
		}
		if p.File == "" {
			b.WriteString(e.Dir + ": ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// SplitError reports SQL that cannot be split into statements: an
// unterminated string, quoted identifier, dollar quote or block comment, or
// mismatched -- +goose StatementBegin/StatementEnd annotations.
type SplitError struct {
	Line int    // 1-based line where the offending construct starts
	Msg  string // what is wrong and how to fix it
}

// Error formats e as "line N: msg".
func (e *SplitError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// problems collects the problems of one Load call.
type problems []Problem

func (ps *problems) add(file string, line int, format string, args ...any) {
	*ps = append(*ps, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// addSplit records err, the failure to split a section of file.
func (ps *problems) addSplit(file string, err *SplitError) {
	*ps = append(*ps, Problem{File: file, Line: err.Line, Msg: err.Msg})
}

// asError returns the collected problems as an *Error sorted by file and
// line, or nil when there are none.
func (ps problems) asError(dir string) *Error {
	if len(ps) == 0 {
		return nil
	}
	sorted := slices.Clone([]Problem(ps))
	slices.SortStableFunc(sorted, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	return &Error{Dir: dir, Problems: sorted}
}
