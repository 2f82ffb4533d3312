package report

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func execSample() *Report {
	started := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	return New(CommandExec, started, 40*time.Millisecond, []Target{
		{Name: "acme", Status: StatusOK, DurationMS: 12, Rows: &Rows{Columns: []string{"email", "n"},
			Values: [][]any{{"a@acme.test", float64(3)}, {nil, float64(1)}}}},
		{Name: "globex", Status: StatusOK, DurationMS: 9, Rows: &Rows{Columns: []string{"email", "n"},
			Values: [][]any{{"x|y, \"z\"", float64(2)}}, Truncated: true}},
		{Name: "initech", Status: StatusOK, DurationMS: 8, Rows: &Rows{Columns: []string{"email", "n"}, Values: [][]any{}}},
		{Name: "umbrella", Status: StatusFailed, DurationMS: 5,
			Error: &Error{SQLState: "25006", Class: "other", Message: "cannot execute DROP TABLE in a read-only transaction"}},
	})
}

func TestExecGolden(t *testing.T) {
	for _, f := range []Format{FormatTable, FormatCSV, FormatMarkdown, FormatJSON} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, f, execSample()); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "exec."+string(f)+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("output differs from %s:\n%s", golden, buf.String())
			}
		})
	}
}

func TestCSVOfOtherCommands(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, FormatCSV, sample()); err != nil {
		t.Fatal(err)
	}
	want := "target,wave,status,from_version,to_version,duration_ms,error\n" +
		"acme,canary,applied,2,4,90,\n"
	if got := buf.String(); len(got) < len(want) || got[:len(want)] != want {
		t.Errorf("csv:\n%s", got)
	}
}
