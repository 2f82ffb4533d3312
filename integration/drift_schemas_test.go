package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// TestDriftSchemasOnePass: drift over many tenant schemas of one database
// reads them in a bounded number of transactions (one pass per database,
// one query per batch of schemas), not one or more per tenant; a clean
// fleet is clean and a tenant tampered with an object drift used not to
// see (a trigger and its function, an enum, a view, an extension), or with
// a recorded checksum, is drifted with the object named, and no other
// tenant is.
func TestDriftSchemasOnePass(t *testing.T) {
	const tenants = 80
	dbs := newDatabases(t, 1)
	conn := server.Connect(t, dbs[0])
	ctx := context.Background()
	var b strings.Builder
	for i := range tenants {
		fmt.Fprintf(&b, "CREATE SCHEMA tenant_%03d;\n", i)
	}
	if _, err := conn.Exec(ctx, b.String()); err != nil {
		t.Fatal(err)
	}
	fleetPath := writeFile(t, "fleet.yaml", fmt.Sprintf("discover:\n  - server: %s\n    schemas: tenant\\_%%\n", dsnFor(t, dbs[0], "")))
	if res := runCLI(t, nil, "up", "--fleet", fleetPath, "--quiet"); res.code != 0 {
		t.Fatalf("up: exit %d\n%s", res.code, res.stderr)
	}

	before := transactions(t, conn, dbs[0])
	clean := runCLI(t, nil, "drift", "--fleet", fleetPath, "--format", "json", "--quiet")
	if clean.code != 0 {
		t.Fatalf("drift on a clean fleet: exit %d\n%s\n%s", clean.code, clean.stdout, clean.stderr)
	}
	// Read one by one, each tenant costs two transactions at least (pointing
	// the session at it, reading it); in one pass the database sees a
	// handful, the batch's and the server's own (autovacuum).
	if n := transactions(t, conn, dbs[0]) - before; n > tenants/2 {
		t.Errorf("drift over %d schemas ran %d transactions in their database, want at most %d", tenants, n, tenants/2)
	}
	rep := parseReport(t, clean.stdout)
	if len(rep.Targets) != tenants {
		t.Fatalf("%d targets, want %d", len(rep.Targets), tenants)
	}
	for _, tr := range rep.Targets {
		if tr.Status != "clean" {
			t.Errorf("clean fleet: %s: %+v", tr.Name, tr)
		}
	}

	tamper := map[string]struct {
		sql  string
		want []string
	}{
		"tenant_007": {`CREATE FUNCTION tenant_007.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
			CREATE TRIGGER trg BEFORE UPDATE ON tenant_007.users FOR EACH ROW EXECUTE FUNCTION tenant_007.touch()`,
			[]string{"function touch() unexpected", "trigger users.trg unexpected"}},
		"tenant_023": {`CREATE TYPE tenant_023.mood AS ENUM ('a')`, []string{"enum mood unexpected"}},
		"tenant_050": {`CREATE VIEW tenant_050.v AS SELECT id FROM tenant_050.users`, []string{"view v unexpected"}},
		"tenant_079": {`CREATE EXTENSION hstore SCHEMA tenant_079`, []string{"extension hstore unexpected"}},
		// Tenants with the same history share one copy of it: one that
		// differs keeps its own.
		"tenant_031": {`UPDATE tenant_031.orchestrator_migrations SET up_sha256 = repeat('0', 64) WHERE version_id = 2`,
			[]string{"version 2 up section changed since it was applied (002_create_api_keys_table)"}},
	}
	for _, tc := range tamper {
		if _, err := conn.Exec(ctx, tc.sql); err != nil {
			t.Fatal(err)
		}
	}
	res := runCLI(t, nil, "drift", "--fleet", fleetPath, "--format", "json", "--quiet")
	if res.code != 3 {
		t.Fatalf("drift: exit %d, want 3\n%s", res.code, res.stderr)
	}
	for _, tr := range parseReport(t, res.stdout).Targets {
		tc, tampered := tamper[tr.Name]
		var got []string
		for _, f := range tr.Findings {
			got = append(got, f.Object+" "+f.Detail)
		}
		switch {
		case !tampered && (tr.Status != "clean" || len(got) != 0):
			t.Errorf("untampered %s: %s %q", tr.Name, tr.Status, got)
		case tampered && (tr.Status != "drifted" || strings.Join(got, "|") != strings.Join(tc.want, "|")):
			t.Errorf("%s: %s %q, want drifted %q", tr.Name, tr.Status, got, tc.want)
		}
	}
}

