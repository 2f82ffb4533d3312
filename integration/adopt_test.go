package integration

import (
	"strings"
	"testing"
)

// adoptFleet builds the fleet a newcomer brings, the usual ways: tenants
// migrated with the golang-migrate CLI (to 2, to 4, and one left dirty by a
// failed run), one migrated with psql -f, and one migrated with psql -f and
// then edited by hand.
type adoptFleet struct {
	bin                          string
	m2, m4, dirty, psql4, edited string // database names
	dsn                          map[string]string
	order                        []string
}

func newAdoptFleet(t *testing.T) *adoptFleet {
	t.Helper()
	f := &adoptFleet{bin: migrateBin(t), dsn: map[string]string{}}
	dbs := newDatabases(t, 5)
	f.m2, f.m4, f.dirty, f.psql4, f.edited = dbs[0], dbs[1], dbs[2], dbs[3], dbs[4]
	f.order = []string{"m2", "m4", "dirty", "psql4", "edited"}
	for i, name := range f.order {
		f.dsn[name] = dsnFor(t, dbs[i], "")
	}
	mustMigrate(t, f.bin, f.dsn["m2"], "up", "2")
	mustMigrate(t, f.bin, f.dsn["m4"], "up")
	// A real failed run: 003 meets a sessions table someone created first,
	// and golang-migrate leaves schema_migrations dirty at 3.
	mustMigrate(t, f.bin, f.dsn["dirty"], "up", "2")
	adminOn(t, f.dirty, "CREATE TABLE sessions (id bigint)")
	if out, code := runMigrate(t, f.bin, f.dsn["dirty"], "up"); code == 0 {
		t.Fatalf("migrate up over a conflicting sessions table succeeded: %s", out)
	}
	if out := mustMigrate(t, f.bin, f.dsn["dirty"], "version"); !strings.Contains(out, "3 (dirty)") {
		t.Fatalf("migrate version on the failed tenant: %q, want 3 (dirty)", out)
	}
	psqlApply(t, f.dsn["psql4"], 4)
	psqlApply(t, f.dsn["edited"], 4)
	adminOn(t, f.edited, "DROP INDEX idx_sessions_expires_at")
	return f
}

// adminOn runs SQL on one test database.
func adminOn(t *testing.T, db, sql string) {
	t.Helper()
	if _, err := server.Connect(t, db).Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s on %s: %v", sql, db, err)
	}
}

func (f *adoptFleet) file(t *testing.T, names ...string) string {
	t.Helper()
	if len(names) == 0 {
		names = f.order
	}
	return writeFile(t, "fleet.yaml", fleetYAML(f.dsn, names))
}

func (f *adoptFleet) db(name string) string {
	return map[string]string{"m2": f.m2, "m4": f.m4, "dirty": f.dirty, "psql4": f.psql4, "edited": f.edited}[name]
}

