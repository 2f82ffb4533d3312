package apply

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// testConn connects to the test server; only temporary objects are made,
// which end with the session. A missing server skips locally and fails
// under CI=true.
func testConn(t *testing.T) *pgx.Conn {
	t.Helper()
	dsn := os.Getenv("ORCH_TEST_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no PostgreSQL and CI=true: %v", err)
		}
		t.Skipf("no PostgreSQL reachable: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestRunNoTxSecondStatement: a NO TRANSACTION section runs statement by
// statement outside a transaction; the failing second one is named with
// its line, and the first stays done.
func TestRunNoTxSecondStatement(t *testing.T) {
	c := testConn(t)
	ctx := t.Context()
	m := &source.Migration{Name: "001_two", NoTx: true, UpLine: 3,
		Up: "CREATE TEMP TABLE apply_a (id int);\n\nSELECT * FROM\n    apply_missing;"}
	ran, err := Run(ctx, c, m, false)
	var me *MigrationError
	if !errors.As(err, &me) || ran != 1 || me.Index != 2 || me.Total != 2 || me.Line != 5 || me.Stmt != "SELECT * FROM\n    apply_missing" {
		t.Fatalf("Run = %d, %#v", ran, err)
	}
	if st := c.PgConn().TxStatus(); st != 'I' {
		t.Errorf("transaction status %c after a NO TRANSACTION section, want I", st)
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM apply_a").Scan(&n); err != nil {
		t.Errorf("the first statement's table: %v", err)
	}
}

// TestRunInTxEnded: in a transaction, a statement after which the
// transaction is no longer open is a TxEndedError at its line.
func TestRunInTxEnded(t *testing.T) {
	c := testConn(t)
	ctx := t.Context()
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	m := &source.Migration{Name: "001_commits", UpLine: 2,
		Up: "CREATE TEMP TABLE apply_b (id int);\nCOMMIT;\nCREATE TEMP TABLE apply_c (id int);"}
	ran, err := Run(ctx, c, m, false)
	var ended *TxEndedError
	var me *MigrationError
	if !errors.As(err, &ended) || !errors.As(err, &me) || ran != 1 || me.Line != 3 || me.Total != 0 {
		t.Fatalf("Run = %d, %#v", ran, err)
	}
	if ran, err := Run(ctx, c, &source.Migration{Name: "002_ok", Up: "SELECT 1;\nSELECT 2;", UpLine: 2}, true); err != nil || ran != 0 {
		t.Errorf("an absent down section: %d, %v", ran, err)
	}
}
