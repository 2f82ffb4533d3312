package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// seedWithExtra copies the built-in migrations into a temp dir and adds extra
// golang-migrate pairs (name -> [up, down]).
func seedWithExtra(t *testing.T, extra map[string][2]string) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob("../migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("seed migrations: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, sql := range extra {
		for i, suffix := range []string{".up.sql", ".down.sql"} {
			if err := os.WriteFile(filepath.Join(dir, name+suffix), []byte(sql[i]), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// schemaDump is pg_dump --schema-only of a database, plus its version rows.
func schemaDump(t *testing.T, db string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "pg_dump", "--schema-only", "--no-owner", dsnFor(t, db, "")).Output()
	if err != nil {
		t.Fatalf("pg_dump %s: %v", db, err)
	}
	// pg_dump writes a random \restrict key on every run; it is not schema.
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(l, "\\restrict") && !strings.HasPrefix(l, "\\unrestrict") {
			lines = append(lines, l)
		}
	}
	conn := server.Connect(t, db)
	rows := queryInt(t, conn, `SELECT count(*) FROM goose_db_version`)
	sums := queryInt(t, conn, `SELECT count(*) FROM orchestrator_migrations`)
	return strings.Join(lines, "\n") + "\n-- version rows: " + strconv.FormatInt(rows, 10) + ", checksum rows: " + strconv.FormatInt(sums, 10)
}

// TestPlanVerify rehearses a migration that fails on one tenant's data: that
// tenant is reported with the error, exit 1, and every tenant is unchanged.
func TestPlanVerify(t *testing.T) {
	dbs := newDatabases(t, 3)
	dsns := map[string]string{}
	for _, db := range dbs {
		dsns[db] = dsnFor(t, db, "")
	}
	fleetPath := writeFile(t, "fleet.yaml", fleetYAML(dsns, dbs))
	if res := runCLI(t, nil, "up", "--fleet", fleetPath, "--quiet"); res.code != 0 {
		t.Fatalf("up: exit %d\n%s", res.code, res.stderr)
	}
	// Duplicate display names on one tenant: a unique index over them fails.
	bad := dbs[2]
	if _, err := server.Connect(t, bad).Exec(context.Background(), `INSERT INTO users (email, username, password_hash, display_name)
		VALUES ('a@x.test', 'a', 'h', 'Same Name'), ('b@x.test', 'b', 'h', 'Same Name')`); err != nil {
		t.Fatal(err)
	}
	dir := seedWithExtra(t, map[string][2]string{
		"005_unique_display_name": {
			"CREATE UNIQUE INDEX idx_users_display_name ON users (display_name);\n",
			"DROP INDEX IF EXISTS idx_users_display_name;\n",
		},
	})
	before := map[string]string{}
	for _, db := range dbs {
		before[db] = schemaDump(t, db)
	}

	res := runCLI(t, nil, "plan", "--fleet", fleetPath, "--migrations", dir, "--verify", "--format", "json")
	if res.code != 1 {
		t.Fatalf("plan --verify: exit %d, want 1\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	rep := parseReport(t, res.stdout)
	for _, db := range dbs[:2] {
		tr := rep.target(t, db)
		if tr.Status != "pending" || len(tr.Pending) != 1 || tr.Pending[0].Note != "rehearsed" || tr.Pending[0].DurationMS == nil {
			t.Errorf("%s: %+v", db, tr)
		}
	}
	tr := rep.target(t, bad)
	if tr.Status != "failed" || tr.Error == nil || tr.Error.SQLState != "23505" || tr.Error.Version != 5 {
		t.Errorf("%s: %+v %+v", bad, tr, tr.Error)
	}
	for _, db := range dbs {
		if after := schemaDump(t, db); after != before[db] {
			t.Errorf("%s changed by plan --verify", db)
		}
	}
	conn := server.Connect(t, dbs[0])
	// Only this test's databases: other tests share the server.
	if n := queryInt(t, conn, `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
		WHERE l.locktype = 'advisory' AND d.datname = ANY($1)`, dbs); n != 0 {
		t.Errorf("%d advisory locks left", n)
	}

	withSQL := runCLI(t, nil, "plan", "--fleet", fleetPath, "--migrations", dir, "--sql")
	if withSQL.code != 0 || !strings.Contains(withSQL.stdout, "CREATE UNIQUE INDEX idx_users_display_name ON users (display_name);") {
		t.Errorf("plan --sql: exit %d\n%s", withSQL.code, withSQL.stdout)
	}
}

// TestPlanVerifyNoTransaction: a NO TRANSACTION migration is reported as not
// rehearsable, never skipped silently.
func TestPlanVerifyNoTransaction(t *testing.T) {
	dbs := newDatabases(t, 1)
	dir := seedWithExtra(t, map[string][2]string{
		"005_index_concurrently": {
			"-- +goose NO TRANSACTION\nCREATE INDEX CONCURRENTLY idx_users_last_name ON users (last_name);\n",
			"-- +goose NO TRANSACTION\nDROP INDEX CONCURRENTLY IF EXISTS idx_users_last_name;\n",
		},
	})
	res := runCLI(t, nil, "plan", "--dsn", dsnFor(t, dbs[0], ""), "--migrations", dir, "--verify", "--format", "json")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	tr := parseReport(t, res.stdout).Targets[0]
	if len(tr.Pending) != 5 || tr.Pending[3].Note != "rehearsed" || !strings.HasPrefix(tr.Pending[4].Note, "not rehearsable") {
		t.Fatalf("%+v", tr.Pending)
	}
	if n := relationCount(t, dbs[0]); n != 0 {
		t.Errorf("rehearsal left %d relations", n)
	}
}
