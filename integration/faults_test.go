package integration

// Fault-injection tests: what a run does when the world misbehaves (a
// backend killed mid-migration, a table locked by someone else, a migration
// that cannot run in a transaction, two runs at once, Ctrl-C, unreachable
// targets, a failing canary, too few connections) and what it leaves in the
// databases afterwards.
//
// Pauses are deterministic, never sleeps: a migration runs
// `SELECT pg_advisory_xact_lock(pauseKey)` while the test holds that key from
// its own session (advisory locks are per database, so the test holds it in
// every database it wants paused), and the test watches pg_stat_activity for
// the tool's sessions (application_name LIKE 'orchestrator:%') waiting on a
// lock. Every wait and every process is bounded, so a regression fails
// instead of hanging.
//
// Where the spec leaves room, these tests assume (runner/CLI engineers:
// align with these or tell us to change them):
//
//   - Flags: `--lock-timeout`, `--lock-wait` (exist), `--retries N` (extra
//     attempts after the first; default 2, so 3 attempts in all),
//     `--tx-mode migration`, `--max-failures N`, `--rollback-on-halt`,
//     `down --to V`.
//   - lock_timeout also bounds the wait on the pause key (PostgreSQL applies
//     it to advisory locks), so tests that pause pass `--lock-timeout 2m`.
//   - Report fields: target `wave` (the wave's name; "" without waves),
//     target `attempts` (int; 0/absent is accepted where only one attempt
//     was made), `error.remedy` (non-empty for a `failed` target that needs
//     a person), `error.blocked_by` (contains the blocking session's
//     application_name and its query text).
//   - A terminated backend (pg_terminate_backend) is not retried: the target
//     is `rolled_back` or `failed`, error.class `connection_lost`, and
//     to_version is re-read on a fresh connection (0 here).
//   - Lock-timeout retries re-run the whole target transaction, so each
//     attempt is a new statement (new query_start) in pg_stat_activity; that
//     is how the test sees "waiting a second time".
//   - NO TRANSACTION compensation undoes newest first and stops at the first
//     down that fails; versions below it stay applied, and error.remedy
//     names the versions still applied. A NO TRANSACTION file that fails
//     halfway is `failed` with a remedy, even when its down section could
//     clean up after it (that down was written for the whole file, so
//     running it after a partial apply would be a guess); its to_version is what the database says, nothing more is assumed
//     about how far the undo went.
//   - `--tx-mode migration` commits each migration (its version row
//     visible to other sessions) before the next one starts.
//   - `down` reports command "down"; a target moved down is `reverted` with
//     `reverted` listing the reverted migrations (any order), from_version the
//     version before, to_version V; one already at V is `up_to_date`.
//     `down` without --to, with --to -1 or an unknown version exits 2 before
//     any connection.
//   - Waves: the max_failures of a wave is judged once all of its targets
//     finished (no halting in the middle of a wave). Skipped targets are not
//     connected to (no version table appears) and carry their wave's name.
//     `--rollback-on-halt` brings the targets this run applied back to their
//     from_version; they become `rolled_back`. Without waves,
//     `--max-failures N` halts as soon as failures exceed N: targets not yet
//     started are `skipped`.
//   - Migrations undone by compensation or --rollback-on-halt are listed
//     in the target's `reverted` (the runner's field; mirrored in
//     helpers_test.go).
//   - SIGINT: the run cancels waiting statements on the server (the test
//     waits for the tool's lock waits to end BEFORE it releases its key),
//     exits 130 and writes the report to stdout and --report; targets in
//     flight are `cancelled`, targets never started `cancelled` or
//     `skipped`.
//   - Two concurrent `up` runs: a run that found a target locked exits 1,
//     otherwise 0.
//   - A role that does not exist fails with SQLSTATE 28000, class `auth`.

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
)

// Small migration sets for the fault tests.
var (
	migT1 = gooseMigration{file: "001_t1.sql", up: "CREATE TABLE t1 (id int, v int);", down: "DROP TABLE t1;"}
	migT2 = gooseMigration{file: "002_t2.sql", up: "CREATE TABLE t2 (id int);", down: "DROP TABLE t2;"}
	migT3 = gooseMigration{file: "003_t3.sql", up: "CREATE TABLE t3 (id int);", down: "DROP TABLE t3;"}
	// migPausedT2 is migT2 parked on the test's pause key first.
	migPausedT2 = gooseMigration{file: "002_t2.sql", up: pauseSQL + "\nCREATE TABLE t2 (id int);", down: "DROP TABLE t2;"}
)

