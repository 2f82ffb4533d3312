package integration

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestDrift: a clean fleet is clean; then one tamper per tenant, each found
// on exactly that tenant and no other, with the object named.
func TestDrift(t *testing.T) {
	dbs := newDatabases(t, 7)
	scratchBefore := scratchDatabases(t)
	dsns := map[string]string{}
	for _, db := range dbs {
		dsns[db] = dsnFor(t, db, "")
	}
	fleetPath := writeFile(t, "fleet.yaml", fleetYAML(dsns, dbs))

	// The last tenant is migrated with an earlier text of 002 (a comment
	// differs): its recorded checksum no longer matches the file.
	edited := seedWithExtra(t, nil)
	f := filepath.Join(edited, "002_create_api_keys_table.up.sql")
	body, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, append([]byte("-- an earlier revision of this file\n"), body...), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := runCLI(t, nil, "up", "--dsn", dsns[dbs[6]], "--migrations", edited, "--quiet"); res.code != 0 {
		t.Fatalf("up (edited): exit %d\n%s", res.code, res.stderr)
	}
	if res := runCLI(t, nil, "up", "--fleet", fleetPath, "--quiet", "--target", "*_0[0-5]"); res.code != 0 {
		t.Fatalf("up: exit %d\n%s", res.code, res.stderr)
	}

	clean := runCLI(t, nil, "drift", "--fleet", fleetPath, "--format", "json", "--target", "*_0[0-5]")
	if clean.code != 0 {
		t.Fatalf("drift on a clean fleet: exit %d\n%s\n%s", clean.code, clean.stdout, clean.stderr)
	}
	for _, tr := range parseReport(t, clean.stdout).Targets {
		if tr.Status != "clean" || len(tr.Findings) != 0 {
			t.Errorf("clean fleet: %s: %+v", tr.Name, tr)
		}
	}

	tamper := []struct {
		sql    string
		kind   string
		want   string   // finding text: object + " " + detail, as a prefix
		alsoOK []string // other findings this tamper truly causes
	}{
		{`ALTER TABLE users ADD COLUMN nickname text`, "schema", "column users.nickname unexpected", nil},
		{`DROP INDEX idx_api_keys_key_prefix`, "schema", "index api_keys.idx_api_keys_key_prefix missing", nil},
		{`ALTER TABLE sessions ALTER COLUMN user_agent TYPE text`, "schema", "column sessions.user_agent type text, expected character varying(512)", nil},
		// With its version row gone the tenant says it is at 3, and a table
		// of version 4 is then unexpected too: both are true.
		{`DELETE FROM goose_db_version WHERE version_id = 4`, "pending", "version 4 pending",
			[]string{"table usage_records unexpected"}},
		{`ALTER TABLE usage_records DROP CONSTRAINT usage_records_user_id_fkey,
		  ADD CONSTRAINT usage_records_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE`,
			"schema", "constraint usage_records.usage_records_user_id_fkey on delete cascade, expected set null", nil},
	}
	for i, tc := range tamper {
		if _, err := server.Connect(t, dbs[i]).Exec(context.Background(), tc.sql); err != nil {
			t.Fatalf("tamper %s: %v", dbs[i], err)
		}
	}
	promPath := filepath.Join(t.TempDir(), "drift.prom")
	res := runCLI(t, nil, "drift", "--fleet", fleetPath, "--format", "json", "--prometheus", promPath)
	if res.code != 3 {
		t.Fatalf("drift: exit %d, want 3\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	rep := parseReport(t, res.stdout)
	check := func(db, kind, want string, alsoOK []string) {
		t.Helper()
		tr := rep.target(t, db)
		if tr.Status != "drifted" {
			t.Errorf("%s: status %s, want drifted (%+v)", db, tr.Status, tr.Findings)
			return
		}
		found := false
		for _, f := range tr.Findings {
			text := f.Object + " " + f.Detail
			switch {
			case f.Kind == kind && strings.HasPrefix(text, want):
				found = true
			case slices.Contains(alsoOK, text):
			default:
				t.Errorf("%s: unexpected finding %s: %s", db, f.Kind, text)
			}
		}
		if !found {
			t.Errorf("%s: no %s finding %q in %+v", db, kind, want, tr.Findings)
		}
	}
	for i, tc := range tamper {
		check(dbs[i], tc.kind, tc.want, tc.alsoOK)
	}
	if tr := rep.target(t, dbs[5]); tr.Status != "clean" || len(tr.Findings) != 0 {
		t.Errorf("untampered %s: %+v", dbs[5], tr)
	}
	check(dbs[6], "checksum_mismatch", "version 2 up section changed since it was applied", nil)

	// Other tests build references on the same server at the same time:
	// a scratch database that appeared during this test and outlives it by
	// a minute is one this test's runs left behind.
	deadline := time.Now().Add(time.Minute)
	for {
		var left []string
		for name := range scratchDatabases(t) {
			if !scratchBefore[name] {
				left = append(left, name)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d scratch databases left: %v", len(left), left)
			break
		}
		time.Sleep(time.Second)
	}
	prom, err := os.ReadFile(promPath)
	if err != nil {
		t.Fatalf("--prometheus file: %v", err)
	}
	checkExposition(t, string(prom))
	if !strings.Contains(string(prom), `orchestrator_drift_drifted{target="`+dbs[0]+`"} 1`) ||
		!strings.Contains(string(prom), `orchestrator_drift_drifted{target="`+dbs[5]+`"} 0`) {
		t.Errorf("prometheus file lacks the drift gauges:\n%s", prom)
	}
}

// checkExposition parses the Prometheus text format strictly enough to
// catch a file node_exporter would reject.
func checkExposition(t *testing.T, text string) {
	t.Helper()
	typed := map[string]bool{}
	seen := map[string]bool{}
	for i, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if len(f) != 4 || (f[3] != "gauge" && f[3] != "counter") {
				t.Errorf("line %d: bad TYPE: %q", i+1, line)
			}
			typed[f[2]] = true
		case strings.HasPrefix(line, "# HELP "), line == "":
		case strings.HasPrefix(line, "#"):
			t.Errorf("line %d: unknown comment %q", i+1, line)
		default:
			sp := strings.LastIndexByte(line, ' ')
			if sp < 0 {
				t.Errorf("line %d: no value: %q", i+1, line)
				continue
			}
			series, value := line[:sp], line[sp+1:]
			name := series
			if j := strings.IndexByte(series, '{'); j >= 0 {
				name = series[:j]
				if !strings.HasSuffix(series, "}") {
					t.Errorf("line %d: unterminated labels: %q", i+1, line)
				}
			}
			if !typed[name] {
				t.Errorf("line %d: %s has no TYPE line before it", i+1, name)
			}
			if seen[series] {
				t.Errorf("line %d: duplicate series %s", i+1, series)
			}
			seen[series] = true
			if strings.Trim(value, "0123456789.eE+-") != "" && value != "NaN" {
				t.Errorf("line %d: bad value %q", i+1, value)
			}
		}
	}
}

// scratchDatabases lists the drift reference's scratch databases on the
// server now.
func scratchDatabases(t *testing.T) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'orch\_scratch\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		out[name] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
