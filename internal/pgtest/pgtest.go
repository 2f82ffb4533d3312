// Package pgtest is the PostgreSQL harness of the tests (only tests import
// it): the server they share (ORCH_TEST_DSN), unique names for the
// databases they create on it (ORCH_TEST_PREFIX), and private throwaway
// clusters for tests that must not share a server. A missing server or
// binary skips a test, except under CI=true, where it fails it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	// DefaultDSN is the shared server when ORCH_TEST_DSN is unset.
	DefaultDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	// DefaultPrefix starts database names when ORCH_TEST_PREFIX is unset.
	DefaultPrefix = "orch"
)

// DSN is the shared server's maintenance DSN: ORCH_TEST_DSN, or DefaultDSN.
func DSN() string {
	if dsn := os.Getenv("ORCH_TEST_DSN"); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// Prefix starts the name of every database and role the tests create:
// ORCH_TEST_PREFIX, or DefaultPrefix. People sharing a server with
// different prefixes never touch each other's databases.
//
// The prefix is lower-case letters, digits and "_", so that the names need
// no quoting; another prefix panics.
func Prefix() string {
	p := os.Getenv("ORCH_TEST_PREFIX")
	if p == "" {
		return DefaultPrefix
	}
	if !validPrefix.MatchString(p) {
		panic("pgtest: ORCH_TEST_PREFIX must be lower-case letters, digits and _, starting with a letter or _")
	}
	return p
}

var validPrefix = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Name returns a name no other test uses: the prefix, tag and ten random
// hex digits joined by "_" (orch_drift_3fa9c2d1e0).
func Name(tag string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return Prefix() + "_" + tag + "_" + hex.EncodeToString(b)
}

// Unavailable skips t for want of a prerequisite, or fails it under CI=true.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (and CI=true)", args...)
	}
	t.Skipf(format, args...)
}

// Server is a PostgreSQL server the tests create databases on.
type Server struct {
	// DSN is a postgres:// URL of the server's maintenance database.
	DSN string
	// private: a cluster of Start's, whose databases go with it.
	private bool
}

// ping reports why the shared server cannot be used, or nil; it asks the
// server once per process.
var ping = sync.OnceValue(func() error {
	if u, err := url.Parse(DSN()); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New("ORCH_TEST_DSN must be a postgres:// URL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, DSN())
	if err != nil {
		return fmt.Errorf("no PostgreSQL reachable at ORCH_TEST_DSN (default %s): %w", DefaultDSN, err)
	}
	return conn.Close(ctx)
})

// Shared is the shared server; it skips t when the server is unreachable
// (fails it under CI=true).
func Shared(t testing.TB) *Server {
	t.Helper()
	if err := ping(); err != nil {
		Unavailable(t, "%v", err)
	}
	return &Server{DSN: DSN()}
}

// DSNFor is the server's DSN with the database replaced by db.
func (s *Server) DSNFor(db string) string {
	u, err := url.Parse(s.DSN)
	if err != nil {
		panic("pgtest: the server's DSN is not a URL")
	}
	u.Path, u.RawPath = "/"+db, ""
	return u.String()
}

// Connect opens a connection to database db ("" for the maintenance
// database), closed when the test ends.
func (s *Server) Connect(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	dsn := s.DSN
	if db != "" {
		dsn = s.DSNFor(db)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %q: %v", db, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// Exec runs sql on a maintenance connection of its own.
func (s *Server) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if err := s.exec(sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (s *Server) exec(sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// CreateDatabase creates database name (quoted: any characters) with
// options appended to CREATE DATABASE, and drops it WITH (FORCE) when the
// test ends, a template included (on a private cluster, they go with it).
func (s *Server) CreateDatabase(t testing.TB, name, options string) {
	t.Helper()
	s.CreateDatabases(t, []string{name}, options)
}

// NewDatabase creates an empty database named Name(tag), dropped when the
// test ends, and returns its name.
func (s *Server) NewDatabase(t testing.TB, tag string) string {
	t.Helper()
	name := Name(tag)
	s.CreateDatabase(t, name, "")
	return name
}

// NewDatabases creates n empty databases named Name(tag) and a two- (or,
// past 99, three-) digit index, dropped when the test ends, and returns
// their names. Many are created over four connections.
func (s *Server) NewDatabases(t testing.TB, tag string, n int) []string {
	t.Helper()
	base := Name(tag)
	width := 2
	if n > 100 {
		width = 3
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s_%0*d", base, width, i)
	}
	s.CreateDatabases(t, names, "")
	return names
}

// CreateDatabases is CreateDatabase for each of names, over up to four
// connections.
func (s *Server) CreateDatabases(t testing.TB, names []string, options string) {
	t.Helper()
	if !s.private {
		t.Cleanup(func() { s.drop(t, names) })
	}
	if err := s.ForEach(names, func(ctx context.Context, c *pgx.Conn, q string) error {
		_, err := c.Exec(ctx, "CREATE DATABASE "+q+" "+options)
		return err
	}); err != nil {
		t.Fatalf("create databases: %v", err)
	}
}

// drop drops names WITH (FORCE), templates included; dropping twice is
// harmless.
func (s *Server) drop(t testing.TB, names []string) {
	if err := s.ForEach(names, func(ctx context.Context, c *pgx.Conn, q string) error {
		// A template cannot be dropped; 3D000: already gone.
		var pgErr *pgconn.PgError
		if _, err := c.Exec(ctx, "ALTER DATABASE "+q+" IS_TEMPLATE false"); err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "3D000") {
			return err
		}
		_, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+q+" WITH (FORCE)")
		return err
	}); err != nil {
		t.Errorf("drop databases: %v", err)
	}
}

// AdminApp is the application_name of the harness's maintenance sessions,
// so that a benchmark sampling pg_stat_activity can tell them apart.
const AdminApp = "orch-pgtest-admin"

// ForEach runs fn on every name (quoted) over one maintenance connection
// per 25 names, at most four, and joins the errors, each naming its
// database (the first ten, and how many more).
func (s *Server) ForEach(names []string, fn func(ctx context.Context, c *pgx.Conn, quoted string) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute+time.Duration(len(names))*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(s.DSN)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["application_name"] = AdminApp
	work := make(chan string)
	var (
		mu     sync.Mutex
		errs   []error
		failed int
		wg     sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if failed++; failed <= 10 {
			errs = append(errs, err)
		}
	}
	for range min(4, (len(names)+24)/25) {
		wg.Go(func() {
			conn, err := pgx.ConnectConfig(ctx, cfg.Copy())
			if err != nil {
				fail(err)
				for range work {
				}
				return
			}
			defer conn.Close(context.WithoutCancel(ctx))
			for name := range work {
				if err := fn(ctx, conn, pgx.Identifier{name}.Sanitize()); err != nil {
					fail(fmt.Errorf("%s: %w", name, err))
				}
			}
		})
	}
	for _, name := range names {
		work <- name
	}
	close(work)
	wg.Wait()
	if failed > 10 {
		errs = append(errs, fmt.Errorf("and %d more", failed-10))
	}
	return errors.Join(errs...)
}
