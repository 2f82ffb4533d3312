package integration

import (
	"strings"
	"testing"
)

// TestAdoptBadInput: each target adopt cannot prove is a per-target error
// naming the version(s) and the objects that differ, with nothing written
// on it, while the other targets are adopted.
func TestAdoptBadInput(t *testing.T) {
	t.Parallel()
	bin := migrateBin(t)
	dbs := newDatabases(t, 6)
	names := []string{"good", "unknown", "nomatch", "disagree", "shape", "dirty"}
	dsn, db := map[string]string{}, map[string]string{}
	for i, n := range names {
		db[n], dsn[n] = dbs[i], dsnFor(t, dbs[i], "")
	}
	mustMigrate(t, bin, dsn["good"], "up")
	// A schema_migrations version the set does not contain.
	mustMigrate(t, bin, dsn["unknown"], "up")
	adminOn(t, db["unknown"], "UPDATE "+migrateTable+" SET version = 7")
	// Built by psql to 2, then a column added by hand: no version matches.
	psqlApply(t, dsn["nomatch"], 2)
	adminOn(t, db["nomatch"], "ALTER TABLE users ADD COLUMN nickname text")
	// Adopted at 2, then moved to 4 by golang-migrate alone: the tables disagree.
	mustMigrate(t, bin, dsn["disagree"], "up", "2")
	if res := runCLI(t, nil, "adopt", "--dsn", dsn["disagree"], "--format", "json"); res.code != 0 {
		t.Fatalf("adopt at 2: exit %d\n%s", res.code, res.stdout)
	}
	mustMigrate(t, bin, dsn["disagree"], "up")
	// Another framework's schema_migrations (one text column).
	psqlApply(t, dsn["shape"], 4)
	adminOn(t, db["shape"], "CREATE TABLE "+migrateTable+" (version varchar(255) PRIMARY KEY); INSERT INTO "+migrateTable+" VALUES ('20240101')")
	// Dirty, set the way golang-migrate leaves it after a failure.
	mustMigrate(t, bin, dsn["dirty"], "up")
	adminOn(t, db["dirty"], "UPDATE "+migrateTable+" SET dirty = true")

	before := map[string]string{}
	for _, n := range names {
		before[n] = fingerprint(t, db[n])
	}
	fleetFile := writeFile(t, "fleet.yaml", fleetYAML(dsn, names))
	res := runCLI(t, nil, "adopt", "--fleet", fleetFile, "--format", "json")
	if res.code != 1 {
		t.Fatalf("adopt: exit %d, want 1\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	rep := parseReport(t, res.stdout)
	if tr := rep.target(t, "good"); tr.Status != "applied" || tr.ToVersion != 4 {
		t.Errorf("good: %+v", tr)
	}
	wants := map[string][]string{
		"unknown":  {"version 7", "does not contain", "1, 2, 3, 4"},
		"nomatch":  {"matches no version", "closest is version 2", "column users.nickname unexpected"},
		"disagree": {gooseTable + " says version 2", migrateTable + " says version 4", "--version"},
		"shape":    {"unexpected shape", "version character varying(255)"},
		"dirty":    {"dirty at version 4"},
	}
	for n, want := range wants {
		tr := rep.target(t, n)
		if tr.Status != "failed" || tr.Error == nil {
			t.Errorf("%s: %+v, want failed", n, tr)
			continue
		}
		for _, w := range want {
			if !strings.Contains(tr.Error.Message, w) {
				t.Errorf("%s: message %q lacks %q", n, tr.Error.Message, w)
			}
		}
		if after := fingerprint(t, db[n]); after != before[n] {
			t.Errorf("%s was written:\n before %s\n after  %s", n, before[n], after)
		}
	}
	if tr := rep.target(t, "nomatch"); len(tr.Findings) != 1 || tr.Findings[0].Object != "column users.nickname" {
		t.Errorf("nomatch findings: %+v", tr.Findings)
	}

	t.Run("--version beyond the set is a usage error touching nothing", func(t *testing.T) {
		res := runCLI(t, nil, "adopt", "--fleet", fleetFile, "--version", "9")
		if res.code != 2 || !strings.Contains(res.stderr, "--version 9") || res.stdout != "" {
			t.Fatalf("adopt --version 9: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		for _, n := range names {
			if n == "good" {
				continue
			}
			if after := fingerprint(t, db[n]); after != before[n] {
				t.Errorf("%s was written", n)
			}
		}
	})

	t.Run("--version states the truth for the disagreeing target", func(t *testing.T) {
		res := runCLI(t, nil, "adopt", "--dsn", dsn["disagree"], "--version", "4", "--format", "json")
		if res.code != 0 {
			t.Fatalf("adopt --version 4: exit %d\n%s", res.code, res.stdout)
		}
		if got := gooseVersion(t, db["disagree"]); got != 4 {
			t.Errorf("%s at %d, want 4", gooseTable, got)
		}
		if res := runCLI(t, nil, "status", "--dsn", dsn["disagree"]); res.code != 0 {
			t.Errorf("status after adopt --version 4: exit %d\n%s", res.code, res.stdout)
		}
	})
}
