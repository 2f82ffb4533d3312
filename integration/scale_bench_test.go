package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
)

const (
	// scaleCommand is how BenchmarkScale is meant to be run.
	scaleCommand = `ORCH_IT_NORACE=1 go test -run '^$' -bench BenchmarkScale -benchtime 1x -timeout 60m ./integration`

	scaleTenants = 1000 // env ORCH_SCALE_TENANTS overrides
	scaleSmall   = 100  // env ORCH_SCALE_SMALL overrides; 0 skips the linearity run

	// A run holds at most one session per target in flight, so at most
	// parallelism sessions (the probe that asks a server for its free
	// connections ends before the first target starts), and drift
	// scaleDriftSessions more: it builds the reference schema (a session
	// on the first target's database that creates the scratch database,
	// and one in the scratch database) while the targets are read.
	scaleDriftSessions = 2
	scaleRSSGoal       = 64 // MiB

	// scaleTables is what every migrated tenant holds: the built-in four
	// tables, goose's version table and the tool's checksum table.
	scaleTables = "api_keys,goose_db_version,orchestrator_migrations,sessions,usage_records,users"
)

// BenchmarkScale measures the tool at fleet scale on the local server, all
// at parallelism 8 and side by side in one run:
//
//   - N tenant databases (env ORCH_SCALE_TENANTS, default 1000) and a
//     smaller fleet (ORCH_SCALE_SMALL, default 100) to show the cost per
//     target stays flat: `up` of the 4 seed migrations against its floor
//     (pgx, one transaction per database) and the goose CLI per database;
//     then, on the migrated fleet, `status` against its floor (connect and
//     one query per database) and `goose status` per database; `plan`;
//     `drift`.
//   - N tenant schemas in one database: `up` and `status` through schema
//     discovery (tenants share connections, status reads every version in
//     a few queries) against a fleet listing one target per schema with
//     search_path as a startup option (a connection per tenant).
//   - The orchestrator process's peak RSS at N targets, and the most server
//     connections its runs held at once, sampled from pg_stat_activity.
//
// Databases are created before the timers run (four workers, FILE_COPY so
// no WAL and no dirty buffers are left for a timed phase to flush, then a
// CHECKPOINT) and dropped as soon as their phase is over. Timing goals are
// reported, not enforced; the connection bound and every report's outcome
// are checked.
func BenchmarkScale(b *testing.B) {
	needBench(b, "BenchmarkScale", scaleCommand)
	n := envInt(b, "ORCH_SCALE_TENANTS", scaleTenants, 1)
	small := envInt(b, "ORCH_SCALE_SMALL", scaleSmall, 0)
	if small >= n {
		small = 0
	}
	ups := seedUpFiles(b)
	gooseDir := gooseLayoutSeed(b)
	goosePath, gooseWhy := findGoose()
	if goosePath == "" {
		b.Fatalf("%s; install it with\n  %s", gooseWhy, gooseInstall)
	}
	b.StopTimer()

	s := &scaleRun{b: b, prefix: pgtest.Name("it"), goose: goosePath, gooseDir: gooseDir, ups: ups, large: n}

	// Warm-up, untimed: the floor, the binary and goose on a few databases.
	warm := s.databases("w", 3*benchWarmup)
	if err := floorUp(warm[:benchWarmup], ups); err != nil {
		b.Fatalf("warm-up floor: %v", err)
	}
	if _, err := s.orchestrator(warm[benchWarmup:2*benchWarmup], "up", "applied"); err != nil {
		b.Fatalf("warm-up up: %v", err)
	}
	if err := gooseRun(goosePath, gooseDir, "up", warm[2*benchWarmup:]); err != nil {
		b.Fatalf("warm-up goose: %v", err)
	}
	s.drop(warm)

	stopWatching := s.watchOthers()
	var sizes []*scaleFigures
	for _, size := range []int{small, n} {
		if size == 0 {
			sizes = append(sizes, nil)
			continue
		}
		f := &scaleFigures{n: size}
		s.fleetOfDatabases(f)
		s.schemasOfOneDatabase(f)
		sizes = append(sizes, f)
	}
	s.othersShare, s.othersMax = stopWatching()
	s.print(sizes[0], sizes[1])

	big := sizes[1]
	b.ReportMetric(big.up.Seconds()/big.upFloor.Seconds(), "up/floor")
	b.ReportMetric(big.up.Seconds()/big.gooseUp.Seconds(), "up/goose")
	b.ReportMetric(big.status.Seconds()/big.statusFloor.Seconds(), "status/floor")
	b.ReportMetric(big.status.Seconds()/big.gooseStatus.Seconds(), "status/goose")
	b.ReportMetric(big.schStatusPer.Seconds()/big.schStatusShared.Seconds(), "schema_status_speedup")
	b.ReportMetric(float64(s.peakRSS)/1024, "peak_rss_MiB")
	b.ReportMetric(float64(s.peakConns), "max_conns")
	for _, f := range sizes {
		if f == nil {
			continue
		}
		for _, r := range f.runs {
			if limit := scaleConnBound(r.what); r.maxConns > limit {
				b.Errorf("%s over %d targets held %d server connections at once, more than its bound %d",
					r.what, f.n, r.maxConns, limit)
			}
		}
	}
}

