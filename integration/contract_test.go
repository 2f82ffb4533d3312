package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
)

// TestBigFleetAtAGlance: status over 120 up-to-date targets is a few lines
// in the table, with every target still in JSON; a target needing attention
// is listed on its own among them.
func TestBigFleetAtAGlance(t *testing.T) {
	dbs := newDatabases(t, 1)
	conn := server.Connect(t, dbs[0])
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

// TestPlanPreviewsDowns: plan --to below a target's version lists the downs
// that would run, newest first, with their statements under --sql, and
// touches nothing; down needs consent, and reports `reverted`.
func TestPlanPreviewsDowns(t *testing.T) {
	dbs := newDatabases(t, 2)
	dsns := dsnMap(t, dbs)
	fleetPath := fleetFile(t, dbs)
	if res := runCLI(t, nil, "up", "--dsn", dsns[dbs[0]], "--quiet"); res.code != 0 {
		t.Fatalf("up: %s", res.stderr)
	}
	if res := runCLI(t, nil, "up", "--dsn", dsns[dbs[1]], "--to", "2", "--quiet"); res.code != 0 {
		t.Fatalf("up: %s", res.stderr)
	}
	before := schemaSnapshot(t, dbs[0])
	js := runCLI(t, nil, "plan", "-f", fleetPath, "--to", "2", "--sql", "--format", "json", "--quiet")
	if js.code != 0 {
		t.Fatalf("plan --to 2: exit %d\n%s", js.code, js.stderr)
	}
	var rep struct {
		Targets []struct {
			Name        string `json:"name"`
			Status      string `json:"status"`
			FromVersion *int64 `json:"from_version"`
			ToVersion   *int64 `json:"to_version"`
			Revert      []struct {
				Version    int64    `json:"version"`
				Name       string   `json:"name"`
				Statements []string `json:"statements"`
			} `json:"revert"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	top, low := rep.Targets[0], rep.Targets[1]
	if top.Status != "pending" || *top.FromVersion != 4 || *top.ToVersion != 2 || len(top.Revert) != 2 ||
		top.Revert[0].Version != 4 || top.Revert[1].Version != 3 || top.Revert[0].Name != "004_create_usage_records_table" {
		t.Fatalf("plan --to 2 on a target at 4: %+v", top)
	}
	if !strings.Contains(strings.Join(top.Revert[0].Statements, ";"), "DROP TABLE") {
		t.Errorf("--sql lists no down statements: %+v", top.Revert[0])
	}
	if low.Status != "up_to_date" || len(low.Revert) != 0 {
		t.Errorf("plan --to 2 on a target at 2: %+v", low)
	}
	table := runCLI(t, nil, "plan", "-f", fleetPath, "--to", "2", "--sql", "--quiet")
	for _, want := range []string{"4-3", "(from 4 down to 2)", "004_create_usage_records_table", "DROP TABLE"} {
		if !strings.Contains(table.stdout, want) {
			t.Errorf("plan table lacks %q:\n%s", want, table.stdout)
		}
	}
	if after := schemaSnapshot(t, dbs[0]); !slices.Equal(before, after) {
		t.Errorf("plan --to 2 changed the schema")
	}
	if v, _ := dbVersion(t, dbs[0]); v != 4 {
		t.Errorf("plan moved the target to %d", v)
	}

	refused := runCLI(t, nil, "down", "-f", fleetPath, "--to", "2")
	if refused.code != 2 || !strings.Contains(refused.stderr, "--yes") || refused.stdout != "" {
		t.Errorf("down without a terminal nor --yes: exit %d\n%s", refused.code, refused.stderr)
	}
	if v, _ := dbVersion(t, dbs[0]); v != 4 {
		t.Errorf("refused down moved the target to %d", v)
	}
	down := runCLI(t, nil, "down", "-f", fleetPath, "--to", "2", "--yes", "--quiet")
	if down.code != 0 || !strings.Contains(down.stdout, "reverted") || !strings.Contains(down.stdout, "1 reverted") {
		t.Errorf("down --yes: exit %d\n%s\n%s", down.code, down.stdout, down.stderr)
	}
	if v, _ := dbVersion(t, dbs[0]); v != 2 {
		t.Errorf("down --yes left the target at %d", v)
	}
}

// TestFailureOutputs: versions never read are null in JSON and ? in the
// table; unreachable and refused targets carry a remedy; a locked target
// names the session holding it; a blocker's query is shown with its string
// literals masked.
func TestFailureOutputs(t *testing.T) {
	dbs := newDatabases(t, 3)
	u, err := url.Parse(dsnFor(t, dbs[0], ""))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(pgtest.Name("it_norole"))
	fleetPath := writeFile(t, "fleet.yaml", fmt.Sprintf(`defaults:
  connect_timeout: 3s
  lock_wait: 1s
targets:
  - name: no-role
    dsn: %s
  - name: closed-port
    dsn: postgres://app@127.0.0.1:%d/x?sslmode=disable
  - name: held
    dsn: %s
`, u.String(), closedPort(t), dsnFor(t, dbs[1], "")))

	// The holder: goose's advisory lock key, taken by a session with a name
	// and a secret in its last query.
	cfg, err := pgx.ParseConfig(dsnFor(t, dbs[1], ""))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "other-deployer"
	holder, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close(context.Background()) })
	if _, err := holder.Exec(t.Context(), "SELECT pg_advisory_lock(4097083626), 'hunter2' AS secret"); err != nil {
		t.Fatal(err)
	}

	res := runCLI(t, nil, "up", "-f", fleetPath, "--format", "json", "--quiet")
	if res.code != 1 {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	var raw struct {
		Targets []map[string]json.RawMessage `json:"targets"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &raw); err != nil {
		t.Fatal(err)
	}
	for _, tr := range raw.Targets {
		if string(tr["from_version"]) != "null" || string(tr["to_version"]) != "null" {
			t.Errorf("%s: from_version %s, to_version %s: never read, so null", tr["name"], tr["from_version"], tr["to_version"])
		}
	}
	rep := parseReport(t, res.stdout)
	for _, name := range []string{"no-role", "closed-port", "held"} {
		if tr := rep.target(t, name); tr.Error == nil || tr.Error.Remedy == "" {
			t.Errorf("%s: no remedy: %+v", name, tr.Error)
		}
	}
	if e := rep.target(t, "no-role").Error; !strings.Contains(e.Remedy, "password") {
		t.Errorf("auth remedy: %q", e.Remedy)
	}
	held := rep.target(t, "held")
	if held.Status != "locked" || !strings.Contains(held.Error.BlockedBy, "other-deployer") ||
		!strings.Contains(held.Error.BlockedBy, "connected since") || !strings.Contains(held.Error.BlockedBy, "pid ") {
		t.Errorf("locked target does not name its holder: %+v", held.Error)
	}
	if strings.Contains(res.stdout, "hunter2") || !strings.Contains(held.Error.BlockedBy, "'...'") {
		t.Errorf("the holder's query is not masked: %q", held.Error.BlockedBy)
	}
	table := runCLI(t, nil, "up", "-f", fleetPath, "--quiet")
	for _, want := range []string{"no-role", "?     ?", "what to do:", "other-deployer"} {
		if !strings.Contains(table.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, table.stdout)
		}
	}
	holder.Close(context.Background())

	// A lock timeout behind a session whose query carries a password.
	db := dbs[2]
	dsn := dsnFor(t, db, "")
	if r := runCLI(t, nil, "up", "--dsn", dsn, "--to", "1", "--quiet"); r.code != 0 {
		t.Fatalf("up --to 1: %s", r.stderr)
	}
	cfg, err = pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "secret-holder"
	blocker, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blocker.Close(context.Background()) })
	if _, err := blocker.Exec(t.Context(), "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT 'hunter2' AS password"); err != nil {
		t.Fatal(err)
	}
	timeout := runCLI(t, nil, "up", "--dsn", dsn, "--lock-timeout", "200ms", "--retries", "1", "--format", "markdown", "--quiet")
	if timeout.code != 1 || !strings.Contains(timeout.stdout, "secret-holder") || !strings.Contains(timeout.stdout, "'...'") ||
		strings.Contains(timeout.stdout, "hunter2") {
		t.Errorf("lock timeout behind a secret: exit %d\n%s\n%s", timeout.code, timeout.stdout, timeout.stderr)
	}
}

