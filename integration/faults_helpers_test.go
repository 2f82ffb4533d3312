package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
)

// pauseKey is the advisory lock key a migration waits on to pause: the test
// holds it from its own session and the migration's
// `SELECT pg_advisory_xact_lock(pauseKey)` blocks until the test lets go.
// Advisory locks are per database, so the test holds it in each database it
// wants paused. It differs from the tool's own per-target key (goose's).
const pauseKey = 7_404_404_404

// pauseSQL is the statement that parks a migration on the test's key.
var pauseSQL = fmt.Sprintf("SELECT pg_advisory_xact_lock(%d);", pauseKey)

// gooseMigration is one file of a goose-layout migration set.
type gooseMigration struct {
	file string // e.g. "001_t1.sql"
	up   string
	down string
	noTx bool // -- +goose NO TRANSACTION
}

// body renders m as a goose file. Statements are split on semicolons, so a
// NO TRANSACTION file can hold several statements, each run on its own.
func (m gooseMigration) body() string {
	b := "-- +goose Up\n" + m.up + "\n-- +goose Down\n" + m.down + "\n"
	if m.noTx {
		b = "-- +goose NO TRANSACTION\n" + b
	}
	return b
}

// migrationDir writes a goose-layout migration set into a temp dir.
func migrationDir(t *testing.T, ms ...gooseMigration) string {
	t.Helper()
	return writeMigrations(t, t.TempDir(), ms)
}