// TestFaultTerminateBackend: the tool's backend is killed while a migration
// runs; that target is not applied (its version is re-read: 0) and the
// others are.
func TestFaultTerminateBackend(t *testing.T) {
	dbs := newDatabases(t, 3)
	victim := dbs[1]
	dir := migrationDir(t, migT1, migPausedT2, migT3)
	release := holdAdvisory(t, victim)

	p := startCLI(t, nil, "up", "--fleet", fleetFile(t, dbs), "--migrations", dir, "--format", "json", "--lock-timeout", "2m")
	ws := waitForWaiters(t, p, []string{victim}, 1, time.Minute)
	server.Exec(t, "SELECT pg_terminate_backend($1)", ws[0].pid)
	release()
	res := p.wait(t, 2*time.Minute)

	if res.code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	rep := parseReport(t, res.stdout)
	tr := rep.target(t, victim)
	if tr.Status != "rolled_back" && tr.Status != "failed" {
		t.Errorf("victim status %q, want rolled_back or failed", tr.Status)
	}
	if tr.Error == nil || tr.Error.Class != "connection_lost" {
		t.Errorf("victim error %+v, want class connection_lost", tr.Error)
	}
	if tr.FromVersion != 0 || tr.ToVersion != 0 || len(tr.Applied) != 0 {
		t.Errorf("victim: %+v, want from 0 to 0 (re-read) and nothing applied", tr)
	}
	if v, _ := dbVersion(t, victim); v != 0 {
		t.Errorf("victim is at version %d in the database, want 0", v)
	}
	for _, rel := range []string{"t1", "t2", "t3"} {
		if relationExists(t, victim, rel) {
			t.Errorf("victim: %s exists after its transaction was lost", rel)
		}
	}
	for _, db := range []string{dbs[0], dbs[2]} {
		if tr := rep.target(t, db); tr.Status != "applied" || tr.ToVersion != 3 {
			t.Errorf("%s: %+v, want applied to 3", db, tr)
		}
		if v, _ := dbVersion(t, db); v != 3 {
			t.Errorf("%s: version %d in the database, want 3", db, v)
		}
	}
	assertNoLeftovers(t, dbs)
}

// TestFaultLockTimeoutRetries: a DDL statement blocked by another session
// times out, is retried with backoff, and either gives up bounded in time
// (rolled_back, lock_timeout, 3 attempts, blocked_by) or succeeds once the
// blocker goes away during the retries.
func TestFaultLockTimeoutRetries(t *testing.T) {
	nickname := gooseMigration{file: "002_add_nickname.sql",
		up: "ALTER TABLE users ADD COLUMN nickname text;", down: "ALTER TABLE users DROP COLUMN nickname;"}
	cases := []struct {
		name string
		args []string
		// releaseOnRetry: release the blocker as soon as the blocked
		// session waits on the lock a second time (a retry).
		releaseOnRetry bool
		wantCode       int
		check          func(t *testing.T, tr TargetResult)
	}{
		{
			name:     "blocker holds on: gives up after 3 attempts",
			wantCode: 1,
			check: func(t *testing.T, tr TargetResult) {
				if tr.Status != "rolled_back" || tr.FromVersion != 1 || tr.ToVersion != 1 {
					t.Errorf("blocked target: %+v, want rolled_back from 1 to 1", tr)
				}
				if tr.Attempts != 3 {
					t.Errorf("attempts %d, want 3 (default --retries 2)", tr.Attempts)
				}
				e := tr.Error
				if e == nil || e.Class != "lock_timeout" || e.SQLState != "55P03" || e.Version != 2 {
					t.Fatalf("error %+v, want lock_timeout/55P03 in version 2", e)
				}
				if !strings.Contains(e.BlockedBy, "fault-blocker") || !strings.Contains(strings.ToUpper(e.BlockedBy), "LOCK TABLE USERS") {
					t.Errorf("blocked_by %q should name the blocker's application_name (fault-blocker) and query", e.BlockedBy)
				}
			},
		},
		{
			name:           "blocker commits during the backoff: applied",
			args:           []string{"--retries", "5"},
			releaseOnRetry: true,
			wantCode:       0,
			check: func(t *testing.T, tr TargetResult) {
				if tr.Status != "applied" || tr.FromVersion != 1 || tr.ToVersion != 2 || tr.Error != nil {
					t.Errorf("blocked target: %+v, want applied from 1 to 2", tr)
				}
				if tr.Attempts < 2 {
					t.Errorf("attempts %d, want at least 2", tr.Attempts)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dbs := newDatabases(t, 3)
			blocked := dbs[1]
			dir := seedPlus(t, 1, nickname)
			fleet := fleetFile(t, dbs)
			if res := runCLI(t, nil, "up", "--fleet", fleet, "--migrations", dir, "--to", "1", "--format", "json"); res.code != 0 {
				t.Fatalf("up --to 1: exit %d\n%s", res.code, res.stderr)
			}
			release := blockUsers(t, blocked)

			t0 := time.Now()
			args := append([]string{"up", "--fleet", fleet, "--migrations", dir, "--format", "json", "--lock-timeout", "200ms"}, tc.args...)
			p := startCLI(t, nil, args...)
			if tc.releaseOnRetry {
				first := waitForWaiters(t, p, []string{blocked}, 1, time.Minute)[0]
				conn := server.Connect(t, "")
				waitUntil(t, time.Minute, "the blocked session waiting a second time", p.exited, func(ctx context.Context) (bool, error) {
					ws, err := toolWaiters(ctx, conn, []string{blocked})
					for _, w := range ws {
						if w.pid != first.pid || !w.queryStart.Equal(first.queryStart) {
							return true, nil
						}
					}
					return false, err
				})
				release()
			}
			res := p.wait(t, time.Minute)
			elapsed := time.Since(t0)

			if res.code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", res.code, tc.wantCode, res.stdout, res.stderr)
			}
			// 3 attempts of 200ms plus backoff from ~200ms is a few seconds;
			// 20s leaves room for a slow CI and the race detector.
			if elapsed > 20*time.Second {
				t.Errorf("run took %s; a blocked target must give up (or get through) in bounded time", elapsed)
			}
			rep := parseReport(t, res.stdout)
			tc.check(t, rep.target(t, blocked))
			wantV, wantCol := int64(1), false
			if tc.wantCode == 0 {
				wantV, wantCol = 2, true
			}
			if v, _ := dbVersion(t, blocked); v != wantV {
				t.Errorf("blocked target at version %d in the database, want %d", v, wantV)
			}
			if got := columnExists(t, blocked, "users", "nickname"); got != wantCol {
				t.Errorf("blocked target: users.nickname exists = %v, want %v", got, wantCol)
			}
			for _, db := range []string{dbs[0], dbs[2]} {
				if tr := rep.target(t, db); tr.Status != "applied" || tr.FromVersion != 1 || tr.ToVersion != 2 {
					t.Errorf("%s: %+v, want applied from 1 to 2", db, tr)
				}
				if !columnExists(t, db, "users", "nickname") {
					t.Errorf("%s: users.nickname missing", db)
				}
			}
			release()
			assertNoLeftovers(t, dbs)
		})
	}
}

