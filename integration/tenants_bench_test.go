package integration

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
)

const tenantsCommand = `ORCH_IT_NORACE=1 go test -run '^$' -bench 'BenchmarkDrift$|BenchmarkDriftSchemas|BenchmarkTenants' -benchtime 1x -timeout 150m ./integration`

// driftFloorSQL is the floor of a drift check of one schema: every catalog
// row complete drift needs and the version rows, in one read-only
// repeatable-read transaction, sent as one message.
//
//go:embed testdata/drift_floor.sql
var driftFloorSQL string

// floorDriftQuery is driftFloorSQL for schema.
func floorDriftQuery(schema string) string {
	q := strings.ReplaceAll(driftFloorSQL, ":qschema", pgx.Identifier{schema}.Sanitize())
	return strings.ReplaceAll(q, ":schema", "'"+strings.ReplaceAll(pgx.Identifier{schema}.Sanitize(), "'", "''")+"'")
}

// floorDrift runs the drift floor over dbs: one pgx connection per
// database, benchParallel workers, the floor's queries on public.
func floorDrift(dbs []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), phaseTimeout(dbs))
	defer cancel()
	q := floorDriftQuery("public")
	return forEachDB(ctx, dbs, func(ctx context.Context, _, dsn string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.PgConn().Exec(ctx, q).ReadAll()
		return err
	})
}

// floorDriftSchemas runs the drift floor for every schema of db over
// benchParallel sessions of that database, one message per schema.
func floorDriftSchemas(db string, schemas []string) error {
	return floorSchemas(db, schemas, func(ctx context.Context, conn *pgx.Conn, schema string) error {
		_, err := conn.PgConn().Exec(ctx, floorDriftQuery(schema)).ReadAll()
		return err
	})
}

// floorUpSchemas is up's floor for tenant schemas: one session per worker,
// one transaction per schema running what up must (search_path, the
// version and checksum tables, the built-in ups, the version rows).
func floorUpSchemas(db string, schemas []string, ups []string) error {
	body := `CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
CREATE TABLE orchestrator_migrations (version_id bigint PRIMARY KEY, name text NOT NULL, up_sha256 text NOT NULL, down_sha256 text NOT NULL);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true);
` + strings.Join(ups, "\n;\n") + `;
INSERT INTO goose_db_version (version_id, is_applied) VALUES (1, true), (2, true), (3, true), (4, true);
INSERT INTO orchestrator_migrations VALUES (1, 'a', 'x', 'y'), (2, 'b', 'x', 'y'), (3, 'c', 'x', 'y'), (4, 'd', 'x', 'y')`
	return floorSchemas(db, schemas, func(ctx context.Context, conn *pgx.Conn, schema string) error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.Background()) //nolint:errcheck // a no-op after Commit
		if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+pgx.Identifier{schema}.Sanitize()+";\n"+body); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}

// floorSchemas runs fn for every schema of db over benchParallel sessions.
func floorSchemas(db string, schemas []string, fn func(context.Context, *pgx.Conn, string) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), phaseTimeout(schemas))
	defer cancel()
	dsn := server.DSNFor(db)
	work := make(chan string)
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	for range benchParallel {
		wg.Go(func() {
			cfg, err := pgx.ParseConfig(dsn)
			if err == nil {
				cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
			}
			var conn *pgx.Conn
			if err == nil {
				conn, err = pgx.ConnectConfig(ctx, cfg)
			}
			for s := range work {
				if err == nil {
					if err = fn(ctx, conn, s); err != nil {
						err = fmt.Errorf("schema %s: %w", s, err)
					}
				}
			}
			if conn != nil {
				conn.Close(context.Background())
			}
			if err != nil {
				mu.Lock()
				first = cmpOr(first, err)
				mu.Unlock()
			}
		})
	}
	for _, s := range schemas {
		work <- s
	}
	close(work)
	wg.Wait()
	return first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// pgDumpDatabase dumps db's schema once, as a shell script would.
func pgDumpDatabase(db, path string) error {
	dsn := server.DSNFor(db)
	out, err := exec.Command("pg_dump", "--schema-only", "--no-owner", "--restrict-key=bench", "-f", path, dsn).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_dump %s: %v: %s", db, err, out)
	}
	return nil
}

