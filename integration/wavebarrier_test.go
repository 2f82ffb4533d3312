package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
)

// TestWavesAcrossProcesses runs a rollout the way the Kubernetes Jobs do:
// a canary wave, a second wave as two shard processes, and a third wave,
// each step a separate process that reads the previous wave's reports.
// The budget holds across shards: two failures, one per shard, are within
// each shard's max_failures of 1 and over it for the wave.
func TestWavesAcrossProcesses(t *testing.T) {
	dbs := newDatabases(t, 7)
	canary, third := dbs[0], dbs[5:]
	second := dbs[1:5]
	// Target names are chosen so each of the second wave's two shards gets
	// two of its tenants; one failing tenant per shard.
	name := map[string]string{canary: "canary-0", third[0]: "third-0", third[1]: "third-1"}
	perShard := [2][]string{}
	for k := 0; len(perShard[0]) < 2 || len(perShard[1]) < 2; k++ {
		n := fmt.Sprintf("second-%02d", k)
		i := len(fleet.Shard([]fleet.Target{{Name: n}}, 1, 2)) // 1 when n is in shard 1
		if len(perShard[i]) < 2 {
			perShard[i] = append(perShard[i], n)
		}
	}
	for j, db := range second {
		name[db] = perShard[j/2][j%2]
	}
	failing := []string{second[0], second[2]} // the first of each shard
	tier := map[string]string{canary: "canary", third[0]: "third", third[1]: "third"}
	for _, db := range second {
		tier[db] = "second"
	}
	var b strings.Builder
	b.WriteString("defaults:\n  lock_wait: 5s\ntargets:\n")
	for _, db := range dbs {
		fmt.Fprintf(&b, "  - name: %s\n    dsn: %s\n    labels: {tier: %s}\n", name[db], dsnFor(t, db, ""), tier[db])
	}
	b.WriteString(`waves:
  - name: canary
    select: {tier: canary}
    max_failures: 0
  - name: second
    select: {tier: second}
    max_failures: 1
  - name: third
`)
	fleetPath := writeFile(t, "fleet.yaml", b.String())
	dir := t.TempDir()
	reportFile := func(file string) string { return filepath.Join(dir, file+".json") }
	// A tenant with its own sessions table fails migration 003 and is rolled back.
	// A view, not a table: the target still counts as never migrated, and
	// migration 003's CREATE TABLE sessions fails on the name.
	breakTenant := func(db string) { adminExecIn(t, db, "CREATE VIEW sessions AS SELECT 1 AS id") }
	untouched := func(t *testing.T, db string) {
		t.Helper()
		if _, exists := dbVersion(t, db); exists {
			t.Errorf("%s was touched: it has a version table", db)
		}
	}
	up := func(t *testing.T, file string, args ...string) result {
		t.Helper()
		args = append([]string{"up", "--fleet", fleetPath, "--format", "json", "--quiet", "--report", reportFile(file)}, args...)
		return runCLI(t, nil, args...)
	}

	t.Run("canary over budget leaves the second wave untouched", func(t *testing.T) {
		breakTenant(canary)
		if res := up(t, "canary-bad", "--wave", "canary"); res.code != 1 {
			t.Fatalf("canary: exit %d, want 1\n%s", res.code, res.stderr)
		}
		for i := 0; i < 2; i++ {
			res := up(t, fmt.Sprintf("second-skipped-%d", i), "--wave", "second", "--shard", fmt.Sprintf("%d/2", i), "--after", reportFile("canary-bad"))
			if res.code != 1 {
				t.Fatalf("second shard %d: exit %d, want 1\n%s", i, res.code, res.stderr)
			}
			rep := parseReport(t, res.stdout)
			if rep.Wave != "second" || rep.Shard == nil || rep.Shard.Index != i || rep.Shard.Count != 2 {
				t.Errorf("report header: wave %q shard %+v", rep.Wave, rep.Shard)
			}
			for _, tr := range rep.Targets {
				if tr.Status != "skipped" || tr.Error == nil || !strings.Contains(tr.Error.Message, "wave canary: 1 of its 1 target(s) failed") {
					t.Errorf("%s: %+v, want skipped naming the canary's failure", tr.Name, tr)
				}
			}
		}
		for _, db := range second {
			untouched(t, db)
		}
		adminExecIn(t, canary, "DROP VIEW sessions")
	})

	t.Run("wrong wave or missing shard is a usage error", func(t *testing.T) {
		if res := up(t, "x", "--wave", "third", "--after", reportFile("canary-bad")); res.code != 2 || !strings.Contains(res.stderr, "the wave before this one is second") {
			t.Errorf("wrong wave: exit %d\n%s", res.code, res.stderr)
		}
		if res := up(t, "x", "--wave", "third", "--after", reportFile("second-skipped-0")); res.code != 2 || !strings.Contains(res.stderr, "shard 1/2 is missing") {
			t.Errorf("missing shard: exit %d\n%s", res.code, res.stderr)
		}
		if res := up(t, "x", "--wave", "fourth"); res.code != 2 || !strings.Contains(res.stderr, "no such wave") {
			t.Errorf("unknown wave: exit %d\n%s", res.code, res.stderr)
		}
		for _, db := range third {
			untouched(t, db)
		}
	})

	t.Run("second wave over budget across shards leaves the third untouched", func(t *testing.T) {
		if res := up(t, "canary", "--wave", "canary"); res.code != 0 {
			t.Fatalf("canary: exit %d\n%s", res.code, res.stderr)
		}
		for _, db := range failing {
			breakTenant(db)
		}
		var shards []string
		for i := 0; i < 2; i++ {
			file := fmt.Sprintf("second-%d", i)
			res := up(t, file, "--wave", "second", "--shard", fmt.Sprintf("%d/2", i), "--after", reportFile("canary"))
			if res.code != 1 {
				t.Fatalf("second shard %d: exit %d, want 1 (one target rolled back)\n%s", i, res.code, res.stderr)
			}
			rep := parseReport(t, res.stdout)
			if len(rep.Waves) != 1 || rep.Waves[0].Failures != 1 || rep.Waves[0].Halted {
				t.Fatalf("shard %d alone must be within budget: %+v", i, rep.Waves)
			}
			if rep.Summary["applied"] != 1 || rep.Summary["rolled_back"] != 1 {
				t.Errorf("shard %d: %v", i, rep.Summary)
			}
			shards = append(shards, reportFile(file))
		}
		res := up(t, "third", "--wave", "third", "--after", shards[0], "--after", shards[1])
		if res.code != 1 {
			t.Fatalf("third: exit %d, want 1\n%s", res.code, res.stderr)
		}
		for _, tr := range parseReport(t, res.stdout).Targets {
			if tr.Status != "skipped" || !strings.Contains(tr.Error.Message, "wave second: 2 of its 4 target(s) failed, more than its max_failures of 1 (1 allowed)") {
				t.Errorf("%s: %+v", tr.Name, tr)
			}
		}
		for _, db := range third {
			untouched(t, db)
		}

		// The merged report records each wave's failures against its budget.
		merge := runCLI(t, nil, "report", "merge", "--format", "json", reportFile("canary"), shards[0], shards[1], reportFile("third"))
		merged := parseReport(t, merge.stdout)
		got := map[string]string{}
		for _, w := range merged.Waves {
			got[w.Name] = fmt.Sprintf("%d/%d max %s halted %v", w.Failures, w.Targets, w.MaxFailures, w.Halted)
		}
		want := map[string]string{"canary": "0/1 max 0 halted false", "second": "2/4 max 1 halted true", "third": "0/2 max unlimited halted false"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("merged waves: %v, want %v", got, want)
		}

		// What the halted wave's shards applied is rolled back from their reports.
		refused := runCLI(t, nil, "down", "--fleet", fleetPath, "--quiet", "--undo", shards[0], "--undo", shards[1])
		if refused.code != 2 || !strings.Contains(refused.stderr, "--yes") {
			t.Errorf("down --undo without a terminal or --yes: exit %d, want 2 asking for --yes\n%s", refused.code, refused.stderr)
		}
		undo := runCLI(t, nil, "down", "--fleet", fleetPath, "--format", "json", "--quiet", "--yes", "--undo", shards[0], "--undo", shards[1])
		if undo.code != 0 {
			t.Fatalf("down --undo: exit %d\n%s\n%s", undo.code, undo.stdout, undo.stderr)
		}
		rep := parseReport(t, undo.stdout)
		if len(rep.Targets) != 2 {
			t.Errorf("down --undo touched %d targets, want the 2 the wave applied: %+v", len(rep.Targets), rep.Targets)
		}
		for _, tr := range rep.Targets {
			if tr.Status != "reverted" {
				t.Errorf("%s: down --undo status %q, want reverted", tr.Name, tr.Status)
			}
		}
		for _, db := range second {
			if v, _ := dbVersion(t, db); v != 0 {
				t.Errorf("%s: at version %d after down --undo, want 0", db, v)
			}
		}
		if v, _ := dbVersion(t, canary); v != 4 {
			t.Errorf("canary at %d: down --undo of the second wave must leave it", v)
		}
	})
}

// adminExecIn runs one statement in database db on a connection of its
// own, closed at once, so the server's statistics see its effects (a
// backend flushes them when it ends).
func adminExecIn(t *testing.T, db, sql string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsnFor(t, db, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s in %s: %v", sql, db, err)
	}
}