// TestFaultNoTransactionCompensation: a batch split around a NO
// TRANSACTION migration; a later failure undoes what this run applied with
// the down sections, newest first. An undo that fails, or a NO TRANSACTION
// file failing halfway, leaves the target `failed` with a remedy, and the
// database really is in the state the report says.
func TestFaultNoTransactionCompensation(t *testing.T) {
	index := gooseMigration{file: "003_index_t1.sql", noTx: true,
		up: "CREATE INDEX CONCURRENTLY idx_t1_v ON t1 (v);", down: "DROP INDEX CONCURRENTLY IF EXISTS idx_t1_v;"}
	broken := gooseMigration{file: "004_broken.sql",
		up: "CREATE TABLE t4 (id int);\nSELEC 1;", down: "DROP TABLE IF EXISTS t4;"}
	badDownT2 := migT2
	badDownT2.down = "DROP TABLE does_not_exist;"
	halfway := gooseMigration{file: "003_index_t1.sql", noTx: true,
		up:   "CREATE INDEX CONCURRENTLY idx_t1_v ON t1 (v);\nCREATE INDEX CONCURRENTLY idx_nope ON no_such_table (v);",
		down: "DROP INDEX CONCURRENTLY IF EXISTS idx_nope;\nDROP INDEX CONCURRENTLY IF EXISTS idx_t1_v;"}
	halfwayBadDown := halfway
	halfwayBadDown.down = "DROP INDEX CONCURRENTLY idx_nope;\nDROP INDEX CONCURRENTLY idx_t1_v;"

	cases := []struct {
		name       string
		layout     func(t *testing.T, ms ...gooseMigration) string
		migrations []gooseMigration
		status     string
		// versions applied in the database afterwards; not checked when
		// anyVersions (the report's to_version must still match the
		// database).
		versions    []int64
		anyVersions bool
		present     []string // relations that must exist afterwards
		absent      []string // relations that must not
		errVersion  int64    // 0 = not checked
		errClass    string   // "" = not checked
		// remedyNames: error.remedy must name every version still applied.
		remedyNames bool
	}{
		{
			name:       "later failure undone to from_version (goose layout)",
			layout:     migrationDir,
			migrations: []gooseMigration{migT1, migT2, index, broken},
			status:     "rolled_back",
			absent:     []string{"t1", "t2", "idx_t1_v", "t4"},
			errVersion: 4,
			errClass:   "syntax",
		},
		{
			name:       "later failure undone to from_version (golang-migrate layout)",
			layout:     migrateLayoutDir,
			migrations: []gooseMigration{migT1, migT2, index, broken},
			status:     "rolled_back",
			absent:     []string{"t1", "t2", "idx_t1_v", "t4"},
			errVersion: 4,
			errClass:   "syntax",
		},
		{
			name:        "an undo fails: failed, 1 and 2 still applied",
			layout:      migrationDir,
			migrations:  []gooseMigration{migT1, badDownT2, index, broken},
			status:      "failed",
			versions:    []int64{1, 2},
			present:     []string{"t1", "t2"},
			absent:      []string{"idx_t1_v", "t4"},
			remedyNames: true,
		},
		{
			// A NO TRANSACTION file that failed halfway is `failed`, even
			// when its down would clean up after it.
			name:        "NO TRANSACTION file fails halfway: failed",
			layout:      migrationDir,
			migrations:  []gooseMigration{migT1, migT2, halfway},
			status:      "failed",
			anyVersions: true,
			absent:      []string{"idx_nope"},
			errVersion:  3,
		},
		{
			name:        "NO TRANSACTION file fails halfway and its down fails too: failed",
			layout:      migrationDir,
			migrations:  []gooseMigration{migT1, migT2, halfwayBadDown},
			status:      "failed",
			anyVersions: true,
			present:     []string{"t1", "t2"},
			absent:      []string{"idx_nope"},
			errVersion:  3,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dbs := newDatabases(t, 2)
			bad := dbs[0]
			dir := tc.layout(t, tc.migrations...)
			res := runCLI(t, nil, "up", "--fleet", fleetFile(t, []string{bad}), "--migrations", dir, "--format", "json")
			if res.code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
			}
			tr := parseReport(t, res.stdout).target(t, bad)
			if tr.Status != tc.status || tr.FromVersion != 0 {
				t.Errorf("target: %+v, want %s from 0", tr, tc.status)
			}
			if tr.Error == nil {
				t.Fatalf("target has no error: %+v", tr)
			}
			if tc.errVersion != 0 && tr.Error.Version != tc.errVersion {
				t.Errorf("error names version %d, want %d: %+v", tr.Error.Version, tc.errVersion, tr.Error)
			}
			if tc.errClass != "" && tr.Error.Class != tc.errClass {
				t.Errorf("error class %q, want %q: %+v", tr.Error.Class, tc.errClass, tr.Error)
			}
			got, _ := appliedVersions(t, bad)
			dbV, _ := dbVersion(t, bad)
			if tr.ToVersion != dbV {
				t.Errorf("report says to_version %d, the database says %d", tr.ToVersion, dbV)
			}
			if !tc.anyVersions && !slices.Equal(got, tc.versions) {
				t.Errorf("applied versions in the database %v, want %v", got, tc.versions)
			}
			if tc.status == "failed" {
				if tr.Error.Remedy == "" {
					t.Errorf("a failed target must say what a person must do (error.remedy): %+v", tr.Error)
				}
				for _, v := range got {
					if tc.remedyNames && !mentionsVersion(tr.Error.Remedy, v) {
						t.Errorf("remedy does not name version %d, still applied:\n%s", v, tr.Error.Remedy)
					}
				}
			}
			for _, rel := range tc.present {
				if !relationExists(t, bad, rel) {
					t.Errorf("%s is missing", rel)
				}
			}
			for _, rel := range tc.absent {
				if relationExists(t, bad, rel) {
					t.Errorf("%s is still there", rel)
				}
			}

			// A healthy target with the good part of the set: the split
			// batches (transactional, then NO TRANSACTION) go through.
			healthy := dbs[1]
			okDir := tc.layout(t, migT1, migT2, index)
			ok := runCLI(t, nil, "up", "--dsn", dsnFor(t, healthy, ""), "--migrations", okDir, "--format", "json")
			if ok.code != 0 {
				t.Fatalf("healthy target: exit %d\n%s", ok.code, ok.stderr)
			}
			if tr := parseReport(t, ok.stdout).Targets[0]; tr.Status != "applied" || tr.ToVersion != 3 {
				t.Errorf("healthy target: %+v, want applied to 3", tr)
			}
			if v, _ := dbVersion(t, healthy); v != 3 || !relationExists(t, healthy, "idx_t1_v") {
				t.Errorf("healthy target at version %d, index idx_t1_v present = %v; want 3 and true", v, relationExists(t, healthy, "idx_t1_v"))
			}
			assertNoLeftovers(t, dbs)
		})
	}
}

