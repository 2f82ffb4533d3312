package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Format names an output format.
type Format string

// Output formats.
const (
	FormatTable    Format = "table"
	FormatJSON     Format = "json"
	FormatJUnit    Format = "junit"    // JUnit XML for CI test reporters, one test case per target
	FormatMarkdown Format = "markdown" // GitHub-flavoured markdown for a pull-request comment
	FormatCSV      Format = "csv"      // comma-separated rows: exec's rows, else one line per target
)

// Formats lists the accepted --format values.
var Formats = []Format{FormatTable, FormatJSON, FormatJUnit, FormatMarkdown, FormatCSV}

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown format %q (use one of: %s)", s, strings.Join(names, ", "))
}

// Write renders r in format f.
func Write(w io.Writer, f Format, r *Report) error {
	if r.Command == CommandExec && (f == FormatTable || f == FormatMarkdown || f == FormatCSV) {
		return writeExec(w, f, r)
	}
	switch f {
	case FormatCSV:
		return WriteCSV(w, r)
	case FormatJSON:
		return WriteJSON(w, r)
	case FormatTable:
		return WriteTable(w, r)
	case FormatJUnit:
		return WriteJUnit(w, r)
	case FormatMarkdown:
		return WriteMarkdown(w, r)
	}
	return fmt.Errorf("unknown format %q", f)
}

// WriteJSON renders the stable JSON report, indented, with a final newline.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable renders an aligned table, one row per target, then a summary
// line. Errors are printed below the table in full, so long messages do not
// break the alignment.
func WriteTable(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	withWave := false
	for _, t := range r.Targets {
		if t.Wave != "" {
			withWave = true
		}
	}
	header := []string{"TARGET"}
	if withWave {
		header = append(header, "WAVE")
	}
	header = append(header, "STATUS", "FROM", "TO", migrationsHeading(r.Command), "TIME")
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, t := range r.Targets {
		row := []string{t.Name}
		if withWave {
			row = append(row, dash(t.Wave))
		}
		row = append(row, string(t.Status), strconv.FormatInt(t.FromVersion, 10),
			strconv.FormatInt(t.ToVersion, 10), migrationsCell(t), formatMS(t.DurationMS))
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	writeDetails(w, r)
	writeRehearsal(w, r.Rehearse)
	writeFindings(w, r)
	writeWaves(w, r.Waves)
	var errs []string
	for _, t := range r.Targets {
		if t.Error != nil {
			line := fmt.Sprintf("  %s: %s", t.Name, describeError(t.Error))
			if len(t.Reverted) > 0 {
				line += "\n      undone by this run: " + names(t.Reverted)
			}
			if t.Attempts > 1 {
				line += fmt.Sprintf("\n      attempts: %d", t.Attempts)
			}
			errs = append(errs, line)
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "\nerrors:\n%s\n", strings.Join(errs, "\n"))
	}
	_, err := fmt.Fprintf(w, "\n%s in %s\n", summaryLine(r.Summary), formatMS(r.DurationMS))
	return err
}

func migrationsHeading(command string) string {
	switch command {
	case "plan", "status":
		return "PENDING"
	case "down":
		return "REVERTED"
	case "drift":
		return "FINDINGS"
	}
	return "APPLIED"
}

// migrationsCell lists versions compactly: "3,4" or "1-4".
func migrationsCell(t Target) string {
	if len(t.Findings) > 0 {
		return strconv.Itoa(len(t.Findings))
	}
	list := t.Applied
	if len(list) == 0 {
		list = t.Pending
	}
	if len(list) == 0 {
		return "-"
	}
	vs := make([]int64, len(list))
	for i, m := range list {
		vs[i] = m.Version
	}
	return compactVersions(vs)
}

// compactVersions writes runs of consecutive versions as ranges, ascending
// ("1-4") or descending, as a down runs them ("4-1").
func compactVersions(vs []int64) string {
	var parts []string
	for i := 0; i < len(vs); {
		j := i
		step := int64(1)
		if i+1 < len(vs) && vs[i+1] == vs[i]-1 {
			step = -1
		}
		for j+1 < len(vs) && vs[j+1] == vs[j]+step {
			j++
		}
		if j == i {
			parts = append(parts, strconv.FormatInt(vs[i], 10))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", vs[i], vs[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

func describeError(e *Error) string {
	var b strings.Builder
	if e.Version != 0 {
		fmt.Fprintf(&b, "migration %s", e.Name)
		if e.Line > 0 {
			fmt.Fprintf(&b, " line %d", e.Line)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.SQLState != "" {
		fmt.Fprintf(&b, " (SQLSTATE %s)", e.SQLState)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, "; detail: %s", e.Detail)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, "; hint: %s", e.Hint)
	}
	if e.BlockedBy != "" {
		fmt.Fprintf(&b, "\n      blocked by: %s", e.BlockedBy)
	}
	if e.Remedy != "" {
		fmt.Fprintf(&b, "\n      what to do: %s", e.Remedy)
	}
	return b.String()
}

// writeDetails prints, per target, the pending migrations' notes and
// statements when a plan asked for them (--verify, --sql).
func writeDetails(w io.Writer, r *Report) {
	for _, t := range r.Targets {
		detailed := false
		for _, m := range t.Pending {
			if m.Note != "" || len(m.Statements) > 0 {
				detailed = true
			}
		}
		if !detailed {
			continue
		}
		fmt.Fprintf(w, "\n%s (from %d):\n", t.Name, t.FromVersion)
		for _, m := range t.Pending {
			line := "  " + m.Name
			if m.Note != "" {
				line += ": " + m.Note
			}
			if m.DurationMS != nil {
				line += " in " + formatMS(*m.DurationMS)
			}
			if l := lockLine(m.Locks); l != "" {
				line += "; strongest lock: " + l
			}
			fmt.Fprintln(w, line)
			for _, s := range m.Statements {
				fmt.Fprintf(w, "    %s;\n", strings.ReplaceAll(s, "\n", "\n    "))
			}
		}
	}
}

// writeFindings prints drift findings per target, and the run's notes.
func writeFindings(w io.Writer, r *Report) {
	for _, t := range r.Targets {
		if len(t.Findings) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", t.Name)
		for _, f := range t.Findings {
			fmt.Fprintf(w, "  %s: %s %s\n", f.Kind, f.Object, f.Detail)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "\nnotes:")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
}

func names(ms []Migration) string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return strings.Join(out, ", ")
}

func summaryLine(s Summary) string {
	parts := []string{fmt.Sprintf("%d targets", s.Targets)}
	add := func(n int, label string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, label))
		}
	}
	add(s.Applied, "applied")
	add(s.UpToDate, "up to date")
	add(s.Pending, "pending")
	add(s.RolledBack, "rolled back")
	add(s.Failed, "failed")
	add(s.Locked, "locked")
	add(s.Skipped, "skipped")
	add(s.Cancelled, "cancelled")
	add(s.Clean, "clean")
	add(s.Drifted, "drifted")
	add(s.OK, "ok")
	if s.Errors == 1 {
		add(s.Errors, "error")
	} else {
		add(s.Errors, "errors")
	}
	return strings.Join(parts, ", ")
}

func formatMS(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	if d < time.Second {
		return fmt.Sprintf("%dms", ms)
	}
	return d.Round(10 * time.Millisecond).String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
