// Package integration holds end-to-end tests: the real binary against a real
// PostgreSQL. Every test creates its own uniquely named databases and drops
// them; nothing depends on test order or on an empty server.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
)

var (
	binary string // the orchestrator binary under test
	// server is the shared test server; tests that use it call
	// pgtest.Shared first, which skips them without one (fails under CI=true).
	server = &pgtest.Server{DSN: pgtest.DSN()}
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "orchestrator-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "orchestrator")
	build := exec.Command("go", "build", "-race", "-o", binary, "../cmd/orchestrator")
	if os.Getenv("ORCH_IT_NORACE") != "" {
		build = exec.Command("go", "build", "-o", binary, "../cmd/orchestrator")
	}
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "integration: building the binary: %v\n", err)
		return 1
	}
	return m.Run()
}

// dsnFor returns the test server's DSN for db with, when password is
// non-empty, the password replaced.
func dsnFor(t *testing.T, db, password string) string {
	t.Helper()
	if password == "" {
		return server.DSNFor(db)
	}
	u, err := url.Parse(server.DSNFor(db))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String()
}

// newDatabases creates n empty databases on the shared server, named with
// a shared unique prefix and _00, _01, ..., dropped when the test ends.
func newDatabases(t *testing.T, n int) []string {
	t.Helper()
	return pgtest.Shared(t).NewDatabases(t, "it", n)
}

func queryInt(t *testing.T, conn *pgx.Conn, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// tables lists the tables of the public schema, sorted.
func tables(t *testing.T, db string) []string {
	t.Helper()
	conn := server.Connect(t, db)
	rows, err := conn.Query(context.Background(),
		`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// relationCount counts every relation (tables, indexes, sequences) in public.
func relationCount(t *testing.T, db string) int64 {
	t.Helper()
	return queryInt(t, server.Connect(t, db), `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'`)
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// runCLI runs the binary with args and extra environment, bounded in time
// so a hang fails the test instead of the suite.
func runCLI(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// cleanEnv is the test's environment without variables the CLI reads, so a
// developer's DATABASE_URL cannot leak into a test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DATABASE_URL=") || strings.HasPrefix(kv, "ORCH_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// writeFile writes content to name in a fresh temp dir and returns the path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fleetYAML renders a fleet file with one target per database.
func fleetYAML(dsns map[string]string, order []string) string {
	var b strings.Builder
	b.WriteString("defaults:\n  parallelism: 4\n  lock_wait: 5s\ntargets:\n")
	for _, name := range order {
		fmt.Fprintf(&b, "  - name: %s\n    dsn: %s\n", name, dsns[name])
	}
	return b.String()
}

// Report mirrors the JSON report for assertions.
type Report struct {
	SchemaVersion int            `json:"schema_version"`
	Command       string         `json:"command"`
	StartedAt     time.Time      `json:"started_at"`
	DurationMS    int64          `json:"duration_ms"`
	Summary       map[string]int `json:"summary"`
	Notes         []string       `json:"notes"`
	Targets       []TargetResult `json:"targets"`
	// Wave, Shard and Waves: a run of one wave, and each wave's failures
	// against its budget.
	Wave  string `json:"wave"`
	Shard *struct {
		Index int `json:"index"`
		Count int `json:"count"`
	} `json:"shard"`
	Waves []struct {
		Name        string `json:"name"`
		Targets     int    `json:"targets"`
		Failures    int    `json:"failures"`
		MaxFailures string `json:"max_failures"`
		Allowed     *int   `json:"allowed"`
		Halted      bool   `json:"halted"`
		Order       string `json:"order"`
	} `json:"waves"`
	// Rehearsal is plan --verify's fleet summary of the worst tenants.
	Rehearsal *struct {
		MaxExclusiveRows *int64 `json:"max_exclusive_rows"`
		LargestExclusive []struct {
			Target    string `json:"target"`
			Migration string `json:"migration"`
			Relation  string `json:"relation"`
			Rows      int64  `json:"rows"`
			Bytes     int64  `json:"bytes"`
		} `json:"largest_exclusive"`
		Slowest []struct {
			Target     string `json:"target"`
			DurationMS int64  `json:"duration_ms"`
		} `json:"slowest"`
	} `json:"rehearsal"`
}

// LockResult mirrors one lock of a rehearsed migration.
type LockResult struct {
	Relation string `json:"relation"`
	Mode     string `json:"mode"`
	Rows     int64  `json:"rows"`
	Bytes    int64  `json:"bytes"`
}

// TargetResult mirrors one target of the JSON report.
type TargetResult struct {
	Name        string `json:"name"`
	Wave        string `json:"wave"`
	Status      string `json:"status"`
	FromVersion int64  `json:"from_version"`
	ToVersion   int64  `json:"to_version"`
	Applied     []struct {
		Version    int64  `json:"version"`
		Name       string `json:"name"`
		DurationMS *int64 `json:"duration_ms"`
	} `json:"applied"`
	Pending []struct {
		Version    int64        `json:"version"`
		Name       string       `json:"name"`
		DurationMS *int64       `json:"duration_ms"`
		Statements []string     `json:"statements"`
		Note       string       `json:"note"`
		Locks      []LockResult `json:"locks"`
	} `json:"pending"`
	// Reverted lists migrations undone by compensation or --rollback-on-halt.
	Reverted []struct {
		Version    int64  `json:"version"`
		Name       string `json:"name"`
		DurationMS *int64 `json:"duration_ms"`
	} `json:"reverted"`
	Error *struct {
		Version  int64  `json:"version"`
		Name     string `json:"name"`
		SQLState string `json:"sqlstate"`
		Class    string `json:"class"`
		Message  string `json:"message"`
		Line     int    `json:"line"`
		Detail   string `json:"detail"`
		Hint     string `json:"hint"`
		// Remedy says what a person must do about a `failed` target.
		Remedy string `json:"remedy"`
		// BlockedBy names the session that held the lock a statement
		// timed out on (its application_name and query).
		BlockedBy string `json:"blocked_by"`
	} `json:"error"`
	// Attempts is how many times the target's transaction was tried.
	Attempts int `json:"attempts"`
	Findings []struct {
		Kind   string `json:"kind"`
		Object string `json:"object"`
		Detail string `json:"detail"`
	} `json:"findings"`
	// ManagedBy, ClaimedVersion and Forced describe targets another tool
	// or a person migrated (unadopted, and adopt's results).
	ManagedBy      string `json:"managed_by"`
	ClaimedVersion *int64 `json:"claimed_version"`
	Forced         bool   `json:"forced"`
	// Rows is what exec's query returned on the target.
	Rows *struct {
		Columns   []string `json:"columns"`
		Values    [][]any  `json:"values"`
		Truncated bool     `json:"truncated"`
	} `json:"rows"`
	SizeBytes  *int64     `json:"size_bytes"`
	StartedAt  *time.Time `json:"started_at"`
	DurationMS int64      `json:"duration_ms"`
}

func parseReport(t testing.TB, data string) Report {
	t.Helper()
	var r Report
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("report is not the documented JSON: %v\n%s", err, data)
	}
	return r
}

func (r Report) target(t *testing.T, name string) TargetResult {
	t.Helper()
	for _, tr := range r.Targets {
		if tr.Name == name {
			return tr
		}
	}
	t.Fatalf("no target %q in report", name)
	return TargetResult{}
}