// TestFaultTxModeMigration: with --tx-mode migration each migration commits
// on its own; a later failure undoes the committed ones with their downs.
func TestFaultTxModeMigration(t *testing.T) {
	// The failure must come at run time: a syntax error would fail the
	// whole statement string before the pause ran.
	brokenPaused := gooseMigration{file: "003_broken.sql",
		up: pauseSQL + "\nCREATE TABLE t3 (id int);\nSELECT 1/0;", down: "DROP TABLE IF EXISTS t3;"}
	t.Run("third migration fails: first two committed, then undone", func(t *testing.T) {
		dbs := newDatabases(t, 1)
		db := dbs[0]
		dir := migrationDir(t, migT1, migT2, brokenPaused)
		release := holdAdvisory(t, db)
		p := startCLI(t, nil, "up", "--dsn", dsnFor(t, db, ""), "--migrations", dir, "--format", "json",
			"--tx-mode", "migration", "--lock-timeout", "2m")
		waitForWaiters(t, p, dbs, 1, time.Minute)
		// Paused in 003: 001 and 002 are committed, so this session sees them.
		if got, _ := appliedVersions(t, db); !slices.Equal(got, []int64{1, 2}) {
			t.Errorf("while 003 runs, other sessions see versions %v, want [1 2] committed", got)
		}
		release()
		res := p.wait(t, time.Minute)
		if res.code != 1 {
			t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
		}
		tr := parseReport(t, res.stdout).Targets[0]
		if tr.Status != "rolled_back" || tr.FromVersion != 0 || tr.ToVersion != 0 {
			t.Errorf("%+v, want rolled_back from 0 to 0", tr)
		}
		if tr.Error == nil || tr.Error.Version != 3 || tr.Error.SQLState != "22012" {
			t.Errorf("error %+v, want version 3, 22012 (division by zero)", tr.Error)
		}
		if got, _ := appliedVersions(t, db); len(got) != 0 {
			t.Errorf("versions %v still applied, want none", got)
		}
		for _, rel := range []string{"t1", "t2", "t3"} {
			if relationExists(t, db, rel) {
				t.Errorf("%s is still there", rel)
			}
		}
		assertNoLeftovers(t, dbs)
	})
	t.Run("all good: applied", func(t *testing.T) {
		dbs := newDatabases(t, 1)
		res := runCLI(t, nil, "up", "--dsn", dsnFor(t, dbs[0], ""), "--format", "json", "--tx-mode", "migration")
		if res.code != 0 {
			t.Fatalf("exit %d\n%s", res.code, res.stderr)
		}
		tr := parseReport(t, res.stdout).Targets[0]
		if tr.Status != "applied" || tr.ToVersion != 4 || len(tr.Applied) != 4 {
			t.Errorf("%+v", tr)
		}
		if got := tables(t, dbs[0]); !slices.Equal(got, seedTables) {
			t.Errorf("tables %v, want %v", got, seedTables)
		}
	})
}

