package fleet

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a fleet file.
type Problem struct {
	Line int    // 1-based line in the file; 0 when the problem concerns the whole file
	Msg  string // what is wrong and, where possible, how to fix it; never contains a DSN
}

// Error reports every problem found in a fleet file, not just the first,
// sorted by line. Parse, Load and Single return it as their only error type,
// so callers can treat any error from them as a configuration error.
type Error struct {
	Path     string // the fleet file, as given; "" when there is none (--dsn)
	Problems []Problem

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
		b.WriteString(p.Msg)
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

// problems collects Problems while a file is walked.
type problems []Problem

func (ps *problems) addf(line int, format string, args ...any) {
	*ps = append(*ps, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
}

// err returns nil when nothing was collected, else an *Error sorted by line
// (problems on the same line keep the order they were found in).
func (ps problems) err(path string) error {
	if len(ps) == 0 {
		return nil
	}
	sorted := append([]Problem(nil), ps...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Line < sorted[j].Line })
	return &Error{Path: path, Problems: sorted}
}

func (ps *problems) add(line int, msg string) {
	*ps = append(*ps, Problem{Line: line, Msg: msg})
}

func (ps *problems) addProblem(p Problem) { *ps = append(*ps, p) }
