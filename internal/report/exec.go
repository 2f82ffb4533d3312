package report

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// CommandExec is the command name of a read-only query across the fleet.
const CommandExec = "exec"

// Rows is what a query returned on one target: the column names and, capped
// at the run's row limit, the values, each a JSON value (string, number,
// boolean or null).
type Rows struct {
	Columns   []string `json:"columns"`
	Values    [][]any  `json:"values"`
	Truncated bool     `json:"truncated,omitempty"` // more rows than the limit; the rest were not read
}

// execColumns is every column name in the order the targets first show it,
// so targets whose query answered with different columns share one table.
func execColumns(r *Report) []string {
	var cols []string
	seen := map[string]bool{}
	for _, t := range r.Targets {
		if t.Rows == nil {
			continue
		}
		for _, c := range t.Rows.Columns {
			if !seen[c] {
				seen[c] = true
				cols = append(cols, c)
			}
		}
	}
	return cols
}

// execCells lays out one row of a target under cols.
func execCells(t Target, row []any, cols []string, null string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		for j, name := range t.Rows.Columns {
			if name == c && j < len(row) {
				out[i] = FormatValue(row[j])
				if row[j] == nil {
					out[i] = null
				}
				break
			}
		}
	}
	return out
}

// FormatValue renders one value of a query result as text: NULL as
// "NULL", a time in RFC 3339, structured values as JSON.
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case json.Number:
		return x.String()
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// writeExec renders an exec report's rows: one table (or CSV, or markdown
// table) for the fleet, the target's name first on every row, then the
// targets that failed with their errors and the summary.
func writeExec(w io.Writer, f Format, r *Report) error {
	switch f {
	case FormatCSV:
		return writeExecCSV(w, r)
	case FormatMarkdown:
		return writeExecMarkdown(w, r)
	}
	cols := execColumns(r)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(append([]string{"TARGET"}, cols...), "\t"))
	for _, t := range r.Targets {
		if t.Rows == nil {
			continue
		}
		for _, row := range t.Rows.Values {
			cells := execCells(t, row, cols, "NULL")
			for i, c := range cells {
				cells[i] = oneLine(c)
			}
			fmt.Fprintln(tw, strings.Join(append([]string{t.Name}, cells...), "\t"))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	for _, t := range r.Targets {
		switch {
		case t.Error != nil:
			notes = append(notes, fmt.Sprintf("  %s: %s: %s", t.Name, t.Status, describeError(t.Error)))
		case t.Rows != nil && t.Rows.Truncated:
			notes = append(notes, fmt.Sprintf("  %s: more rows than --max-rows; only the first %d shown", t.Name, len(t.Rows.Values)))
		case t.Rows != nil && len(t.Rows.Values) == 0:
			notes = append(notes, fmt.Sprintf("  %s: no rows", t.Name))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\ntargets:\n%s\n", strings.Join(notes, "\n"))
	}
	_, err := fmt.Fprintf(w, "\n%s in %s\n", summaryLine(r.Summary), formatMS(r.DurationMS))
	return err
}

// writeExecCSV writes a header (target, then the columns) and every row;
// NULL is an empty field.
// Targets that failed have no rows; the exit code and stderr tell of them.
func writeExecCSV(w io.Writer, r *Report) error {
	cols := execColumns(r)
	cw := csv.NewWriter(w)
	if err := cw.Write(append([]string{"target"}, cols...)); err != nil {
		return err
	}
	for _, t := range r.Targets {
		if t.Rows == nil {
			continue
		}
		for _, row := range t.Rows.Values {
			if err := cw.Write(append([]string{t.Name}, execCells(t, row, cols, "")...)); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func writeExecMarkdown(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "### orchestrator %s: %s in %s\n\n", mdText(r.Command), summaryLine(r.Summary), formatMS(r.DurationMS))
	cols := execColumns(r)
	header := []string{"Target"}
	align := []string{"---"}
	for _, c := range cols {
		header = append(header, mdText(c))
		align = append(align, "---")
	}
	mdRow(bw, header)
	mdRow(bw, align)
	for _, t := range r.Targets {
		if t.Rows == nil {
			continue
		}
		for _, row := range t.Rows.Values {
			cells := execCells(t, row, cols, "NULL")
			for i, c := range cells {
				cells[i] = mdText(c)
			}
			mdRow(bw, append([]string{mdText(t.Name)}, cells...))
		}
	}
	var failed []Target
	for _, t := range r.Targets {
		if t.Error != nil {
			failed = append(failed, t)
		}
	}
	if len(failed) > 0 {
		bw.WriteString("\n#### Failed\n\n")
		for _, t := range failed {
			fmt.Fprintf(bw, "- **%s** %s\n\n  ```\n  %s\n  ```\n", mdText(t.Name), mdStatus(t.Status),
				strings.ReplaceAll(describeError(t.Error), "\n", "\n  "))
		}
	}
	return bw.Flush()
}

// WriteCSV renders a report other than exec's as one line per target.
func WriteCSV(w io.Writer, r *Report) error {
	if r.Command == CommandExec {
		return writeExecCSV(w, r)
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"target", "wave", "status", "from_version", "to_version", "duration_ms", "error"})
	for _, t := range r.Targets {
		msg := ""
		if t.Error != nil {
			msg = oneLine(describeError(t.Error))
		}
		_ = cw.Write([]string{t.Name, t.Wave, string(t.Status), csvVersion(t.FromVersion),
			csvVersion(t.ToVersion), strconv.FormatInt(t.DurationMS, 10), msg})
	}
	cw.Flush()
	return cw.Error()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// csvVersion is a version cell: empty when the version was never read.
func csvVersion(v *int64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatInt(*v, 10)
}