// transactions returns the transactions the server has counted for db,
// once no backend other than conn's is connected to it (a backend's counts
// reach the statistics when it exits).
func transactions(t *testing.T, conn *pgx.Conn, db string) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var others int64
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid()`, db).Scan(&others); err != nil {
			t.Fatal(err)
		}
		if others == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(600 * time.Millisecond) // let an exiting backend's counts land
	var n int64
	if err := conn.QueryRow(context.Background(), `SELECT pg_stat_clear_snapshot()::text IS NULL,
		(SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1)`, db).Scan(new(bool), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestConnectionsBoundedSchemasOfManyDatabases: tenant schemas spread over
// several databases share sessions per database, and the sessions a run
// holds open (in use and idle) stay at its parallelism: an idle session of
// a database the run has moved on from is closed before a new one is
// dialed.
func TestConnectionsBoundedSchemasOfManyDatabases(t *testing.T) {
	const parallel = 2
	dbs := newDatabases(t, 4)
	var fleet strings.Builder
	fleet.WriteString("discover:\n")
	for d, db := range dbs {
		conn := server.Connect(t, db)
		for i := range 6 {
			if _, err := conn.Exec(context.Background(), fmt.Sprintf("CREATE SCHEMA tenant_%d_%02d", d, i)); err != nil {
				t.Fatal(err)
			}
		}
		conn.Close(context.Background())
		fmt.Fprintf(&fleet, "  - server: %s\n    schemas: tenant\\_%%\n", dsnFor(t, db, ""))
	}
	fleetPath := writeFile(t, "fleet.yaml", fleet.String())
	stop := sampleConnections(t, dbs)
	res := runCLI(t, nil, "up", "--fleet", fleetPath, "--parallel", fmt.Sprint(parallel), "--quiet")
	peak := stop()
	if res.code != 0 {
		t.Fatalf("up: exit %d\n%s", res.code, res.stderr)
	}
	// Two more than the bound are tolerated over a whole run, as in
	// TestConnectionsBounded: a closed session's backend may still be listed
	// for a moment after its client closed it. Without the eviction the
	// run holds a session per database and more (8 at parallelism 2).
	if peak > parallel+2 {
		t.Errorf("peak connections %d over 4 databases at parallelism %d, want at most %d", peak, parallel, parallel+2)
	}
}

// TestDriftSchemasWithinLockTable: a transaction keeps a lock on every
// table it reads until it ends, so reading all of a database's tenants in
// one transaction needs lock-table room for every tenant's version tables.
// On a server whose lock table holds a few hundred tenants' worth
// (max_locks_per_transaction 32 at 20 connections), drift over 600 tenant
// schemas still reads them in batches, a transaction each, and never falls
// back to reading tenants one by one. In one transaction per database the
// server answers "out of shared memory" (SQLSTATE 53200) and every tenant
// is read on its own.
func TestDriftSchemasWithinLockTable(t *testing.T) {
	if testing.Short() {
		t.Skip("600 tenant schemas: skipped with -short")
	}
	const tenants = 600
	srv := pgtest.Start(t, 20, "max_locks_per_transaction=32")
	db := srv.NewDatabases(t, "it", 1)[0]
	conn := srv.Connect(t, db)
	if _, err := conn.Exec(context.Background(), fmt.Sprintf(`DO $$ BEGIN
		FOR i IN 1..%d LOOP EXECUTE format('CREATE SCHEMA tenant_%%s', lpad(i::text, 4, '0')); END LOOP; END $$`, tenants)); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	// A one-table set keeps the setup short: what matters is the number of
	// version tables a read locks, not the tenant's size.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "001_t.sql"), []byte("-- +goose Up\nCREATE TABLE t (id int PRIMARY KEY);\n-- +goose Down\nDROP TABLE t;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fleetPath := writeFile(t, "fleet.yaml", fmt.Sprintf("discover:\n  - server: %s\n    schemas: tenant\\_%%\n", srv.DSNFor(db)))
	if res := runCLI(t, nil, "up", "--fleet", fleetPath, "--migrations", dir, "--quiet"); res.code != 0 {
		t.Fatalf("up: exit %d\n%s", res.code, res.stderr)
	}
	res := runCLI(t, nil, "drift", "--fleet", fleetPath, "--migrations", dir, "--format", "json", "--verbose")
	if res.code != 0 {
		t.Fatalf("drift: exit %d\n%s", res.code, report.Truncate(res.stderr, 4000))
	}
	rep := parseReport(t, res.stdout)
	if rep.Summary["clean"] != tenants {
		t.Errorf("summary %v, want %d clean", rep.Summary, tenants)
	}
	for _, line := range strings.Split(res.stderr, "\n") {
		if strings.Contains(line, "one by one") {
			t.Errorf("drift fell back to reading tenants one by one: %s", line)
		}
	}
}
