package migrations_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
	"github.com/orchestrator-dev/orchestrator/migrations"
)

// migrateInstall is the command that installs the golang-migrate CLI the
// compatibility test expects.
const migrateInstall = "go install -tags postgres github.com/golang-migrate/migrate/v4/cmd/migrate@v4.20.1"

// seed lists the built-in migrations in apply order.
var seed = []string{
	"001_create_users_table",
	"002_create_api_keys_table",
	"003_create_sessions_table",
	"004_create_usage_records_table",
}

var seedTables = []string{"users", "api_keys", "sessions", "usage_records"}

// migrationsDir returns the absolute path of the package directory, which
// holds the .sql files (go test runs with the package directory as cwd).
func migrationsDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatalf("resolve migrations dir: %v", err)
	}
	return dir
}

// newDatabase creates a uniquely named scratch database on the shared
// test server, dropped (WITH FORCE) when the test ends, and returns its DSN
// and a connection to it.
func newDatabase(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	s := pgtest.Shared(t)
	name := s.NewDatabase(t, "seed")
	t.Logf("scratch database %s", name)
	return s.DSNFor(name), s.Connect(t, name)
}

// psqlFile runs one SQL file through psql the way the README documents it.
func psqlFile(t *testing.T, dsn, file string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "psql", "-v", "ON_ERROR_STOP=1", "-X", "-q", "-f", file, dsn).CombinedOutput()
	return string(out), err
}

// mustPsqlFile is psqlFile that fails the test on error.
func mustPsqlFile(t *testing.T, dsn, file string) {
	t.Helper()
	if out, err := psqlFile(t, dsn, file); err != nil {
		t.Fatalf("psql -f %s: %v\n%s", filepath.Base(file), err, out)
	}
}

// publicRelations lists every relation (table, index, sequence, view...)
// in the public schema, sorted by name.
func publicRelations(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `
		SELECT c.relname
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public'
		ORDER BY c.relname`)
	if err != nil {
		t.Fatalf("list relations: %v", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("list relations: %v", err)
	}
	return names
}

// publicLeftovers lists functions and free-standing types left in the public
// schema (table row types go with their tables and are not reported).
func publicLeftovers(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `
		SELECT 'function ' || p.proname
		FROM pg_proc p
		JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = 'public'
		UNION ALL
		SELECT 'type ' || t.typname
		FROM pg_type t
		JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE n.nspname = 'public'
		  AND t.typrelid = 0
		  AND t.typelem = 0
		ORDER BY 1`)
	if err != nil {
		t.Fatalf("list functions and types: %v", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("list functions and types: %v", err)
	}
	return names
}

// TestFiles checks the migration files themselves: every seed version has
// an up and a down, the embedded FS matches the directory, and the up files
// stay free of constructs that break inside a caller's transaction.
func TestFiles(t *testing.T) {
	dir := migrationsDir(t)

	onDisk, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range seed {
		want = append(want, m+".down.sql", m+".up.sql")
	}
	slices.Sort(want)
	var got []string
	for _, p := range onDisk {
		got = append(got, filepath.Base(p))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("sql files on disk = %v, want %v", got, want)
	}

	embedded, err := fs.Glob(migrations.FS, "*")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(embedded, want) {
		t.Fatalf("embedded files = %v, want %v (only *.sql)", embedded, want)
	}

	forbidden := []struct {
		name string
		re   *regexp.Regexp
	}{
		{"BEGIN", regexp.MustCompile(`(?i)\bBEGIN\b`)},
		{"START TRANSACTION", regexp.MustCompile(`(?i)\bSTART\s+TRANSACTION\b`)},
		{"COMMIT", regexp.MustCompile(`(?i)\bCOMMIT\b`)},
		{"ROLLBACK", regexp.MustCompile(`(?i)\bROLLBACK\b`)},
		{"CONCURRENTLY", regexp.MustCompile(`(?i)\bCONCURRENTLY\b`)},
		{"IF NOT EXISTS", regexp.MustCompile(`(?i)\bIF\s+NOT\s+EXISTS\b`)},
		{"psql meta-command", regexp.MustCompile(`(?m)^\s*\\`)},
	}
	comment := regexp.MustCompile(`--[^\n]*`)
	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			disk, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			emb, err := fs.ReadFile(migrations.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			if string(disk) != string(emb) {
				t.Fatalf("embedded %s differs from the file on disk", name)
			}
			code := comment.ReplaceAllString(string(disk), "")
			if strings.TrimSpace(code) == "" {
				t.Fatalf("%s has no SQL", name)
			}
			for _, f := range forbidden {
				if f.re.MatchString(code) {
					t.Errorf("%s contains %s", name, f.name)
				}
			}
		})
	}
}

