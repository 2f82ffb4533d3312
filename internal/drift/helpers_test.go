package drift

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
	"github.com/orchestrator-dev/orchestrator/migrations"
)

// defaultDSN is the server the integration tests use when ORCH_TEST_DSN is
// unset.
const defaultDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// testDBPrefix starts the names of the databases the tests create.
const testDBPrefix = "orch_drift_test_"

// testDSN returns the DSN of the test server.
func testDSN() string {
	if dsn := os.Getenv("ORCH_TEST_DSN"); dsn != "" {
		return dsn
	}
	return defaultDSN
}

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

// serverConfig returns the test server's configuration, and fails the test
// in CI (CI=true) or skips it elsewhere when the server is unreachable.
func serverConfig(t testing.TB) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(testDSN())
	if err != nil {
		t.Fatal("ORCH_TEST_DSN is not a valid connection string")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL unreachable: %v", err)
		}
		t.Skipf("PostgreSQL unreachable (set ORCH_TEST_DSN): %v", err)
	}
	_ = conn.Close(ctx)
	return cfg
}

// randomSuffix returns 12 random hex digits.
func randomSuffix(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// newDatabase creates a uniquely named database, dropped when the test
// ends, and returns a connection to it.
func newDatabase(t testing.TB) *pgx.Conn {
	t.Helper()
	cfg := serverConfig(t)
	name := testDBPrefix + randomSuffix(t)
	admin, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	dbcfg := cfg.Copy()
	dbcfg.Database = name
	return connectConfig(t, dbcfg) // closed before the drop: cleanups run last in, first out
}

// seedSet loads the seed's migration set.
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

// migratedDatabase returns a connection to a new database with the seed
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