// scaleConnBound is the most server connections a run of what may hold.
func scaleConnBound(what string) int {
	if strings.HasPrefix(what, "drift") {
		return benchParallel + scaleDriftSessions
	}
	return benchParallel
}

// scaleFigures are the wall-clock times of one fleet size.
type scaleFigures struct {
	n int

	up, upFloor, gooseUp             time.Duration
	status, statusFloor, gooseStatus time.Duration
	plan, drift                      time.Duration
	runs                             []scaleOrchRun // every orchestrator run, in order

	schUpShared, schUpPer         time.Duration
	schStatusShared, schStatusPer time.Duration
}

// scaleRun is the state of one BenchmarkScale run.
type scaleRun struct {
	b        *testing.B
	prefix   string // every database of the run starts with it
	goose    string
	gooseDir string
	ups      []string
	large    int // the fleet size whose runs count for RSS and connections
	sets     int // databases sets created so far, for unique names

	peakRSS     int64 // KiB, over the orchestrator runs at the large size
	peakRSSBy   string
	peakConns   int // held
	peakConnsBy string
	peakVisible int

	othersShare float64 // of the samples that saw another client's query running
	othersMax   int
}

// fleetOfDatabases times up, status, plan and drift over f.n tenant
// databases against the floors and goose, each method on databases of its
// own where it writes.
func (s *scaleRun) fleetOfDatabases(f *scaleFigures) {
	b := s.b

	dbs := s.databases("f", f.n)
	f.upFloor = s.timed("floor up", func() error { return floorUp(dbs, s.ups) })
	s.drop(dbs)

	dbs = s.databases("o", f.n)
	fleetPath := s.writeFleet(scaleDatabaseFleet(b, dbs))
	for _, c := range []struct {
		cmd, want string
		d         *time.Duration
	}{
		{"up", "applied", &f.up},
		// On the fleet up just migrated: every target is up to date.
		{"status", "up_to_date", &f.status},
		{"plan", "up_to_date", &f.plan},
		{"drift", "clean", &f.drift},
	} {
		if c.cmd == "status" {
			// Untimed: the first session on each database after up pays
			// for rebuilding its catalog caches; no method should pay it
			// alone.
			if err := scaleStatusFloor(dbs); err != nil {
				b.Fatalf("warming the fleet for status: %v", err)
			}
		}
		r := s.orchestratorFleet(fleetPath, len(dbs), c.cmd, c.want)
		*c.d = r.wall
		s.account(f, c.cmd+" (databases)", r)
		if c.cmd == "status" {
			// Its floor and goose right after it, on the same databases.
			f.statusFloor = s.timed("floor status", func() error { return scaleStatusFloor(dbs) })
			f.gooseStatus = s.timed("goose status", func() error { return gooseRun(s.goose, s.gooseDir, "status", dbs) })
		}
	}
	s.drop(dbs)

	dbs = s.databases("g", f.n)
	f.gooseUp = s.timed("goose up", func() error { return gooseRun(s.goose, s.gooseDir, "up", dbs) })
	s.drop(dbs)
}

