package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests of this file hold the tool's promises on files and
// infrastructure it did not write: migration files that carry their own
// transaction control, tenant schemas sharing sessions, PgBouncer in
// transaction pooling, INVALID indexes, stalled networks and killed
// clients.

// TestPromiseWrappedFiles: golang-migrate users wrap files in BEGIN; ...
// COMMIT;. Such a set runs atomically per target: a later failure leaves no
// trace of the wrapped file, and the rehearsal commits nothing. A stray
// COMMIT in the middle of a file is refused by validate and by every
// command, exit 2, nothing touched.
func TestPromiseWrappedFiles(t *testing.T) {
	dbs := newDatabases(t, 1)
	db := dbs[0]
	fleetPath := fleetFile(t, dbs)
	base := gooseMigration{file: "001_users.sql", up: "BEGIN;\nCREATE TABLE users (id int PRIMARY KEY, email text);\nCOMMIT;", down: "DROP TABLE users;"}
	wrapped := gooseMigration{file: "002_add_c002.sql", up: "BEGIN;\nALTER TABLE users ADD COLUMN c002 int;\nUPDATE users SET c002 = 1;\nCOMMIT;",
		down: "BEGIN;\nALTER TABLE users DROP COLUMN c002;\nCOMMIT;"}
	failing := gooseMigration{file: "003_fails.sql", up: "BEGIN;\nSELECT 1/0;\nCOMMIT;", down: "SELECT 1;"}

	if res := runCLI(t, nil, "up", "--fleet", fleetPath, "--migrations", migrateLayoutDir(t, base), "--quiet"); res.code != 0 {
		t.Fatalf("up to 1: exit %d\n%s", res.code, res.stderr)
	}

	t.Run("a later failure leaves no trace of the wrapped file", func(t *testing.T) {
		res := runCLI(t, nil, "up", "--fleet", fleetPath, "--migrations", migrateLayoutDir(t, base, wrapped, failing), "--format", "json", "--quiet")
		if res.code != 1 {
			t.Fatalf("up: exit %d, want 1\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		tr := parseReport(t, res.stdout).target(t, db)
		if tr.Status != "rolled_back" || tr.ToVersion != 1 || tr.Error == nil || tr.Error.Version != 3 {
			t.Errorf("target = %+v %+v, want rolled_back at 1, failing in 3", tr, tr.Error)
		}
		if columnExists(t, db, "users", "c002") {
			t.Error("the wrapped migration 002 committed its column although 003 failed")
		}
		if v, _ := dbVersion(t, db); v != 1 {
			t.Errorf("version %d, want 1", v)
		}
	})

	t.Run("the rehearsal commits nothing", func(t *testing.T) {
		before := schemaSnapshot(t, db)
		res := runCLI(t, nil, "plan", "--verify", "--fleet", fleetPath, "--migrations", migrateLayoutDir(t, base, wrapped), "--format", "json", "--quiet")
		if res.code != 0 {
			t.Fatalf("plan --verify: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		tr := parseReport(t, res.stdout).target(t, db)
		if len(tr.Pending) != 1 || tr.Pending[0].Note != "rehearsed" {
			t.Errorf("pending = %+v, want 002 rehearsed", tr.Pending)
		}
		if columnExists(t, db, "users", "c002") {
			t.Error("plan --verify committed the wrapped migration")
		}
		if v, _ := dbVersion(t, db); v != 1 {
			t.Errorf("plan --verify moved the version to %d", v)
		}
		if after := schemaSnapshot(t, db); strings.Join(after, "\n") != strings.Join(before, "\n") {
			t.Errorf("schema changed by plan --verify:\n%v\n%v", before, after)
		}
		res = runCLI(t, nil, "up", "--fleet", fleetPath, "--migrations", migrateLayoutDir(t, base, wrapped), "--quiet")
		if res.code != 0 || !columnExists(t, db, "users", "c002") {
			t.Fatalf("up of the wrapped set: exit %d\n%s", res.code, res.stderr)
		}
		// drift takes the checksum of the file as written: no mismatch.
		res = runCLI(t, nil, "drift", "--fleet", fleetPath, "--migrations", migrateLayoutDir(t, base, wrapped), "--format", "json", "--quiet")
		if res.code != 0 {
			t.Errorf("drift after applying the wrapped set: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
	})

	t.Run("a stray COMMIT is refused by every command", func(t *testing.T) {
		stray := gooseMigration{file: "004_stray.sql", up: "CREATE TABLE stray_a (id int);\nCOMMIT;\nCREATE TABLE stray_b (id int);", down: "DROP TABLE stray_b;\nDROP TABLE stray_a;"}
		dir := migrateLayoutDir(t, base, wrapped, stray)
		file := filepath.Join(dir, "004_stray.up.sql")
		res := runCLI(t, nil, "validate", "--migrations", dir)
		if res.code != 2 || !strings.Contains(res.stdout, file+":2") || !strings.Contains(res.stdout, "COMMIT") {
			t.Errorf("validate: exit %d, want 2 naming %s:2\n%s\n%s", res.code, file, res.stdout, res.stderr)
		}
		for _, cmd := range [][]string{{"up"}, {"plan"}, {"plan", "--verify"}, {"status"}, {"drift"}, {"down", "--to", "0", "--yes"}} {
			args := append(cmd, "--fleet", fleetPath, "--migrations", dir, "--quiet")
			res := runCLI(t, nil, args...)
			if res.code != 2 || !strings.Contains(res.stderr, "004_stray.up.sql:2") {
				t.Errorf("%v: exit %d, want 2 naming the file and line\n%s", cmd, res.code, res.stderr)
			}
		}
		if relationExists(t, db, "stray_a") {
			t.Error("a command touched the target")
		}
	})
}

// TestPromiseTenantIsolation: tenants sharing a pooled session never see
// each other's session state (SET, temporary tables, prepared statements),
// every tenant runs with the tool's limits, and an unqualified name never
// reaches public: search_path is the tenant's schema, then shared_schemas.
func TestPromiseTenantIsolation(t *testing.T) {
	dbs := newDatabases(t, 1)
	db := dbs[0]
	conn := server.Connect(t, db)
	for _, q := range []string{
		"CREATE SCHEMA tenant_a", "CREATE SCHEMA tenant_b", "CREATE SCHEMA tenant_c",
		"CREATE TABLE public.legacy_audit (id int)",
		"CREATE SCHEMA ext", "CREATE FUNCTION ext.shared_answer() RETURNS int LANGUAGE sql AS 'SELECT 42'",
	} {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	// What the tenant's session looks like when its migration starts, then
	// what a pg_dump-style file does to a session.
	m1 := gooseMigration{file: "001_tenant.sql", up: `CREATE TABLE seen AS SELECT current_setting('lock_timeout') AS lock_timeout,
	current_setting('statement_timeout') AS statement_timeout,
	current_setting('idle_in_transaction_session_timeout') AS idle_timeout,
	current_setting('search_path') AS search_path;
SET lock_timeout = 0;
SET statement_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
CREATE TEMP TABLE carried (id int);
PREPARE carried_stmt AS SELECT 1;
DROP TABLE IF EXISTS legacy_audit;`, down: "DROP TABLE seen;"}
	m2 := gooseMigration{file: "002_shared.sql", up: `CREATE TABLE uses_shared AS SELECT shared_answer() AS v, current_setting('search_path') AS search_path;`,
		down: "DROP TABLE uses_shared;"}
	fleetWith := func(extra string) string {
		return writeFile(t, "fleet.yaml", fmt.Sprintf(`defaults:
  parallelism: 1
  lock_timeout: 3s
%sdiscover:
  - server: %s
    schemas: tenant\_%%
`, extra, dsnFor(t, db, "")))
	}
	schemas := []string{"tenant_a", "tenant_b", "tenant_c"}

	t.Run("a pooled session is reset between tenants; search_path is the tenant's schema", func(t *testing.T) {
		res := runCLI(t, nil, "up", "--fleet", fleetWith(""), "--migrations", migrationDir(t, m1), "--format", "json", "--quiet")
		if res.code != 0 {
			t.Fatalf("up: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		if !relationExists(t, db, "legacy_audit") {
			t.Error("a tenant's DROP TABLE IF EXISTS legacy_audit dropped public.legacy_audit")
		}
		for _, schema := range schemas {
			var lt, st, idle, path string
			err := conn.QueryRow(context.Background(), fmt.Sprintf(`SELECT lock_timeout, statement_timeout, idle_timeout, search_path FROM %s.seen`, schema)).
				Scan(&lt, &st, &idle, &path)
			if err != nil {
				t.Fatalf("%s: %v", schema, err)
			}
			if lt != "3s" || st == "0" || idle == "0" {
				t.Errorf("%s ran with lock_timeout %q, statement_timeout %q, idle_in_transaction_session_timeout %q: a previous tenant's SET carried over", schema, lt, st, idle)
			}
			if path != fmt.Sprintf(`"%s"`, schema) {
				t.Errorf("%s: search_path %q, want the tenant's schema alone", schema, path)
			}
		}
	})

	t.Run("shared_schemas follow the tenant's schema", func(t *testing.T) {
		res := runCLI(t, nil, "up", "--fleet", fleetWith("  shared_schemas: [ext]\n"), "--migrations", migrationDir(t, m1, m2), "--format", "json", "--quiet")
		if res.code != 0 {
			t.Fatalf("up: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		for _, schema := range schemas {
			var v int
			var path string
			if err := conn.QueryRow(context.Background(), fmt.Sprintf(`SELECT v, search_path FROM %s.uses_shared`, schema)).Scan(&v, &path); err != nil {
				t.Fatalf("%s: %v", schema, err)
			}
			if v != 42 || path != fmt.Sprintf(`"%s", "ext"`, schema) {
				t.Errorf("%s: shared_answer() = %d with search_path %q, want 42 with the tenant's schema, then ext", schema, v, path)
			}
		}
	})
}

// TestPromisePgBouncer: through PgBouncer in transaction pooling with stock
// settings, up applies, --lock-timeout is honoured, no advisory lock stays
// behind, concurrent runs never apply a migration twice, and NO
// TRANSACTION migrations are refused with the remedy, then run on
// direct_dsn.
func TestPromisePgBouncer(t *testing.T) {
	bouncer := startPgBouncer(t)
	dbs := newDatabases(t, 2)
	var b strings.Builder
	b.WriteString("defaults:\n  parallelism: 2\n  lock_wait: 60s\ntargets:\n")
	for _, db := range dbs {
		fmt.Fprintf(&b, "  - name: %s\n    dsn: %s\n", db, bouncer.dsn(t, db))
	}
	fleetPath := writeFile(t, "fleet.yaml", b.String())
	m1 := gooseMigration{file: "001_users.sql", up: "CREATE TABLE users (id int PRIMARY KEY, n int);\nCREATE TABLE applied_log (id serial PRIMARY KEY, v int);", down: "DROP TABLE applied_log;\nDROP TABLE users;"}
	m2 := gooseMigration{file: "002_data.sql", up: "INSERT INTO applied_log (v) VALUES (2);\nSELECT pg_sleep(0.2);", down: "DELETE FROM applied_log WHERE v = 2;"}
	m3 := gooseMigration{file: "003_alter.sql", up: "ALTER TABLE users ADD COLUMN extra int;", down: "ALTER TABLE users DROP COLUMN extra;"}
	m4 := gooseMigration{file: "004_index.sql", up: "CREATE INDEX CONCURRENTLY idx_users_n ON users (n);", down: "DROP INDEX CONCURRENTLY IF EXISTS idx_users_n;", noTx: true}
	noLocksLeft := func(t *testing.T) {
		t.Helper()
		conn := server.Connect(t, "")
		var n int64
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
			WHERE l.locktype = 'advisory' AND d.datname = ANY($1)`, dbs).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d advisory locks left on the bouncer's server connections", n)
		}
	}

	t.Run("concurrent runs apply a data migration once", func(t *testing.T) {
		dir := migrationDir(t, m1, m2)
		var wg sync.WaitGroup
		results := make([]result, 4)
		for i := range results {
			p := startCLI(t, nil, "up", "--fleet", fleetPath, "--migrations", dir, "--format", "json", "--quiet")
			wg.Go(func() { results[i] = p.wait(t, 2*time.Minute) })
		}
		wg.Wait()
		applied := map[string]int{}
		for i, res := range results {
			if res.code != 0 {
				t.Fatalf("run %d: exit %d\n%s\n%s", i, res.code, res.stdout, res.stderr)
			}
			for _, tr := range parseReport(t, res.stdout).Targets {
				if tr.Status == "applied" {
					applied[tr.Name]++
				}
			}
		}
		for _, db := range dbs {
			conn := server.Connect(t, db)
			if n := queryInt(t, conn, "SELECT count(*) FROM applied_log WHERE v = 2"); n != 1 {
				t.Errorf("%s: the data migration ran %d times", db, n)
			}
			if applied[db] != 1 {
				t.Errorf("%s: reported applied by %d runs, want 1", db, applied[db])
			}
			if dups := duplicateVersions(t, db); len(dups) > 0 {
				t.Errorf("%s: versions recorded twice: %v", db, dups)
			}
		}
		noLocksLeft(t)
	})

	t.Run("lock timeout is honoured", func(t *testing.T) {
		release := blockUsers(t, dbs[0])
		defer release()
		t0 := time.Now()
		res := runCLI(t, nil, "up", "--fleet", fleetPath, "--migrations", migrationDir(t, m1, m2, m3), "--lock-timeout", "1s", "--retries", "0", "--format", "json", "--quiet")
		took := time.Since(t0)
		if res.code != 1 {
			t.Fatalf("up: exit %d, want 1\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		rep := parseReport(t, res.stdout)
		if tr := rep.target(t, dbs[0]); tr.Status != "rolled_back" || tr.Error == nil || tr.Error.Class != "lock_timeout" {
			t.Errorf("blocked target = %+v %+v, want rolled_back with lock_timeout", tr, tr.Error)
		}
		if tr := rep.target(t, dbs[1]); tr.Status != "applied" {
			t.Errorf("free target = %+v", tr)
		}
		if took > 20*time.Second {
			t.Errorf("up took %s: the ALTER waited behind the lock instead of timing out after 1s", took)
		}
		release()
		noLocksLeft(t)
	})

	t.Run("NO TRANSACTION is refused through the pooler, then runs on direct_dsn", func(t *testing.T) {
		dir := migrationDir(t, m1, m2, m3, m4)
		res := runCLI(t, nil, "up", "--fleet", fleetPath, "--migrations", dir, "--format", "json", "--quiet")
		if res.code != 1 {
			t.Fatalf("up: exit %d, want 1\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		for _, tr := range parseReport(t, res.stdout).Targets {
			if tr.Status != "failed" || tr.Error == nil || tr.Error.Class != "pooler" || !strings.Contains(tr.Error.Message, "transaction pooler") ||
				!strings.Contains(tr.Error.Remedy, "direct_dsn") {
				t.Errorf("%s: %+v %+v, want failed, class pooler, remedy naming direct_dsn", tr.Name, tr, tr.Error)
			}
		}
		for _, db := range dbs {
			if relationExists(t, db, "idx_users_n") {
				t.Errorf("%s: the NO TRANSACTION migration ran through the pooler", db)
			}
		}
		var b strings.Builder
		b.WriteString("defaults:\n  parallelism: 2\ntargets:\n")
		for _, db := range dbs {
			fmt.Fprintf(&b, "  - name: %s\n    dsn: %s\n    direct_dsn: %s\n", db, bouncer.dsn(t, db), dsnFor(t, db, ""))
		}
		direct := writeFile(t, "fleet.yaml", b.String())
		res = runCLI(t, nil, "up", "--fleet", direct, "--migrations", dir, "--format", "json", "--quiet")
		if res.code != 0 {
			t.Fatalf("up with direct_dsn: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		for _, db := range dbs {
			if v, _ := dbVersion(t, db); v != 4 || !relationExists(t, db, "idx_users_n") {
				t.Errorf("%s: version %d, want 4 with the index", db, v)
			}
		}
		noLocksLeft(t)
	})
}

// TestPromiseInvalidIndex: an INVALID index left by a failed CREATE INDEX
// CONCURRENTLY is never reported applied: the next run fails naming it with
// the remedy, status and drift list it, and once dropped the run applies.
func TestPromiseInvalidIndex(t *testing.T) {
	dbs := newDatabases(t, 1)
	db := dbs[0]
	fleetPath := fleetFile(t, dbs)
	m1 := gooseMigration{file: "001_items.sql", up: "CREATE TABLE items (id int PRIMARY KEY, code text);\nINSERT INTO items VALUES (1, 'a'), (2, 'a');", down: "DROP TABLE items;"}
	m2 := gooseMigration{file: "002_unique_code.sql", up: "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_items_code ON items (code);",
		down: "DROP INDEX CONCURRENTLY IF EXISTS idx_items_code;", noTx: true}
	dir := migrationDir(t, m1, m2)
	res := runCLI(t, nil, "up", "--fleet", fleetPath, "--migrations", dir, "--format", "json", "--quiet")
	if res.code != 1 {
		t.Fatalf("first up: exit %d, want 1 (duplicate codes)\n%s", res.code, res.stdout)
	}
	conn := server.Connect(t, db)
	if _, err := conn.Exec(context.Background(), "DELETE FROM items WHERE id = 2"); err != nil {
		t.Fatal(err)
	}

	res = runCLI(t, nil, "up", "--fleet", fleetPath, "--migrations", dir, "--format", "json", "--quiet")
	if res.code != 1 {
		t.Fatalf("up with an INVALID index: exit %d, want 1\n%s", res.code, res.stdout)
	}
	tr := parseReport(t, res.stdout).target(t, db)
	if tr.Status != "failed" || tr.Error == nil || tr.Error.Class != "invalid_index" || !strings.Contains(tr.Error.Message, "idx_items_code") ||
		!strings.Contains(tr.Error.Remedy, "DROP INDEX CONCURRENTLY public.idx_items_code") {
		t.Errorf("target = %+v %+v, want failed naming the INVALID index with the remedy", tr, tr.Error)
	}
	if v, _ := dbVersion(t, db); v != 1 {
		t.Errorf("version %d, want 1", v)
	}
	for _, cmd := range []string{"status", "drift"} {
		res := runCLI(t, nil, cmd, "--fleet", fleetPath, "--migrations", dir, "--format", "json", "--quiet")
		found := false
		for _, f := range parseReport(t, res.stdout).target(t, db).Findings {
			found = found || (f.Kind == "invalid_index" && strings.Contains(f.Object, "idx_items_code"))
		}
		if !found {
			t.Errorf("%s does not list the INVALID index:\n%s", cmd, res.stdout)
		}
	}

	// Tenant schemas, whose status is read in batches, list theirs too.
	for _, q := range []string{"CREATE SCHEMA tenant_x", "CREATE TABLE tenant_x.items (code text)", "INSERT INTO tenant_x.items VALUES ('a'), ('a')"} {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(context.Background(), "CREATE UNIQUE INDEX CONCURRENTLY tenant_idx ON tenant_x.items (code)"); err == nil {
		t.Fatal("the unique index over duplicates was built")
	}
	schemaFleet := writeFile(t, "fleet.yaml", fmt.Sprintf("discover:\n  - server: %s\n    schemas: tenant\\_%%\n", dsnFor(t, db, "")))
	res = runCLI(t, nil, "status", "--fleet", schemaFleet, "--migrations", dir, "--format", "json", "--quiet")
	if f := parseReport(t, res.stdout).target(t, "tenant_x").Findings; len(f) != 1 || f[0].Kind != "invalid_index" || f[0].Object != "index tenant_x.tenant_idx" {
		t.Errorf("status of a tenant schema with an INVALID index: findings %+v\n%s", f, res.stdout)
	}

	if _, err := conn.Exec(context.Background(), "DROP INDEX CONCURRENTLY public.idx_items_code"); err != nil {
		t.Fatal(err)
	}
	res = runCLI(t, nil, "up", "--fleet", fleetPath, "--migrations", dir, "--format", "json", "--quiet")
	if res.code != 0 {
		t.Fatalf("up after the remedy: exit %d\n%s", res.code, res.stdout)
	}
	if n := queryInt(t, conn, `SELECT count(*) FROM pg_index WHERE indexrelid = 'idx_items_code'::regclass AND indisvalid`); n != 1 {
		t.Error("idx_items_code is not a valid index after the run")
	}
}

// TestPromiseStall: a network path that stalls (sockets open, no bytes)
// ends the target within the stall bound, class stalled with a remedy, and
// the backend that held ACCESS EXCLUSIVE on users is terminated; with
// --timeout the target is reported within its budget, read-back included.
func TestPromiseStall(t *testing.T) {
	m1 := gooseMigration{file: "001_users.sql", up: "CREATE TABLE users (id int PRIMARY KEY);", down: "DROP TABLE users;"}
	m2 := gooseMigration{file: "002_alter.sql", up: "ALTER TABLE users ADD COLUMN stalled int;\n" + pauseSQL, down: "ALTER TABLE users DROP COLUMN stalled;"}
	setup := func(t *testing.T, stall string) (db, fleetPath string, proxy *stallProxy) {
		dbs := newDatabases(t, 1)
		proxy = startStallProxy(t)
		defaults := "  connect_timeout: 2s\n"
		if stall != "" {
			defaults += "  stall_timeout: " + stall + "\n"
		}
		fleetPath = writeFile(t, "fleet.yaml", fmt.Sprintf("defaults:\n%stargets:\n  - name: %s\n    dsn: %s\n", defaults, dbs[0], proxy.dsn(t, dbs[0])))
		if res := runCLI(t, nil, "up", "--fleet", fleetPath, "--migrations", migrationDir(t, m1), "--quiet"); res.code != 0 {
			t.Fatalf("up to 1: exit %d\n%s", res.code, res.stderr)
		}
		return dbs[0], fleetPath, proxy
	}
	usersLocks := func(t *testing.T, db string) int64 {
		conn := server.Connect(t, db)
		return queryInt(t, conn, `SELECT count(*) FROM pg_locks WHERE relation = 'users'::regclass AND pid <> pg_backend_pid()`)
	}

	t.Run("stalled path: the backend is terminated, the target stalled", func(t *testing.T) {
		db, fleetPath, proxy := setup(t, "2s")
		release := holdAdvisory(t, db)
		t0 := time.Now()
		p := startCLI(t, nil, "up", "--fleet", fleetPath, "--migrations", migrationDir(t, m1, m2), "--format", "json", "--quiet")
		waitForWaiters(t, p, []string{db}, 1, time.Minute)
		proxy.Freeze()
		release() // the statement ends; its answer never reaches the tool
		res := p.wait(t, time.Minute)
		took := time.Since(t0)
		if res.code != 1 {
			t.Fatalf("up: exit %d, want 1\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		tr := parseReport(t, res.stdout).target(t, db)
		if tr.Error == nil || tr.Error.Class != "stalled" || tr.Error.Remedy == "" {
			t.Errorf("target = %+v %+v, want class stalled with a remedy", tr, tr.Error)
		}
		if took > 30*time.Second {
			t.Errorf("the stalled target took %s to end", took)
		}
		waitUntil(t, 10*time.Second, "the lock on users released", nil, func(ctx context.Context) (bool, error) {
			return usersLocks(t, db) == 0, nil
		})
		if columnExists(t, db, "users", "stalled") {
			t.Error("the stalled migration's column was committed")
		}
	})

	t.Run("--timeout bounds everything, read-back included", func(t *testing.T) {
		db, fleetPath, proxy := setup(t, "") // the default stall bound, 60s
		holdAdvisory(t, db)
		t0 := time.Now()
		p := startCLI(t, nil, "up", "--fleet", fleetPath, "--migrations", migrationDir(t, m1, m2), "--timeout", "6s", "--format", "json", "--quiet")
		waitForWaiters(t, p, []string{db}, 1, time.Minute)
		proxy.FreezeAll()
		res := p.wait(t, time.Minute)
		took := time.Since(t0)
		if res.code != 1 {
			t.Fatalf("up: exit %d, want 1\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		tr := parseReport(t, res.stdout).target(t, db)
		if tr.Error == nil || tr.Status == "applied" {
			t.Errorf("target = %+v %+v", tr, tr.Error)
		}
		if took > 11*time.Second {
			t.Errorf("a target with --timeout 6s was reported after %s", took)
		}
	})
}

// TestPromiseKilledClient: after kill -9 of the tool during a long
// statement, the server stops the statement within seconds
// (client_connection_check_interval), releasing its locks, instead of
// running it to statement_timeout.
func TestPromiseKilledClient(t *testing.T) {
	dbs := newDatabases(t, 1)
	db := dbs[0]
	fleetPath := fleetFile(t, dbs)
	m := gooseMigration{file: "001_long.sql", up: "CREATE TABLE users (id int PRIMARY KEY);\nSELECT pg_sleep(120);", down: "DROP TABLE users;"}
	p := startCLI(t, nil, "up", "--fleet", fleetPath, "--migrations", migrationDir(t, m), "--quiet")
	conn := server.Connect(t, "")
	backends := func(ctx context.Context) (int64, error) {
		var n int64
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'orchestrator:%'
			AND query LIKE '%pg_sleep%' AND state = 'active'`, db).Scan(&n)
		return n, err
	}
	waitUntil(t, time.Minute, "the long statement running", p.exited, func(ctx context.Context) (bool, error) {
		n, err := backends(ctx)
		return n == 1, err
	})
	if err := p.cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	waitUntil(t, 15*time.Second, "the killed client's backend to end", nil, func(ctx context.Context) (bool, error) {
		n, err := backends(ctx)
		return n == 0, err
	})
	t.Logf("the backend ended %s after kill -9", time.Since(killed).Round(100*time.Millisecond))
	if relationExists(t, db, "users") {
		t.Error("the killed run's transaction committed")
	}
}