// TestInterruptedRollbackOnHaltRereadsVersion: a rollback-on-halt that is
// interrupted before it could read its target reports where the target
// really is (re-read on a fresh session), never to_version 0.
func TestInterruptedRollbackOnHaltRereadsVersion(t *testing.T) {
	dbs := newDatabases(t, 2)
	good, bad := dbs[0], dbs[1]
	// One migration: it succeeds on good, and on bad waits for the test,
	// then fails.
	dir := migrationDir(t, gooseMigration{file: "001_t.sql",
		up:   fmt.Sprintf("CREATE TABLE t (id int);\nDO $$ BEGIN IF current_database() = '%s' THEN PERFORM pg_advisory_xact_lock(%d); RAISE EXCEPTION 'boom'; END IF; END $$;", bad, pauseKey),
		down: "DROP TABLE t;"})
	release := holdAdvisory(t, bad)
	p := startCLI(t, nil, "up", "-f", fleetFile(t, []string{good, bad}), "-m", dir, "--parallel", "2",
		"--max-failures", "0", "--rollback-on-halt", "--lock-wait", "2m", "--format", "json")
	waitUntil(t, time.Minute, "the good target to be applied", p.exited, func(ctx context.Context) (bool, error) {
		v, _ := dbVersion(t, good)
		return v == 1, nil
	})
	// The test takes the good target's migration lock (goose's key), so the
	// rollback waits for it, and is interrupted there.
	holder := server.Connect(t, good)
	if _, err := holder.Exec(t.Context(), "SELECT pg_advisory_lock(4097083626)"); err != nil {
		t.Fatal(err)
	}
	release()
	admin := server.Connect(t, "")
	waitUntil(t, time.Minute, "the rollback to wait for the good target", p.exited, func(ctx context.Context) (bool, error) {
		var n int
		err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'orchestrator%'`, good).Scan(&n)
		return n > 0, err
	})
	time.Sleep(300 * time.Millisecond) // in its lock polling
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	res := p.wait(t, time.Minute)
	if res.code != 130 {
		t.Fatalf("exit %d, want 130\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	var rep struct {
		Targets []struct {
			Name      string `json:"name"`
			Status    string `json:"status"`
			ToVersion *int64 `json:"to_version"`
			Error     *struct {
				Remedy string `json:"remedy"`
			} `json:"error"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, res.stdout)
	}
	for _, tr := range rep.Targets {
		if tr.Name != good {
			continue
		}
		if tr.ToVersion == nil || *tr.ToVersion != 1 {
			t.Errorf("good target: to_version %v, but it is at 1: %+v", tr.ToVersion, tr)
		}
		if tr.Status == "rolled_back" || tr.Error == nil || !strings.Contains(tr.Error.Remedy, "down --to 0") {
			t.Errorf("good target: %+v (error %+v): not rolled back, and the remedy must say how", tr, tr.Error)
		}
	}
	if v, _ := dbVersion(t, good); v != 1 {
		t.Errorf("good target at %d", v)
	}
}

