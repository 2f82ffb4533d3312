package report

import (
	"bytes"
	"strings"
	"testing"
)

// tableRows returns the lines of the first markdown table in text, split
// into cells on the pipes GFM treats as cell boundaries (those not escaped
// with a backslash).
func tableRows(t *testing.T, text string) [][]string {
	t.Helper()
	var rows [][]string
	for line := range strings.SplitSeq(text, "\n") {
		if !strings.HasPrefix(line, "|") {
			if len(rows) > 0 {
				break
			}
			continue
		}
		var cells []string
		var cell strings.Builder
		for i := 1; i < len(line); i++ {
			switch {
			case line[i] == '\\' && i+1 < len(line):
				cell.WriteByte(line[i])
				cell.WriteByte(line[i+1])
				i++
			case line[i] == '|':
				cells = append(cells, strings.TrimSpace(cell.String()))
				cell.Reset()
			default:
				cell.WriteByte(line[i])
			}
		}
		if rest := strings.TrimSpace(cell.String()); rest != "" {
			t.Errorf("row does not end with a pipe: %q", line)
		}
		rows = append(rows, cells)
	}
	return rows
}

func TestMarkdownTable(t *testing.T) {
	cases := []struct {
		name    string
		report  *Report
		header  string
		heading string
	}{
		{"up", sample(), "Target|Wave|Status|From|To|Migrations|Time", "### orchestrator up: 4 targets, 1 applied, 1 up to date, 1 rolled back, 1 failed in 1.23s"},
		{"drift", driftSample(), "Target|Status|From|To|Migrations|Time", "### orchestrator drift: 4 targets, 1 clean, 2 drifted, 1 error in 2.5s"},
		{"plan", planSample(), "Target|Status|From|To|Migrations|Time", "### orchestrator plan: 2 targets, 1 up to date, 1 pending in 340ms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteMarkdown(&buf, tc.report); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if first, _, _ := strings.Cut(out, "\n"); first != tc.heading {
				t.Errorf("heading %q, want %q", first, tc.heading)
			}
			rows := tableRows(t, out)
			if len(rows) != 2+len(tc.report.Targets) {
				t.Fatalf("%d table rows for %d targets:\n%s", len(rows), len(tc.report.Targets), out)
			}
			if got := strings.Join(rows[0], "|"); got != tc.header {
				t.Errorf("header %q, want %q", got, tc.header)
			}
			for i, row := range rows {
				if len(row) != len(rows[0]) {
					t.Errorf("row %d has %d cells, header %d: %q", i, len(row), len(rows[0]), row)
				}
			}
		})
	}
}

// TestMarkdownEscaping: a hostile target name or message cannot add cells,
// rows, markup or HTML, and cannot close the code block it sits in.
func TestMarkdownEscaping(t *testing.T) {
	r := New("up", started, 0, []Target{
		{Name: "a|b\nc <script>*x*</script> [l](http://x) `c`", Wave: "w|1", Status: StatusFailed,
			Error: &Error{Message: "first\n```\n# not a heading\x00", Remedy: "use ```` fences"}},
		{Name: "plain", Status: StatusApplied},
	})
	r.Notes = []string{"see <b>this</b> | and\nthat"}
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	rows := tableRows(t, out)
	if len(rows) != 4 {
		t.Fatalf("%d table rows, want 4:\n%s", len(rows), out)
	}
	for i, row := range rows {
		if len(row) != 7 {
			t.Errorf("row %d: %d cells: %q", i, len(row), row)
		}
	}
	if got, want := rows[2][0], "a\\|b<br>c \\<script\\>\\*x\\*\\</script\\> \\[l\\](http://x) \\`c\\`"; got != want {
		t.Errorf("name cell %q, want %q", got, want)
	}
	for _, bad := range []string{"<script>", "<b>", "\x00"} {
		if strings.Contains(out, bad) {
			t.Errorf("output contains %q:\n%s", bad, out)
		}
	}
	// The error goes into a code block whose fence is longer than any
	// backtick run in it, so the message's own ``` and ```` cannot close it.
	if !strings.Contains(out, "\n`````text\nfirst\n```\n# not a heading\n") {
		t.Errorf("error not fenced safely:\n%s", out)
	}
	if !strings.Contains(out, "- see \\<b\\>this\\</b\\> \\| and<br>that\n") {
		t.Errorf("note not escaped:\n%s", out)
	}
}

func TestMarkdownCode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://app:xxxxx@db/acme", "`postgres://app:xxxxx@db/acme`"},
		{"a`b", "``a`b``"},
		{"`x`", "`` `x` ``"},
		{"a|b\nc", "`a\\|b c`"},
		{"", "-"},
	} {
		if got := mdCode(tc.in); got != tc.want {
			t.Errorf("mdCode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMarkdownTargets(t *testing.T) {
	var buf bytes.Buffer
	list := append(targetsSample(), TargetInfo{Name: "x|y", DSN: "postgres://h/d?a=|"})
	if err := WriteTargets(&buf, FormatMarkdown, list); err != nil {
		t.Fatal(err)
	}
	rows := tableRows(t, buf.String())
	if len(rows) != 2+len(list) {
		t.Fatalf("%d rows for %d targets:\n%s", len(rows), len(list), buf.String())
	}
	for i, row := range rows {
		if len(row) != 4 {
			t.Errorf("row %d: %q", i, row)
		}
	}
}