// TestFaultConcurrentRuns: two runs over the same fleet at once; every
// target is applied by exactly one of them and no version is recorded twice.
func TestFaultConcurrentRuns(t *testing.T) {
	dbs := newDatabases(t, 6)
	fleet := fleetFile(t, dbs)
	args := []string{"up", "--fleet", fleet, "--format", "json", "--lock-wait", "30s"}
	a, b := startCLI(t, nil, args...), startCLI(t, nil, args...)
	ra, rb := a.wait(t, 2*time.Minute), b.wait(t, 2*time.Minute)
	repA, repB := parseReport(t, ra.stdout), parseReport(t, rb.stdout)

	for i, run := range []struct {
		res result
		rep Report
	}{{ra, repA}, {rb, repB}} {
		want := 0
		if run.rep.Summary["locked"] > 0 {
			want = 1
		}
		if run.res.code != want {
			t.Errorf("run %d: exit %d, want %d (summary %v)\n%s", i, run.res.code, want, run.rep.Summary, run.res.stderr)
		}
	}
	for _, db := range dbs {
		sa, sb := repA.target(t, db).Status, repB.target(t, db).Status
		pair := []string{sa, sb}
		slices.Sort(pair)
		if !slices.Equal(pair, []string{"applied", "up_to_date"}) && !slices.Equal(pair, []string{"applied", "locked"}) {
			t.Errorf("%s: statuses %q and %q; want applied in one run and up_to_date or locked in the other", db, sa, sb)
		}
		if dup := duplicateVersions(t, db); len(dup) != 0 {
			t.Errorf("%s: versions recorded more than once: %v", db, dup)
		}
		if v, _ := dbVersion(t, db); v != 4 {
			t.Errorf("%s: version %d, want 4", db, v)
		}
	}
	assertNoLeftovers(t, dbs)
}