// TestNoControlCharactersReachTheTerminal: label values from a discovery
// catalog, migration file names and server messages are escaped in tables.
func TestNoControlCharactersReachTheTerminal(t *testing.T) {
	dbs := newDatabases(t, 2)
	catalog := server.Connect(t, dbs[0])
	if _, err := catalog.Exec(t.Context(), `CREATE TABLE tenants (name text, dsn text, labels jsonb)`); err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.Exec(t.Context(), `INSERT INTO tenants VALUES ('acme', $1, jsonb_build_object('tier', E'canary\u001b[2J\u001b]0;owned\u0007'))`, dsnFor(t, dbs[1], "")); err != nil {
		t.Fatal(err)
	}
	fleetPath := writeFile(t, "fleet.yaml", fmt.Sprintf("discover:\n  - server: %s\n    query: SELECT name, dsn, labels FROM tenants\n", dsnFor(t, dbs[0], "")))
	dir := migrationDir(t, gooseMigration{file: "001_evil\x1b[31m.sql",
		up: `DO $$ BEGIN RAISE EXCEPTION E'boom\u001b[2J\rrewritten' USING DETAIL = E'detail\u001b[1m', HINT = E'hint\u009b'; END $$;`, down: "SELECT 1;"})
	check := func(what, out string) {
		t.Helper()
		for _, r := range out {
			if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Errorf("%s: control character %U reached the terminal:\n%q", what, r, out)
				return
			}
		}
	}
	targets := runCLI(t, nil, "targets", "-f", fleetPath)
	if targets.code != 0 || !strings.Contains(targets.stdout, `tier=canary\x1b[2J\x1b]0;owned\a`) {
		t.Errorf("targets: exit %d\n%s\n%s", targets.code, targets.stdout, targets.stderr)
	}
	check("targets", targets.stdout)
	up := runCLI(t, nil, "up", "-f", fleetPath, "-m", dir, "--quiet")
	if up.code != 1 || !strings.Contains(up.stdout, `boom\x1b[2J\rrewritten`) || !strings.Contains(up.stdout, `001_evil\x1b[31m`) {
		t.Errorf("up: exit %d\n%s\n%s", up.code, up.stdout, up.stderr)
	}
	check("up", up.stdout)
}

