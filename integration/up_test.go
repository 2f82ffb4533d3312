package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
)

var seedTables = []string{"api_keys", "goose_db_version", "orchestrator_migrations", "sessions", "usage_records", "users"}

// TestUpFleet is the product's main job: a dozen fresh tenants migrated in
// one run, then a second run that finds nothing to do.
func TestUpFleet(t *testing.T) {
	dbs := newDatabases(t, 12)
	dsns := map[string]string{}
	for _, db := range dbs {
		dsns[db] = dsnFor(t, db, "")
	}
	fleetPath := writeFile(t, "fleet.yaml", fleetYAML(dsns, dbs))
	reportPath := filepath.Join(t.TempDir(), "up.json")

	res := runCLI(t, nil, "up", "--fleet", fleetPath, "--format", "json", "--report", reportPath)
	if res.code != 0 {
		t.Fatalf("up: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	rep := parseReport(t, res.stdout)
	if rep.Command != "up" || rep.SchemaVersion != 1 || len(rep.Targets) != len(dbs) {
		t.Fatalf("report header: %+v", rep)
	}
	if rep.Summary["applied"] != len(dbs) || rep.Summary["targets"] != len(dbs) {
		t.Fatalf("summary: %v", rep.Summary)
	}
	for i, db := range dbs {
		tr := rep.Targets[i]
		if tr.Name != db {
			t.Errorf("target %d is %q, want fleet order %q", i, tr.Name, db)
		}
		if tr.Status != "applied" || tr.FromVersion != 0 || tr.ToVersion != 4 || len(tr.Applied) != 4 {
			t.Errorf("%s: %+v", db, tr)
		}
		if got := tables(t, db); strings.Join(got, ",") != strings.Join(seedTables, ",") {
			t.Errorf("%s: tables %v, want %v", db, got, seedTables)
		}
		conn := server.Connect(t, db)
		if n := queryInt(t, conn, `SELECT count(*) FROM goose_db_version WHERE is_applied`); n != 5 {
			t.Errorf("%s: %d version rows, want 5 (0 through 4)", db, n)
		}
		if n := queryInt(t, conn, `SELECT count(*) FROM orchestrator_migrations WHERE length(up_sha256) = 64`); n != 4 {
			t.Errorf("%s: %d checksum rows, want 4", db, n)
		}
	}
	file, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatalf("--report file: %v", err)
	}
	if fileRep := parseReport(t, string(file)); fileRep.Summary["applied"] != len(dbs) {
		t.Errorf("--report file summary: %v", fileRep.Summary)
	}

	again := runCLI(t, nil, "up", "--fleet", fleetPath, "--format", "json")
	if again.code != 0 {
		t.Fatalf("second up: exit %d\n%s", again.code, again.stderr)
	}
	rep2 := parseReport(t, again.stdout)
	for _, tr := range rep2.Targets {
		if tr.Status != "up_to_date" || tr.FromVersion != 4 || tr.ToVersion != 4 || len(tr.Applied) != 0 {
			t.Errorf("second run %s: %+v", tr.Name, tr)
		}
	}

	status := runCLI(t, nil, "status", "--fleet", fleetPath, "--format", "json")
	if status.code != 0 {
		t.Fatalf("status: exit %d\n%s", status.code, status.stderr)
	}
	for _, tr := range parseReport(t, status.stdout).Targets {
		if tr.Status != "up_to_date" || tr.ToVersion != 4 {
			t.Errorf("status %s: %+v", tr.Name, tr)
		}
	}
}

// TestUpRollsBackFailingTarget: a tenant whose 3rd migration fails ends
// exactly where it started while the others are applied.
func TestUpRollsBackFailingTarget(t *testing.T) {
	dbs := newDatabases(t, 3)
	bad := dbs[1]
	// A relation of the name migration 003 creates already exists there: a
	// view, so the target still counts as never migrated (tables without a
	// version table would make it unadopted).
	conn := server.Connect(t, bad)
	if _, err := conn.Exec(t.Context(), `CREATE VIEW sessions AS SELECT 1 AS id`); err != nil {
		t.Fatal(err)
	}
	dsns := map[string]string{}
	for _, db := range dbs {
		dsns[db] = dsnFor(t, db, "")
	}
	fleetPath := writeFile(t, "fleet.yaml", fleetYAML(dsns, dbs))

	res := runCLI(t, nil, "up", "--fleet", fleetPath, "--format", "json")
	if res.code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	rep := parseReport(t, res.stdout)
	tr := rep.target(t, bad)
	if tr.Status != "rolled_back" || tr.FromVersion != 0 || tr.ToVersion != 0 || len(tr.Applied) != 0 {
		t.Fatalf("failing target: %+v", tr)
	}
	if tr.Error == nil || tr.Error.Version != 3 || tr.Error.Name != "003_create_sessions_table" ||
		tr.Error.SQLState != "42P07" || !strings.Contains(tr.Error.Message, "sessions") {
		t.Fatalf("failing target error: %+v", tr.Error)
	}
	// Nothing of this run is left: no table, only the view the test made.
	if got := tables(t, bad); len(got) != 0 {
		t.Errorf("tables left on %s: %v", bad, got)
	}
	if n := relationCount(t, bad); n != 1 {
		t.Errorf("%d relations on %s, want only the view", n, bad)
	}
	for _, db := range []string{dbs[0], dbs[2]} {
		if tr := rep.target(t, db); tr.Status != "applied" || tr.ToVersion != 4 {
			t.Errorf("%s: %+v", db, tr)
		}
	}
	if rep.Summary["rolled_back"] != 1 || rep.Summary["applied"] != 2 {
		t.Errorf("summary %v", rep.Summary)
	}
	if !strings.Contains(res.stderr, "rolled_back") {
		t.Errorf("stderr does not mention the rolled back target:\n%s", res.stderr)
	}
}

// TestUpTo stops at a version, and plan then lists exactly the rest.
func TestUpToThenPlan(t *testing.T) {
	dbs := newDatabases(t, 1)
	dsn := dsnFor(t, dbs[0], "")
	res := runCLI(t, nil, "up", "--dsn", dsn, "--to", "2", "--format", "json")
	if res.code != 0 {
		t.Fatalf("up --to 2: exit %d\n%s", res.code, res.stderr)
	}
	if tr := parseReport(t, res.stdout).Targets[0]; tr.ToVersion != 2 || len(tr.Applied) != 2 {
		t.Fatalf("up --to 2: %+v", tr)
	}
	plan := runCLI(t, nil, "plan", "--dsn", dsn, "--format", "json")
	if plan.code != 0 {
		t.Fatalf("plan: exit %d\n%s", plan.code, plan.stderr)
	}
	tr := parseReport(t, plan.stdout).Targets[0]
	if tr.Status != "pending" || tr.FromVersion != 2 || tr.ToVersion != 4 || len(tr.Pending) != 2 ||
		tr.Pending[0].Name != "003_create_sessions_table" || tr.Pending[1].Version != 4 {
		t.Fatalf("plan after up --to 2: %+v", tr)
	}
}

// TestPlanCreatesNothing: plan on fresh databases lists every migration and
// leaves the databases without a single relation.
func TestPlanCreatesNothing(t *testing.T) {
	dbs := newDatabases(t, 2)
	dsns := map[string]string{}
	for _, db := range dbs {
		dsns[db] = dsnFor(t, db, "")
	}
	fleetPath := writeFile(t, "fleet.yaml", fleetYAML(dsns, dbs))
	res := runCLI(t, nil, "plan", "--fleet", fleetPath, "--format", "json")
	if res.code != 0 {
		t.Fatalf("plan: exit %d\n%s", res.code, res.stderr)
	}
	rep := parseReport(t, res.stdout)
	for _, db := range dbs {
		tr := rep.target(t, db)
		if tr.Status != "pending" || tr.FromVersion != 0 || tr.ToVersion != 4 || len(tr.Pending) != 4 {
			t.Errorf("%s: %+v", db, tr)
		}
		for i, m := range tr.Pending {
			if m.Version != int64(i+1) {
				t.Errorf("%s: pending[%d] = %+v", db, i, m)
			}
		}
		if n := relationCount(t, db); n != 0 {
			t.Errorf("%s: plan created %d relations", db, n)
		}
	}
	table := runCLI(t, nil, "plan", "--fleet", fleetPath)
	if table.code != 0 || !strings.Contains(table.stdout, "PENDING") || !strings.Contains(table.stdout, "1-4") {
		t.Errorf("plan table output:\n%s", table.stdout)
	}
}

// TestUnreachableTargetsFailAlone: a target on a closed port or a missing
// database is `failed` while the others are applied, and the password of
// every target stays out of every output.
func TestUnreachableTargetsFailAlone(t *testing.T) {
	dbs := newDatabases(t, 2)
	const password = "Sup3r-Secret-Pa55word"
	closed := closedPort(t)
	fleet := fmt.Sprintf(`defaults:
  connect_timeout: 3s
targets:
  - name: good-a
    dsn: %s
  - name: closed-port
    dsn: postgres://app:${TENANT_PASSWORD}@127.0.0.1:%d/x?sslmode=disable
  - name: missing-db
    dsn: %s
  - name: good-b
    dsn: %s
`, dsnFor(t, dbs[0], password), closed, dsnFor(t, pgtest.Name("it_missing"), password), dsnFor(t, dbs[1], password))
	fleet = strings.ReplaceAll(fleet, password, "${TENANT_PASSWORD}")
	fleetPath := writeFile(t, "fleet.yaml", fleet)
	reportPath := filepath.Join(t.TempDir(), "report.json")
	env := []string{"TENANT_PASSWORD=" + password}

	res := runCLI(t, env, "up", "--fleet", fleetPath, "--format", "json", "--report", reportPath, "--verbose")
	if res.code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	rep := parseReport(t, res.stdout)
	for name, class := range map[string]string{"closed-port": "unreachable", "missing-db": "missing_database"} {
		tr := rep.target(t, name)
		if tr.Status != "failed" || tr.Error == nil || tr.Error.Class != class {
			t.Errorf("%s: %+v error %+v, want failed/%s", name, tr, tr.Error, class)
		}
	}
	if tr := rep.target(t, "missing-db"); tr.Error.SQLState != "3D000" {
		t.Errorf("missing-db sqlstate %q", tr.Error.SQLState)
	}
	for _, name := range []string{"good-a", "good-b"} {
		if tr := rep.target(t, name); tr.Status != "applied" {
			t.Errorf("%s: %+v", name, tr)
		}
	}
	file, _ := os.ReadFile(reportPath)
	targetsOut := runCLI(t, env, "targets", "--fleet", fleetPath)
	for what, text := range map[string]string{
		"stdout": res.stdout, "stderr": res.stderr, "report file": string(file),
		"targets stdout": targetsOut.stdout, "targets stderr": targetsOut.stderr,
	} {
		if strings.Contains(text, password) {
			t.Errorf("the password appears in %s:\n%s", what, text)
		}
	}
	if !strings.Contains(targetsOut.stdout, "xxxxx") || !strings.Contains(targetsOut.stdout, "closed-port") {
		t.Errorf("targets output:\n%s", targetsOut.stdout)
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}
