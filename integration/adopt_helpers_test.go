package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
)

// The bookkeeping tables as tests name them.
const (
	gooseTable   = "goose_db_version"
	migrateTable = "schema_migrations"
)

// migrateBin locates the golang-migrate CLI: on PATH or in
// $(go env GOPATH)/bin. Missing, it fails under CI=true and skips locally.
func migrateBin(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("migrate"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, gp := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(gp, "bin", "migrate")
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				return p
			}
		}
	}
	pgtest.Unavailable(t, "golang-migrate CLI not found (go install -tags postgres github.com/golang-migrate/migrate/v4/cmd/migrate@v4.20.1)")
	return ""
}

// runMigrate runs the golang-migrate CLI on db with the built-in migrations, the
// seed's own way: migrate -database URL -path migrations ARGS. It returns
// its combined output (golang-migrate prints to stderr) and exit code.
func runMigrate(t testing.TB, bin, dsn string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	abs, err := filepath.Abs("../migrations")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"-database", dsn, "-path", abs}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("migrate %v: %v", args, err)
	}
	return strings.TrimSpace(out.String()), code
}

// mustMigrate is runMigrate that must succeed.
func mustMigrate(t testing.TB, bin, dsn string, args ...string) string {
	t.Helper()
	out, code := runMigrate(t, bin, dsn, args...)
	if code != 0 {
		t.Fatalf("migrate %v: exit %d: %s", args, code, out)
	}
	return out
}

// psqlApply applies the built-in up files 1..upto with psql -f, in order, as
// the manual instructions in migrations/README.md do.
func psqlApply(t testing.TB, dsn string, upto int) {
	t.Helper()
	psqlApplyEnv(t, dsn, upto)
}

// psqlApplyEnv is psqlApply with extra environment for psql (PGOPTIONS to
// set a search_path).
func psqlApplyEnv(t testing.TB, dsn string, upto int, env ...string) {
	t.Helper()
	psql, err := exec.LookPath("psql")
	if err != nil {
		pgtest.Unavailable(t, "psql not found")
	}
	ups, err := filepath.Glob("../migrations/*.up.sql")
	if err != nil || len(ups) < upto {
		t.Fatalf("seed migrations: %v", err)
	}
	for _, f := range ups[:upto] {
		cmd := exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", f)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("psql -f %s: %v\n%s", f, err, out)
		}
	}
}

// fingerprint says everything a test must see unchanged on a target: its
// relations with their kinds, and the rows of both version tables.
func fingerprint(t *testing.T, db string) string {
	t.Helper()
	conn := server.Connect(t, db)
	var rels string
	if err := conn.QueryRow(context.Background(), `SELECT coalesce(string_agg(c.relname || ':' || c.relkind::text, ',' ORDER BY c.relname), '')
FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace`).Scan(&rels); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(rels)
	for _, q := range []string{
		"SELECT coalesce(string_agg(version::text || '/' || dirty::text, ','), '') FROM " + migrateTable,
		"SELECT coalesce(string_agg(version_id::text, ',' ORDER BY id), '') FROM " + gooseTable,
	} {
		var s string
		if err := conn.QueryRow(context.Background(), q).Scan(&s); err != nil {
			s = "absent"
		}
		b.WriteString("|" + s)
	}
	return b.String()
}

// hasTable reports whether public has table name.
func hasTable(t *testing.T, db, name string) bool {
	t.Helper()
	return queryInt(t, server.Connect(t, db), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = $1`, name) == 1
}

// gooseVersion is the highest version goose's table records as applied.
func gooseVersion(t *testing.T, db string) int64 {
	t.Helper()
	return queryInt(t, server.Connect(t, db), "SELECT coalesce(max(version_id), 0) FROM "+gooseTable+" WHERE is_applied")
}