// TestWordingOfOutcomes: drift logs the status it reports; a run without
// waves does not speak of "the wave"; one target is "1 target".
func TestWordingOfOutcomes(t *testing.T) {
	dbs := newDatabases(t, 3)
	fleetPath := fleetFile(t, dbs)
	small := migrationDir(t, gooseMigration{file: "001_users.sql", up: "CREATE TABLE users (id int);", down: "DROP TABLE users;"})
	if res := runCLI(t, nil, "up", "-f", fleetPath, "-m", small, "--quiet"); res.code != 0 {
		t.Fatalf("up: %s", res.stderr)
	}
	conn := server.Connect(t, dbs[1])
	if _, err := conn.Exec(t.Context(), "ALTER TABLE users ADD COLUMN nickname text"); err != nil {
		t.Fatal(err)
	}
	drift := runCLI(t, nil, "drift", "-f", fleetPath, "-m", small)
	if drift.code != 3 {
		t.Fatalf("drift: exit %d\n%s", drift.code, drift.stderr)
	}
	for _, line := range strings.Split(drift.stderr, "\n") {
		if strings.Contains(line, "target="+dbs[1]) && !strings.Contains(line, "status=drifted") {
			t.Errorf("drift logs %q for the drifted target", line)
		}
	}
	if !strings.Contains(drift.stderr, "target="+dbs[1]+" status=drifted") {
		t.Errorf("drift does not log the drifted target's status:\n%s", drift.stderr)
	}

	// A failure budget without waves: the rest are skipped by the run.
	fresh := newDatabases(t, 3)
	dir := migrationDir(t, gooseMigration{file: "001_t.sql",
		up:   fmt.Sprintf("DO $$ BEGIN IF current_database() = '%s' THEN RAISE EXCEPTION 'boom'; END IF; END $$;", fresh[0]),
		down: "SELECT 1;"})
	res := runCLI(t, nil, "up", "-f", fleetFile(t, fresh), "-m", dir, "--parallel", "1", "--max-failures", "0", "--format", "json", "--quiet")
	rep := parseReport(t, res.stdout)
	skipped := 0
	for _, tr := range rep.Targets {
		if tr.Status == "skipped" {
			skipped++
			if strings.Contains(tr.Error.Message, "wave") {
				t.Errorf("skip text of a run without waves: %q", tr.Error.Message)
			}
		}
	}
	if skipped == 0 {
		t.Errorf("nothing skipped: %+v", rep.Targets)
	}
	one := runCLI(t, nil, "status", "--dsn", dsnFor(t, fresh[1], ""), "--quiet")
	if !strings.Contains(one.stdout, "1 target, ") || strings.Contains(one.stdout, "1 targets") {
		t.Errorf("status of one target:\n%s", one.stdout)
	}
}

// TestDownAsksOnATerminal: on a terminal, down shows what it would revert
// and goes ahead only on "yes".
func TestDownAsksOnATerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		pgtest.Unavailable(t, "no script(1) to run the binary on a terminal")
	}
	dbs := newDatabases(t, 2)
	fleetPath := fleetFile(t, dbs)
	if res := runCLI(t, nil, "up", "-f", fleetPath, "--quiet"); res.code != 0 {
		t.Fatalf("up: %s", res.stderr)
	}
	ask := func(answer string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, script, "-q", "-e", "-c", binary+" down -f "+fleetPath+" --to 2 --quiet; echo exit=$?", "/dev/null")
		cmd.Env = append(cleanEnv(), "TERM=dumb")
		cmd.Stdin = strings.NewReader(answer)
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	out := ask("no\n")
	for _, want := range []string{"down --to 2 will revert 2 targets of 2", "2 targets at 4 → 2: 004_create_usage_records_table, 003_create_sessions_table", "Type yes", "nothing was touched", "exit=2"} {
		if !strings.Contains(out, want) {
			t.Errorf("answered no: output lacks %q:\n%s", want, out)
		}
	}
	for _, db := range dbs {
		if v, _ := dbVersion(t, db); v != 4 {
			t.Errorf("answered no, and %s is at %d", db, v)
		}
	}
	out = ask("yes\n")
	if !strings.Contains(out, "exit=0") || !strings.Contains(out, "2 reverted") {
		t.Errorf("answered yes:\n%s", out)
	}
	for _, db := range dbs {
		if v, _ := dbVersion(t, db); v != 2 {
			t.Errorf("answered yes, and %s is at %d", db, v)
		}
	}
}
