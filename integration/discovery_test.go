package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestDiscoverDatabases: every database matching the pattern is a target,
// named after it, and nothing else on the server is.
func TestDiscoverDatabases(t *testing.T) {
	dbs := newDatabases(t, 3)
	prefix := strings.TrimSuffix(dbs[0], "_00")
	other := newDatabases(t, 1) // another prefix: must not match
	fleetPath := writeFile(t, "fleet.yaml", fmt.Sprintf(`discover:
  - server: %s
    databases: %s_%%
    labels: {cluster: local}
`, server.DSN, prefix))
	res := runCLI(t, nil, "up", "--fleet", fleetPath, "--format", "json", "--quiet")
	if res.code != 0 {
		t.Fatalf("up: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	rep := parseReport(t, res.stdout)
	var names []string
	for _, tr := range rep.Targets {
		names = append(names, tr.Name)
		if tr.Status != "applied" || tr.ToVersion != 4 {
			t.Errorf("%s: %+v", tr.Name, tr)
		}
	}
	sort.Strings(names)
	if strings.Join(names, ",") != strings.Join(dbs, ",") {
		t.Errorf("discovered %v, want %v", names, dbs)
	}
	if n := relationCount(t, other[0]); n != 0 {
		t.Errorf("a database outside the pattern was touched: %d relations", n)
	}
	targets := runCLI(t, nil, "targets", "--fleet", fleetPath, "--select", "cluster=local")
	if targets.code != 0 || strings.Count(targets.stdout, "cluster=local") != 3 {
		t.Errorf("targets --select cluster=local:\n%s\n%s", targets.stdout, targets.stderr)
	}
}

// TestDiscoverSchemas: schema-per-tenant, including a schema whose name is
// an injection attempt: it is migrated as that schema and drops nothing.
func TestDiscoverSchemas(t *testing.T) {
	dbs := newDatabases(t, 1)
	conn := server.Connect(t, dbs[0])
	hostile := `t_a"; DROP TABLE x; --`
	for _, s := range []string{"t_one", "t_two", hostile, "other"} {
		if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+pgx.Identifier{s}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(context.Background(), `CREATE TABLE public.x (id int)`); err != nil {
		t.Fatal(err)
	}
	fleetPath := writeFile(t, "fleet.yaml", fmt.Sprintf("discover:\n  - server: %s\n    schemas: t\\_%%\n", dsnFor(t, dbs[0], "")))
	res := runCLI(t, nil, "up", "--fleet", fleetPath, "--format", "json", "--quiet")
	if res.code != 0 {
		t.Fatalf("up: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	rep := parseReport(t, res.stdout)
	if len(rep.Targets) != 3 {
		t.Fatalf("targets: %+v", rep.Targets)
	}
	for _, tr := range rep.Targets {
		if tr.Status != "applied" || tr.ToVersion != 4 {
			t.Errorf("%q: %+v", tr.Name, tr)
		}
	}
	rep.target(t, hostile)
	for _, s := range []string{"t_one", "t_two", hostile} {
		n := queryInt(t, conn, `SELECT count(*) FROM pg_tables WHERE schemaname = $1`, s)
		if n != 6 {
			t.Errorf("schema %q has %d tables, want 6 (4 seed tables, version and checksum tables)", s, n)
		}
		v := queryInt(t, conn, fmt.Sprintf(`SELECT max(version_id) FROM %s.goose_db_version`, pgx.Identifier{s}.Sanitize()))
		if v != 4 {
			t.Errorf("schema %q at version %d", s, v)
		}
	}
	if n := queryInt(t, conn, `SELECT count(*) FROM pg_tables WHERE schemaname IN ('public', 'other')`); n != 1 {
		t.Errorf("public and other hold %d tables, want only public.x", n)
	}

	status := runCLI(t, nil, "status", "--fleet", fleetPath, "--format", "json", "--quiet")
	if status.code != 0 {
		t.Fatalf("status: exit %d\n%s", status.code, status.stderr)
	}
	for _, tr := range parseReport(t, status.stdout).Targets {
		if tr.Status != "up_to_date" || tr.ToVersion != 4 {
			t.Errorf("status %q: %+v", tr.Name, tr)
		}
	}
	drift := runCLI(t, nil, "drift", "--fleet", fleetPath, "--format", "json", "--quiet")
	if drift.code != 0 {
		t.Errorf("drift on freshly migrated schemas: exit %d\n%s\n%s", drift.code, drift.stdout, drift.stderr)
	}
}

// TestDiscoverQuery: a catalog table's rows are targets, with labels; a
// duplicate name is an error naming both; an unreachable discovery server
// is exit 2 before anything is migrated, and its password stays hidden.
func TestDiscoverQuery(t *testing.T) {
	dbs := newDatabases(t, 3)
	catalog := dbs[0]
	conn := server.Connect(t, catalog)
	if _, err := conn.Exec(context.Background(), `CREATE TABLE tenants (name text, dsn text, labels jsonb, active bool)`); err != nil {
		t.Fatal(err)
	}
	for i, db := range dbs[1:] {
		if _, err := conn.Exec(context.Background(), `INSERT INTO tenants VALUES ($1, $2, $3, true)`,
			fmt.Sprintf("tenant-%d", i), dsnFor(t, db, ""), fmt.Sprintf(`{"tier": "t%d"}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	fleetText := fmt.Sprintf(`discover:
  - server: %s
    query: SELECT name, dsn, labels FROM tenants WHERE active
`, dsnFor(t, catalog, ""))
	fleetPath := writeFile(t, "fleet.yaml", fleetText)
	res := runCLI(t, nil, "up", "--fleet", fleetPath, "--format", "json", "--quiet", "--select", "tier=t1")
	if res.code != 0 {
		t.Fatalf("up: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	rep := parseReport(t, res.stdout)
	if len(rep.Targets) != 1 || rep.Targets[0].Name != "tenant-1" || rep.Targets[0].Status != "applied" {
		t.Fatalf("--select tier=t1: %+v", rep.Targets)
	}
	if n := relationCount(t, dbs[1]); n != 0 {
		t.Errorf("tenant-0 was not selected but has %d relations", n)
	}

	// A duplicate row: both origins named, exit 2, nothing migrated.
	if _, err := conn.Exec(context.Background(), `INSERT INTO tenants VALUES ('tenant-0', $1, '{}', true)`, dsnFor(t, dbs[2], "")); err != nil {
		t.Fatal(err)
	}
	dup := runCLI(t, nil, "up", "--fleet", fleetPath, "--quiet")
	if dup.code != 2 || !strings.Contains(dup.stderr, "tenant-0") || !strings.Contains(dup.stderr, "row") {
		t.Errorf("duplicate: exit %d\n%s", dup.code, dup.stderr)
	}
	if n := relationCount(t, dbs[1]); n != 0 {
		t.Errorf("a failed discovery migrated something: %d relations", n)
	}

	const password = "Discovery-Secret-77"
	unreachable := writeFile(t, "fleet.yaml", fmt.Sprintf(`discover:
  - server: postgres://app:${DISC_PW}@127.0.0.1:%d/catalog?sslmode=disable
    databases: tenant_%%
`, closedPort(t)))
	bad := runCLI(t, []string{"DISC_PW=" + password}, "up", "--fleet", unreachable)
	if bad.code != 2 || !strings.Contains(bad.stderr, "fleet.yaml:2") {
		t.Errorf("unreachable discovery server: exit %d\n%s", bad.code, bad.stderr)
	}
	if strings.Contains(bad.stdout+bad.stderr, password) {
		t.Errorf("the discovery server's password leaked:\n%s", bad.stderr)
	}
}

// TestShardsAcrossProcesses: the same fleet split into 4 shards run as 4
// processes: disjoint, covering, and the merged report is the whole run.
func TestShardsAcrossProcesses(t *testing.T) {
	dbs := newDatabases(t, 1)
	conn := server.Connect(t, dbs[0])
	const tenants = 200
	var ddl strings.Builder
	for i := range tenants {
		fmt.Fprintf(&ddl, "CREATE SCHEMA tenant_%03d;", i)
	}
	if _, err := conn.Exec(context.Background(), ddl.String()); err != nil {
		t.Fatal(err)
	}
	fleetPath := writeFile(t, "fleet.yaml", fmt.Sprintf("defaults:\n  parallelism: 4\ndiscover:\n  - server: %s\n    schemas: tenant\\_%%\n", dsnFor(t, dbs[0], "")))
	dir := t.TempDir()
	const shards = 4
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmds := make([]*exec.Cmd, shards)
	for i := range shards {
		cmds[i] = exec.CommandContext(ctx, binary, "up", "--fleet", fleetPath, "--shard", fmt.Sprintf("%d/%d", i, shards),
			"--quiet", "--format", "json", "--report", filepath.Join(dir, fmt.Sprintf("shard-%d.json", i)))
		cmds[i].Env = cleanEnv()
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	seen := map[string]int{}
	var files []string
	for i := range shards {
		path := filepath.Join(dir, fmt.Sprintf("shard-%d.json", i))
		files = append(files, path)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var rep Report
		if err := json.Unmarshal(data, &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Targets) == 0 {
			t.Errorf("shard %d got no targets", i)
		}
		for _, tr := range rep.Targets {
			if prev, dup := seen[tr.Name]; dup {
				t.Errorf("%s is in shard %d and shard %d", tr.Name, prev, i)
			}
			seen[tr.Name] = i
		}
	}
	if len(seen) != tenants {
		t.Errorf("the shards cover %d targets, want %d", len(seen), tenants)
	}
	merged := runCLI(t, nil, append([]string{"report", "merge", "--format", "json"}, files...)...)
	if merged.code != 0 {
		t.Fatalf("report merge: exit %d\n%s", merged.code, merged.stderr)
	}
	rep := parseReport(t, merged.stdout)
	if rep.Summary["targets"] != tenants || rep.Summary["applied"] != tenants || rep.Command != "up" {
		t.Errorf("merged summary %v", rep.Summary)
	}
	if n := queryInt(t, conn, `SELECT count(*) FROM pg_tables WHERE tablename = 'goose_db_version' AND schemaname LIKE 'tenant\_%'`); n != tenants {
		t.Errorf("%d schemas migrated, want %d", n, tenants)
	}
}
