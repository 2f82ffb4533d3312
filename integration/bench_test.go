package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
)

const (
	// benchCommand is how BenchmarkFleetUp is meant to be run: without the
	// race detector in the binary, one iteration.
	benchCommand = `ORCH_IT_NORACE=1 go test -run '^$' -bench BenchmarkFleetUp -benchtime 1x ./integration`

	benchParallel = 8   // targets in flight at once, for every method
	benchTenants  = 100 // default fleet size; env ORCH_BENCH_TENANTS overrides
	benchWarmup   = 8   // databases of the untimed warm-up

	gooseInstall = "go install github.com/pressly/goose/v3/cmd/goose@v3.30.0"
)

// BenchmarkFleetUp compares, on the local server, the wall-clock time to
// bring N empty tenant databases to the built-in set's latest version three ways:
//
//   - floor: the same SQL through pgx, one transaction per database and
//     nothing else (no version table, no lock, no process start): the
//     fastest anything doing this job could be;
//   - orchestrator: one `up` run of the binary over a fleet file;
//   - goose CLI: one goose process per database, as a shell loop would do.
//
// Each method gets its own freshly created databases; creating them (and a
// CHECKPOINT, so their pages are not flushed during a timed phase) happens
// before the timer starts. An untimed warm-up runs the floor method on a
// few databases first. The figures go to stdout as a table and as metrics.
func BenchmarkFleetUp(b *testing.B) {
	needBench(b, "BenchmarkFleetUp", benchCommand)
	n := benchTenantCount(b)
	ups := seedUpFiles(b)
	gooseDir := gooseLayoutSeed(b)
	goosePath, gooseWhy := findGoose()
	b.StopTimer()

	warm := benchDatabases(b, benchWarmup)
	if err := floorUp(warm, ups); err != nil {
		b.Fatalf("warm-up: %v", err)
	}

	var floor, orch, goose, orchReported time.Duration
	for range b.N {
		dbs := benchDatabases(b, n)
		d, err := benchPhase(b, func() error { return floorUp(dbs, ups) })
		if err != nil {
			b.Fatalf("floor: %v", err)
		}
		floor += d

		dbs = benchDatabases(b, n)
		var rep Report
		d, err = benchPhase(b, func() (err error) { rep, err = orchestratorUp(b, dbs); return err })
		if err != nil {
			b.Fatalf("orchestrator: %v", err)
		}
		orch += d
		orchReported += time.Duration(rep.DurationMS) * time.Millisecond

		if goosePath != "" {
			dbs = benchDatabases(b, n)
			d, err = benchPhase(b, func() error { return gooseRun(goosePath, gooseDir, "up", dbs) })
			if err != nil {
				b.Fatalf("goose CLI: %v", err)
			}
			goose += d
		}
	}
	iters := time.Duration(b.N)
	floor, orch, goose, orchReported = floor/iters, orch/iters, goose/iters, orchReported/iters

	perDB := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	fmt.Printf("\nfleet up, %d tenant databases, %d seed migrations, parallelism %d\n", n, len(ups), benchParallel)
	fmt.Printf("  %-22s %6.2fs %6.1f ms/db\n", "floor (pgx, 1 tx/db)", floor.Seconds(), perDB(floor))
	fmt.Printf("  %-22s %6.2fs %6.1f ms/db   %.2fx floor", "orchestrator up", orch.Seconds(), perDB(orch), orch.Seconds()/floor.Seconds())
	if goosePath != "" {
		fmt.Printf("   %.2fx goose", orch.Seconds()/goose.Seconds())
	}
	fmt.Printf("\n")
	if goosePath != "" {
		fmt.Printf("  %-22s %6.2fs %6.1f ms/db\n", "goose CLI per db", goose.Seconds(), perDB(goose))
	} else {
		fmt.Printf("  %-22s skipped: %s; install it with\n    %s\n", "goose CLI per db", gooseWhy, gooseInstall)
	}
	fmt.Printf("  (orchestrator's own report says %.2fs: the rest is process start, fleet parsing and report output)\n\n",
		orchReported.Seconds())

	b.ReportMetric(orch.Seconds(), "orchestrator_s")
	b.ReportMetric(floor.Seconds(), "floor_s")
	b.ReportMetric(orch.Seconds()/floor.Seconds(), "ratio_floor")
	if goosePath != "" {
		b.ReportMetric(goose.Seconds(), "goose_s")
		b.ReportMetric(orch.Seconds()/goose.Seconds(), "ratio_goose")
	}
}

// benchPhase times fn, with the benchmark timer running only around it.
func benchPhase(b *testing.B, fn func() error) (time.Duration, error) {
	b.StartTimer()
	t0 := time.Now()
	err := fn()
	d := time.Since(t0)
	b.StopTimer()
	return d, err
}

func benchTenantCount(tb testing.TB) int {
	return envInt(tb, "ORCH_BENCH_TENANTS", benchTenants, 1)
}

// envInt reads an integer setting of a benchmark from the environment.
func envInt(tb testing.TB, name string, def, least int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		tb.Fatalf("%s=%q: want an integer of at least %d", name, v, least)
	}
	return n
}

// seedUpFiles returns the text of the built-in up files in version order.
func seedUpFiles(tb testing.TB) []string {
	tb.Helper()
	paths, err := filepath.Glob("../migrations/*.up.sql")
	if err != nil || len(paths) == 0 {
		tb.Fatalf("seed migrations: %v (found %d)", err, len(paths))
	}
	version := func(p string) int {
		v, err := strconv.Atoi(strings.SplitN(filepath.Base(p), "_", 2)[0])
		if err != nil {
			tb.Fatalf("%s: no version prefix", p)
		}
		return v
	}
	slices.SortFunc(paths, func(a, b string) int { return version(a) - version(b) })
	ups := make([]string, len(paths))
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		ups[i] = string(data)
	}
	return ups
}

