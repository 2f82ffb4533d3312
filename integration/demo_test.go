package integration

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo is the README's quick start: it runs twice in a row (it is
// idempotent), explains each step, and --clean removes what it made.
func TestDemo(t *testing.T) {
	needDB(t)
	prefix := "orch_it_demo_" + randomSuffix() + "_"
	dir := filepath.Join(t.TempDir(), "demo")
	env := []string{"DATABASE_URL=" + serverDSN}
	t.Cleanup(func() { runCLI(t, env, "demo", "--clean", "--prefix", prefix, "--dir", dir) })

	for run := 1; run <= 2; run++ {
		res := runCLI(t, env, "demo", "--prefix", prefix, "--dir", dir)
		if res.code != 0 {
			t.Fatalf("demo run %d: exit %d\n%s\n%s", run, res.code, res.stdout, res.stderr)
		}
		for _, want := range []string{"step 1/5", "5 targets, 5 pending", "5 targets, 5 applied", "5 targets, 5 up to date",
			"5 targets, 4 clean, 1 drifted", "column users.nickname unexpected", "index api_keys.idx_api_keys_key_prefix missing", "demo --clean"} {
			if !strings.Contains(res.stdout, want) {
				t.Errorf("demo run %d output lacks %q:\n%s", run, want, res.stdout)
			}
		}
	}
	conn := connectDB(t, "postgres")
	if n := queryInt(t, conn, `SELECT count(*) FROM pg_database WHERE starts_with(datname, $1)`, prefix); n != 5 {
		t.Errorf("%d demo databases, want 5", n)
	}
	res := runCLI(t, env, "demo", "--clean", "--prefix", prefix, "--dir", dir)
	if res.code != 0 {
		t.Fatalf("demo --clean: exit %d\n%s", res.code, res.stderr)
	}
	if n := queryInt(t, conn, `SELECT count(*) FROM pg_database WHERE starts_with(datname, $1)`, prefix); n != 0 {
		t.Errorf("%d demo databases left after --clean", n)
	}
}
