package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
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

// Options tune how a report is rendered for people.
type Options struct {
	// All lists every target in the table, however many there are.
	All bool
}

// GroupAbove is the number of targets above which the table groups targets
// by outcome and version and lists only those that need attention.
const GroupAbove = 30

// Write renders r in format f.
func Write(w io.Writer, f Format, r *Report) error {
	return WriteWith(w, f, r, Options{})
}

// WriteWith renders r in format f with options; only the table uses them:
// JSON, JUnit and markdown always have one entry per target.
func WriteWith(w io.Writer, f Format, r *Report, o Options) error {
	if r.Command == CommandExec && (f == FormatTable || f == FormatMarkdown || f == FormatCSV) {
		return writeExec(w, f, r)
	}
	switch f {
	case FormatCSV:
		return WriteCSV(w, r)
	case FormatJSON:
		return WriteJSON(w, r)
	case FormatTable:
		return writeTable(w, r, o)
	case FormatJUnit:
		return WriteJUnit(w, r)
	case FormatMarkdown:
		return WriteMarkdown(w, r)
	}
	return fmt.Errorf("unknown format %q", f)
}

// WriteJSON renders the stable JSON report, indented, with a final newline.
// The targets are encoded one at a time, so that a report of 10,000 targets
// is never held whole in memory a second (and, indented, a third) time;
// the bytes are those of encoding the whole report at once.
func WriteJSON(w io.Writer, r *Report) error {
	if len(r.Targets) == 0 {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	head := *r
	head.Targets = []Target{}
	b, err := json.MarshalIndent(&head, "", "  ")
	if err != nil {
		return err
	}
	const empty = "[]\n}"
	if !bytes.HasSuffix(b, []byte(empty)) {
		return errors.New("report JSON: targets are not the last field")
	}
	bw := bufio.NewWriter(w)
	bw.Write(b[:len(b)-len(empty)])
	bw.WriteString("[\n")
	for i := range r.Targets {
		t, err := json.MarshalIndent(&r.Targets[i], "    ", "  ")
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteString(",\n")
		}
		bw.WriteString("    ")
		bw.Write(t)
	}
	bw.WriteString("\n  ]\n}\n")
	return bw.Flush()
}

// WriteTable renders an aligned table, one row per target (grouped above
// GroupAbove targets), then a summary line.
func WriteTable(w io.Writer, r *Report) error { return writeTable(w, r, Options{}) }