// findGoose looks for the goose CLI on PATH, then in $(go env GOPATH)/bin.
// It returns "" and why when there is none.
func findGoose() (path, why string) {
	if p, err := exec.LookPath("goose"); err == nil {
		return p, ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOPATH").Output()
	if err != nil {
		return "", fmt.Sprintf("goose is not on PATH and `go env GOPATH` failed: %v", err)
	}
	for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
		p := filepath.Join(dir, "bin", "goose")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, ""
		}
	}
	return "", "goose is neither on PATH nor in $(go env GOPATH)/bin"
}

// benchDatabases creates n empty databases (as newDatabases does),
// checkpoints, and drops them WITH (FORCE) when the benchmark ends.
func benchDatabases(tb testing.TB, n int) []string {
	tb.Helper()
	names := pgtest.Shared(tb).NewDatabases(tb, "it", n)
	// Flush what CREATE DATABASE dirtied now rather than during the timed
	// phase. Needs superuser or pg_checkpoint; without it the figures only
	// get a little noisier.
	if _, err := server.Connect(tb, "").Exec(context.Background(), "CHECKPOINT"); err != nil {
		tb.Logf("CHECKPOINT (not fatal): %v", err)
	}
	return names
}

// phaseTimeout bounds one method's run over dbs.
func phaseTimeout(dbs []string) time.Duration {
	return 3*time.Minute + time.Duration(len(dbs))*2*time.Second
}

// forEachDB runs fn over dbs with benchParallel workers and returns the
// first error (naming the database); the remaining databases still run.
func forEachDB(ctx context.Context, dbs []string, fn func(ctx context.Context, db, dsn string) error) error {
	work := make(chan string)
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	for range benchParallel {
		wg.Go(func() {
			for db := range work {
				err := func() error {
					dsn := server.DSNFor(db)
					return fn(ctx, db, dsn)
				}()
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("%s: %w", db, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, db := range dbs {
		work <- db
	}
	close(work)
	wg.Wait()
	return first
}

// floorUp applies ups to each database directly: connect, begin, one Exec
// per file, commit, close.
func floorUp(dbs []string, ups []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), phaseTimeout(dbs))
	defer cancel()
	return forEachDB(ctx, dbs, func(ctx context.Context, _, dsn string) error {
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return err
		}
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.Background()) //nolint:errcheck // a no-op after Commit
		for i, up := range ups {
			if _, err := tx.Exec(ctx, up); err != nil {
				return fmt.Errorf("up file %d: %w", i+1, err)
			}
		}
		return tx.Commit(ctx)
	})
}

// orchestratorUp runs the binary once over a fleet of dbs and checks that
// the report says every one was applied up to the built-in set's version 4.
func orchestratorUp(tb testing.TB, dbs []string) (Report, error) {
	dsns := map[string]string{}
	for _, db := range dbs {
		dsn := server.DSNFor(db)
		dsns[db] = dsn
	}
	fleetPath := filepath.Join(tb.TempDir(), "fleet.yaml")
	if err := os.WriteFile(fleetPath, []byte(fleetYAML(dsns, dbs)), 0o600); err != nil {
		return Report{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), phaseTimeout(dbs))
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "up", "--fleet", fleetPath,
		"--parallel", strconv.Itoa(benchParallel), "--format", "json", "--quiet")
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Report{}, fmt.Errorf("up: %v\nstderr:\n%s\nstdout:\n%.4000s", err, stderr.String(), stdout.String())
	}
	var rep Report
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		return rep, fmt.Errorf("report is not the documented JSON: %v", err)
	}
	if len(rep.Targets) != len(dbs) || rep.Summary["applied"] != len(dbs) {
		return rep, fmt.Errorf("report: %d targets, summary %v; want %d applied", len(rep.Targets), rep.Summary, len(dbs))
	}
	var errs []error
	for _, tr := range rep.Targets {
		if tr.Status != "applied" || tr.ToVersion != 4 {
			errs = append(errs, fmt.Errorf("%s: status %s, to_version %d; want applied to 4", tr.Name, tr.Status, tr.ToVersion))
		}
	}
	return rep, errors.Join(errs...)
}

// gooseRun runs `goose -dir dir postgres DSN command` once per database,
// benchParallel at a time.
func gooseRun(goosePath, dir, command string, dbs []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), phaseTimeout(dbs))
	defer cancel()
	var env []string
	for _, kv := range cleanEnv() {
		if !strings.HasPrefix(kv, "GOOSE_") {
			env = append(env, kv)
		}
	}
	return forEachDB(ctx, dbs, func(ctx context.Context, _, dsn string) error {
		cmd := exec.CommandContext(ctx, goosePath, "-dir", dir, "postgres", dsn, command)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("goose %s: %v\n%s", command, err, out)
		}
		return nil
	})
}

// needBench skips benchmark name unless the binary was built without the
// race detector (ORCH_IT_NORACE set) and a server is reachable; the skip
// message repeats the command that runs it properly.
func needBench(b *testing.B, name, command string) {
	b.Helper()
	if os.Getenv("ORCH_IT_NORACE") == "" {
		// Printed as well: a benchmark's skip message shows only with -v.
		msg := name + " skipped: the binary under test is built with -race unless " +
			"ORCH_IT_NORACE is set, which would make the figures meaningless; run:\n  " + command
		fmt.Println(msg)
		b.Skip(msg)
	}
	pgtest.Shared(b)
}
