package report

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// printable drops what no report format can carry: control characters other
// than tab, newline and carriage return (all invalid in XML 1.0, meaningless
// in markdown), and the code points XML 1.0 excludes (U+FFFE, U+FFFF).
// Invalid UTF-8 becomes U+FFFD. Error messages come from servers and drivers,
// so they may hold anything.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case unicode.IsControl(r), r == 0xFFFE, r == 0xFFFF:
			return -1
		}
		return r
	}, s)
}

// escape makes text from a server, a fleet file or a migration set safe for
// a terminal: every control character except newline and tab is written as
// a Go escape (\x1b, \r, \u009b), and invalid UTF-8 as \ufffd, so the text
// stays readable and nothing in it can move the cursor, recolour the
// screen or rewrite a line already printed.
func escape(s string) string {
	return escapeExcept(s, "\n\t")
}

// cell escapes a one-line value (a name, a label, a table cell): newlines
// and tabs are escaped too, so they cannot break a row.
func cell(s string) string {
	return escapeExcept(s, "")
}

func escapeExcept(s, keep string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || r == 0x2028 || r == 0x2029 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteString(`\ufffd`)
		case strings.ContainsRune(keep, r):
			b.WriteRune(r)
		case unicode.IsControl(r) || r == 0x2028 || r == 0x2029:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// statusMeanings says, for the statuses that need explaining, what happened
// to the target; it stands in for an error message when a target has none.
var statusMeanings = map[Status]string{
	StatusRolledBack: "a migration failed; the target is back at its version before the run",
	StatusFailed:     "failed and not restored: needs a person",
	StatusSkipped:    "never started: a wave halted",
	StatusCancelled:  "the run was interrupted",
	StatusLocked:     "another run holds the target's lock",
	StatusUnadopted:  "migrated by another tool or by hand: run `orchestrator adopt`",
	StatusError:      "the target could not be inspected",
}

// headline is a one-line account of why a target did not succeed: the
// migration (and line) that failed and the error message, or what its
// status means when there is no error.
func headline(t Target) string {
	if t.Error == nil {
		if m, ok := statusMeanings[t.Status]; ok {
			return m
		}
		return string(t.Status)
	}
	e := t.Error
	var b strings.Builder
	if e.Version != 0 || e.Name != "" {
		b.WriteString("migration ")
		b.WriteString(migrationName(e.Version, e.Name))
		if e.Line > 0 {
			fmt.Fprintf(&b, " line %d", e.Line)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return printable(b.String())
}

// outcomeLines lists everything a person needs to act on one target, one
// "key: value" line per fact, for the JUnit failure body and the markdown
// details: the error in full, what this run undid, and drift findings (one
// "kind: object detail" line each).
func outcomeLines(t Target) []string {
	var lines []string
	add := func(key, value string) {
		if value != "" {
			lines = append(lines, key+": "+value)
		}
	}
	if e := t.Error; e != nil {
		lines = append(lines, e.Message)
		add("sqlstate", e.SQLState)
		add("class", e.Class)
		if e.Version != 0 || e.Name != "" {
			add("migration", migrationName(e.Version, e.Name))
		}
		if e.Line > 0 {
			add("line", strconv.Itoa(e.Line))
		}
		add("detail", e.Detail)
		add("hint", e.Hint)
		add("blocked_by", e.BlockedBy)
		add("remedy", e.Remedy)
	}
	if len(t.Reverted) > 0 {
		add("reverted", names(t.Reverted))
	}
	if t.Attempts > 1 {
		add("attempts", strconv.Itoa(t.Attempts))
	}
	if t.Error != nil || len(t.Reverted) > 0 {
		// Where the target stands now: to_version is re-read from the
		// database, so a failed target shows how far it got.
		lines = append(lines, fmt.Sprintf("from_version: %s, to_version: %s", VersionText(t.FromVersion), VersionText(t.ToVersion)))
	}
	for _, f := range t.Findings {
		lines = append(lines, findingLine(f))
	}
	for i, l := range lines {
		lines[i] = printable(l)
	}
	return lines
}

// findingLine renders a drift finding as "kind: object detail".
func findingLine(f Finding) string {
	return strings.TrimSpace(f.Kind + ": " + strings.TrimSpace(f.String()))
}

// migrationName names a migration by its file name, or by its version when
// the name is unknown.
func migrationName(version int64, name string) string {
	if name != "" {
		return name
	}
	return "version " + strconv.FormatInt(version, 10)
}

// seconds renders milliseconds as seconds with millisecond precision, as
// JUnit's time attributes want them.
func seconds(ms int64) string {
	return strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)
}
