package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// statusEmoji marks statuses in markdown so a reviewer sees the outcome at a
// glance.
var statusEmoji = map[Status]string{
	StatusApplied:    "✅",
	StatusReverted:   "↩️",
	StatusUpToDate:   "✅",
	StatusClean:      "✅",
	StatusPending:    "⏳",
	StatusRolledBack: "❌",
	StatusFailed:     "❌",
	StatusError:      "❌",
	StatusLocked:     "🔒",
	StatusUnadopted:  "❔",
	StatusSkipped:    "⏭️",
	StatusCancelled:  "⏭️",
	StatusDrifted:    "⚠️",
}

// WriteMarkdown renders r as GitHub-flavoured markdown fit for a
// pull-request comment: a heading with the summary, a table with one row per
// target, then the details a person acts on (errors with SQLSTATE and
// remedy, drift findings, a plan's notes and statements) and the run's
// notes. Text from the model is escaped, so a target name or an error
// message cannot break the table or inject markup; error texts go into code
// blocks.
func WriteMarkdown(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "### orchestrator %s: %s in %s\n\n", mdText(r.Command), summaryLine(r.Summary), formatMS(r.DurationMS))
	if len(r.Targets) == 0 {
		bw.WriteString("_No targets._\n")
		return bw.Flush()
	}
	withWave := false
	for _, t := range r.Targets {
		if t.Wave != "" {
			withWave = true
		}
	}
	header := []string{"Target"}
	align := []string{"---"}
	if withWave {
		header = append(header, "Wave")
		align = append(align, "---")
	}
	header = append(header, "Status", "From", "To", "Migrations", "Time")
	align = append(align, "---", "---:", "---:", "---", "---:")
	mdRow(bw, header)
	mdRow(bw, align)
	for _, t := range r.Targets {
		row := []string{mdText(t.Name)}
		if withWave {
			row = append(row, mdText(dash(t.Wave)))
		}
		row = append(row, mdStatus(t.Status),
			VersionText(t.FromVersion), VersionText(t.ToVersion),
			migrationsCell(t), formatMS(t.DurationMS))
		mdRow(bw, row)
	}
	writeMarkdownDetails(bw, r)
	if len(r.Notes) > 0 {
		bw.WriteString("\n#### Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(bw, "- %s\n", mdText(n))
		}
	}
	return bw.Flush()
}

// writeMarkdownDetails writes a section per target that has something to
// say beyond its table row: an error, what the run undid, drift findings,
// or a plan's rehearsal notes and statements.
func writeMarkdownDetails(w *bufio.Writer, r *Report) {
	heading := false
	for _, t := range r.Targets {
		lines := outcomeLines(t)
		pending := pendingDetailed(t)
		if len(lines) == 0 && !pending {
			continue
		}
		if !heading {
			w.WriteString("\n#### Details\n")
			heading = true
		}
		title := "**" + mdText(t.Name) + "**"
		if t.Wave != "" {
			title += " · wave " + mdText(t.Wave)
		}
		title += " · " + mdStatus(t.Status)
		if t.Status == StatusDrifted {
			title += fmt.Sprintf(" · %d finding(s)", len(t.Findings))
		}
		fmt.Fprintf(w, "\n%s\n", title)
		if len(lines) > 0 {
			w.WriteString("\n")
			mdCodeBlock(w, "", "text", strings.Join(lines, "\n"))
		}
		if pending {
			list := t.Pending
			if len(t.Revert) > 0 {
				list = t.Revert
				fmt.Fprintf(w, "\nDowns from version %s to %s:\n\n", VersionText(t.FromVersion), VersionText(t.ToVersion))
			} else {
				fmt.Fprintf(w, "\nPending from version %s:\n\n", VersionText(t.FromVersion))
			}
			for _, m := range list {
				item := "- " + mdText(migrationName(m.Version, m.Name))
				if m.Note != "" {
					item += ": " + mdText(m.Note)
				}
				if m.DurationMS != nil {
					item += " in " + formatMS(*m.DurationMS)
				}
				w.WriteString(item + "\n")
				if len(m.Statements) > 0 {
					w.WriteString("\n")
					mdCodeBlock(w, "  ", "sql", strings.Join(m.Statements, ";\n")+";")
				}
			}
		}
	}
}

// pendingDetailed reports whether a plan asked for more than the pending
// versions (--verify notes, --sql statements).
func pendingDetailed(t Target) bool {
	if len(t.Revert) > 0 {
		return true // the downs a plan would run are always spelled out
	}
	for _, m := range t.Pending {
		if m.Note != "" || len(m.Statements) > 0 {
			return true
		}
	}
	return false
}

// mdStatus is a status with its emoji. The known statuses are written as
// they are: intraword underscores are not emphasis in GFM.
func mdStatus(s Status) string {
	if e, ok := statusEmoji[s]; ok {
		return e + " " + string(s)
	}
	return mdText(string(s))
}

func mdRow(w *bufio.Writer, cells []string) {
	w.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}

// mdEscaper backslash-escapes the characters that start inline markup
// (emphasis, code, links, HTML, strikethrough, entities) or end a table
// cell.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`,
	`<`, `\<`, `>`, `\>`, `|`, `\|`, `~`, `\~`, `&`, `\&`,
	"\r\n", "<br>", "\n", "<br>", "\r", "<br>",
)

// mdText makes s literal inline markdown, safe in a table cell: markup
// characters and pipes are escaped, and newlines become <br>.
func mdText(s string) string {
	return mdEscaper.Replace(printable(s))
}

// mdCode renders s as a code span, safe in a table cell: the fence is longer
// than any run of backticks inside, newlines become spaces (a code span
// cannot hold them), and pipes are escaped, as GFM tables require even in
// code.
func mdCode(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(printable(s))
	if s == "" {
		return "-"
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		s = " " + s + " "
	}
	return fence + strings.ReplaceAll(s, "|", `\|`) + fence
}

// mdCodeBlock writes text as a fenced code block, each line prefixed with
// indent (to nest it in a list item). The fence is longer than any run of
// backticks in text, so no line can close it early.
func mdCodeBlock(w *bufio.Writer, indent, lang, text string) {
	text = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(printable(text))
	fence := strings.Repeat("`", max(3, longestRun(text, '`')+1))
	fmt.Fprintf(w, "%s%s%s\n", indent, fence, lang)
	for line := range strings.SplitSeq(text, "\n") {
		fmt.Fprintf(w, "%s%s\n", indent, line)
	}
	fmt.Fprintf(w, "%s%s\n", indent, fence)
}

func longestRun(s string, c byte) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// writeTargetsMarkdown renders the resolved target list as a markdown table.
func writeTargetsMarkdown(w io.Writer, list []TargetInfo) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "### orchestrator targets: %d targets\n\n", len(list))
	if len(list) == 0 {
		bw.WriteString("_No targets._\n")
		return bw.Flush()
	}
	mdRow(bw, []string{"Target", "Labels", "DSN", "Defined at"})
	mdRow(bw, []string{"---", "---", "---", "---"})
	for _, t := range list {
		mdRow(bw, []string{mdText(t.Name), mdText(labelString(t.Labels)), mdCode(t.DSN), mdText(t.Origin)})
	}
	return bw.Flush()
}