// TestSeedCompatibility applies the built-in migrations the two ways the README
// documents: psql file by file, and the golang-migrate CLI.
func TestSeedCompatibility(t *testing.T) {
	dir := migrationsDir(t)

	// Probe the server once so an absent server skips the whole test.
	pgtest.Shared(t)

	t.Run("psql", func(t *testing.T) {
		if _, err := exec.LookPath("psql"); err != nil {
			pgtest.Unavailable(t, "psql not on PATH: %v", err)
		}
		dsn, conn := newDatabase(t)

		for _, m := range seed {
			mustPsqlFile(t, dsn, filepath.Join(dir, m+".up.sql"))
		}

		checkSchema(t, conn)
		checkBehaviour(t, conn)

		// A pre-existing table must make the migration fail.
		if out, err := psqlFile(t, dsn, filepath.Join(dir, seed[0]+".up.sql")); err == nil {
			t.Errorf("re-applying %s succeeded; want an error because users exists\n%s", seed[0], out)
		} else if !strings.Contains(out, "already exists") {
			t.Errorf("re-applying %s: unexpected error output:\n%s", seed[0], out)
		}

		for _, m := range slices.Backward(seed) {
			mustPsqlFile(t, dsn, filepath.Join(dir, m+".down.sql"))
		}
		if rels := publicRelations(t, conn); len(rels) != 0 {
			t.Errorf("after all downs public still holds relations: %v", rels)
		}
		if left := publicLeftovers(t, conn); len(left) != 0 {
			t.Errorf("after all downs public still holds: %v", left)
		}

		// The ups also run inside a caller's transaction (as orchestrator
		// applies them); rolling it back leaves nothing behind.
		tx, err := conn.Begin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range seed {
			sql, err := fs.ReadFile(migrations.FS, m+".up.sql")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(t.Context(), string(sql)); err != nil {
				_ = tx.Rollback(t.Context())
				t.Fatalf("%s inside a transaction: %v", m, err)
			}
		}
		var n int
		if err := tx.QueryRow(t.Context(),
			`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(seedTables) {
			t.Errorf("inside the transaction %d tables exist, want %d", n, len(seedTables))
		}
		if err := tx.Rollback(t.Context()); err != nil {
			t.Fatal(err)
		}
		if rels := publicRelations(t, conn); len(rels) != 0 {
			t.Errorf("after rollback public still holds relations: %v", rels)
		}
	})

	t.Run("golang-migrate", func(t *testing.T) {
		bin := findMigrate(t)
		dsn, conn := newDatabase(t)

		migrate := func(args ...string) string {
			t.Helper()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			full := append([]string{"-path", dir, "-database", dsn}, args...)
			// migrate reports the version (and its progress) on stderr.
			out, err := exec.CommandContext(ctx, bin, full...).CombinedOutput()
			if err != nil {
				t.Fatalf("migrate %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return strings.TrimSpace(string(out))
		}

		migrate("up")
		checkSchema(t, conn)

		out := migrate("version")
		lines := strings.Split(out, "\n")
		if v := strings.TrimSpace(lines[len(lines)-1]); v != "4" {
			t.Errorf("migrate version = %q, want 4", out)
		}

		migrate("down", "-all")
		rels := publicRelations(t, conn)
		allowed := []string{"schema_migrations", "schema_migrations_pkey"}
		for _, r := range rels {
			if !slices.Contains(allowed, r) {
				t.Errorf("after down -all public still holds %s (all relations: %v)", r, rels)
			}
		}
		if !slices.Contains(rels, "schema_migrations") {
			t.Errorf("schema_migrations missing after down -all: %v", rels)
		}
		if left := publicLeftovers(t, conn); len(left) != 0 {
			t.Errorf("after down -all public still holds: %v", left)
		}
	})
}

// findMigrate locates the golang-migrate CLI on PATH or in $(go env GOPATH)/bin.
func findMigrate(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("migrate"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, gp := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(gp, "bin", "migrate")
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return p
			}
		}
	}
	pgtest.Unavailable(t, "golang-migrate CLI not found on PATH or in $(go env GOPATH)/bin; install it with: %s", migrateInstall)
	return ""
}

// checkSchema asserts the tables, key column types, sequences, foreign key
// actions and named indexes the schema overview in migrations/README.md promises.
func checkSchema(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	ctx := t.Context()

	for _, table := range seedTables {
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT to_regclass('public.' || $1) IS NOT NULL`, table).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		if !exists {
			t.Fatalf("table %s missing", table)
		}

		// Every primary key is a BIGSERIAL: bigint backed by a bigint sequence.
		var typ string
		var seqType *string
		err := conn.QueryRow(ctx, `
			SELECT format_type(a.atttypid, a.atttypmod),
			       (SELECT format_type(s.seqtypid, NULL)
			        FROM pg_sequence s
			        WHERE s.seqrelid = pg_get_serial_sequence('public.' || $1, 'id')::regclass)
			FROM pg_attribute a
			WHERE a.attrelid = ('public.' || $1)::regclass AND a.attname = 'id'`, table).Scan(&typ, &seqType)
		if err != nil {
			t.Fatalf("%s.id: %v", table, err)
		}
		if typ != "bigint" || seqType == nil || *seqType != "bigint" {
			t.Errorf("%s.id is %s with sequence type %v, want bigint with a bigint sequence", table, typ, seqType)
		}
	}

	columns := []struct {
		table, column, typ string
		notNull            bool
	}{
		{"users", "email", "character varying(255)", true},
		{"users", "username", "character varying(50)", true},
		{"users", "password_hash", "character varying(255)", true},
		{"users", "is_verified", "boolean", true},
		{"users", "email_verified_at", "timestamp with time zone", false},
		{"users", "last_login_at", "timestamp with time zone", false},
		{"users", "created_at", "timestamp with time zone", true},
		{"users", "updated_at", "timestamp with time zone", true},
		{"users", "deleted_at", "timestamp with time zone", false},
		{"api_keys", "user_id", "bigint", true},
		{"api_keys", "name", "character varying(100)", true},
		{"api_keys", "key_hash", "character varying(255)", true},
		{"api_keys", "key_prefix", "character varying(16)", true},
		{"api_keys", "scopes", "text[]", true},
		{"api_keys", "expires_at", "timestamp with time zone", false},
		{"api_keys", "revoked_at", "timestamp with time zone", false},
		{"api_keys", "last_used_at", "timestamp with time zone", false},
		{"sessions", "user_id", "bigint", true},
		{"sessions", "token_hash", "character varying(255)", true},
		{"sessions", "refresh_token_hash", "character varying(255)", false},
		{"sessions", "ip_address", "inet", false},
		{"sessions", "user_agent", "character varying(512)", false},
		{"sessions", "expires_at", "timestamp with time zone", true},
		{"sessions", "revoked_at", "timestamp with time zone", false},
		{"sessions", "last_activity_at", "timestamp with time zone", true},
		{"usage_records", "user_id", "bigint", false},
		{"usage_records", "api_key_id", "bigint", false},
		{"usage_records", "method", "character varying(10)", true},
		{"usage_records", "endpoint", "character varying(512)", true},
		{"usage_records", "status_code", "integer", true},
		{"usage_records", "request_size", "bigint", true},
		{"usage_records", "response_size", "bigint", true},
		{"usage_records", "duration_ms", "integer", true},
		{"usage_records", "error_message", "text", false},
		{"usage_records", "ip_address", "inet", false},
		{"usage_records", "created_at", "timestamp with time zone", true},
	}
	for _, c := range columns {
		var typ string
		var notNull bool
		err := conn.QueryRow(ctx, `
			SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull
			FROM pg_attribute a
			WHERE a.attrelid = ('public.' || $1)::regclass AND a.attname = $2 AND NOT a.attisdropped`,
			c.table, c.column).Scan(&typ, &notNull)
		if errors.Is(err, pgx.ErrNoRows) {
			t.Errorf("column %s.%s missing", c.table, c.column)
			continue
		}
		if err != nil {
			t.Fatalf("column %s.%s: %v", c.table, c.column, err)
		}
		if typ != c.typ || notNull != c.notNull {
			t.Errorf("column %s.%s = %s (not null %v), want %s (not null %v)", c.table, c.column, typ, notNull, c.typ, c.notNull)
		}
	}

	// Every timestamp is TIMESTAMP WITH TIME ZONE.
	rows, err := conn.Query(ctx, `
		SELECT table_name || '.' || column_name
		FROM information_schema.columns
		WHERE table_schema = 'public' AND data_type = 'timestamp without time zone'`)
	if err != nil {
		t.Fatal(err)
	}
	naive, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(naive) != 0 {
		t.Errorf("timestamp columns without time zone: %v", naive)
	}

	// Foreign keys: 'c' = CASCADE, 'n' = SET NULL.
	fks := []struct {
		table, column, references string
		onDelete                  string
	}{
		{"api_keys", "user_id", "users", "c"},
		{"sessions", "user_id", "users", "c"},
		{"usage_records", "user_id", "users", "n"},
		{"usage_records", "api_key_id", "api_keys", "n"},
	}
	for _, fk := range fks {
		var ref, action string
		err := conn.QueryRow(ctx, `
			SELECT c.confrelid::regclass::text, c.confdeltype::text
			FROM pg_constraint c
			JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
			WHERE c.contype = 'f'
			  AND c.conrelid = ('public.' || $1)::regclass
			  AND cardinality(c.conkey) = 1
			  AND a.attname = $2`, fk.table, fk.column).Scan(&ref, &action)
		if errors.Is(err, pgx.ErrNoRows) {
			t.Errorf("foreign key on %s.%s missing", fk.table, fk.column)
			continue
		}
		if err != nil {
			t.Fatalf("foreign key %s.%s: %v", fk.table, fk.column, err)
		}
		if ref != fk.references || action != fk.onDelete {
			t.Errorf("foreign key %s.%s references %s ON DELETE %q, want %s ON DELETE %q",
				fk.table, fk.column, ref, action, fk.references, fk.onDelete)
		}
	}

	// Named indexes, so drift reports can name them.
	indexes := []struct {
		table, name string
		unique      bool
		partial     bool
	}{
		{"users", "idx_users_email", true, true},
		{"users", "idx_users_username", true, true},
		{"users", "idx_users_created_at", false, false},
		{"api_keys", "idx_api_keys_key_hash", true, false},
		{"api_keys", "idx_api_keys_user_id", false, false},
		{"api_keys", "idx_api_keys_key_prefix", false, false},
		{"sessions", "idx_sessions_token_hash", true, false},
		{"sessions", "idx_sessions_user_id", false, false},
		{"sessions", "idx_sessions_expires_at", false, false},
		{"usage_records", "idx_usage_records_user_id_created_at", false, false},
		{"usage_records", "idx_usage_records_api_key_id", false, false},
		{"usage_records", "idx_usage_records_created_at", false, false},
		{"usage_records", "idx_usage_records_endpoint", false, false},
	}
	for _, ix := range indexes {
		var table string
		var unique, partial bool
		err := conn.QueryRow(ctx, `
			SELECT i.indrelid::regclass::text, i.indisunique, i.indpred IS NOT NULL
			FROM pg_index i
			WHERE i.indexrelid = to_regclass('public.' || $1)`, ix.name).Scan(&table, &unique, &partial)
		if errors.Is(err, pgx.ErrNoRows) {
			t.Errorf("index %s missing", ix.name)
			continue
		}
		if err != nil {
			t.Fatalf("index %s: %v", ix.name, err)
		}
		if table != ix.table || unique != ix.unique || partial != ix.partial {
			t.Errorf("index %s on %s unique=%v partial=%v, want on %s unique=%v partial=%v",
				ix.name, table, unique, partial, ix.table, ix.unique, ix.partial)
		}
	}
}

// checkBehaviour exercises the constraints with real rows: uniqueness among
// live users only, check constraints, and the foreign key delete actions.
func checkBehaviour(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	ctx := t.Context()

	steps := []struct {
		name    string
		sql     string
		sqlCode string // expected SQLSTATE, "" for success
	}{
		{"first user", `INSERT INTO users (email, username, password_hash) VALUES ('ada@example.com', 'ada', 'x')`, ""},
		{"duplicate live email", `INSERT INTO users (email, username, password_hash) VALUES ('ada@example.com', 'ada2', 'x')`, "23505"},
		{"duplicate live username", `INSERT INTO users (email, username, password_hash) VALUES ('ada2@example.com', 'ada', 'x')`, "23505"},
		{"soft delete first user", `UPDATE users SET deleted_at = NOW() WHERE username = 'ada'`, ""},
		{"reuse email and username of soft-deleted user", `INSERT INTO users (email, username, password_hash) VALUES ('ada@example.com', 'ada', 'x')`, ""},
		{"api key", `INSERT INTO api_keys (user_id, name, key_hash, key_prefix) SELECT id, 'ci', 'hash-1', 'ok_abc' FROM users WHERE deleted_at IS NULL`, ""},
		{"duplicate key hash", `INSERT INTO api_keys (user_id, name, key_hash, key_prefix) SELECT id, 'ci2', 'hash-1', 'ok_def' FROM users WHERE deleted_at IS NULL`, "23505"},
		{"session", `INSERT INTO sessions (user_id, token_hash, ip_address, expires_at) SELECT id, 'tok-1', '192.0.2.1', NOW() + INTERVAL '1 hour' FROM users WHERE deleted_at IS NULL`, ""},
		{"usage record", `INSERT INTO usage_records (user_id, api_key_id, method, endpoint, status_code, duration_ms) SELECT user_id, id, 'GET', '/v1/things', 200, 12 FROM api_keys`, ""},
		{"status code out of range", `INSERT INTO usage_records (method, endpoint, status_code) VALUES ('GET', '/v1/things', 700)`, "23514"},
		{"negative size", `INSERT INTO usage_records (method, endpoint, status_code, request_size) VALUES ('GET', '/v1/things', 200, -1)`, "23514"},
		{"unknown user", `INSERT INTO api_keys (user_id, name, key_hash, key_prefix) VALUES (999999, 'x', 'hash-2', 'ok_zzz')`, "23503"},
		{"hard delete live user", `DELETE FROM users WHERE deleted_at IS NULL`, ""},
	}
	for _, s := range steps {
		_, err := conn.Exec(ctx, s.sql)
		var pgErr *pgconn.PgError
		switch {
		case s.sqlCode == "" && err != nil:
			t.Fatalf("%s: %v", s.name, err)
		case s.sqlCode != "" && err == nil:
			t.Fatalf("%s: succeeded, want SQLSTATE %s", s.name, s.sqlCode)
		case s.sqlCode != "" && (!errors.As(err, &pgErr) || pgErr.Code != s.sqlCode):
			t.Fatalf("%s: %v, want SQLSTATE %s", s.name, err, s.sqlCode)
		}
	}

	var keys, sessions, records, orphaned int
	err := conn.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM api_keys),
		       (SELECT count(*) FROM sessions),
		       (SELECT count(*) FROM usage_records),
		       (SELECT count(*) FROM usage_records WHERE user_id IS NULL AND api_key_id IS NULL)`).
		Scan(&keys, &sessions, &records, &orphaned)
	if err != nil {
		t.Fatal(err)
	}
	if keys != 0 || sessions != 0 {
		t.Errorf("after deleting the user: %d api keys, %d sessions remain; want CASCADE to remove them", keys, sessions)
	}
	if records != 1 || orphaned != 1 {
		t.Errorf("after deleting the user: %d usage records (%d orphaned), want 1 kept with user_id and api_key_id SET NULL", records, orphaned)
	}

	if _, err := conn.Exec(ctx, `TRUNCATE usage_records, sessions, api_keys, users`); err != nil {
		t.Fatal(err)
	}
}