// TestFaultSIGINT: Ctrl-C while two targets are in flight: no new target
// starts, the statements in flight are cancelled on the server, the report
// is written, exit 130, and nothing is left half-applied or locked.
func TestFaultSIGINT(t *testing.T) {
	dbs := newDatabases(t, 6)
	releases := make([]func(), len(dbs))
	for i, db := range dbs {
		releases[i] = holdAdvisory(t, db)
	}
	dir := migrationDir(t, migT1, migPausedT2, migT3)
	reportPath := filepath.Join(t.TempDir(), "report.json")
	p := startCLI(t, nil, "up", "--fleet", fleetFile(t, dbs), "--migrations", dir, "--parallel", "2",
		"--format", "json", "--report", reportPath, "--lock-timeout", "2m")

	ws := waitForWaiters(t, p, dbs, 2, time.Minute)
	inFlight := map[string]bool{}
	for _, w := range ws {
		inFlight[w.db] = true
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	// The cancel must reach the server: the waits end while the test
	// still holds the key.
	conn := server.Connect(t, "")
	waitUntil(t, 15*time.Second, "the in-flight statements to be cancelled on the server", nil, func(ctx context.Context) (bool, error) {
		ws, err := toolWaiters(ctx, conn, dbs)
		return err == nil && len(ws) == 0, err
	})
	for _, r := range releases {
		r()
	}
	res := p.wait(t, 30*time.Second)
	if res.code != 130 {
		t.Fatalf("exit %d, want 130\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	if d := time.Since(signalled); d > 30*time.Second {
		t.Errorf("exit %s after the signal", d)
	}
	file, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatalf("--report not written on interrupt: %v", err)
	}
	reps := map[string]Report{"--report": parseReport(t, string(file))}
	if strings.TrimSpace(res.stdout) == "" {
		t.Errorf("no report on stdout after the interrupt")
	} else {
		reps["stdout"] = parseReport(t, res.stdout)
	}
	for where, rep := range reps {
		if len(rep.Targets) != len(dbs) {
			t.Errorf("%s: %d targets, want %d", where, len(rep.Targets), len(dbs))
		}
		for _, db := range dbs {
			tr := rep.target(t, db)
			switch {
			case inFlight[db] && tr.Status != "cancelled":
				t.Errorf("%s: in-flight %s is %q, want cancelled", where, db, tr.Status)
			case !inFlight[db] && tr.Status != "cancelled" && tr.Status != "skipped":
				t.Errorf("%s: never-started %s is %q, want cancelled or skipped", where, db, tr.Status)
			}
			if inFlight[db] && tr.ToVersion != 0 {
				t.Errorf("%s: in-flight %s reports to_version %d, want 0", where, db, tr.ToVersion)
			}
		}
	}
	for _, db := range dbs {
		v, exists := dbVersion(t, db)
		if v != 0 && v != 3 {
			t.Errorf("%s: left at version %d, between 0 and the latest (3)", db, v)
		}
		if inFlight[db] && v != 0 {
			t.Errorf("in-flight %s at version %d, want 0", db, v)
		}
		if !inFlight[db] && exists {
			t.Errorf("never-started %s has a version table: it was touched after the interrupt", db)
		}
		if relationExists(t, db, "t1") && v == 0 {
			t.Errorf("%s: t1 exists at version 0", db)
		}
	}
	assertNoLeftovers(t, dbs)
}

// TestFaultUnreachable: targets that cannot be reached fail fast, each with
// its class, while the rest are applied.
func TestFaultUnreachable(t *testing.T) {
	dbs := newDatabases(t, 4)
	gone := dbs[2]
	u, err := url.Parse(dsnFor(t, dbs[1], ""))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(pgtest.Name("it_norole"))
	fleet := fmt.Sprintf(`defaults:
  connect_timeout: 3s
targets:
  - name: good-a
    dsn: %s
  - name: no-role
    dsn: %s
  - name: closed-port
    dsn: postgres://app@127.0.0.1:%d/x?sslmode=disable
  - name: dropped-db
    dsn: %s
  - name: good-b
    dsn: %s
`, dsnFor(t, dbs[0], ""), u.String(), closedPort(t), dsnFor(t, gone, ""), dsnFor(t, dbs[3], ""))
	fleetPath := writeFile(t, "fleet.yaml", fleet)
	server.Exec(t, "DROP DATABASE "+pgx.Identifier{gone}.Sanitize())

	t0 := time.Now()
	res := runCLI(t, nil, "up", "--fleet", fleetPath, "--format", "json")
	elapsed := time.Since(t0)
	if res.code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	if elapsed > 30*time.Second {
		t.Errorf("run took %s; unreachable targets must fail fast", elapsed)
	}
	rep := parseReport(t, res.stdout)
	cases := []struct {
		target, class, sqlstate string
	}{
		{"no-role", "auth", "28000"},
		{"closed-port", "unreachable", ""},
		{"dropped-db", "missing_database", "3D000"},
	}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			tr := rep.target(t, tc.target)
			if tr.Status != "failed" || tr.Error == nil || tr.Error.Class != tc.class {
				t.Fatalf("%+v error %+v, want failed/%s", tr, tr.Error, tc.class)
			}
			if tc.sqlstate != "" && tr.Error.SQLState != tc.sqlstate {
				t.Errorf("sqlstate %q, want %s", tr.Error.SQLState, tc.sqlstate)
			}
			if tr.DurationMS > 10_000 {
				t.Errorf("took %dms to fail; want fast (connect_timeout 3s)", tr.DurationMS)
			}
		})
	}
	for name, db := range map[string]string{"good-a": dbs[0], "good-b": dbs[3]} {
		if tr := rep.target(t, name); tr.Status != "applied" || tr.ToVersion != 4 {
			t.Errorf("%s: %+v", name, tr)
		}
		if v, _ := dbVersion(t, db); v != 4 {
			t.Errorf("%s: version %d, want 4", name, v)
		}
	}
	if n := relationCount(t, dbs[1]); n != 0 {
		t.Errorf("the database behind no-role has %d relations", n)
	}
	assertNoLeftovers(t, []string{dbs[0], dbs[1], dbs[3]})
}

