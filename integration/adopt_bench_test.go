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

	"github.com/jackc/pgx/v5"
)

const adoptBenchCommand = `ORCH_IT_NORACE=1 go test -run '^$' -bench BenchmarkAdopt -benchtime 1x ./integration`

// BenchmarkAdopt compares adopt over N tenant databases built by the
// golang-migrate CLI (default 100, env ORCH_BENCH_TENANTS) with drift over
// the same fleet: adopt is a drift check plus one small transaction per
// target (goal: at most 1.5x drift). Each iteration runs drift on the
// unadopted fleet, adopt, then drift on the adopted fleet, and undoes the
// adoption (untimed) for the next iteration.
func BenchmarkAdopt(b *testing.B) {
	needBench(b, "BenchmarkAdopt", adoptBenchCommand)
	bin := migrateBin(b)
	n := benchTenantCount(b)
	tenants := benchDatabases(b, n)
	setup, cancel := context.WithTimeout(context.Background(), phaseTimeout(tenants))
	err := forEachDB(setup, tenants, func(ctx context.Context, db, dsn string) error {
		if out, code := runMigrate(b, bin, dsn, "up"); code != 0 {
			return fmt.Errorf("migrate up: %s", out)
		}
		return nil
	})
	cancel()
	if err != nil {
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
	run := func(command string, wantCode int) (time.Duration, Report) {
		ctx, cancel := context.WithTimeout(context.Background(), phaseTimeout(tenants))
		defer cancel()
		cmd := exec.CommandContext(ctx, binary, command, "--fleet", fleetPath, "--parallel", strconv.Itoa(benchParallel), "--format", "json", "--quiet")
		cmd.Env = cleanEnv()
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		t0 := time.Now()
		err := cmd.Run()
		d := time.Since(t0)
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			b.Fatalf("%s: %v", command, err)
		}
		if code != wantCode {
			b.Fatalf("%s: exit %d, want %d\n%s", command, code, wantCode, errb.String())
		}
		return d, parseReport(b, out.String())
	}

	var driftBefore, adopt, driftAfter time.Duration
	for b.Loop() {
		var rep Report
		driftBefore, rep = run("drift", 3)
		if rep.Summary["drifted"] != n {
			b.Fatalf("drift before adopt: %v, want %d drifted (unadopted)", rep.Summary, n)
		}
		adopt, rep = run("adopt", 0)
		if rep.Summary["applied"] != n {
			b.Fatalf("adopt: %v, want %d applied", rep.Summary, n)
		}
		driftAfter, rep = run("drift", 0)
		if rep.Summary["clean"] != n {
			b.Fatalf("drift after adopt: %v, want %d clean", rep.Summary, n)
		}
		b.StopTimer()
		undoAdoption(b, tenants)
		b.StartTimer()
	}
	fmt.Printf("adopt over %d tenant databases built by golang-migrate, parallelism %d\n", n, benchParallel)
	fmt.Printf("  orchestrator drift (unadopted)     %7.2fs  %6.1f ms/db\n", driftBefore.Seconds(), perDB(driftBefore, n))
	fmt.Printf("  orchestrator adopt                 %7.2fs  %6.1f ms/db\n", adopt.Seconds(), perDB(adopt, n))
	fmt.Printf("  orchestrator drift (adopted)       %7.2fs  %6.1f ms/db   adopt is %.2fx drift (goal <= 1.5x)\n",
		driftAfter.Seconds(), perDB(driftAfter, n), adopt.Seconds()/driftAfter.Seconds())
	b.ReportMetric(adopt.Seconds(), "adopt_s")
	b.ReportMetric(driftAfter.Seconds(), "drift_s")
	b.ReportMetric(adopt.Seconds()/driftAfter.Seconds(), "adopt_per_drift")
}

// undoAdoption drops what adopt wrote, so the fleet is golang-migrate's again.
func undoAdoption(tb testing.TB, dbs []string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), phaseTimeout(dbs))
	defer cancel()
	err := forEachDB(ctx, dbs, func(ctx context.Context, db, dsn string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, "DROP TABLE "+gooseTable+", orchestrator_migrations")
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
}
