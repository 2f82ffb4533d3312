package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

const driftBenchCommand = `ORCH_IT_NORACE=1 go test -run '^$' -bench BenchmarkDrift -benchtime 1x ./integration`

// BenchmarkDrift compares a drift check over N migrated tenant databases
// (default 100, env ORCH_BENCH_TENANTS) with the do-it-yourself way: a
// reference database migrated once, then `pg_dump --schema-only` of every
// tenant with the same parallelism and a diff of each dump against the
// reference's. Both find the same thing on a clean fleet: nothing.
func BenchmarkDrift(b *testing.B) {
	needBench(b, "BenchmarkDrift", driftBenchCommand)
	n := benchTenantCount(b)
	dbs := benchDatabases(b, n+1)
	ref, tenants := dbs[0], dbs[1:]
	if _, err := orchestratorUp(b, dbs); err != nil {
		b.Fatal(err)
	}
	dsns := map[string]string{}
	for _, db := range tenants {
		dsns[db] = server.DSNFor(db)
	}
	fleetPath := filepath.Join(b.TempDir(), "fleet.yaml")
	if err := os.WriteFile(fleetPath, []byte(fleetYAML(dsns, tenants)), 0o600); err != nil {
		b.Fatal(err)
	}
	dumpDir := b.TempDir()

	// Every iteration adds to the totals; the figures are means.
	var ours, diy, floor time.Duration
	for b.Loop() {
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), phaseTimeout(tenants))
		cmd := exec.CommandContext(ctx, binary, "drift", "--fleet", fleetPath, "--parallel", strconv.Itoa(benchParallel), "--format", "json", "--quiet")
		cmd.Env = cleanEnv()
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		cancel()
		ours += time.Since(t0)
		if err != nil {
			b.Fatalf("drift: %v\n%s", err, errb.String())
		}
		if rep := parseReport(b, out.String()); rep.Summary["clean"] != n {
			b.Fatalf("drift: summary %v, want %d clean", rep.Summary, n)
		}

		t0 = time.Now()
		if err := floorDrift(tenants); err != nil {
			b.Fatalf("drift floor: %v", err)
		}
		floor += time.Since(t0)

		t0 = time.Now()
		if err := diyDrift(ref, tenants, dumpDir); err != nil {
			b.Fatal(err)
		}
		diy += time.Since(t0)
	}
	iters := time.Duration(b.N)
	ours, diy, floor = ours/iters, diy/iters, floor/iters
	fmt.Printf("drift over %d migrated tenant databases, parallelism %d, mean of %d run(s)\n", n, benchParallel, b.N)
	fmt.Printf("  orchestrator drift                 %7.2fs  %6.1f ms/db   %.2fx the floor (goal <= 1.3x)\n",
		ours.Seconds(), perDB(ours, n), ours.Seconds()/floor.Seconds())
	fmt.Printf("  floor: catalog queries, 1 tx/db    %7.2fs  %6.1f ms/db\n", floor.Seconds(), perDB(floor, n))
	fmt.Printf("  pg_dump --schema-only + diff       %7.2fs  %6.1f ms/db   orchestrator is %.1fx faster (goal >= 3.5x)\n",
		diy.Seconds(), perDB(diy, n), diy.Seconds()/ours.Seconds())
	b.ReportMetric(ours.Seconds(), "orchestrator_s")
	b.ReportMetric(floor.Seconds(), "floor_s")
	b.ReportMetric(diy.Seconds(), "pgdump_s")
	b.ReportMetric(diy.Seconds()/ours.Seconds(), "speedup")
}

func perDB(d time.Duration, n int) float64 { return float64(d.Milliseconds()) / float64(n) }

// diyDrift is the shell-script way: dump the reference's schema, dump every
// tenant's with benchParallel workers, and diff each against the reference.
func diyDrift(ref string, tenants []string, dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), phaseTimeout(tenants))
	defer cancel()
	dump := func(ctx context.Context, db, dsn string) (string, error) {
		path := filepath.Join(dir, db+".sql")
		out, err := exec.CommandContext(ctx, "pg_dump", "--schema-only", "--no-owner", "--restrict-key=bench", "-f", path, dsn).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("pg_dump %s: %v: %s", db, err, out)
		}
		return path, nil
	}
	refDSN := server.DSNFor(ref)
	refPath, err := dump(ctx, ref, refDSN)
	if err != nil {
		return err
	}
	return forEachDB(ctx, tenants, func(ctx context.Context, db, dsn string) error {
		path, err := dump(ctx, db, dsn)
		if err != nil {
			return err
		}
		// diff exits 1 on a difference: on a clean fleet that is a failure of
		// the comparison, never something to time past.
		out, err := exec.CommandContext(ctx, "diff", "-u", refPath, path).CombinedOutput()
		if err != nil {
			return fmt.Errorf("diff %s against the reference: %v\n%.2000s", db, err, out)
		}
		return nil
	})
}