// TestAdoptFromGolangMigrateAndPsql is the newcomer's path: recognise what
// golang-migrate and psql built, refuse to run 001 on it, adopt it with
// evidence, then migrate it and keep golang-migrate's CLI agreeing.
func TestAdoptFromGolangMigrateAndPsql(t *testing.T) {
	t.Parallel()
	f := newAdoptFleet(t)
	fleetFile := f.file(t)
	before := map[string]string{}
	for _, n := range f.order {
		before[n] = fingerprint(t, f.db(n))
	}

	t.Run("status and plan say unadopted, never version 0 with all pending", func(t *testing.T) {
		for _, cmd := range []string{"status", "plan"} {
			res := runCLI(t, nil, cmd, "--fleet", fleetFile, "--format", "json")
			if res.code != 1 {
				t.Fatalf("%s: exit %d, want 1\n%s", cmd, res.code, res.stderr)
			}
			rep := parseReport(t, res.stdout)
			if rep.Summary["unadopted"] != 5 {
				t.Errorf("%s summary %v, want 5 unadopted", cmd, rep.Summary)
			}
			for _, n := range f.order {
				tr := rep.target(t, n)
				if tr.Status != "unadopted" || len(tr.Pending) != 0 || tr.Error == nil || !strings.Contains(tr.Error.Message, "orchestrator adopt") {
					t.Errorf("%s %s: %+v", cmd, n, tr)
				}
			}
			for n, want := range map[string]int64{"m2": 2, "m4": 4, "dirty": 3} {
				tr := rep.target(t, n)
				if tr.ManagedBy != "golang-migrate" || tr.ClaimedVersion == nil || *tr.ClaimedVersion != want {
					t.Errorf("%s %s: managed_by %q claimed %v, want golang-migrate %d", cmd, n, tr.ManagedBy, tr.ClaimedVersion, want)
				}
			}
			if tr := rep.target(t, "dirty"); !strings.Contains(tr.Error.Message, "dirty") {
				t.Errorf("%s dirty: %s", cmd, tr.Error.Message)
			}
			if tr := rep.target(t, "psql4"); tr.ManagedBy != "manual" {
				t.Errorf("%s psql4: managed_by %q", cmd, tr.ManagedBy)
			}
			table := runCLI(t, nil, cmd, "--fleet", fleetFile)
			if table.code != 1 || !strings.Contains(table.stdout, "2 (golang-migrate)") || !strings.Contains(table.stdout, "orchestrator adopt") {
				t.Errorf("%s table: exit %d\n%s", cmd, table.code, table.stdout)
			}
		}
	})

	t.Run("up and plan --verify touch nothing on unadopted targets", func(t *testing.T) {
		for _, args := range [][]string{{"up"}, {"plan", "--verify"}, {"down", "--to", "0", "--yes"}} {
			res := runCLI(t, nil, append(args, "--fleet", fleetFile, "--format", "json")...)
			if res.code != 1 {
				t.Fatalf("%v: exit %d, want 1\n%s\n%s", args, res.code, res.stdout, res.stderr)
			}
			for _, tr := range parseReport(t, res.stdout).Targets {
				if tr.Status != "unadopted" || len(tr.Applied) != 0 {
					t.Errorf("%v %s: %+v", args, tr.Name, tr)
				}
			}
			for _, n := range f.order {
				if got := fingerprint(t, f.db(n)); got != before[n] {
					t.Errorf("%v changed %s:\n before %s\n after  %s", args, n, before[n], got)
				}
			}
		}
	})

	t.Run("drift says unadopted, with the claimed version, not never migrated", func(t *testing.T) {
		res := runCLI(t, nil, "drift", "--fleet", f.file(t, "m2", "m4"), "--format", "json")
		if res.code != 3 {
			t.Fatalf("drift: exit %d, want 3\n%s", res.code, res.stderr)
		}
		for _, tr := range parseReport(t, res.stdout).Targets {
			if tr.Status != "drifted" || len(tr.Findings) != 1 || tr.Findings[0].Kind != "unadopted" || tr.ClaimedVersion == nil {
				t.Errorf("drift %s: %+v", tr.Name, tr)
			}
		}
	})

	t.Run("adopt proves and records, refuses dirty and edited", func(t *testing.T) {
		res := runCLI(t, nil, "adopt", "--fleet", fleetFile, "--format", "json")
		if res.code != 1 {
			t.Fatalf("adopt: exit %d, want 1\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		rep := parseReport(t, res.stdout)
		for n, want := range map[string]int64{"m2": 2, "m4": 4, "psql4": 4} {
			tr := rep.target(t, n)
			if tr.Status != "applied" || tr.ToVersion != want || tr.ClaimedVersion == nil || *tr.ClaimedVersion != want || tr.Forced {
				t.Errorf("adopt %s: %+v, want applied at %d", n, tr, want)
			}
			if got := gooseVersion(t, f.db(n)); got != want {
				t.Errorf("%s: %s at %d, want %d", n, gooseTable, got, want)
			}
		}
		if tr := rep.target(t, "psql4"); tr.ManagedBy != "manual" {
			t.Errorf("psql4 managed_by %q", tr.ManagedBy)
		}
		dirty := rep.target(t, "dirty")
		if dirty.Status != "failed" || dirty.Error == nil || !strings.Contains(dirty.Error.Message, "dirty at version 3") ||
			!strings.Contains(dirty.Error.Message, "Check by hand") {
			t.Errorf("adopt dirty: %+v", dirty)
		}
		edited := rep.target(t, "edited")
		if edited.Status != "failed" || edited.Error == nil || !strings.Contains(edited.Error.Message, "index sessions.idx_sessions_expires_at missing") {
			t.Errorf("adopt edited: %+v", edited)
		}
		if len(edited.Findings) != 1 || edited.Findings[0].Object != "index sessions.idx_sessions_expires_at" || edited.Findings[0].Detail != "missing" {
			t.Errorf("adopt edited findings: %+v", edited.Findings)
		}
		for _, n := range []string{"dirty", "edited"} {
			if got := fingerprint(t, f.db(n)); got != before[n] {
				t.Errorf("refused %s was written:\n before %s\n after  %s", n, before[n], got)
			}
		}
		for _, n := range []string{"m2", "m4"} {
			if out := mustMigrate(t, f.bin, f.dsn[n], "version"); out != map[string]string{"m2": "2", "m4": "4"}[n] {
				t.Errorf("migrate version on %s after adopt: %q", n, out)
			}
		}
	})

	t.Run("adopt again is harmless", func(t *testing.T) {
		res := runCLI(t, nil, "adopt", "--fleet", f.file(t, "m2", "m4", "psql4"), "--format", "json")
		if res.code != 0 {
			t.Fatalf("adopt again: exit %d\n%s", res.code, res.stdout)
		}
		if s := parseReport(t, res.stdout).Summary; s["up_to_date"] != 3 {
			t.Errorf("adopt again: %v", s)
		}
	})

	t.Run("adopt --force adopts the edited one and says forced", func(t *testing.T) {
		res := runCLI(t, nil, "adopt", "--fleet", f.file(t, "edited"), "--force", "--format", "json")
		if res.code != 0 {
			t.Fatalf("adopt --force: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		tr := parseReport(t, res.stdout).Targets[0]
		if tr.Status != "applied" || !tr.Forced || tr.ToVersion != 4 || len(tr.Findings) != 1 {
			t.Errorf("adopt --force: %+v", tr)
		}
		table := runCLI(t, nil, "adopt", "--fleet", f.file(t, "edited"))
		if table.code != 0 || !strings.Contains(table.stdout, "up_to_date") {
			t.Errorf("adopt after --force: exit %d\n%s", table.code, table.stdout)
		}
	})

	adopted := []string{"m2", "m4", "psql4"}
	t.Run("up brings them to the latest and migrate agrees", func(t *testing.T) {
		res := runCLI(t, nil, "up", "--fleet", f.file(t, adopted...), "--format", "json")
		if res.code != 0 {
			t.Fatalf("up: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		for _, tr := range parseReport(t, res.stdout).Targets {
			if tr.ToVersion != 4 {
				t.Errorf("up %s: %+v", tr.Name, tr)
			}
		}
		for _, n := range []string{"m2", "m4"} {
			if out := mustMigrate(t, f.bin, f.dsn[n], "version"); out != "4" {
				t.Errorf("migrate version on %s after up: %q, want 4", n, out)
			}
			if out := mustMigrate(t, f.bin, f.dsn[n], "up"); !strings.Contains(out, "no change") {
				t.Errorf("migrate up on %s after orchestrator up: %q, want no change", n, out)
			}
		}
		if hasTable(t, f.psql4, migrateTable) {
			t.Errorf("psql4 got a %s it never had", migrateTable)
		}
	})

	t.Run("down and up keep golang-migrate in step", func(t *testing.T) {
		res := runCLI(t, nil, "down", "--fleet", f.file(t, "m2"), "--to", "1", "--yes", "--format", "json")
		if res.code != 0 {
			t.Fatalf("down: exit %d\n%s", res.code, res.stderr)
		}
		if out := mustMigrate(t, f.bin, f.dsn["m2"], "version"); out != "1" {
			t.Errorf("migrate version after down --to 1: %q", out)
		}
		mustMigrate(t, f.bin, f.dsn["m2"], "up")
		if res := runCLI(t, nil, "status", "--fleet", f.file(t, "m2"), "--format", "json"); res.code != 1 {
			t.Errorf("status after migrate moved it alone: exit %d, want 1 (the tables disagree)\n%s", res.code, res.stdout)
		}
	})

	t.Run("drift on the adopted fleet is clean", func(t *testing.T) {
		res := runCLI(t, nil, "drift", "--fleet", f.file(t, "m4", "psql4", "edited"), "--format", "json")
		rep := parseReport(t, res.stdout)
		for _, n := range []string{"m4", "psql4"} {
			if tr := rep.target(t, n); tr.Status != "clean" || len(tr.Findings) != 0 {
				t.Errorf("drift %s: %+v", n, tr)
			}
		}
		// The forced one still shows what was forced, and nothing else.
		if tr := rep.target(t, "edited"); len(tr.Findings) != 1 || tr.Findings[0].Object != "index sessions.idx_sessions_expires_at" {
			t.Errorf("drift edited: %+v", tr)
		}
		for _, tr := range rep.Targets {
			for _, fd := range tr.Findings {
				if strings.Contains(fd.Object, gooseTable) || strings.Contains(fd.Object, migrateTable) || strings.Contains(fd.Object, "orchestrator_migrations") {
					t.Errorf("drift %s reports a bookkeeping table: %+v", tr.Name, fd)
				}
			}
		}
	})
}

// TestGolangMigrateTableIgnore: with golang_migrate_table: ignore, the
// table is left alone.
func TestGolangMigrateTableIgnore(t *testing.T) {
	t.Parallel()
	bin := migrateBin(t)
	db := newDatabases(t, 1)[0]
	dsn := dsnFor(t, db, "")
	mustMigrate(t, bin, dsn, "up", "2")
	fleetFile := writeFile(t, "fleet.yaml", "defaults:\n  golang_migrate_table: ignore\ntargets:\n  - name: a\n    dsn: "+dsn+"\n")
	if res := runCLI(t, nil, "adopt", "--fleet", fleetFile, "--format", "json"); res.code != 0 {
		t.Fatalf("adopt: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if res := runCLI(t, nil, "up", "--fleet", fleetFile, "--format", "json"); res.code != 0 {
		t.Fatalf("up: exit %d\n%s", res.code, res.stdout)
	}
	if got := gooseVersion(t, db); got != 4 {
		t.Errorf("%s at %d, want 4", gooseTable, got)
	}
	if out := mustMigrate(t, bin, dsn, "version"); out != "2" {
		t.Errorf("migrate version with ignore: %q, want 2 (left alone)", out)
	}
	if res := runCLI(t, nil, "status", "--fleet", fleetFile, "--format", "json"); res.code != 0 {
		t.Errorf("status with ignore: exit %d\n%s", res.code, res.stdout)
	}
}

// TestAdoptTenantSchemas: schema-per-tenant targets built by psql -f (one
// schema each, search_path set) are recognised by the batched status read
// and adopted by schema evidence; a fresh schema is left to up.
func TestAdoptTenantSchemas(t *testing.T) {
	t.Parallel()
	db := newDatabases(t, 1)[0]
	conn := server.Connect(t, db)
	for _, s := range []string{"t_built", "t_half", "t_fresh"} {
		if _, err := conn.Exec(t.Context(), "CREATE SCHEMA "+s); err != nil {
			t.Fatal(err)
		}
	}
	psqlApplyEnv(t, dsnFor(t, db, ""), 4, "PGOPTIONS=-c search_path=t_built")
	psqlApplyEnv(t, dsnFor(t, db, ""), 2, "PGOPTIONS=-c search_path=t_half")
	fleetPath := writeFile(t, "fleet.yaml", "discover:\n  - server: "+dsnFor(t, db, "")+"\n    schemas: t\\_%\n")

	status := runCLI(t, nil, "status", "--fleet", fleetPath, "--format", "json", "--quiet")
	if status.code != 1 {
		t.Fatalf("status: exit %d, want 1\n%s", status.code, status.stdout)
	}
	rep := parseReport(t, status.stdout)
	for _, n := range []string{"t_built", "t_half"} {
		if tr := rep.target(t, n); tr.Status != "unadopted" || tr.ManagedBy != "manual" {
			t.Errorf("status %s: %+v", n, tr)
		}
	}
	if tr := rep.target(t, "t_fresh"); tr.Status != "pending" || len(tr.Pending) != 4 {
		t.Errorf("status t_fresh: %+v", tr)
	}

	adopt := runCLI(t, nil, "adopt", "--fleet", fleetPath, "--format", "json", "--quiet")
	if adopt.code != 0 {
		t.Fatalf("adopt: exit %d\n%s\n%s", adopt.code, adopt.stdout, adopt.stderr)
	}
	rep = parseReport(t, adopt.stdout)
	for n, want := range map[string]int64{"t_built": 4, "t_half": 2} {
		if tr := rep.target(t, n); tr.Status != "applied" || tr.ToVersion != want {
			t.Errorf("adopt %s: %+v, want applied at %d", n, tr, want)
		}
	}
	if tr := rep.target(t, "t_fresh"); tr.Status != "up_to_date" {
		t.Errorf("adopt t_fresh: %+v", tr)
	}
	if up := runCLI(t, nil, "up", "--fleet", fleetPath, "--format", "json", "--quiet"); up.code != 0 {
		t.Fatalf("up: exit %d\n%s", up.code, up.stdout)
	}
	if drift := runCLI(t, nil, "drift", "--fleet", fleetPath, "--format", "json", "--quiet"); drift.code != 0 {
		t.Errorf("drift after adopt and up: exit %d\n%s", drift.code, drift.stdout)
	}
}
