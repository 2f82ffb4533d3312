package integration

import (
	"strings"
	"testing"
)

// TestRehearsalLocks: plan --verify reports, per tenant and migration, the
// locks the migration takes and the size of what they cover, from the
// tenant's real data, and leaves every tenant unchanged; max_exclusive_rows
// fails the tenants where an ACCESS EXCLUSIVE lock covers more rows.
func TestRehearsalLocks(t *testing.T) {
	dbs := newDatabases(t, 4)
	big, analyzed, empty := dbs[0], dbs[1], dbs[2:]
	dsns := map[string]string{}
	for _, db := range dbs {
		dsns[db] = dsnFor(t, db, "")
	}
	fleetPath := writeFile(t, "fleet.yaml", fleetYAML(dsns, dbs))
	if res := runCLI(t, nil, "up", "--fleet", fleetPath, "--quiet"); res.code != 0 {
		t.Fatalf("up: exit %d\n%s", res.code, res.stderr)
	}
	// big: 5,000 users never analyzed (the planner's page-based estimate);
	// analyzed: 3,000 users with statistics (reltuples).
	for db, n := range map[string]string{big: "5000", analyzed: "3000"} {
		adminExecIn(t, db, "ALTER TABLE users SET (autovacuum_enabled = off)")
		adminExecIn(t, db, "INSERT INTO users (email, username, password_hash, display_name) SELECT 'user'||g||'@tenant.test', 'user'||g, md5(g::text), 'User '||g FROM generate_series(1, "+n+") g")
		adminExecIn(t, db, "INSERT INTO usage_records (user_id, method, endpoint, status_code) SELECT g, 'GET', '/v1/things', 200 FROM generate_series(1, 200) g")
	}
	adminExecIn(t, analyzed, "ANALYZE users")
	migrations := seedWithExtra(t, map[string][2]string{
		"005_add_users_nickname": {"ALTER TABLE users ADD COLUMN nickname VARCHAR(50);\n", "ALTER TABLE users DROP COLUMN nickname;\n"},
		"006_index_usage_status": {"CREATE INDEX idx_usage_records_status_code ON usage_records (status_code);\n", "DROP INDEX idx_usage_records_status_code;\n"},
	})
	before := map[string]string{}
	for _, db := range dbs {
		before[db] = schemaDump(t, db) + dataDigest(t, db)
	}

	res := runCLI(t, nil, "plan", "--verify", "--fleet", fleetPath, "--migrations", migrations, "--format", "json")
	if res.code != 0 {
		t.Fatalf("plan --verify: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	rep := parseReport(t, res.stdout)
	for db, want := range map[string]int64{big: 5000, analyzed: 3000, empty[0]: 0, empty[1]: 0} {
		tr := rep.target(t, db)
		if len(tr.Pending) != 2 {
			t.Fatalf("%s: pending %+v", db, tr.Pending)
		}
		add, index := tr.Pending[0], tr.Pending[1]
		users := lockOn(add.Locks, "users", "AccessExclusiveLock")
		if users == nil {
			t.Fatalf("%s: 005 locks %+v, want AccessExclusiveLock on users", db, add.Locks)
		}
		if want == 0 && users.Rows != 0 || want > 0 && (users.Rows < want/2 || users.Rows > want*2) {
			t.Errorf("%s: users estimated at %d rows, want about %d (within a factor of 2)", db, users.Rows, want)
		}
		if users.Bytes <= 0 {
			t.Errorf("%s: users has %d bytes", db, users.Bytes)
		}
		if lockOn(index.Locks, "usage_records", "ShareLock") == nil {
			t.Errorf("%s: 006 locks %+v, want ShareLock on usage_records", db, index.Locks)
		}
		if lockOn(index.Locks, "users", "AccessExclusiveLock") != nil {
			t.Errorf("%s: 006 is charged with 005's lock on users: %+v", db, index.Locks)
		}
		if add.DurationMS == nil || index.DurationMS == nil {
			t.Errorf("%s: no durations: %+v", db, tr.Pending)
		}
	}
	if rep.Rehearsal == nil || len(rep.Rehearsal.LargestExclusive) == 0 || rep.Rehearsal.LargestExclusive[0].Target != big ||
		len(rep.Rehearsal.Slowest) != len(dbs) {
		t.Errorf("fleet summary: %+v", rep.Rehearsal)
	}

	table := runCLI(t, nil, "plan", "--verify", "--fleet", fleetPath, "--migrations", migrations)
	if !strings.Contains(table.stdout, "005_add_users_nickname: rehearsed in ") ||
		!strings.Contains(table.stdout, "strongest lock: AccessExclusiveLock on users, ") ||
		!strings.Contains(table.stdout, "largest under AccessExclusiveLock: "+big+": 005_add_users_nickname on users") {
		t.Errorf("table:\n%s", table.stdout)
	}

	limited := writeFile(t, "fleet.yaml", strings.Replace(fleetYAML(dsns, dbs), "defaults:\n", "defaults:\n  max_exclusive_rows: 1000\n", 1))
	for _, args := range [][]string{
		{"--fleet", limited},
		{"--fleet", fleetPath, "--max-exclusive-rows", "1000"},
	} {
		res := runCLI(t, nil, append([]string{"plan", "--verify", "--migrations", migrations, "--format", "json"}, args...)...)
		if res.code != 1 {
			t.Fatalf("%v: exit %d, want 1\n%s", args, res.code, res.stderr)
		}
		rep := parseReport(t, res.stdout)
		for _, db := range []string{big, analyzed} {
			tr := rep.target(t, db)
			if tr.Status != "failed" || tr.Error == nil || !strings.Contains(tr.Error.Message, "more than max_exclusive_rows 1000") {
				t.Errorf("%v: %s: %+v, want failed over max_exclusive_rows", args, db, tr)
			}
		}
		for _, db := range empty {
			if tr := rep.target(t, db); tr.Status != "pending" {
				t.Errorf("%v: empty tenant %s: %s %+v", args, db, tr.Status, tr.Error)
			}
		}
	}
	// With the statistics reset, the never-analyzed table's estimate is the
	// planner's, from its pages: some rows, never a count.
	adminExecIn(t, big, "SELECT pg_stat_reset_single_table_counters('users'::regclass)")
	res = runCLI(t, nil, "plan", "--verify", "--fleet", fleetPath, "--migrations", migrations, "--format", "json", "--target", big)
	if res.code != 0 {
		t.Fatalf("plan --verify after a statistics reset: exit %d\n%s", res.code, res.stderr)
	}
	if users := lockOn(parseReport(t, res.stdout).target(t, big).Pending[0].Locks, "users", "AccessExclusiveLock"); users == nil || users.Rows <= 0 {
		t.Errorf("planner's estimate after a statistics reset: %+v, want some rows", users)
	}

	if res := runCLI(t, nil, "plan", "--fleet", fleetPath, "--max-exclusive-rows", "5"); res.code != 2 {
		t.Errorf("--max-exclusive-rows without --verify: exit %d, want 2", res.code)
	}

	for _, db := range dbs {
		if after := schemaDump(t, db) + dataDigest(t, db); after != before[db] {
			t.Errorf("%s changed under the rehearsals", db)
		}
	}
	assertNoLeftovers(t, dbs)
}

func lockOn(locks []LockResult, relation, mode string) *LockResult {
	for i := range locks {
		if locks[i].Relation == relation && locks[i].Mode == mode {
			return &locks[i]
		}
	}
	return nil
}

// dataDigest is a digest of the rows of the tenant's tables.
func dataDigest(t *testing.T, db string) string {
	t.Helper()
	var s string
	err := server.Connect(t, db).QueryRow(t.Context(), `SELECT md5(coalesce((SELECT string_agg(u::text, ',' ORDER BY id) FROM users u), '') ||
		coalesce((SELECT string_agg(r::text, ',' ORDER BY id) FROM usage_records r), ''))`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return "\n-- data " + s
}
