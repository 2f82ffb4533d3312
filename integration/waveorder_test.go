package integration

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// fill adds about mb megabytes of rows to a materialized view of its own
// in db (or in schema of db), so sizes differ. A materialized view rather
// than a table: a target holding tables but no version table is one a
// person migrated, which the tool leaves unadopted.
func fill(t *testing.T, conn *pgx.Conn, table string, mb int) {
	t.Helper()
	for _, q := range []string{
		fmt.Sprintf("CREATE MATERIALIZED VIEW %s AS SELECT repeat(md5(g::text), 32) AS pad FROM generate_series(1, %d) g", table, mb*1000),
	} {
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestWaveOrderSize: a wave with order: size starts its targets smallest
// first, whatever the fleet order; the report records the order and each
// target's size. With --parallel 1 the start times show it.
func TestWaveOrderSize(t *testing.T) {
	t.Run("databases", func(t *testing.T) {
		dbs := newDatabases(t, 4)
		megabytes := []int{3, 0, 6, 1} // fleet order is not size order
		for i, db := range dbs {
			if megabytes[i] > 0 {
				fill(t, server.Connect(t, db), "ballast", megabytes[i])
			}
		}
		var b strings.Builder
		b.WriteString("defaults:\n  lock_wait: 5s\ntargets:\n")
		for _, db := range dbs {
			fmt.Fprintf(&b, "  - name: %s\n    dsn: %s\n", db, dsnFor(t, db, ""))
		}
		b.WriteString("waves:\n  - name: everyone\n    order: size\n    max_failures: 1\n")
		fleetPath := writeFile(t, "fleet.yaml", b.String())
		res := runCLI(t, nil, "up", "--fleet", fleetPath, "--parallel", "1", "--format", "json", "--quiet")
		if res.code != 0 {
			t.Fatalf("up: exit %d\n%s", res.code, res.stderr)
		}
		checkSmallestFirst(t, parseReport(t, res.stdout), []string{dbs[1], dbs[3], dbs[0], dbs[2]})
	})

	t.Run("schemas", func(t *testing.T) {
		dbs := newDatabases(t, 1)
		conn := server.Connect(t, dbs[0])
		megabytes := map[string]int{"t_big": 4, "t_small": 0, "t_mid": 2}
		for _, s := range []string{"t_big", "t_small", "t_mid"} {
			if _, err := conn.Exec(t.Context(), "CREATE SCHEMA "+s); err != nil {
				t.Fatal(err)
			}
			if megabytes[s] > 0 {
				fill(t, conn, s+".ballast", megabytes[s])
			}
		}
		fleetPath := writeFile(t, "fleet.yaml", fmt.Sprintf("discover:\n  - server: %s\n    schemas: t\\_%%\nwaves:\n  - name: all\n    order: size\n", dsnFor(t, dbs[0], "")))
		res := runCLI(t, nil, "up", "--fleet", fleetPath, "--parallel", "1", "--format", "json", "--quiet")
		if res.code != 0 {
			t.Fatalf("up: exit %d\n%s", res.code, res.stderr)
		}
		checkSmallestFirst(t, parseReport(t, res.stdout), []string{"t_small", "t_mid", "t_big"})
	})

	t.Run("name", func(t *testing.T) {
		dbs := newDatabases(t, 3)
		var b strings.Builder
		b.WriteString("targets:\n")
		for _, i := range []int{2, 0, 1} {
			fmt.Fprintf(&b, "  - name: %s\n    dsn: %s\n", dbs[i], dsnFor(t, dbs[i], ""))
		}
		b.WriteString("waves:\n  - name: all\n    order: name\n")
		res := runCLI(t, nil, "up", "--fleet", writeFile(t, "fleet.yaml", b.String()), "--parallel", "1", "--format", "json", "--quiet")
		if res.code != 0 {
			t.Fatalf("up: exit %d\n%s", res.code, res.stderr)
		}
		rep := parseReport(t, res.stdout)
		if got := startOrder(t, rep); strings.Join(got, ",") != strings.Join(dbs, ",") {
			t.Errorf("started %v, want by name %v", got, dbs)
		}
		if len(rep.Waves) != 1 || rep.Waves[0].Order != "name" {
			t.Errorf("waves: %+v", rep.Waves)
		}
	})
}

// startOrder lists the targets by their start time.
func startOrder(t *testing.T, rep Report) []string {
	t.Helper()
	ts := append([]TargetResult(nil), rep.Targets...)
	for _, tr := range ts {
		if tr.StartedAt == nil {
			t.Fatalf("%s has no started_at", tr.Name)
		}
	}
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].StartedAt.Before(*ts[j].StartedAt) })
	names := make([]string, len(ts))
	for i, tr := range ts {
		names[i] = tr.Name
	}
	return names
}

func checkSmallestFirst(t *testing.T, rep Report, want []string) {
	t.Helper()
	got := startOrder(t, rep)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("started %v, want smallest first %v", got, want)
	}
	var last int64 = -1
	for _, name := range got {
		tr := rep.target(t, name)
		if tr.SizeBytes == nil {
			t.Fatalf("%s: no size_bytes in the report", name)
		}
		if *tr.SizeBytes < last {
			t.Errorf("%s: size %d after a larger one (%d)", name, *tr.SizeBytes, last)
		}
		last = *tr.SizeBytes
	}
	if len(rep.Waves) != 1 || rep.Waves[0].Order != "size" || rep.Waves[0].Targets != len(want) {
		t.Errorf("waves: %+v", rep.Waves)
	}
}