// schemasOfOneDatabase times up and status over f.n tenant schemas of one
// database, through discovery (shared connections) and as a listed fleet
// with one connection per tenant, each in a database of its own.
func (s *scaleRun) schemasOfOneDatabase(f *scaleFigures) {
	b := s.b
	dbs := s.databases("s", 2)
	shared, per := dbs[0], dbs[1]
	schemas := make([]string, f.n)
	for i := range schemas {
		schemas[i] = fmt.Sprintf("tenant_%04d", i+1)
	}
	for _, db := range dbs {
		scaleCreateSchemas(b, db, schemas)
	}
	scaleCheckpoint(b)

	sharedDSN := server.DSNFor(shared)
	sharedFleet := s.writeFleet(fmt.Sprintf("defaults:\n  parallelism: %d\ndiscover:\n  - server: %s\n    schemas: tenant\\_%%\n",
		benchParallel, sharedDSN))
	perFleet := s.writeFleet(scaleSchemaFleet(b, per, schemas))

	r := s.orchestratorFleet(sharedFleet, f.n, "up", "applied")
	f.schUpShared = r.wall
	s.account(f, "up (schemas, shared)", r)
	r = s.orchestratorFleet(perFleet, f.n, "up", "applied")
	f.schUpPer = r.wall
	s.account(f, "up (schemas, per tenant)", r)
	for _, db := range dbs {
		scaleCheckSchemas(b, db, schemas)
	}
	r = s.orchestratorFleet(sharedFleet, f.n, "status", "up_to_date")
	f.schStatusShared = r.wall
	s.account(f, "status (schemas, shared)", r)
	r = s.orchestratorFleet(perFleet, f.n, "status", "up_to_date")
	f.schStatusPer = r.wall
	s.account(f, "status (schemas, per tenant)", r)
	s.drop(dbs)
}

// account records a run, and keeps the peaks of the runs at the large size.
func (s *scaleRun) account(f *scaleFigures, what string, r scaleOrchRun) {
	r.what = what
	f.runs = append(f.runs, r)
	if f.n != s.large {
		return
	}
	if r.maxRSS > s.peakRSS {
		s.peakRSS, s.peakRSSBy = r.maxRSS, what
	}
	if r.maxConns > s.peakConns {
		s.peakConns, s.peakConnsBy = r.maxConns, what
	}
	s.peakVisible = max(s.peakVisible, r.maxVisible)
}

// timed runs fn with the benchmark timer on, sampling pg_stat_activity as
// an orchestrator run is, and fails the benchmark on an error.
func (s *scaleRun) timed(what string, fn func() error) time.Duration {
	s.b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sampler, err := s.connectSampler(ctx)
	if err != nil {
		s.b.Fatal(err)
	}
	stopSampling := s.sampleConnections(ctx, sampler, 0)
	d, err := benchPhase(s.b, fn)
	stopSampling()
	if err != nil {
		s.b.Fatalf("%s: %v", what, err)
	}
	return d
}

// scaleOrchRun is one run of the binary.
type scaleOrchRun struct {
	what       string
	wall       time.Duration // process start to exit
	cpu        time.Duration // the process's user and system CPU time
	reported   time.Duration // the report's own duration_ms
	maxRSS     int64         // KiB
	maxConns   int           // most server connections the process held at once
	maxVisible int           // most of its sessions pg_stat_activity showed at once
}

// orchestratorFleet runs command over a fleet file of n targets, timed, and
// fails the benchmark unless it exits 0 with every target at want and at
// the built-in set's version 4.
func (s *scaleRun) orchestratorFleet(fleetPath string, n int, command, want string) scaleOrchRun {
	s.b.Helper()
	var r scaleOrchRun
	var err error
	s.b.StartTimer()
	r, err = s.run(fleetPath, n, command, want)
	s.b.StopTimer()
	if err != nil {
		s.b.Fatalf("%s over %d targets: %v", command, n, err)
	}
	return r
}

