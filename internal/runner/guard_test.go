package runner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// newTestDatabase creates a uniquely named database on the shared test
// server, dropped at cleanup, and returns its DSN.
func newTestDatabase(t *testing.T) string {
	t.Helper()
	s := pgtest.Shared(t)
	return s.DSNFor(s.NewDatabase(t, "runner"))
}

// handMadeSet builds a set as Load never would: a statement that ends the
// transaction gets past the load-time check only this way, so the guard
// behind it is what the test sees.
func handMadeSet(up string) *source.Set {
	m := &source.Migration{Version: 1, Name: "001_commits", UpFile: "001_commits.sql", Up: up, UpLine: 2,
		UpSHA256: strings.Repeat("0", 64)}
	return &source.Set{Layout: source.LayoutGoose, Dir: "test", Migrations: []*source.Migration{m}}
}

func queryOne(t *testing.T, dsn, q string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestStatementEndingTheTransactionStopsTheTarget: the executor checks the
// transaction status after every statement; a statement that committed
// the tool's transaction stops the target, failed with a remedy, and its
// version is not recorded.
func TestStatementEndingTheTransactionStopsTheTarget(t *testing.T) {
	dsn := newTestDatabase(t)
	set := handMadeSet("CREATE TABLE before_commit (id int);\nCOMMIT;\nCREATE TABLE after_commit (id int);\n")
	r, err := New(Options{Set: set, Settings: fleet.BuiltinDefaults()})
	if err != nil {
		t.Fatal(err)
	}
	target := fleet.Target{Name: "t", DSN: dsn, Labels: map[string]string{}}
	rep := r.Up(context.Background(), []fleet.WaveTargets{{Targets: []fleet.Target{target}}}, -1)
	res := rep.Targets[0]
	if res.Status != report.StatusFailed || res.Error == nil || res.Error.Class != ClassTxControl || res.Error.Line != 3 || res.Error.Remedy == "" {
		t.Fatalf("result = %+v %+v, want failed, class %s at line 3 with a remedy", res, res.Error, ClassTxControl)
	}
	if n := queryOne(t, dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 'after_commit'"); n != 0 {
		t.Error("the target went on after the statement that ended its transaction")
	}
	if n := queryOne(t, dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 'goose_db_version'"); n == 1 {
		if v := queryOne(t, dsn, "SELECT count(*) FROM goose_db_version WHERE version_id = 1"); v != 0 {
			t.Error("version 1 was recorded")
		}
	}
}

// TestRehearsalNeverCommits: plan --verify refuses to run a statement that
// would end its transaction, and leaves the target as it was.
func TestRehearsalNeverCommits(t *testing.T) {
	dsn := newTestDatabase(t)
	set := handMadeSet("CREATE TABLE rehearsed (id int);\nSELECT 1; COMMIT;\n")
	r, err := New(Options{Set: set, Settings: fleet.BuiltinDefaults()})
	if err != nil {
		t.Fatal(err)
	}
	target := fleet.Target{Name: "t", DSN: dsn, Labels: map[string]string{}}
	rep := r.Plan(context.Background(), []fleet.Target{target}, PlanOptions{To: -1, Verify: true})
	if res := rep.Targets[0]; res.Status != report.StatusFailed || res.Error == nil || res.Error.Line != 3 {
		t.Fatalf("result = %+v %+v, want failed at line 3", res, res.Error)
	}
	if n := queryOne(t, dsn, "SELECT count(*) FROM pg_tables WHERE tablename IN ('rehearsed', 'goose_db_version')"); n != 0 {
		t.Errorf("the rehearsal committed %d table(s)", n)
	}
}