// TestFaultCanaryWave: a failing canary halts the rollout: the later wave
// is skipped and untouched; with --rollback-on-halt a canary that succeeded
// is brought back too.
func TestFaultCanaryWave(t *testing.T) {
	seed := []string{"users", "api_keys", "sessions", "usage_records"}
	cases := []struct {
		name    string
		n       int
		canary  map[int]bool
		bad     map[int]bool // a sessions table is pre-created: migration 003 fails
		waves   bool
		args    []string
		status  []string // per target, in fleet order
		wave    []string
		summary map[string]int
	}{
		{
			name: "failing canary: the rest skipped", n: 4,
			canary: map[int]bool{0: true}, bad: map[int]bool{0: true}, waves: true,
			status:  []string{"rolled_back", "skipped", "skipped", "skipped"},
			wave:    []string{"canary", "everyone", "everyone", "everyone"},
			summary: map[string]int{"rolled_back": 1, "skipped": 3},
		},
		{
			// The good canary is listed first so it has started before the
			// bad one can fail.
			name: "rollback on halt: the good canary is undone", n: 5,
			canary: map[int]bool{0: true, 1: true}, bad: map[int]bool{1: true}, waves: true,
			args:    []string{"--rollback-on-halt"},
			status:  []string{"rolled_back", "rolled_back", "skipped", "skipped", "skipped"},
			wave:    []string{"canary", "canary", "everyone", "everyone", "everyone"},
			summary: map[string]int{"rolled_back": 2, "skipped": 3, "applied": 0},
		},
		{
			name: "--max-failures without waves", n: 4,
			bad:     map[int]bool{0: true},
			args:    []string{"--max-failures", "0", "--parallel", "1"},
			status:  []string{"rolled_back", "skipped", "skipped", "skipped"},
			wave:    []string{"", "", "", ""},
			summary: map[string]int{"rolled_back": 1, "skipped": 3},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dbs := newDatabases(t, tc.n)
			for i := range tc.bad {
				if _, err := server.Connect(t, dbs[i]).Exec(t.Context(), `CREATE VIEW sessions AS SELECT 1 AS id`); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"up", "--fleet", waveFleet(t, dbs, tc.canary, tc.waves), "--format", "json"}, tc.args...)
			res := runCLI(t, nil, args...)
			if res.code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
			}
			rep := parseReport(t, res.stdout)
			for k, v := range tc.summary {
				if rep.Summary[k] != v {
					t.Errorf("summary %s = %d, want %d (%v)", k, rep.Summary[k], v, rep.Summary)
				}
			}
			for i, db := range dbs {
				tr := rep.target(t, db)
				if tr.Status != tc.status[i] || tr.Wave != tc.wave[i] {
					t.Errorf("target %d: status %q wave %q, want %q in wave %q (%+v)", i, tr.Status, tr.Wave, tc.status[i], tc.wave[i], tr)
				}
				v, exists := dbVersion(t, db)
				switch tc.status[i] {
				case "skipped":
					if exists || relationCount(t, db) != 0 {
						t.Errorf("skipped target %d was touched (version table %v)", i, exists)
					}
				case "rolled_back":
					if v != 0 || tr.ToVersion != 0 || tr.FromVersion != 0 {
						t.Errorf("rolled back target %d: database at %d, report %+v; want 0", i, v, tr)
					}
					for _, table := range seed {
						if table == "sessions" && tc.bad[i] {
							continue
						}
						if relationExists(t, db, table) {
							t.Errorf("rolled back target %d still has %s", i, table)
						}
					}
					if !tc.bad[i] {
						// Applied, then undone by --rollback-on-halt.
						var got []int64
						for _, m := range tr.Reverted {
							got = append(got, m.Version)
						}
						slices.Sort(got)
						if !slices.Equal(got, []int64{1, 2, 3, 4}) {
							t.Errorf("target %d undone on halt: reverted %v, want 1-4", i, got)
						}
					}
				}
				if tc.bad[i] && (tr.Error == nil || tr.Error.Version != 3 || tr.Error.SQLState != "42P07") {
					t.Errorf("bad target %d error %+v, want 42P07 in version 3", i, tr.Error)
				}
			}
			assertNoLeftovers(t, dbs)
		})
	}
}

// TestFaultManyTargetsFewConnections: 200 targets, 50 at a time, on a server
// where the test already holds most spare connections: the run stays within
// what is left (or waits and retries on 53300) and applies every target.
// The server is a private cluster, so exhausting it starves no other test.
func TestFaultManyTargetsFewConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("200 databases: skipped with -short")
	}
	srv := pgtest.Start(t, 60)
	admin := srv.Connect(t, "")
	maxConns := queryInt(t, admin, `SELECT current_setting('max_connections')::int`)
	// Fewer connections are left than the run's parallelism.
	hold := max(int(maxConns)-30, 0)
	dbs := srv.NewDatabases(t, "it", 200)
	dsns := make(map[string]string, len(dbs))
	for _, db := range dbs {
		dsns[db] = srv.DSNFor(db)
	}

	held := make([]*pgx.Conn, 0, hold)
	t.Cleanup(func() {
		for _, c := range held {
			c.Close(context.Background())
		}
	})
	for range hold {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := pgx.Connect(ctx, srv.DSN)
		cancel()
		if err != nil {
			t.Fatalf("hold connection %d of %d: %v", len(held)+1, hold, err)
		}
		held = append(held, c)
	}
	t.Logf("max_connections %d, holding %d idle connections", maxConns, hold)

	p := startCLI(t, nil, "up", "--fleet", writeFile(t, "fleet.yaml", fleetYAML(dsns, dbs)), "--parallel", "50", "--format", "json", "--quiet")
	res := p.wait(t, 5*time.Minute)
	if res.code != 0 {
		t.Fatalf("exit %d, want 0\nstderr:\n%s", res.code, res.stderr)
	}
	rep := parseReport(t, res.stdout)
	if rep.Summary["applied"] != len(dbs) {
		t.Errorf("summary %v, want %d applied", rep.Summary, len(dbs))
		for _, tr := range rep.Targets {
			if tr.Status != "applied" {
				t.Logf("%s: %s %+v", tr.Name, tr.Status, tr.Error)
			}
		}
	}
	for _, c := range held {
		c.Close(context.Background())
	}
	held = nil

	// Read every target's version back, four connections at a time.
	var mu sync.Mutex
	var wrong []string
	var wg sync.WaitGroup
	work := make(chan string)
	for range 4 {
		wg.Go(func() {
			for db := range work {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				var v int64
				conn, err := pgx.Connect(ctx, dsns[db])
				if err == nil {
					err = conn.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
					conn.Close(ctx)
				}
				cancel()
				if err != nil || v != 4 {
					mu.Lock()
					wrong = append(wrong, fmt.Sprintf("%s: version %d (%v)", db, v, err))
					mu.Unlock()
				}
			}
		})
	}
	for _, db := range dbs {
		work <- db
	}
	close(work)
	wg.Wait()
	if len(wrong) != 0 {
		t.Errorf("%d targets not at version 4: %v", len(wrong), wrong)
	}
	assertNoLeftoversOn(t, srv, dbs)
}

