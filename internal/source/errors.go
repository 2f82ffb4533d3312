package source

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// Rule is the rule of every problem found in a migration set, as validate
// reports it.
const Rule = "migration-set"

// Error lists every problem found in a migration set, not just the first,
// so one run of `orchestrator validate` shows everything that needs fixing.
// Load returns it (as error) whenever the set cannot be used; match it with
// errors.As.
type Error struct {
	Dir string // the directory as given to Load
	// Problems are errors of Rule, sorted by File, then Line. File is the
	// path of the file, relative to the fs.FS given to Load; "" when the
	// problem concerns the directory itself (it is empty, or cannot be
	// read). Line is 1-based: a problem with a file as a whole (its name,
	// its version, its pairing) points at line 1; Line is 0 when there is
	// no text to point at (an unreadable file, the directory). Message says
	// what is wrong and how to fix it.
	Problems []report.Diagnostic
}

// Error formats one problem per line, "file:line: message" (leaving out
// what the problem does not have), after a summary line when there is more
// than one. A directory-level problem (File == "") is prefixed with Dir.
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
		} else {
			b.WriteString(p.Location() + ": ")
		}
		b.WriteString(p.Message)
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

// problem is the problem msg at file:line.
func problem(file string, line int, msg string) report.Diagnostic {
	return report.Diagnostic{File: file, Line: line, Rule: Rule, Severity: report.SeverityError, Message: msg}
}

// problems collects the problems of one Load call.
type problems []report.Diagnostic

func (ps *problems) add(file string, line int, format string, args ...any) {
	*ps = append(*ps, problem(file, line, fmt.Sprintf(format, args...)))
}

// addSplit records err, the failure to split a section of file.
func (ps *problems) addSplit(file string, err *SplitError) {
	*ps = append(*ps, problem(file, err.Line, err.Msg))
}

// asError returns the collected problems as an *Error sorted by file and
// line, or nil when there are none.
func (ps problems) asError(dir string) *Error {
	if len(ps) == 0 {
		return nil
	}
	sorted := slices.Clone([]report.Diagnostic(ps))
	slices.SortStableFunc(sorted, func(a, b report.Diagnostic) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	return &Error{Dir: dir, Problems: sorted}
}
