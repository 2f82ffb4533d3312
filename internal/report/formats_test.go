package report

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var started = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// driftSample is a drift report with a clean, two drifted and an
// uninspectable target, and a run note.
func driftSample() *Report {
	r := New("drift", started, 2500*time.Millisecond, []Target{
		{Name: "acme", Status: StatusClean, FromVersion: V(4), ToVersion: V(4), DurationMS: 120},
		{Name: "globex", Status: StatusDrifted, FromVersion: V(4), ToVersion: V(4), DurationMS: 140, Findings: []Finding{
			{Kind: "schema", Object: "index users.idx_users_email", Detail: "missing"},
			{Kind: "checksum_mismatch", Object: "version 2", Detail: "up section changed since it was applied"},
			{Kind: "schema", Object: "column sessions.user_agent", Detail: "type text, expected character varying(512)"},
		}},
		{Name: "initech", Status: StatusDrifted, FromVersion: V(3), ToVersion: V(3), DurationMS: 95, Findings: []Finding{
			{Kind: "pending", Object: "version 4", Detail: "pending (004_create_usage_records_table)"},
		}},
		{Name: "umbrella", Status: StatusError, DurationMS: 10004, Error: &Error{
			Class: "timeout", SQLState: "57014", Message: "canceling statement due to statement timeout"}},
	})
	r.Notes = []string{"version 3: no scratch database could be created (permission denied to create database); compared the 1 target(s) at that version with each other instead"}
	return r
}

// waveSample is an `up` in waves where the canary wave failed: one target
// of every failing status, the rest skipped by the halt.
func waveSample() *Report {
	return New("up", started, 61*time.Second, []Target{
		{Name: "acme", Wave: "canary", Status: StatusFailed, FromVersion: V(2), ToVersion: V(3), DurationMS: 30500, Attempts: 2,
			Reverted: []Migration{{Version: 3, Name: "003_create_sessions_table"}},
			Error: &Error{Version: 4, Name: "004_add_index_concurrently", SQLState: "55P03", Class: "lock_timeout",
				Message: "canceling statement due to lock timeout", BlockedBy: "pid 4242 (psql, idle in transaction)",
				Remedy: "DROP INDEX CONCURRENTLY IF EXISTS idx_usage_records_ts; then run up again"}},
		{Name: "hooli", Wave: "canary", Status: StatusLocked, DurationMS: 2000,
			Error: &Error{Class: "locked", Message: "another run holds the advisory lock"}},
		{Name: "initech", Wave: "everyone", Status: StatusSkipped,
			Error: &Error{Class: "halted", Message: "not started: wave canary exceeded max_failures 0"}},
		{Name: "pied-piper", Wave: "everyone", Status: StatusCancelled},
	})
}

// planSample is a `plan --verify --sql`: notes and statements per pending
// migration.
func planSample() *Report {
	return New("plan", started, 340*time.Millisecond, []Target{
		{Name: "acme", Status: StatusPending, FromVersion: V(2), ToVersion: V(2), DurationMS: 80, Pending: []Migration{
			{Version: 3, Name: "003_create_sessions_table", Note: "rehearsed, rolled back", DurationMS: ms(12),
				Statements: []string{"CREATE TABLE sessions (\n    id uuid PRIMARY KEY\n)", "CREATE INDEX idx_sessions_user_id ON sessions (user_id)"}},
			{Version: 4, Name: "004_create_usage_records_table", Note: "not rehearsable: NO TRANSACTION"},
		}},
		{Name: "initech", Status: StatusUpToDate, FromVersion: V(4), ToVersion: V(4), DurationMS: 15},
	})
}

func targetsSample() []TargetInfo {
	return []TargetInfo{
		{Name: "acme", DSN: "postgres://app:xxxxx@db1:5432/acme?sslmode=require", Labels: map[string]string{"tier": "canary", "region": "eu"}, Origin: "fleet.yaml:7"},
		{Name: "tenant_globex", DSN: "postgres://app:xxxxx@db2:5432/tenant_globex", Origin: "fleet.yaml:12 (discover databases tenant_%)"},
	}
}

// checkGolden compares got with testdata/name.golden, rewriting it under
// -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

// TestFormatGolden pins the JUnit and markdown renderings, through Write as
// --format reaches them.
func TestFormatGolden(t *testing.T) {
	empty := New("status", started, 0, nil)
	cases := []struct {
		name   string
		format Format
		report *Report
	}{
		{"up.junit", FormatJUnit, sample()},
		{"up.markdown", FormatMarkdown, sample()},
		{"waves.junit", FormatJUnit, waveSample()},
		{"waves.markdown", FormatMarkdown, waveSample()},
		{"drift.junit", FormatJUnit, driftSample()},
		{"drift.markdown", FormatMarkdown, driftSample()},
		{"drift.table", FormatTable, driftSample()},
		{"plan.junit", FormatJUnit, planSample()},
		{"plan.markdown", FormatMarkdown, planSample()},
		{"empty.junit", FormatJUnit, empty},
		{"empty.markdown", FormatMarkdown, empty},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tc.format, tc.report); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.name, buf.Bytes())
		})
	}
}

func TestTargetsGolden(t *testing.T) {
	for _, f := range []Format{FormatMarkdown, FormatJUnit} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteTargets(&buf, f, targetsSample()); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "targets."+string(f), buf.Bytes())
		})
	}
}

func TestParseNewFormats(t *testing.T) {
	for _, want := range []Format{FormatJUnit, FormatMarkdown} {
		if f, err := ParseFormat(string(want)); err != nil || f != want {
			t.Errorf("%s: %v %v", want, f, err)
		}
	}
}
