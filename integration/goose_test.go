package integration

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for goose
	"github.com/pressly/goose/v3"
)

// gooseLayoutSeed writes the built-in migrations as goose files (one annotated
// file per version) into a temp dir, so goose itself can read the same set.
func gooseLayoutSeed(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	ups, err := filepath.Glob("../migrations/*.up.sql")
	if err != nil || len(ups) == 0 {
		t.Fatalf("seed migrations: %v", err)
	}
	for _, up := range ups {
		base := strings.TrimSuffix(filepath.Base(up), ".up.sql")
		upSQL, err := os.ReadFile(up)
		if err != nil {
			t.Fatal(err)
		}
		downSQL, err := os.ReadFile(strings.TrimSuffix(up, ".up.sql") + ".down.sql")
		if err != nil {
			t.Fatal(err)
		}
		body := "-- +goose Up\n" + string(upSQL) + "\n-- +goose Down\n" + string(downSQL)
		if err := os.WriteFile(filepath.Join(dir, base+".sql"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func gooseProvider(t *testing.T, db, dir string) *goose.Provider {
	t.Helper()
	sqldb, err := sql.Open("pgx", dsnFor(t, db, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqldb.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, sqldb, os.DirFS(dir), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGooseAgrees: goose reads the version table we write, and we continue
// a database goose started, with no baseline step.
func TestGooseAgrees(t *testing.T) {
	dbs := newDatabases(t, 2)
	dir := gooseLayoutSeed(t)
	ctx := context.Background()

	t.Run("goose status after our up", func(t *testing.T) {
		res := runCLI(t, nil, "up", "--dsn", dsnFor(t, dbs[0], ""), "--migrations", dir, "--format", "json")
		if res.code != 0 {
			t.Fatalf("up: exit %d\n%s", res.code, res.stderr)
		}
		p := gooseProvider(t, dbs[0], dir)
		v, err := p.GetDBVersion(ctx)
		if err != nil || v != 4 {
			t.Fatalf("goose version %d, %v; want 4", v, err)
		}
		statuses, err := p.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range statuses {
			if s.State != goose.StateApplied {
				t.Errorf("goose says version %d is %s", s.Source.Version, s.State)
			}
		}
		if pending, err := p.HasPending(ctx); err != nil || pending {
			t.Errorf("goose HasPending = %v, %v", pending, err)
		}
	})

	t.Run("goose status after adopt", func(t *testing.T) {
		bin := migrateBin(t)
		built := newDatabases(t, 2)
		mustMigrate(t, bin, dsnFor(t, built[0], ""), "up")
		psqlApply(t, dsnFor(t, built[1], ""), 4)
		for _, db := range built {
			res := runCLI(t, nil, "adopt", "--dsn", dsnFor(t, db, ""), "--migrations", dir, "--format", "json")
			if res.code != 0 {
				t.Fatalf("adopt: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
			}
			p := gooseProvider(t, db, dir)
			if v, err := p.GetDBVersion(ctx); err != nil || v != 4 {
				t.Fatalf("goose version after adopt: %d, %v; want 4", v, err)
			}
			statuses, err := p.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range statuses {
				if s.State != goose.StateApplied {
					t.Errorf("after adopt goose says version %d is %s", s.Source.Version, s.State)
				}
			}
			if pending, err := p.HasPending(ctx); err != nil || pending {
				t.Errorf("goose HasPending after adopt = %v, %v", pending, err)
			}
		}
	})

	t.Run("our up continues goose's", func(t *testing.T) {
		p := gooseProvider(t, dbs[1], dir)
		if _, err := p.UpTo(ctx, 2); err != nil {
			t.Fatalf("goose up-to 2: %v", err)
		}
		res := runCLI(t, nil, "up", "--dsn", dsnFor(t, dbs[1], ""), "--migrations", dir, "--format", "json")
		if res.code != 0 {
			t.Fatalf("up: exit %d\n%s", res.code, res.stderr)
		}
		tr := parseReport(t, res.stdout).Targets[0]
		if tr.FromVersion != 2 || tr.ToVersion != 4 || len(tr.Applied) != 2 || tr.Applied[0].Version != 3 {
			t.Fatalf("%+v", tr)
		}
		if v, err := p.GetDBVersion(ctx); err != nil || v != 4 {
			t.Fatalf("goose version after our up: %d, %v", v, err)
		}
	})
}