func tenantSchemas(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s_%05d", prefix, i+1)
	}
	return out
}

// schemaFleet discovers the tenant_% schemas of dbs.
func schemaFleet(tb testing.TB, dbs ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "defaults:\n  parallelism: %d\ndiscover:\n", benchParallel)
	for _, db := range dbs {
		dsn := server.DSNFor(db)
		fmt.Fprintf(&b, "  - server: %s\n    schemas: tenant\\_%%\n", dsn)
	}
	return b.String()
}

// BenchmarkDriftSchemas measures, over N tenant schemas of one database
// (env ORCH_SCHEMA_TENANTS, default 500), at parallelism 8, side by side:
// `up` against its floor (one session per worker, one transaction per
// schema, the same SQL), and `drift` against one `pg_dump --schema-only` of
// the whole database and against the drift floor run per schema.
func BenchmarkDriftSchemas(b *testing.B) {
	needBench(b, "BenchmarkDriftSchemas", tenantsCommand)
	n := envInt(b, "ORCH_SCHEMA_TENANTS", 500, 1)
	ups := seedUpFiles(b)
	s := &scaleRun{b: b, prefix: pgtest.Name("it"), large: n}
	schemas := tenantSchemas("tenant", n)
	var up, upFloor, drift, driftFloor, dump time.Duration
	dir := b.TempDir()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		dbs := s.databases("d", 2)
		for _, db := range dbs {
			scaleCreateSchemas(b, db, schemas)
		}
		scaleCheckpoint(b)
		upFloor += s.timed("floor up (schemas)", func() error { return floorUpSchemas(dbs[1], schemas, ups) })
		fleetPath := s.writeFleet(schemaFleet(b, dbs[0]))
		up += s.orchestratorFleet(fleetPath, n, "up", "applied").wall
		drift += s.orchestratorFleet(fleetPath, n, "drift", "clean").wall
		driftFloor += s.timed("floor drift (schemas)", func() error { return floorDriftSchemas(dbs[0], schemas) })
		dump += s.timed("pg_dump of the database", func() error { return pgDumpDatabase(dbs[0], filepath.Join(dir, "all.sql")) })
		s.drop(dbs)
	}
	per := func(d time.Duration) time.Duration { return d / time.Duration(b.N) }
	fmt.Printf("%d tenant schemas of one database, parallelism %d, mean of %d run(s)\n", n, benchParallel, b.N)
	fmt.Printf("  up                                 %7.2fs   floor %7.2fs   %.2fx the floor (goal <= 1.2x)\n",
		per(up).Seconds(), per(upFloor).Seconds(), up.Seconds()/upFloor.Seconds())
	fmt.Printf("  drift                              %7.2fs   one pg_dump -s of the database %7.2fs   %.2fx its time (goal <= 0.5x)\n",
		per(drift).Seconds(), per(dump).Seconds(), drift.Seconds()/dump.Seconds())
	fmt.Printf("  drift floor, one message per schema %6.2fs   drift is %.2fx it\n", per(driftFloor).Seconds(), drift.Seconds()/driftFloor.Seconds())
	b.ReportMetric(up.Seconds()/upFloor.Seconds(), "up/floor")
	b.ReportMetric(drift.Seconds()/dump.Seconds(), "drift/pgdump")
}