// TestFaultDownThenUp: down --to V reverts with the down sections; up again
// restores exactly the schema and versions there were.
func TestFaultDownThenUp(t *testing.T) {
	seedByVersion := []string{"", "users", "api_keys", "sessions", "usage_records"}
	for _, to := range []int64{2, 0} {
		t.Run(fmt.Sprintf("down --to %d", to), func(t *testing.T) {
			dbs := newDatabases(t, 1)
			db := dbs[0]
			dsn := dsnFor(t, db, "")
			if res := runCLI(t, nil, "up", "--dsn", dsn, "--format", "json"); res.code != 0 {
				t.Fatalf("up: exit %d\n%s", res.code, res.stderr)
			}
			schema := schemaSnapshot(t, db)
			versions, _ := appliedVersions(t, db)

			down := runCLI(t, nil, "down", "--dsn", dsn, "--to", fmt.Sprint(to), "--format", "json", "--yes")
			if down.code != 0 {
				t.Fatalf("down: exit %d\nstdout:\n%s\nstderr:\n%s", down.code, down.stdout, down.stderr)
			}
			rep := parseReport(t, down.stdout)
			tr := rep.Targets[0]
			var reverted []int64
			for v := to + 1; v <= 4; v++ {
				reverted = append(reverted, v)
			}
			var got []int64
			for _, m := range tr.Reverted {
				got = append(got, m.Version)
			}
			slices.Sort(got)
			if rep.Command != "down" || tr.Status != "reverted" || tr.FromVersion != 4 || tr.ToVersion != to || !slices.Equal(got, reverted) || len(tr.Applied) != 0 {
				t.Errorf("down report: command %q, %+v; want reverted from 4 to %d reverting %v", rep.Command, tr, to, reverted)
			}
			if v, _ := dbVersion(t, db); v != to {
				t.Errorf("version %d after down, want %d", v, to)
			}
			for v := int64(1); v <= 4; v++ {
				if has := relationExists(t, db, seedByVersion[v]); has != (v <= to) {
					t.Errorf("after down --to %d: table %s exists = %v", to, seedByVersion[v], has)
				}
			}

			again := runCLI(t, nil, "down", "--dsn", dsn, "--to", fmt.Sprint(to), "--format", "json", "--yes")
			if again.code != 0 {
				t.Fatalf("second down: exit %d\n%s", again.code, again.stderr)
			}
			if tr := parseReport(t, again.stdout).Targets[0]; tr.Status != "up_to_date" || tr.FromVersion != to || tr.ToVersion != to {
				t.Errorf("second down: %+v, want up_to_date at %d", tr, to)
			}

			up := runCLI(t, nil, "up", "--dsn", dsn, "--format", "json")
			if up.code != 0 {
				t.Fatalf("up again: exit %d\n%s", up.code, up.stderr)
			}
			if tr := parseReport(t, up.stdout).Targets[0]; tr.Status != "applied" || !slices.Equal(versionsOf(tr), reverted) {
				t.Errorf("up again: %+v, want %v applied", tr, reverted)
			}
			if after := schemaSnapshot(t, db); !slices.Equal(after, schema) {
				t.Errorf("schema after down and up differs:\nbefore:\n%s\nafter:\n%s", strings.Join(schema, "\n"), strings.Join(after, "\n"))
			}
			if after, _ := appliedVersions(t, db); !slices.Equal(after, versions) {
				t.Errorf("versions after down and up %v, want %v", after, versions)
			}
			assertNoLeftovers(t, dbs)
		})
	}
}

// TestFaultDownUsage: down needs a valid --to; a bad one is a usage error
// before any connection.
func TestFaultDownUsage(t *testing.T) {
	pgtest.Shared(t)
	port, accepted := countingListener(t)
	fleet := writeFile(t, "fleet.yaml", fmt.Sprintf("targets:\n  - name: acme\n    dsn: postgres://app:pw@127.0.0.1:%d/acme?sslmode=disable\n", port))
	cases := []struct {
		name string
		args []string
	}{
		{"no --to", []string{"--yes"}},
		{"negative --to", []string{"--to", "-1", "--yes"}},
		{"unknown --to", []string{"--to", "9", "--yes"}},
		{"no --yes without a terminal", []string{"--to", "2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := accepted.Load()
			res := runCLI(t, nil, append([]string{"down", "--fleet", fleet}, tc.args...)...)
			if res.code != 2 {
				t.Errorf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
			}
			if !strings.Contains(res.stderr, "--to") && !strings.Contains(res.stderr, `"to"`) {
				t.Errorf("stderr does not name --to:\n%s", res.stderr)
			}
			if res.stdout != "" {
				t.Errorf("stdout must stay empty on a usage error:\n%s", res.stdout)
			}
			if n := accepted.Load() - before; n != 0 {
				t.Errorf("%d connection(s) opened", n)
			}
		})
	}
}
