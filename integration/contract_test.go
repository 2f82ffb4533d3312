package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestBigFleetAtAGlance: status over 120 up-to-date targets is a few lines
// in the table, with every target still in JSON; a target needing attention
// is listed on its own among them.
func TestBigFleetAtAGlance(t *testing.T) {
	dbs := newDatabases(t, 1)
	conn := connectDB(t, dbs[0])
	var b strings.Builder
	for i := range 120 {
		fmt.Fprintf(&b, "CREATE SCHEMA tenant_%03d;", i)
	}
	if _, err := conn.Exec(context.Background(), b.String()); err != nil {
		t.Fatal(err)
	}
	dir := migrationDir(t,
		gooseMigration{file: "001_a.sql", up: "CREATE TABLE a (id int);", down: "DROP TABLE a;"},
		gooseMigration{file: "002_b.sql", up: "CREATE TABLE b (id int);", down: "DROP TABLE b;"})
	fleetPath := writeFile(t, "fleet.yaml", fmt.Sprintf("discover:\n  - server: %s\n    schemas: tenant\\_%%\n", dsnFor(t, dbs[0], "")))
	if res := runCLI(t, nil, "up", "-f", fleetPath, "-m", dir, "--quiet"); res.code != 0 {
		t.Fatalf("up: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}

	table := runCLI(t, nil, "status", "-f", fleetPath, "-m", dir, "--quiet")
	lines := strings.Count(table.stdout, "\n")
	if table.code != 0 || lines > 40 || !strings.Contains(table.stdout, "120 up_to_date at 2\n") {
		t.Fatalf("status table over 120 targets: exit %d, %d lines (at most 40):\n%s\n%s", table.code, lines, table.stdout, table.stderr)
	}
	t.Logf("status over 120 up-to-date targets, table (%d lines):\n%s", lines, table.stdout)
	js := runCLI(t, nil, "status", "-f", fleetPath, "-m", dir, "--quiet", "--format", "json")
	if rep := parseReport(t, js.stdout); len(rep.Targets) != 120 || rep.Summary["up_to_date"] != 120 {
		t.Fatalf("JSON lists %d targets, summary %v", len(rep.Targets), rep.Summary)
	}
	all := runCLI(t, nil, "status", "-f", fleetPath, "-m", dir, "--quiet", "--all")
	if n := strings.Count(all.stdout, "\n"); n < 121 || !strings.Contains(all.stdout, "tenant_119") {
		t.Errorf("--all: %d lines\n%s", n, all.stdout)
	}

	// One tenant falls behind and one is rolled back to nothing: the
	// pending one is counted in its group, and a run that fails lists the
	// failed tenant with its error.
	if _, err := conn.Exec(context.Background(), `DELETE FROM tenant_007.goose_db_version WHERE version_id = 2; DROP TABLE tenant_007.b`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), `DELETE FROM tenant_011.goose_db_version WHERE version_id = 2`); err != nil {
		t.Fatal(err)
	}
	st := runCLI(t, nil, "status", "-f", fleetPath, "-m", dir, "--quiet")
	if !strings.Contains(st.stdout, "118 up_to_date at 2\n") || !strings.Contains(st.stdout, "2 pending at 1\n") {
		t.Errorf("status groups:\n%s", st.stdout)
	}
	up := runCLI(t, nil, "up", "-f", fleetPath, "-m", dir, "--quiet")
	if up.code != 1 || !strings.Contains(up.stdout, "1 applied 1→2\n") || !strings.Contains(up.stdout, "1 target needs attention") ||
		!strings.Contains(up.stdout, "tenant_011") || !strings.Contains(up.stdout, `relation "b" already exists`) {
		t.Errorf("up with one failure: exit %d\n%s\n%s", up.code, up.stdout, up.stderr)
	}
	if lines := strings.Count(up.stdout, "\n"); lines > 20 {
		t.Errorf("up with one failure over 120 targets: %d lines", lines)
	}
}