// orchestrator runs command over a fleet of the databases dbs, untimed.
func (s *scaleRun) orchestrator(dbs []string, command, want string) (scaleOrchRun, error) {
	return s.run(s.writeFleet(scaleDatabaseFleet(s.b, dbs)), len(dbs), command, want)
}

func (s *scaleRun) run(fleetPath string, n int, command, want string) (scaleOrchRun, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute+time.Duration(n)*2*time.Second)
	defer cancel()
	sampler, err := s.connectSampler(ctx)
	if err != nil {
		return scaleOrchRun{}, err
	}
	cmd := exec.CommandContext(ctx, binary, command, "--fleet", fleetPath,
		"--parallel", strconv.Itoa(benchParallel), "--format", "json", "--quiet")
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		sampler.Close(context.Background())
		return scaleOrchRun{}, err
	}
	stopSampling := s.sampleConnections(ctx, sampler, cmd.Process.Pid)
	runErr := cmd.Wait()
	r := scaleOrchRun{wall: time.Since(t0)}
	r.maxConns, r.maxVisible = stopSampling()
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.maxRSS = ru.Maxrss // KiB on Linux
			r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	if runErr != nil {
		return r, fmt.Errorf("%s: %v (every target should end %s, which exits 0)\nstderr:\n%s\nstdout:\n%.4000s",
			command, runErr, want, stderr.String(), stdout.String())
	}
	var rep Report
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		return r, fmt.Errorf("%s: the report is not the documented JSON: %v", command, err)
	}
	r.reported = time.Duration(rep.DurationMS) * time.Millisecond
	if len(rep.Targets) != n || rep.Summary[want] != n {
		return r, fmt.Errorf("%s: %d targets, summary %v; want %d %s", command, len(rep.Targets), rep.Summary, n, want)
	}
	var errs []error
	for _, tr := range rep.Targets {
		if tr.Status != want || tr.ToVersion != 4 || len(tr.Findings) > 0 {
			errs = append(errs, fmt.Errorf("%s: %s: status %s, to_version %d, %d finding(s); want %s at 4",
				command, tr.Name, tr.Status, tr.ToVersion, len(tr.Findings), want))
		}
		if len(errs) == 10 {
			break
		}
	}
	return r, errors.Join(errs...)
}

// scaleAppName marks the benchmark's own maintenance sessions, as the
// harness marks its.
const scaleAppName = pgtest.AdminApp

// scaleAdminConn opens a maintenance session marked as the benchmark's.
func scaleAdminConn(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(server.DSN)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["application_name"] = scaleAppName
	return pgx.ConnectConfig(ctx, cfg)
}

// connectSampler opens the session that samples pg_stat_activity.
func (s *scaleRun) connectSampler(ctx context.Context) (*pgx.Conn, error) {
	conn, err := scaleAdminConn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to sample pg_stat_activity: %w", err)
	}
	return conn, nil
}