// writeTable renders an aligned table, one row per target, then a summary
// line. Errors are printed below the table in full, so long messages do not
// break the alignment. Above GroupAbove targets (unless o.All), targets that
// ended routinely are counted by outcome and version, one line per group,
// and only the targets that need attention get a row of their own. Every
// text that came from a fleet file, a migration set or a server is escaped:
// no control character reaches the terminal.
func writeTable(w io.Writer, r *Report, o Options) error {
	listed, detailed := r.Targets, r.Targets
	if len(r.Targets) > GroupAbove && !o.All {
		var examples []Target
		listed, examples = writeGroups(w, r)
		detailed = append(examples, listed...)
	}
	if len(listed) > 0 {
		if err := writeRows(w, r.Command, listed); err != nil {
			return err
		}
	}
	writeDetails(w, detailed)
	writeRehearsal(w, r.Rehearse)
	writeFindings(w, r, listed)
	writeWaves(w, r.Waves)
	var errs []string
	for _, t := range listed {
		if t.Error != nil {
			line := fmt.Sprintf("  %s: %s", cell(t.Name), describeError(t.Error))
			if len(t.Reverted) > 0 {
				line += "\n      undone by this run: " + escape(names(t.Reverted))
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

// Routine reports whether a target with status s ended as expected, so a
// grouped table counts it rather than listing it. Any status not known to
// be routine needs attention and is listed.
func (s Status) Routine() bool {
	switch s {
	case StatusApplied, StatusUpToDate, StatusPending, StatusClean, StatusReverted, StatusOK:
		return true
	}
	return false
}

// writeGroups prints one line per (status, from, to) of the targets that
// ended routinely, most common first, and returns the targets that need
// attention, to be listed one by one, and one example per group whose
// details (plan --sql statements, --verify notes) stand for the group.
func writeGroups(w io.Writer, r *Report) (attention, examples []Target) {
	type key struct {
		status   Status
		from, to string
	}
	counts := map[key]int{}
	first := map[key]Target{}
	var order []key
	for _, t := range r.Targets {
		if !t.Status.Routine() {
			attention = append(attention, t)
			continue
		}
		k := key{t.Status, VersionText(t.FromVersion), VersionText(t.ToVersion)}
		if counts[k] == 0 {
			order = append(order, k)
			first[k] = t
		}
		counts[k]++
	}
	sort.SliceStable(order, func(i, j int) bool { return counts[order[i]] > counts[order[j]] })
	for _, k := range order {
		if k.from == k.to {
			fmt.Fprintf(w, "%d %s at %s\n", counts[k], k.status, k.from)
		} else {
			fmt.Fprintf(w, "%d %s %s→%s\n", counts[k], k.status, k.from, k.to)
		}
	}
	if len(attention) > 0 {
		verb := "need"
		if len(attention) == 1 {
			verb = "needs"
		}
		fmt.Fprintf(w, "\n%s %s attention:\n", Plural(len(attention), "target"), verb)
	}
	fmt.Fprintf(w, "(%d targets, grouped above %d; --all lists every target)\n", len(r.Targets), GroupAbove)
	if len(attention) > 0 {
		fmt.Fprintln(w)
	}
	for _, k := range order {
		ex := first[k]
		if n := counts[k]; n > 1 {
			ex.Name = fmt.Sprintf("%s and %d more like it", ex.Name, n-1)
		}
		examples = append(examples, ex)
	}
	return attention, examples
}

// Truncate shortens s to at most n bytes (on a rune boundary), marking the
// cut with "...", for quoting what a user wrote in a message.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// Plural writes "1 target", "2 targets".
func Plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// writeRows writes the aligned table of targets, one row each.
func writeRows(w io.Writer, command string, targets []Target) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	withWave := false
	for _, t := range targets {
		if t.Wave != "" {
			withWave = true
		}
	}
	header := []string{"TARGET"}
	if withWave {
		header = append(header, "WAVE")
	}
	header = append(header, "STATUS", "FROM", "TO", migrationsHeading(command), "TIME")
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, t := range targets {
		row := []string{cell(t.Name)}
		if withWave {
			row = append(row, cell(dash(t.Wave)))
		}
		from, to := VersionText(t.FromVersion), VersionText(t.ToVersion)
		if t.Status == StatusUnadopted {
			// The tool has no version for it: show what the other tool
			// claims, never a 0 that reads as "nothing applied".
			from, to = cell(claimedCell(t)), "-"
		}
		row = append(row, cell(string(t.Status)), from, to, migrationsCell(t), formatMS(t.DurationMS))
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
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
		list = t.Revert
	}
	if len(list) == 0 && t.Status == StatusReverted {
		list = t.Reverted
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
		fmt.Fprintf(&b, "migration %s", cell(e.Name))
		if e.Line > 0 {
			fmt.Fprintf(&b, " line %d", e.Line)
		}
		b.WriteString(": ")
	}
	b.WriteString(escape(e.Message))
	if e.SQLState != "" {
		fmt.Fprintf(&b, " (SQLSTATE %s)", cell(e.SQLState))
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, "; detail: %s", escape(e.Detail))
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, "; hint: %s", escape(e.Hint))
	}
	if e.BlockedBy != "" {
		fmt.Fprintf(&b, "\n      blocked by: %s", escape(e.BlockedBy))
	}
	if e.Remedy != "" {
		fmt.Fprintf(&b, "\n      what to do: %s", escape(e.Remedy))
	}
	return b.String()
}

// writeDetails prints, per target, the pending migrations' notes and
// statements when a plan asked for them (--verify, --sql).
func writeDetails(w io.Writer, targets []Target) {
	for _, t := range targets {
		detailed := false
		for _, m := range append(t.Pending, t.Revert...) {
			if m.Note != "" || len(m.Statements) > 0 {
				detailed = true
			}
		}
		if !detailed {
			continue
		}
		heading, list := fmt.Sprintf("from %s", VersionText(t.FromVersion)), t.Pending
		if len(t.Revert) > 0 {
			heading, list = fmt.Sprintf("from %s down to %s", VersionText(t.FromVersion), VersionText(t.ToVersion)), t.Revert
		}
		fmt.Fprintf(w, "\n%s (%s):\n", cell(t.Name), heading)
		for _, m := range list {
			line := "  " + cell(m.Name)
			if m.Note != "" {
				line += ": " + escape(m.Note)
			}
			if m.DurationMS != nil {
				line += " in " + formatMS(*m.DurationMS)
			}
			if l := lockLine(m.Locks); l != "" {
				line += "; strongest lock: " + l
			}
			fmt.Fprintln(w, line)
			for _, s := range m.Statements {
				fmt.Fprintf(w, "    %s;\n", strings.ReplaceAll(escape(s), "\n", "\n    "))
			}
		}
	}
}

// writeFindings prints drift findings per target, and the run's notes.
func writeFindings(w io.Writer, r *Report, targets []Target) {
	for _, t := range targets {
		if len(t.Findings) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", cell(t.Name))
		for _, f := range t.Findings {
			fmt.Fprintf(w, "  %s: %s %s\n", cell(f.Kind), cell(f.Object), cell(f.Detail))
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "\nnotes:")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  %s\n", escape(n))
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
	parts := []string{Plural(s.Targets, "target")}
	add := func(n int, label string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, label))
		}
	}
	add(s.Applied, "applied")
	add(s.Reverted, "reverted")
	add(s.UpToDate, "up to date")
	add(s.Pending, "pending")
	add(s.RolledBack, "rolled back")
	add(s.Failed, "failed")
	add(s.Locked, "locked")
	add(s.Unadopted, "unadopted")
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

// claimedCell shows an unadopted target's claimed version and who claims
// it: "2 (golang-migrate)", "? (manual)".
func claimedCell(t Target) string {
	v := "?"
	if t.ClaimedVersion != nil {
		v = strconv.FormatInt(*t.ClaimedVersion, 10)
	}
	if t.ManagedBy != "" {
		v += " (" + t.ManagedBy + ")"
	}
	return v
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
