package integration

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// sampleConnections counts the tool's backends on dbs every 5ms until stop
// is called, and returns the most seen at once. Only dbs count: other tests
// and packages run the tool against the same server at the same time.
func sampleConnections(t *testing.T, dbs []string) (stop func() int64) {
	t.Helper()
	conn := server.Connect(t, "")
	var peak atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			var n int64
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'orchestrator%' AND datname = ANY($1)`, dbs).Scan(&n); err == nil {
				if n > peak.Load() {
					peak.Store(n)
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return func() int64 {
		cancel()
		<-done
		return peak.Load()
	}
}

// TestConnectionsBounded: a run holds at most parallelism server
// connections (plus one: the probe that asks each server for its free
// connections runs alone, before the first target), with every target
// parked in a migration so that the bound is reached and held. While the
// targets are parked, the count must be exactly the bound. Over the whole
// run one more is tolerated: pg_stat_activity still lists a backend for a
// moment after its client closed the connection, while the next target's
// session is already open.
func TestConnectionsBounded(t *testing.T) {
	const parallel = 3
	pause := gooseMigration{file: "002_pause.sql", up: pauseSQL + "\nCREATE TABLE paused (id int);", down: "DROP TABLE paused;"}

	t.Run("databases", func(t *testing.T) {
		dbs := newDatabases(t, 9)
		var releases []func()
		for _, db := range dbs {
			releases = append(releases, holdAdvisory(t, db))
		}
		stop := sampleConnections(t, dbs)
		p := startCLI(t, nil, "up", "--fleet", fleetFile(t, dbs), "--migrations", seedPlus(t, 1, pause),
			"--parallel", fmt.Sprint(parallel), "--lock-timeout", "2m", "--quiet")
		waitForWaiters(t, p, dbs, parallel, time.Minute)
		parked := sampleConnections(t, dbs)
		time.Sleep(200 * time.Millisecond) // let a runaway scheduler show itself
		if n := parked(); n != parallel {
			t.Errorf("%d connections while %d targets are parked, want exactly %d", n, parallel, parallel)
		}
		for _, release := range releases {
			release()
		}
		res := p.wait(t, 2*time.Minute)
		peak := stop()
		if res.code != 0 {
			t.Fatalf("up: exit %d\n%s", res.code, res.stderr)
		}
		if peak < parallel || peak > parallel+2 {
			t.Errorf("peak connections %d, want between %d and %d", peak, parallel, parallel+2)
		}
	})

	t.Run("schemas of one database", func(t *testing.T) {
		dbs := newDatabases(t, 1)
		conn := server.Connect(t, dbs[0])
		for i := range 12 {
			if _, err := conn.Exec(context.Background(), fmt.Sprintf("CREATE SCHEMA tenant_%02d", i)); err != nil {
				t.Fatal(err)
			}
		}
		release := holdAdvisory(t, dbs[0])
		stop := sampleConnections(t, dbs)
		fleetPath := writeFile(t, "fleet.yaml", fmt.Sprintf("discover:\n  - server: %s\n    schemas: tenant\\_%%\n", dsnFor(t, dbs[0], "")))
		p := startCLI(t, nil, "up", "--fleet", fleetPath, "--migrations", seedPlus(t, 1, pause),
			"--parallel", fmt.Sprint(parallel), "--lock-timeout", "2m", "--quiet")
		waitForWaiters(t, p, dbs, parallel, time.Minute)
		parked := sampleConnections(t, dbs)
		time.Sleep(200 * time.Millisecond)
		if n := parked(); n != parallel {
			t.Errorf("%d connections while %d tenants are parked, want exactly %d", n, parallel, parallel)
		}
		release()
		res := p.wait(t, 2*time.Minute)
		peak := stop()
		if res.code != 0 {
			t.Fatalf("up: exit %d\n%s", res.code, res.stderr)
		}
		if peak < parallel || peak > parallel+2 {
			t.Errorf("peak connections %d, want between %d and %d", peak, parallel, parallel+2)
		}
		if n := queryInt(t, conn, `SELECT count(*) FROM pg_tables WHERE tablename = 'paused'`); n != 12 {
			t.Errorf("%d schemas migrated, want 12", n)
		}
	})
}