// watchOthers samples, every 100ms until stop, whether clients other than
// this benchmark have a query running on the server: on a shared machine
// their work competes for the same CPUs and makes the figures noisier. It
// returns the share of samples that saw one and the most seen at once.
func (s *scaleRun) watchOthers() (stop func() (share float64, most int)) {
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := scaleAdminConn(ctx)
	if err != nil {
		s.b.Logf("not watching other clients: %v", err)
		return func() (float64, int) { cancel(); return 0, 0 }
	}
	like := strings.ReplaceAll(s.prefix, "_", `\_`) + "%"
	type result struct {
		share float64
		most  int
	}
	done := make(chan result)
	go func() {
		defer conn.Close(context.Background())
		samples, busy, most := 0, 0, 0
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			var n int
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
WHERE backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid()
  AND application_name <> $2
  AND NOT (coalesce(datname, '') LIKE $1 OR coalesce(datname, '') LIKE 'orch\_scratch\_%')`, like, scaleAppName).Scan(&n); err == nil {
				samples++
				if n > 0 {
					busy++
				}
				most = max(most, n)
			}
			select {
			case <-ctx.Done():
				r := result{most: most}
				if samples > 0 {
					r.share = float64(busy) / float64(samples)
				}
				done <- r
				return
			case <-tick.C:
			}
		}
	}()
	return func() (float64, int) {
		cancel()
		r := <-done
		return r.share, r.most
	}
}

// sampleConnections samples pg_stat_activity every 10ms, until the returned
// stop is called, for the tool's sessions (application_name LIKE
// 'orchestrator%') on this run's databases and on drift's scratch
// databases; sessions of other tests on the same server are not counted.
// It returns the most visible at once and the most the process pid held
// at once: of the visible ones, no more than the sockets the process had
// open at that moment (every socket the tool opens is a session). Visible
// counts too a backend whose client has closed it and which the server has
// not finished ending: with short sessions on busy CPUs a few of those
// show beside the ones in use. With pid 0 it only samples, so that a timed
// phase of another method pays the same sampling cost.
func (s *scaleRun) sampleConnections(ctx context.Context, conn *pgx.Conn, pid int) (stop func() (held, visible int)) {
	like := strings.ReplaceAll(s.prefix, "_", `\_`) + "%"
	sctx, cancel := context.WithCancel(ctx)
	type peaks struct{ held, visible int }
	done := make(chan peaks)
	go func() {
		defer conn.Close(context.Background())
		var p peaks
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			var n int
			if err := conn.QueryRow(sctx, `SELECT count(*) FROM pg_stat_activity
WHERE application_name LIKE 'orchestrator%' AND (datname LIKE $1 OR datname LIKE 'orch\_scratch\_%')`, like).Scan(&n); err == nil && pid != 0 {
				held := n
				if open, ok := scaleOpenSockets(pid); ok {
					held = min(n, open)
				}
				p.held, p.visible = max(p.held, held), max(p.visible, n)
			}
			select {
			case <-sctx.Done():
				done <- p
				return
			case <-tick.C:
			}
		}
	}()
	return func() (int, int) {
		cancel()
		p := <-done
		return p.held, p.visible
	}
}

// scaleOpenSockets counts the sockets process pid has open (a few
// readlinks; /proc/PID/net/tcp would list every socket of the host,
// thousands in TIME_WAIT here, and reading it every 10ms would take a CPU).
func scaleOpenSockets(pid int) (n int, ok bool) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	for _, fd := range fds {
		if link, err := os.Readlink(dir + "/" + fd.Name()); err == nil && strings.HasPrefix(link, "socket:") {
			n++
		}
	}
	return n, true
}

func (s *scaleRun) writeFleet(text string) string {
	s.b.Helper()
	path := filepath.Join(s.b.TempDir(), "fleet.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		s.b.Fatal(err)
	}
	return path
}

// scaleDatabaseFleet lists one target per database.
func scaleDatabaseFleet(tb testing.TB, dbs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "defaults:\n  parallelism: %d\ntargets:\n", benchParallel)
	for _, db := range dbs {
		dsn := server.DSNFor(db)
		fmt.Fprintf(&b, "  - name: %s\n    dsn: %s\n", db, dsn)
	}
	return b.String()
}

// scaleSchemaFleet lists one plain database target per schema of db, its
// DSN setting search_path to the schema as a startup option: the tool
// gives each its own connection, and its tables land in that schema.
// These targets all take goose's one advisory lock key of the database, so
// their `up` runs one at a time; lock_wait is raised so that waiting for
// each other is never reported `locked`.
func scaleSchemaFleet(tb testing.TB, db string, schemas []string) string {
	dsn := server.DSNFor(db)
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "defaults:\n  parallelism: %d\n  lock_wait: 30m\ntargets:\n", benchParallel)
	for _, schema := range schemas {
		q := u.Query()
		q.Set("options", "-csearch_path="+schema)
		tu := *u
		tu.RawQuery = q.Encode()
		fmt.Fprintf(&b, "  - name: %s\n    dsn: %s\n", schema, tu.String())
	}
	return b.String()
}

// databases creates n empty databases named after the run's prefix, four
// at a time, then checkpoints; they are dropped at the latest when the
// benchmark ends.
func (s *scaleRun) databases(tag string, n int) []string {
	s.b.Helper()
	s.sets++
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s_%s%d_%04d", s.prefix, tag, s.sets, i)
	}
	s.b.Cleanup(func() { s.drop(names) })
	// FILE_COPY copies the template's files (after a checkpoint that finds
	// little to do) instead of writing every page through WAL and shared
	// buffers, which would leave gigabytes for a timed phase to flush.
	if err := scaleForEach(names, "CREATE DATABASE %s STRATEGY FILE_COPY"); err != nil {
		s.b.Fatalf("create databases: %v", err)
	}
	scaleCheckpoint(s.b)
	return names
}

// drop drops names WITH (FORCE), four at a time; dropping twice is harmless.
func (s *scaleRun) drop(names []string) {
	if err := scaleForEach(names, "DROP DATABASE IF EXISTS %s WITH (FORCE)"); err != nil {
		s.b.Errorf("drop databases: %v", err)
	}
}

// scaleForEach runs stmt (with %s the quoted name) for every name over
// the harness's maintenance connections.
func scaleForEach(names []string, stmt string) error {
	return server.ForEach(names, func(ctx context.Context, c *pgx.Conn, quoted string) error {
		_, err := c.Exec(ctx, fmt.Sprintf(stmt, quoted))
		return err
	})
}

func scaleCheckpoint(tb testing.TB) {
	// Needs superuser or pg_checkpoint; without it the figures only get a
	// little noisier.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	conn, err := scaleAdminConn(ctx)
	if err != nil {
		tb.Fatalf("connect to test server: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		tb.Logf("CHECKPOINT (not fatal): %v", err)
	}
}

// scaleCreateSchemas creates schemas in db with one multi-statement batch.
func scaleCreateSchemas(tb testing.TB, db string, schemas []string) {
	var q strings.Builder
	for _, s := range schemas {
		fmt.Fprintf(&q, "CREATE SCHEMA %s;\n", pgx.Identifier{s}.Sanitize())
	}
	scaleOnDB(tb, db, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, q.String(), pgx.QueryExecModeSimpleProtocol)
		return err
	})
}

// scaleCheckSchemas fails the benchmark unless every one of schemas in db
// holds exactly the migrated tables, at version 4, and nothing else of db
// holds a table: in particular, the connection-per-tenant targets' tables
// landed in their own schemas, not in public.
func scaleCheckSchemas(tb testing.TB, db string, schemas []string) {
	scaleOnDB(tb, db, func(ctx context.Context, conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT schemaname::text, string_agg(tablename::text, ',' ORDER BY tablename)
FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') GROUP BY 1 ORDER BY 1`)
		if err != nil {
			return err
		}
		got := map[string]string{}
		for rows.Next() {
			var schema, list string
			if err := rows.Scan(&schema, &list); err != nil {
				return err
			}
			got[schema] = list
		}
		if err := rows.Err(); err != nil {
			return err
		}
		var errs []error
		for _, s := range schemas {
			if got[s] != scaleTables {
				errs = append(errs, fmt.Errorf("schema %s holds tables [%s], want [%s]", s, got[s], scaleTables))
			}
			delete(got, s)
		}
		for s, list := range got {
			errs = append(errs, fmt.Errorf("schema %s, not a tenant, holds tables [%s]", s, list))
		}
		var versions strings.Builder
		versions.WriteString("SELECT count(*) FROM (")
		for i, s := range schemas {
			if i > 0 {
				versions.WriteString("\nUNION ALL ")
			}
			fmt.Fprintf(&versions, "SELECT max(version_id) AS v FROM %s.goose_db_version", pgx.Identifier{s}.Sanitize())
		}
		versions.WriteString(") AS x WHERE v = 4")
		var atFour int
		if err := conn.QueryRow(ctx, versions.String()).Scan(&atFour); err != nil {
			return err
		}
		if atFour != len(schemas) {
			errs = append(errs, fmt.Errorf("%d of %d schemas have version 4 in their goose_db_version", atFour, len(schemas)))
		}
		return errors.Join(errs[:min(len(errs), 10)]...)
	})
}

