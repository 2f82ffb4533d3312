package fleet

import (
	"fmt"
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// expandError is one bad ${...} reference in a value.
type expandError struct {
	kind   expandErrorKind
	ref    string // the reference as written, e.g. "${ACME_PASSWORD}"
	offset int    // byte offset of its "$" in the value
}

type expandErrorKind int

const (
	undefinedVariable expandErrorKind = iota
	invalidName
	unterminated
)

// message describes e for the value at path (e.g. "targets[0].dsn"). When
// secret is set the value may be a DSN with a literal password in it, so only
// the variable name of a well-formed reference is quoted, never raw text.
func (e expandError) message(path string, secret bool) string {
	switch e.kind {
	case undefinedVariable:
		return fmt.Sprintf("undefined variable %s in %s", e.ref, path)
	case invalidName:
		ref := fmt.Sprintf("%q", report.Truncate(e.ref, 40))
		if secret {
			ref = fmt.Sprintf("at byte %d", e.offset+1)
		}
		return fmt.Sprintf("invalid variable reference %s in %s (a name is letters, digits and _, not starting with a digit; write $$ for a literal $)", ref, path)
	default:
		return fmt.Sprintf(`unterminated "${" at byte %d of %s (close it with "}", or write "$$" for a literal "$")`, e.offset+1, path)
	}
}

// expand replaces every ${NAME} in s with lookup(NAME), verbatim. "$$" is a
// literal "$", and a "$" followed by anything but "{" or "$" is kept as is.
// There is no other syntax: no defaults, no $NAME, no commands. It returns
// every bad reference; an undefined variable is reported once per value.
func expand(s string, lookup func(string) (string, bool)) (string, []expandError) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var (
		b    strings.Builder
		errs []expandError
		seen map[string]bool
	)
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 >= len(s) || (s[i+1] != '$' && s[i+1] != '{') {
			b.WriteByte(c)
			i++
			continue
		}
		if s[i+1] == '$' {
			b.WriteByte('$')
			i += 2
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			errs = append(errs, expandError{kind: unterminated, offset: i})
			break
		}
		name := s[i+2 : i+2+end]
		ref := s[i : i+3+end]
		switch {
		case !validVarName(name):
			errs = append(errs, expandError{kind: invalidName, ref: ref, offset: i})
		default:
			v, ok := lookup(name)
			if !ok {
				if !seen[name] {
					if seen == nil {
						seen = make(map[string]bool)
					}
					seen[name] = true
					errs = append(errs, expandError{kind: undefinedVariable, ref: ref, offset: i})
				}
				break
			}
			b.WriteString(v)
		}
		i += 3 + end
	}
	return b.String(), errs
}

// validVarName reports whether name matches [A-Za-z_][A-Za-z0-9_]*.
func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
