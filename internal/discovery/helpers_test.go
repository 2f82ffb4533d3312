package discovery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
)

// defaultTestDSN is the server the discovery tests use when ORCH_TEST_DSN
// is unset.
const defaultTestDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// testDSN returns the DSN of the test server.
func testDSN() string {
	if dsn := os.Getenv("ORCH_TEST_DSN"); dsn != "" {
		return dsn
	}
	return defaultTestDSN
}

// testContext returns a context that ends with the test, bounded so that a
// regression fails instead of hanging.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// serverConfig returns the test server's configuration. An unreachable
// server fails the test in CI (CI=true) and skips it elsewhere.
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

// randomSuffix returns 12 random hex digits, for names no other test uses.
func randomSuffix(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// connectTo connects to database db of the test server, closing the
// connection when the test ends.
func connectTo(t testing.TB, cfg *pgx.ConnConfig, db string) *pgx.Conn {
	t.Helper()
	c := cfg.Copy()
	c.Database = db
	conn, err := pgx.ConnectConfig(testContext(t), c)
	if err != nil {
		t.Fatalf("connect to %q: %v", db, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// exec runs each statement on conn, failing the test on an error.
func exec(t testing.TB, conn *pgx.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := conn.Exec(testContext(t), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// createDatabase creates database name (any characters; it is quoted) from
// template0, so it starts empty whatever template1 holds, and drops it when
// the test ends. options are appended to CREATE DATABASE.
func createDatabase(t testing.TB, cfg *pgx.ConnConfig, name, options string) {
	t.Helper()
	admin := connectTo(t, cfg, cfg.Database)
	quoted := pgx.Identifier{name}.Sanitize()
	exec(t, admin, "CREATE DATABASE "+quoted+" TEMPLATE template0 "+options)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Errorf("drop database %q: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		// A template cannot be dropped.
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+quoted+" IS_TEMPLATE false"); err != nil {
			t.Errorf("drop database %q: %v", name, err)
		}
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+quoted+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %q: %v", name, err)
		}
	})
}

// keywordValueDSN returns a keyword/value DSN for database db of the test
// server, with the password (if any) quoted.
func keywordValueDSN(cfg *pgx.ConnConfig, db string) string {
	sslmode := "disable"
	if cfg.TLSConfig != nil {
		sslmode = "require"
	}
	s := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=%s",
		quoteValue(cfg.Host), cfg.Port, quoteValue(cfg.User), quoteValue(db), sslmode)
	if cfg.Password != "" {
		s += " password=" + quoteValue(cfg.Password)
	}
	return s
}

// quoteValue quotes v as a keyword/value string value: '...', with ' and \
// written as \' and \\.
func quoteValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// parseString parses src as the fleet file "fleet.yaml", with vars as its
// environment.
func parseString(t *testing.T, src string, vars map[string]string) (*fleet.Fleet, error) {
	t.Helper()
	return fleet.Parse(strings.NewReader(src), "fleet.yaml", func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	})
}

// asError asserts that err is a *fleet.Error and returns it.
func asError(t *testing.T, err error) *fleet.Error {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want an *Error")
	}
	var fe *fleet.Error
	if !errors.As(err, &fe) {
		t.Fatalf("got %T (%v), want *Error", err, err)
	}
	return fe
}

// fleetWith parses src as fleet.yaml, with ${SERVER} (and any vars) defined.
func fleetWith(t *testing.T, src string, vars map[string]string) *fleet.Fleet {
	t.Helper()
	f, err := parseString(t, src, vars)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

// lineOf returns the 1-based line of the first line of src containing s.
func lineOf(t *testing.T, src, s string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q is not in the fleet file", s)
	return 0
}

// names returns the names of targets, in order.
func names(targets []fleet.Target) []string {
	out := make([]string, len(targets))
	for i, t := range targets {
		out[i] = t.Name
	}
	return out
}