// BenchmarkTenants measures up, status, plan and drift over many tenant
// schemas (env ORCH_TENANTS, default 10,000; and ORCH_TENANTS_SMALL, default
// 1,000, for the cost per tenant to compare), in one database and split
// over 4, and status and drift over ORCH_TENANT_DBS (default 2,000) tenant
// databases; with the process's peak RSS and the server connections it
// held, at parallelism 8.
func BenchmarkTenants(b *testing.B) {
	needBench(b, "BenchmarkTenants", tenantsCommand)
	large := envInt(b, "ORCH_TENANTS", 10000, 1)
	small := envInt(b, "ORCH_TENANTS_SMALL", 1000, 0)
	ndbs := envInt(b, "ORCH_TENANT_DBS", 2000, 0)
	s := &scaleRun{b: b, prefix: pgtest.Name("it"), large: large}
	b.StopTimer()
	type row struct {
		what string
		n    int
		runs map[string]scaleOrchRun
	}
	var rows []row
	commands := []struct{ cmd, want string }{{"up", "applied"}, {"status", "up_to_date"}, {"plan", "up_to_date"}, {"drift", "clean"}}
	measure := func(what string, n, split int) {
		dbs := s.databases("t", split)
		all := tenantSchemas("tenant", n)
		per := (n + split - 1) / split
		for i, db := range dbs {
			scaleCreateSchemas(b, db, all[i*per:min((i+1)*per, n)])
		}
		scaleCheckpoint(b)
		fleetPath := s.writeFleet(schemaFleet(b, dbs...))
		r := row{what: what, n: n, runs: map[string]scaleOrchRun{}}
		for _, c := range commands {
			r.runs[c.cmd] = s.orchestratorFleet(fleetPath, n, c.cmd, c.want)
			// As it comes, so that a run cut short still shows what it measured.
			run := r.runs[c.cmd]
			fmt.Printf("  %-22s %6d  %-7s %8.2fs  %6.2f ms/tenant  %5.1f MiB  %2d conns\n", what, n, c.cmd,
				run.wall.Seconds(), float64(run.wall.Microseconds())/1000/float64(n), float64(run.maxRSS)/1024, run.maxConns)
		}
		rows = append(rows, r)
		s.drop(dbs)
	}
	for _, n := range []int{small, large} {
		if n == 0 {
			continue
		}
		measure("schemas, 1 database", n, 1)
		measure("schemas, 4 databases", n, 4)
	}
	if ndbs > 0 {
		dbs := s.databases("b", ndbs)
		fleetPath := s.writeFleet(scaleDatabaseFleet(b, dbs))
		if _, err := s.run(fleetPath, ndbs, "up", "applied"); err != nil {
			b.Fatal(err)
		}
		r := row{what: "databases", n: ndbs, runs: map[string]scaleOrchRun{}}
		for _, c := range commands[1:] {
			if c.cmd == "plan" {
				continue
			}
			r.runs[c.cmd] = s.orchestratorFleet(fleetPath, ndbs, c.cmd, c.want)
		}
		rows = append(rows, r)
		s.drop(dbs)
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "tenants at parallelism %d: wall time, cost per tenant, peak RSS, most server connections held\n", benchParallel)
	for _, r := range rows {
		for _, c := range commands {
			run, ok := r.runs[c.cmd]
			if !ok {
				continue
			}
			fmt.Fprintf(&out, "  %-22s %6d  %-7s %8.2fs  %6.2f ms/tenant  %5.1f MiB  %2d conns\n", r.what, r.n, c.cmd,
				run.wall.Seconds(), float64(run.wall.Microseconds())/1000/float64(r.n), float64(run.maxRSS)/1024, run.maxConns)
			if limit := scaleConnBound(c.cmd); run.maxConns > limit {
				b.Errorf("%s over %d %s held %d connections, more than %d", c.cmd, r.n, r.what, run.maxConns, limit)
			}
		}
	}
	// Linear growth: cost per tenant at the large size against the small.
	for _, what := range []string{"schemas, 1 database", "schemas, 4 databases"} {
		var lo, hi *row
		for i := range rows {
			if rows[i].what == what && rows[i].n == small {
				lo = &rows[i]
			}
			if rows[i].what == what && rows[i].n == large {
				hi = &rows[i]
			}
		}
		if lo == nil || hi == nil || small == large {
			continue
		}
		for _, c := range commands {
			a, z := lo.runs[c.cmd], hi.runs[c.cmd]
			growth := (z.wall.Seconds() / float64(hi.n)) / (a.wall.Seconds() / float64(lo.n))
			fmt.Fprintf(&out, "  %-22s %-7s cost per tenant at %d is %.2fx that at %d (goal <= 1.3x)\n", what, c.cmd, large, growth, small)
		}
	}
	fmt.Print(out.String())
}
