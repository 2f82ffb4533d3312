package fleet

import (
	"fmt"
	"sort"
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// Rule is the rule of every problem found in a fleet file, as validate
// reports it.
const Rule = "fleet"

// Error reports every problem found in a fleet file, not just the first,
// sorted by line. Parse, Load and Single return it as their only error type,
// so callers can treat any error from them as a configuration error.
type Error struct {
	Path string // the fleet file, as given; "" when there is none (--dsn)
	// Problems are errors of Rule, each with the line it was found on (0
	// when it concerns the whole file) and a message that says what is
	// wrong and, where possible, how to fix it, never a DSN. Their File is
	// Path, or "--dsn" when there is no file.
	Problems []report.Diagnostic

	cause error // the underlying I/O error, for errors.Is (e.g. fs.ErrNotExist)
}

// Error returns one line per problem, each prefixed with "path:line: ", or
// "path: " when the problem has no line.
func (e *Error) Error() string {
	if len(e.Problems) == 0 {
		return e.prefix(0) + "invalid fleet file"
	}
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.prefix(p.Line))
		b.WriteString(p.Message)
	}
	return b.String()
}

// Unwrap returns the I/O error that made the file unreadable, if any.
func (e *Error) Unwrap() error { return e.cause }

func (e *Error) prefix(line int) string {
	switch {
	case e.Path != "" && line > 0:
		return fmt.Sprintf("%s:%d: ", e.Path, line)
	case e.Path != "":
		return e.Path + ": "
	case line > 0:
		return fmt.Sprintf("line %d: ", line)
	default:
		return ""
	}
}

// problem is the problem msg on line (0: the whole file).
func problem(line int, msg string) report.Diagnostic {
	return report.Diagnostic{Line: line, Rule: Rule, Severity: report.SeverityError, Message: msg}
}

// Problemf is the problem on line (0: the whole file) of a fleet file, for
// the packages that check a fleet beyond its text (discovery).
func Problemf(line int, format string, args ...any) report.Diagnostic {
	return problem(line, fmt.Sprintf(format, args...))
}

// NewError is the *Error of the fleet file at path with problems ps.
func NewError(path string, ps ...report.Diagnostic) *Error { return newError(path, nil, ps...) }

// newError is the *Error of the file at path with problems ps.
func newError(path string, cause error, ps ...report.Diagnostic) *Error {
	file := path
	if file == "" {
		file = "--dsn"
	}
	for i := range ps {
		ps[i].File = file
	}
	return &Error{Path: path, Problems: ps, cause: cause}
}

// problems collects problems while a file is walked.
type problems []report.Diagnostic

func (ps *problems) addf(line int, format string, args ...any) {
	*ps = append(*ps, problem(line, fmt.Sprintf(format, args...)))
}

// err returns nil when nothing was collected, else an *Error sorted by line
// (problems on the same line keep the order they were found in).
func (ps problems) err(path string) error {
	if len(ps) == 0 {
		return nil
	}
	sorted := append([]report.Diagnostic(nil), ps...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Line < sorted[j].Line })
	return newError(path, nil, sorted...)
}

func (ps *problems) add(line int, msg string) { *ps = append(*ps, problem(line, msg)) }

func (ps *problems) addProblem(p report.Diagnostic) { *ps = append(*ps, p) }
