package drift

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
	"github.com/orchestrator-dev/orchestrator/migrations"
)

// testContext returns a context that ends with the test, bounded so that a
// regression fails instead of hanging.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// connectConfig connects with cfg, closing the connection when the test
// ends.
func connectConfig(t testing.TB, cfg *pgx.ConnConfig) *pgx.Conn {
	t.Helper()
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect to %s: %v", cfg.Database, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// serverConfig returns the shared test server's configuration (see
// pgtest.Shared).
func serverConfig(t testing.TB) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(pgtest.Shared(t).DSN)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newDatabase creates a uniquely named database, dropped when the test
// ends, and returns a connection to it.
func newDatabase(t testing.TB) *pgx.Conn {
	t.Helper()
	s := pgtest.Shared(t)
	return s.Connect(t, s.NewDatabase(t, "drift_test")) // closed before the drop: cleanups run last in, first out
}

// seedSet loads the built-in migration set.
func seedSet(t testing.TB) *source.Set {
	t.Helper()
	set, err := source.Load(migrations.FS, ".")
	if err != nil {
		t.Fatalf("load seed migrations: %v", err)
	}
	return set
}

// migrate applies the ups of set up to version upTo in one transaction,
// in schema (created first unless it is public).
func migrate(t testing.TB, conn *pgx.Conn, set *source.Set, upTo int64, schema string) {
	t.Helper()
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if schema != "public" {
		ident := pgx.Identifier{schema}.Sanitize()
		if _, err := tx.Exec(ctx, "CREATE SCHEMA "+ident+"; SET LOCAL search_path TO "+ident); err != nil {
			t.Fatalf("create schema %s: %v", schema, err)
		}
	}
	for _, m := range set.Migrations {
		if m.Version > upTo {
			break
		}
		if _, err := tx.Exec(ctx, m.Up); err != nil {
			t.Fatalf("migration %s: %v", m.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// migratedDatabase returns a connection to a new database with the built-in migrations
// set applied up to version upTo.
func migratedDatabase(t testing.TB, set *source.Set, upTo int64) *pgx.Conn {
	t.Helper()
	conn := newDatabase(t)
	migrate(t, conn, set, upTo, "public")
	return conn
}

// execSQL runs sql on conn.
func execSQL(t testing.TB, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// snapshotOf reads the snapshot of schema on conn.
func snapshotOf(t testing.TB, conn *pgx.Conn, schema string) *Snapshot {
	t.Helper()
	snap, err := ReadSnapshot(context.Background(), conn, schema)
	if err != nil {
		t.Fatalf("ReadSnapshot: %v", err)
	}
	return snap
}

// findingStrings formats findings for comparison.
func findingStrings(fs []report.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}
