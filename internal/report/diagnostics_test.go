package report

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
)

func diagnosticsSample() *Validation {
	ds := []Diagnostic{
		{File: "m/002_a.sql", Line: 3, Rule: "index-not-concurrent", Severity: SeverityWarning, Message: "CREATE INDEX on users: blocks writes"},
		{File: "m/003_b,c:d.sql", Line: 1, Rule: "concurrently-in-transaction", Severity: SeverityError,
			Message: "100% fails\nsecond line with <xml> & | pipes *stars* and \x01 control"},
		{File: "m/004_c.sql", Line: 2, Rule: "no-transaction-splits-batch", Severity: SeverityNote, Message: "splits the batch"},
		{File: "fleet.yaml", Rule: "fleet", Severity: SeverityError, Message: "no targets"},
	}
	return &Validation{Command: "validate", Summary: DiagnosticSummary{Errors: 2, Warnings: 1, Notes: 1}, Findings: ds}
}

func TestDiagnosticsJUnit(t *testing.T) {
	for _, strict := range []bool{false, true} {
		v := diagnosticsSample()
		v.Summary.Strict = strict
		var b bytes.Buffer
		if err := writeValidationJUnit(&b, v); err != nil {
			t.Fatal(err)
		}
		doc := parseJUnit(t, b.Bytes())
		suite := doc.Suites[0]
		want := 2
		if strict {
			want = 3
		}
		if len(suite.Cases) != 4 || suite.Failures != want || doc.Failures != want {
			t.Errorf("strict=%v: %d cases, %d failures, want 4 and %d\n%s", strict, len(suite.Cases), suite.Failures, want, b.String())
		}
		if c := suite.Cases[1]; c.Failure == nil || c.Failure.Type != "error" || strings.Contains(c.Failure.Message, "second line") ||
			!strings.Contains(c.Failure.Text, "<xml> & |") || strings.Contains(c.Failure.Text, "\x01") {
			t.Errorf("error case = %+v", c)
		}
		if c := suite.Cases[2]; c.Failure != nil || !strings.Contains(string(c.SystemOut), "splits the batch") {
			t.Errorf("a note fails or loses its message: %+v", c)
		}
	}
	var b bytes.Buffer
	if err := writeValidationJUnit(&b, &Validation{Command: "validate", Summary: DiagnosticSummary{OK: true}}); err != nil {
		t.Fatal(err)
	}
	if doc := parseJUnit(t, b.Bytes()); len(doc.Suites[0].Cases) != 1 || doc.Failures != 0 {
		t.Errorf("no findings: %s", b.String())
	}
	if err := xml.Unmarshal(b.Bytes(), new(struct{})); err != nil {
		t.Errorf("not XML: %v", err)
	}
}

func TestDiagnosticsMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := writeValidationMarkdown(&b, diagnosticsSample()); err != nil {
		t.Fatal(err)
	}
	rows := tableRows(t, b.String())
	if len(rows) != 6 { // the header, the separator and one row per diagnostic
		t.Fatalf("%d rows:\n%s", len(rows), b.String())
	}
	msg := rows[3][3]
	if len(rows[3]) != 4 {
		t.Errorf("the error row has %d cells, want 4: %q", len(rows[3]), rows[3])
	}
	for _, want := range []string{`\<xml\>`, `\&`, `\|`, `\*stars\*`, "<br>"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message cell %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\x01") || !strings.HasPrefix(b.String(), "### orchestrator validate: failed, 2 errors, 1 warning, 1 note") {
		t.Errorf("markdown:\n%s", b.String())
	}
	b.Reset()
	_ = writeValidationMarkdown(&b, &Validation{Command: "validate", Summary: DiagnosticSummary{OK: true}})
	if !strings.Contains(b.String(), "ok, 0 errors") || !strings.Contains(b.String(), "_No findings._") {
		t.Errorf("no findings:\n%s", b.String())
	}
}

func TestDiagnosticsGitHub(t *testing.T) {
	var b bytes.Buffer
	if err := writeValidationGitHub(&b, diagnosticsSample()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"::warning file=m/002_a.sql,line=3,title=index-not-concurrent::warning: CREATE INDEX on users: blocks writes",
		"::error file=m/003_b%2Cc%3Ad.sql,line=1,title=concurrently-in-transaction::error: 100%25 fails%0Asecond line with <xml> & | pipes *stars* and  control",
		"::notice file=m/004_c.sql,line=2,title=no-transaction-splits-batch::note: splits the batch",
		"::error file=fleet.yaml,title=fleet::error: no targets",
	}
	if got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A fleet that only discovers its targets lists none, and validate (offline)
// must say so rather than call the fleet not valid.
func TestValidationTableDiscoveryOnlyFleet(t *testing.T) {
	for _, tc := range []struct {
		fleet *CheckedFleet
		want  string
	}{
		{&CheckedFleet{Path: "f.yaml", Discover: 1}, "f.yaml: 0 listed targets, 1 discovery source (not run: validate is offline)"},
		{&CheckedFleet{Path: "f.yaml", Targets: 2, Discover: 3}, "f.yaml: 2 listed targets, 3 discovery sources (not run"},
		{&CheckedFleet{Path: "f.yaml", Targets: 2}, "f.yaml: 2 targets\n"},
		{&CheckedFleet{Path: "f.yaml"}, "f.yaml: not valid"},
	} {
		v := &Validation{Fleet: tc.fleet, Migrations: CheckedSet{Dir: "m", Layout: "goose", Versions: []int64{1}}}
		var b strings.Builder
		if err := WriteValidation(&b, FormatTable, v); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("fleet %+v: output\n%s\nwant it to contain %q", *tc.fleet, b.String(), tc.want)
		}
	}
}