func writeMigrations(t *testing.T, dir string, ms []gooseMigration) string {
	t.Helper()
	for _, m := range ms {
		if err := os.WriteFile(filepath.Join(dir, m.file), []byte(m.body()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// migrateLayoutDir writes ms in golang-migrate layout (NNN_name.up.sql +
// NNN_name.down.sql); a noTx migration carries the marker in both files.
func migrateLayoutDir(t *testing.T, ms ...gooseMigration) string {
	t.Helper()
	dir := t.TempDir()
	for _, m := range ms {
		base := strings.TrimSuffix(m.file, ".sql")
		up, down := m.up+"\n", m.down+"\n"
		if m.noTx {
			up = "-- +goose NO TRANSACTION\n" + up
			down = "-- +goose NO TRANSACTION\n" + down
		}
		for name, body := range map[string]string{base + ".up.sql": up, base + ".down.sql": down} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// seedPlus returns the built-in migrations 1..keep in goose layout plus extra
// files, in a fresh directory.
func seedPlus(t *testing.T, keep int64, extra ...gooseMigration) string {
	t.Helper()
	dir := gooseLayoutSeed(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var v int64
		if _, err := fmt.Sscanf(filepath.Base(f), "%03d_", &v); err != nil {
			t.Fatalf("seed file %s: %v", f, err)
		}
		if v > keep {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	return writeMigrations(t, dir, extra)
}

// dsnMap maps each database name (also its target name) to its DSN.
func dsnMap(t *testing.T, dbs []string) map[string]string {
	t.Helper()
	m := make(map[string]string, len(dbs))
	for _, db := range dbs {
		m[db] = dsnFor(t, db, "")
	}
	return m
}

// fleetFile writes a fleet file with one target per database.
func fleetFile(t *testing.T, dbs []string) string {
	t.Helper()
	return writeFile(t, "fleet.yaml", fleetYAML(dsnMap(t, dbs), dbs))
}

// proc is the binary running in the background.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer // read only after done is closed
	done           chan struct{}
	err            error
}

// startCLI starts the binary without waiting for it. A process still
// running when the test ends is killed.
func startCLI(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), done: make(chan struct{})}
	p.cmd.Env = append(cleanEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", args, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits at most bound for the process to exit; a process that does not
// is killed and the test fails, so a hang is a failure, not a stuck suite.
func (p *proc) wait(t *testing.T, bound time.Duration) result {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(bound):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%v did not exit within %s\nstdout:\n%s\nstderr:\n%s", p.cmd.Args[1:], bound, p.stdout.String(), p.stderr.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		code = ee.ExitCode()
	} else if p.err != nil {
		t.Fatalf("run %v: %v", p.cmd.Args[1:], p.err)
	}
	return result{stdout: p.stdout.String(), stderr: p.stderr.String(), code: code}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitUntil polls cond every 10ms until it holds, failing the test after
// bound. abort, when non-nil and true, stops the wait early with a failure
// (e.g. the process under test exited before reaching the awaited state).
func waitUntil(t *testing.T, bound time.Duration, what string, abort func() bool, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		ok, err := cond(ctx)
		if err == nil && ok {
			return
		}
		if err != nil {
			lastErr = err
		}
		if abort != nil && abort() {
			t.Fatalf("waiting for %s: gave up, the process ended first (last error: %v)", what, lastErr)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: not reached within %s (last error: %v)", what, bound, lastErr)
		case <-tick.C:
		}
	}
}

// waitingBackend is one of the tool's sessions waiting on a lock.
type waitingBackend struct {
	pid        int32
	db         string
	event      string // wait_event: advisory, relation, ...
	queryStart time.Time
}

// toolWaiters lists the tool's backends on dbs that wait on a heavyweight
// lock right now.
func toolWaiters(ctx context.Context, conn *pgx.Conn, dbs []string) ([]waitingBackend, error) {
	rows, err := conn.Query(ctx, `SELECT pid, datname, coalesce(wait_event, ''), coalesce(query_start, 'epoch'::timestamptz)
		FROM pg_stat_activity
		WHERE application_name LIKE 'orchestrator:%' AND datname = ANY($1) AND wait_event_type = 'Lock'
		ORDER BY datname`, dbs)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (waitingBackend, error) {
		var w waitingBackend
		err := r.Scan(&w.pid, &w.db, &w.event, &w.queryStart)
		return w, err
	})
}

// waitForWaiters waits until at least n of the tool's backends on dbs wait
// on a lock, and returns them.
func waitForWaiters(t *testing.T, p *proc, dbs []string, n int, bound time.Duration) []waitingBackend {
	t.Helper()
	conn := server.Connect(t, "")
	var got []waitingBackend
	waitUntil(t, bound, fmt.Sprintf("%d orchestrator backend(s) waiting on a lock", n), p.exited, func(ctx context.Context) (bool, error) {
		ws, err := toolWaiters(ctx, conn, dbs)
		got = ws
		return len(ws) >= n, err
	})
	return got
}

// holdAdvisory takes the pause key from a session of the test in db. The
// returned release lets go of it (idempotent); cleanup releases it too.
func holdAdvisory(t *testing.T, db string) (release func()) {
	t.Helper()
	conn := server.Connect(t, db)
	if _, err := conn.Exec(t.Context(), "SELECT pg_advisory_lock($1)", int64(pauseKey)); err != nil {
		t.Fatalf("hold pause key in %s: %v", db, err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock_all()"); err != nil {
				t.Errorf("release pause key in %s: %v", db, err)
			}
		})
	}
	t.Cleanup(release)
	return release
}

// dbVersion is what a database's goose_db_version says, the way goose reads
// it: the newest row of each version decides whether it is applied.
// exists is false when there is no version table at all.
func dbVersion(t *testing.T, db string) (version int64, exists bool) {
	t.Helper()
	vs, exists := appliedVersions(t, db)
	if len(vs) == 0 {
		return 0, exists
	}
	return vs[len(vs)-1], exists
}

// appliedVersions lists the applied versions above 0, ascending.
func appliedVersions(t *testing.T, db string) (versions []int64, exists bool) {
	t.Helper()
	conn := server.Connect(t, db)
	ctx := t.Context()
	if err := conn.QueryRow(ctx, `SELECT to_regclass('public.goose_db_version') IS NOT NULL`).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		return nil, false
	}
	rows, err := conn.Query(ctx, `SELECT version_id FROM (
			SELECT DISTINCT ON (version_id) version_id, is_applied FROM goose_db_version ORDER BY version_id, id DESC
		) s WHERE is_applied AND version_id > 0 ORDER BY version_id`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return versions, true
}

// duplicateVersions lists versions with more than one row in goose_db_version.
func duplicateVersions(t *testing.T, db string) []int64 {
	t.Helper()
	rows, err := server.Connect(t, db).Query(t.Context(),
		`SELECT version_id FROM goose_db_version GROUP BY 1 HAVING count(*) > 1 ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// relationExists reports whether a relation (table, index) of that name
// exists in public.
func relationExists(t *testing.T, db, name string) bool {
	t.Helper()
	var ok bool
	if err := server.Connect(t, db).QueryRow(t.Context(), `SELECT to_regclass($1) IS NOT NULL`, "public."+name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// columnExists reports whether public.table has column.
func columnExists(t *testing.T, db, table, column string) bool {
	t.Helper()
	return queryInt(t, server.Connect(t, db), `SELECT count(*) FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2`, table, column) == 1
}

// assertNoLeftovers checks that the tool left no session and no advisory
// lock on dbs. A backend can outlive its client by a moment, so it polls
// for a few seconds before failing. Call it after the test released its
// own advisory locks.
func assertNoLeftovers(t *testing.T, dbs []string) {
	t.Helper()
	assertNoLeftoversOn(t, server, dbs)
}

// assertNoLeftoversOn is assertNoLeftovers for databases on srv.
func assertNoLeftoversOn(t *testing.T, srv *pgtest.Server, dbs []string) {
	t.Helper()
	conn := srv.Connect(t, "")
	var backends, locks int64
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := conn.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'orchestrator:%' AND datname = ANY($1)),
			(SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
			  WHERE l.locktype = 'advisory' AND d.datname = ANY($1))`, dbs).Scan(&backends, &locks)
		if err == nil && backends == 0 && locks == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Errorf("left behind on the targets: %d orchestrator backend(s), %d advisory lock(s) (last error: %v)", backends, locks, err)
			return
		case <-tick.C:
		}
	}
}

// schemaSnapshot lists a database's tables, columns, indexes and
// constraints in public, one line each, sorted: two snapshots are equal
// exactly when the schemas are.
func schemaSnapshot(t *testing.T, db string) []string {
	t.Helper()
	rows, err := server.Connect(t, db).Query(t.Context(), `
		SELECT format('column %s.%s %s null=%s default=%s', c.relname, a.attname,
		              format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
		              coalesce(pg_get_expr(d.adbin, d.adrelid), '-'))
		FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
		UNION ALL
		SELECT format('index %s', pg_get_indexdef(i.indexrelid))
		FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public'
		UNION ALL
		SELECT format('constraint %s.%s %s', c.relname, k.conname, pg_get_constraintdef(k.oid))
		FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public'
		UNION ALL
		SELECT format('sequence %s', c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'S'`)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return lines
}

// versionsOf lists the versions of a report's applied migrations.
func versionsOf(tr TargetResult) []int64 {
	vs := make([]int64, len(tr.Applied))
	for i, m := range tr.Applied {
		vs[i] = m.Version
	}
	return vs
}

// blockUsers opens a session named fault-blocker on db that holds ACCESS
// EXCLUSIVE on users until release (idempotent; also at cleanup).
func blockUsers(t *testing.T, db string) (release func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(dsnFor(t, db, ""))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "fault-blocker"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if err := tx.Rollback(context.Background()); err != nil {
				t.Errorf("release the blocker: %v", err)
			}
		})
	}
	t.Cleanup(release)
	return release
}

// mentionsVersion reports whether text names version v as a number of its
// own ("2", "002", "version 2", "002_t2"), not as part of another number.
func mentionsVersion(text string, v int64) bool {
	return regexp.MustCompile(fmt.Sprintf(`(^|[^0-9])0*%d([^0-9]|$)`, v)).MatchString(text)
}

// waveFleet renders a fleet file: targets labelled tier: canary where
// canary[i], and with waves [canary (max_failures 0), everyone] when waves.
func waveFleet(t *testing.T, dbs []string, canary map[int]bool, waves bool) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("defaults:\n  parallelism: 4\n  lock_wait: 5s\ntargets:\n")
	for i, db := range dbs {
		tier := "main"
		if canary[i] {
			tier = "canary"
		}
		fmt.Fprintf(&b, "  - name: %s\n    dsn: %s\n    labels: {tier: %s}\n", db, dsnFor(t, db, ""), tier)
	}
	if waves {
		b.WriteString("waves:\n  - name: canary\n    select: {tier: canary}\n    max_failures: 0\n  - name: everyone\n")
	}
	return writeFile(t, "fleet.yaml", b.String())
}