func scaleOnDB(tb testing.TB, db string, fn func(context.Context, *pgx.Conn) error) {
	tb.Helper()
	dsn := server.DSNFor(db)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connect to %s: %v", db, err)
	}
	defer conn.Close(context.Background())
	if err := fn(ctx, conn); err != nil {
		tb.Fatalf("%s: %v", db, err)
	}
}

// scaleStatusFloor is the least a status over dbs could cost: per
// database, connect, read the version in one round trip, close.
func scaleStatusFloor(dbs []string) error {
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
		var v int64
		if err := conn.QueryRow(ctx, "SELECT max(version_id) FROM goose_db_version").Scan(&v); err != nil {
			return err
		}
		if v != 4 {
			return fmt.Errorf("version %d, want 4", v)
		}
		return nil
	})
}

// print writes the table; small is nil when the linearity run was skipped.
func (s *scaleRun) print(small, big *scaleFigures) {
	n := big.n
	col := func(f *scaleFigures, d func(*scaleFigures) time.Duration) string {
		if f == nil {
			return "-"
		}
		return fmt.Sprintf("%.2fs", d(f).Seconds())
	}
	per := func(f *scaleFigures, d func(*scaleFigures) time.Duration) float64 {
		return float64(d(f).Microseconds()) / 1000 / float64(f.n)
	}
	growth := func(d func(*scaleFigures) time.Duration) string {
		if small == nil {
			return "-"
		}
		return fmt.Sprintf("%.2f", per(big, d)/per(small, d))
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	ratio := func(a, b time.Duration) float64 { return a.Seconds() / b.Seconds() }
	smallN := "-"
	if small != nil {
		smallN = strconv.Itoa(small.n)
	}
	row := func(name string, d func(*scaleFigures) time.Duration, goal string) {
		smallPer := "-"
		if small != nil {
			smallPer = fmt.Sprintf("%.1f", per(small, d))
		}
		fmt.Printf("  %-36s %9s %9s %9s / %6.1f ms %7s   %s\n", name, col(small, d), col(big, d),
			smallPer, per(big, d), growth(d), goal)
	}
	upR, upG := ratio(big.up, big.upFloor), ratio(big.up, big.gooseUp)
	stR, stG := ratio(big.status, big.statusFloor), ratio(big.status, big.gooseStatus)

	fmt.Printf("\nscale: parallelism %d, 4 seed migrations, goose %s, %d CPUs shared by the server, the tools and the benchmark\n",
		benchParallel, s.goose, runtime.NumCPU())
	fmt.Printf("  other clients had a query running on the server in %.0f%% of 100ms samples (at most %d at once)\n",
		100*s.othersShare, s.othersMax)
	fmt.Printf("  %-36s %9s %9s %21s %7s   %s\n", "tenant databases", smallN+" dbs", strconv.Itoa(n)+" dbs",
		"per target ("+smallN+" / "+strconv.Itoa(n)+")", "growth", "goal (at "+strconv.Itoa(n)+")")
	row("up (4 migrations)", func(f *scaleFigures) time.Duration { return f.up },
		fmt.Sprintf("<=1.25x floor: %.3fx %s; <=0.75x goose: %.3fx %s", upR, verdict(upR <= 1.25), upG, verdict(upG <= 0.75)))
	row("up floor (pgx, 1 tx/db)", func(f *scaleFigures) time.Duration { return f.upFloor }, "")
	row("goose up per db", func(f *scaleFigures) time.Duration { return f.gooseUp }, "")
	row("status", func(f *scaleFigures) time.Duration { return f.status },
		fmt.Sprintf("<=1.25x floor: %.3fx %s; <=0.5x goose: %.3fx %s", stR, verdict(stR <= 1.25), stG, verdict(stG <= 0.5)))
	row("status floor (connect + 1 query)", func(f *scaleFigures) time.Duration { return f.statusFloor }, "")
	row("goose status per db", func(f *scaleFigures) time.Duration { return f.gooseStatus }, "")
	row("plan", func(f *scaleFigures) time.Duration { return f.plan }, "")
	row("drift", func(f *scaleFigures) time.Duration { return f.drift }, "")

	schR := ratio(big.schStatusPer, big.schStatusShared)
	fmt.Printf("%d tenant schemas in one database\n", n)
	fmt.Printf("  %-36s %9s %9s\n", "", smallN+" sch", strconv.Itoa(n)+" sch")
	row("up     shared connections", func(f *scaleFigures) time.Duration { return f.schUpShared }, "")
	row("up     connection per tenant", func(f *scaleFigures) time.Duration { return f.schUpPer },
		fmt.Sprintf("shared is %.1fx faster", ratio(big.schUpPer, big.schUpShared)))
	row("status shared connections", func(f *scaleFigures) time.Duration { return f.schStatusShared }, "")
	row("status connection per tenant", func(f *scaleFigures) time.Duration { return f.schStatusPer },
		fmt.Sprintf("shared is %.1fx faster (goal >= 10x) %s", schR, verdict(schR >= 10)))

	rss := float64(s.peakRSS) / 1024
	fmt.Printf("peak RSS of orchestrator at %d targets: %.0f MiB, in %s (goal <= %d MiB) %s\n",
		n, rss, s.peakRSSBy, scaleRSSGoal, verdict(rss <= scaleRSSGoal))
	within := true
	for _, f := range []*scaleFigures{small, big} {
		if f == nil {
			continue
		}
		for _, r := range f.runs {
			within = within && r.maxConns <= scaleConnBound(r.what)
		}
	}
	fmt.Printf("max server connections held (sampled every 10ms from pg_stat_activity, application_name LIKE 'orchestrator%%', "+
		"this run's databases, client still connected): %d, in %s (parallelism %d; bound: parallelism, drift %d more) %s\n",
		s.peakConns, s.peakConnsBy, benchParallel, scaleDriftSessions, verdict(within))
	fmt.Printf("  (at most %d visible at once, counting backends whose client had closed them and which the server was still ending)\n",
		s.peakVisible)

	fmt.Printf("  %-30s %15s  %15s   %11s  %13s  %15s\n", "orchestrator runs ("+smallN+" / "+strconv.Itoa(n)+")",
		"wall s", "own report s", "peak RSS MiB", "held/visible", "CPU ms/target")
	for i, r := range big.runs {
		var sr scaleOrchRun
		if small != nil {
			sr = small.runs[i]
		}
		perT := func(r scaleOrchRun, f *scaleFigures) float64 {
			if f == nil {
				return 0
			}
			return float64(r.cpu.Microseconds()) / 1000 / float64(f.n)
		}
		if small == nil {
			fmt.Printf("  %-30s      - / %6.2f       - / %6.2f      - / %4d      -  / %2d/%-2d      - / %5.2f\n", r.what,
				r.wall.Seconds(), r.reported.Seconds(), r.maxRSS/1024, r.maxConns, r.maxVisible, perT(r, big))
			continue
		}
		fmt.Printf("  %-30s %6.2f / %6.2f  %6.2f / %6.2f   %4d / %4d  %2d/%-2d / %2d/%-2d  %5.2f / %5.2f\n", r.what,
			sr.wall.Seconds(), r.wall.Seconds(), sr.reported.Seconds(), r.reported.Seconds(),
			sr.maxRSS/1024, r.maxRSS/1024, sr.maxConns, sr.maxVisible, r.maxConns, r.maxVisible, perT(sr, small), perT(r, big))
	}
	fmt.Println()
}
