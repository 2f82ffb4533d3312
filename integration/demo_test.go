package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
)

// TestDemo is the README's quick start: it runs twice in a row (it is
// idempotent), explains each step, and --clean removes what it made.
func TestDemo(t *testing.T) {
	pgtest.Shared(t)
	prefix := pgtest.Name("it_demo") + "_"
	dir := filepath.Join(t.TempDir(), "demo")
	env := []string{"DATABASE_URL=" + server.DSN}
	t.Cleanup(func() { runCLI(t, env, "demo", "--clean", "--prefix", prefix, "--dir", dir) })

	for run := 1; run <= 2; run++ {
		res := runCLI(t, env, "demo", "--prefix", prefix, "--dir", dir)
		if res.code != 0 {
			t.Fatalf("demo run %d: exit %d\n%s\n%s", run, res.code, res.stdout, res.stderr)
		}
		for _, want := range []string{"step 1/5", "5 targets, 5 pending", "5 targets, 5 applied", "5 targets, 5 up to date",
			"5 targets, 4 clean, 1 drifted", "column users.nickname unexpected", "index api_keys.idx_api_keys_key_prefix missing",
			"orchestrator demo --clean --prefix " + prefix + " --dir " + dir} {
			if !strings.Contains(res.stdout, want) {
				t.Errorf("demo run %d output lacks %q:\n%s", run, want, res.stdout)
			}
		}
	}
	conn := server.Connect(t, "postgres")
	if n := queryInt(t, conn, `SELECT count(*) FROM pg_database WHERE starts_with(datname, $1)`, prefix); n != 5 {
		t.Errorf("%d demo databases, want 5", n)
	}
	// Something of the user's next to the demo's files stays.
	mine := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(mine, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, env, "demo", "--clean", "--prefix", prefix, "--dir", dir)
	if res.code != 0 {
		t.Fatalf("demo --clean: exit %d\n%s", res.code, res.stderr)
	}
	if n := queryInt(t, conn, `SELECT count(*) FROM pg_database WHERE starts_with(datname, $1)`, prefix); n != 0 {
		t.Errorf("%d demo databases left after --clean", n)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("--clean removed a file the demo did not write: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "fleet.yaml")); !os.IsNotExist(err) {
		t.Errorf("--clean left the demo's fleet file: %v", err)
	}

	// A database that only shares the demo's name is not the demo's: neither
	// --clean nor a demo run drops it.
	theirs := prefix + "acme"
	server.Exec(t, "CREATE DATABASE "+pgx.Identifier{theirs}.Sanitize())
	t.Cleanup(func() { server.Exec(t, "DROP DATABASE IF EXISTS "+pgx.Identifier{theirs}.Sanitize()+" WITH (FORCE)") })
	if res := runCLI(t, env, "demo", "--clean", "--prefix", prefix, "--dir", dir); res.code == 0 || !strings.Contains(res.stderr, "not created by the demo") {
		t.Errorf("demo --clean over a database it did not create: exit %d\n%s", res.code, res.stderr)
	}
	if res := runCLI(t, env, "demo", "--prefix", prefix, "--dir", dir); res.code == 0 || !strings.Contains(res.stderr, "not created by the demo") {
		t.Errorf("demo over a database it did not create: exit %d\n%s", res.code, res.stderr)
	}
	if n := queryInt(t, conn, `SELECT count(*) FROM pg_database WHERE datname = $1`, theirs); n != 1 {
		t.Errorf("the demo dropped %s, which it did not create", theirs)
	}
}
