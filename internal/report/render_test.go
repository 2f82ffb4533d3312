package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func ms(v int64) *int64 { return &v }

// sample is a report with one target of each interesting outcome.
func sample() *Report {
	started := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	return New("up", started, 1234*time.Millisecond, []Target{
		{Name: "acme", Wave: "canary", Status: StatusApplied, FromVersion: V(2), ToVersion: V(4), DurationMS: 90,
			Applied: []Migration{
				{Version: 3, Name: "003_create_sessions_table", DurationMS: ms(40)},
				{Version: 4, Name: "004_create_usage_records_table", DurationMS: ms(30)},
			}},
		{Name: "globex", Wave: "canary", Status: StatusRolledBack, FromVersion: V(0), ToVersion: V(0), DurationMS: 55,
			Error: &Error{Version: 3, Name: "003_create_sessions_table", SQLState: "42P07", Class: "conflict",
				Message: `relation "sessions" already exists`, Line: 4}},
		{Name: "initech", Status: StatusUpToDate, FromVersion: V(4), ToVersion: V(4), DurationMS: 12},
		{Name: "umbrella", Status: StatusFailed, DurationMS: 3,
			Error: &Error{Class: "unreachable", Message: "failed to connect to `user=app database=umbrella`: connection refused"}},
	})
}

func TestRenderGolden(t *testing.T) {
	cases := []struct {
		name   string
		format Format
		report *Report
	}{
		{"up.table", FormatTable, sample()},
		{"up.json", FormatJSON, sample()},
		{"plan.table", FormatTable, New("plan", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), 20*time.Millisecond, []Target{
			{Name: "acme", Status: StatusPending, FromVersion: V(0), ToVersion: V(4), Pending: []Migration{{Version: 1}, {Version: 2}, {Version: 3}, {Version: 4}}},
			{Name: "globex", Status: StatusPending, FromVersion: V(1), ToVersion: V(4), Pending: []Migration{{Version: 2}, {Version: 4}}},
			{Name: "initech", Status: StatusUpToDate, FromVersion: V(4), ToVersion: V(4)},
		})},
		{"empty.json", FormatJSON, New("status", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), 0, nil)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tc.format, tc.report); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", golden, buf.Bytes(), want)
			}
		})
	}
}

// TestJSONSchema pins the documented field names: tools and cron jobs read
// them, so renaming one is a breaking change.
func TestJSONSchema(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema_version", "command", "started_at", "duration_ms", "summary", "targets"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	summary := doc["summary"].(map[string]any)
	for _, k := range []string{"targets", "applied", "up_to_date", "rolled_back", "failed", "skipped", "cancelled"} {
		if _, ok := summary[k]; !ok {
			t.Errorf("summary lacks %q", k)
		}
	}
	targets := doc["targets"].([]any)
	first := targets[0].(map[string]any)
	for _, k := range []string{"name", "wave", "status", "from_version", "to_version", "applied", "duration_ms"} {
		if _, ok := first[k]; !ok {
			t.Errorf("target lacks %q", k)
		}
	}
	applied := first["applied"].([]any)[0].(map[string]any)
	for _, k := range []string{"version", "name", "duration_ms"} {
		if _, ok := applied[k]; !ok {
			t.Errorf("applied migration lacks %q", k)
		}
	}
	errObj := targets[1].(map[string]any)["error"].(map[string]any)
	for _, k := range []string{"version", "name", "sqlstate", "message"} {
		if _, ok := errObj[k]; !ok {
			t.Errorf("error lacks %q", k)
		}
	}
	if doc["started_at"] != "2026-11-27T10:00:00Z" {
		t.Errorf("started_at = %v", doc["started_at"])
	}
}

func TestSummaryAndOK(t *testing.T) {
	r := sample()
	want := Summary{Targets: 4, Applied: 1, UpToDate: 1, RolledBack: 1, Failed: 1}
	if r.Summary != want {
		t.Errorf("summary %+v, want %+v", r.Summary, want)
	}
	if r.OK() {
		t.Error("a report with a rolled back target is not OK")
	}
	ok := New("status", time.Now(), 0, []Target{{Status: StatusPending}, {Status: StatusUpToDate}})
	if !ok.OK() {
		t.Error("pending and up_to_date are not failures")
	}
}

func TestCompactVersions(t *testing.T) {
	for _, tc := range []struct {
		in   []int64
		want string
	}{
		{[]int64{1}, "1"},
		{[]int64{1, 2, 3, 4}, "1-4"},
		{[]int64{1, 3, 4, 7}, "1,3-4,7"},
		{[]int64{20240101, 20240102}, "20240101-20240102"},
		{[]int64{4, 3, 2, 1}, "4-1"},
		{[]int64{4, 2, 1}, "4,2-1"},
	} {
		if got := compactVersions(tc.in); got != tc.want {
			t.Errorf("compactVersions(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	if f, err := ParseFormat("json"); err != nil || f != FormatJSON {
		t.Errorf("json: %v %v", f, err)
	}
	if _, err := ParseFormat("yaml"); err == nil {
		t.Error("yaml accepted")
	}
}

// TestWriteJSONStreamsSameBytes: the report written a target at a time is
// byte for byte the report encoded whole, with and without targets, with
// notes and texts JSON escapes (HTML characters, control characters).
func TestWriteJSONStreamsSameBytes(t *testing.T) {
	withNotes := sample()
	withNotes.Notes = []string{"a <note> & more", "tab\there"}
	withNotes.Targets[0].Findings = []Finding{{Kind: "schema", Object: "table <x>", Detail: "\u2028 line"}}
	empty := sample()
	empty.Targets = nil
	for name, r := range map[string]*Report{"sample": sample(), "notes": withNotes, "no targets": empty} {
		var whole bytes.Buffer
		enc := json.NewEncoder(&whole)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
		var streamed bytes.Buffer
		if err := WriteJSON(&streamed, r); err != nil {
			t.Fatal(err)
		}
		if streamed.String() != whole.String() {
			t.Errorf("%s: streamed JSON differs from the whole encoding:\n%s\nwant:\n%s", name, streamed.String(), whole.String())
		}
	}
}
