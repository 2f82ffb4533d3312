package source

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// mapFS builds a file system from path -> content.
func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	return fsys
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// sealed returns m with the checksums Load is expected to compute.
func sealed(m Migration) *Migration {
	m.UpSHA256 = sum(m.Up)
	if m.HasDown {
		m.DownSHA256 = sum(m.Down)
	}
	return &m
}

const gooseTrigger = `-- Keeps users.updated_at current.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION touch() RETURNS trigger AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();

-- +goose Down
DROP TRIGGER users_touch ON users;
DROP FUNCTION touch();
`

func TestLoad(t *testing.T) {
	triggerUp := gooseTrigger[strings.Index(gooseTrigger, "-- +goose StatementBegin"):strings.Index(gooseTrigger, "-- +goose Down")]
	tests := []struct {
		name   string
		files  map[string]string
		dir    string
		layout Layout
		want   []*Migration
	}{
		{
			name: "golang-migrate layout",
			dir:  "migrations",
			files: map[string]string{
				"migrations/001_create_users.up.sql":   "CREATE TABLE users (id int);\n",
				"migrations/001_create_users.down.sql": "DROP TABLE users;\n",
				"migrations/002_index_users.up.sql":    "-- +goose NO TRANSACTION\nCREATE INDEX CONCURRENTLY i ON users (id);\n",
				"migrations/002_index_users.down.sql":  "",
				"migrations/010_drop_old.up.sql":       "DROP TABLE IF EXISTS old;",
				"migrations/010_drop_old.down.sql":     "-- +goose no transaction\nSELECT 1;",
				"migrations/README.md":                 "# not a migration",
				"migrations/embed.go":                  "package migrations",
				"migrations/archive/005_x.up.sql":      "subdirectories are ignored",
				"other/003_elsewhere.up.sql":           "other directories are ignored",
			},
			layout: LayoutMigrate,
			want: []*Migration{
				sealed(Migration{
					Version: 1, Name: "001_create_users",
					UpFile: "migrations/001_create_users.up.sql", DownFile: "migrations/001_create_users.down.sql",
					Up: "CREATE TABLE users (id int);\n", Down: "DROP TABLE users;\n",
					UpLine: 1, DownLine: 1, HasDown: true,
				}),
				sealed(Migration{
					Version: 2, Name: "002_index_users",
					UpFile: "migrations/002_index_users.up.sql", DownFile: "migrations/002_index_users.down.sql",
					Up: "-- +goose NO TRANSACTION\nCREATE INDEX CONCURRENTLY i ON users (id);\n", Down: "",
					UpLine: 1, DownLine: 1, HasDown: true, NoTx: true,
				}),
				sealed(Migration{
					Version: 10, Name: "010_drop_old",
					UpFile: "migrations/010_drop_old.up.sql", DownFile: "migrations/010_drop_old.down.sql",
					Up: "DROP TABLE IF EXISTS old;", Down: "-- +goose no transaction\nSELECT 1;",
					UpLine: 1, DownLine: 1, HasDown: true, DownNoTx: true,
				}),
			},
		},
		{
			name: "goose layout",
			dir:  ".",
			files: map[string]string{
				"001_create_users.sql": "-- +goose Up\nCREATE TABLE users (id int);\n\n-- +goose Down\nDROP TABLE users;\n",
				"002_touch.sql":        gooseTrigger,
				"003_index.sql": "-- +goose NO TRANSACTION\n\n  -- +goose up\nCREATE INDEX CONCURRENTLY i ON users (id);\n" +
					"-- +goose DOWN\nDROP INDEX CONCURRENTLY i;",
				"20240101120000_seed.sql": "-- +goose Up\nINSERT INTO users VALUES (1);\n",
				"notes.txt":               "ignored",
			},
			layout: LayoutGoose,
			want: []*Migration{
				sealed(Migration{
					Version: 1, Name: "001_create_users", UpFile: "001_create_users.sql", DownFile: "001_create_users.sql",
					Up: "CREATE TABLE users (id int);\n\n", Down: "DROP TABLE users;\n",
					UpLine: 2, DownLine: 5, HasDown: true,
				}),
				sealed(Migration{
					Version: 2, Name: "002_touch", UpFile: "002_touch.sql", DownFile: "002_touch.sql",
					Up: triggerUp, Down: "DROP TRIGGER users_touch ON users;\nDROP FUNCTION touch();\n",
					UpLine: 4, DownLine: 15, HasDown: true,
				}),
				sealed(Migration{
					Version: 3, Name: "003_index", UpFile: "003_index.sql", DownFile: "003_index.sql",
					Up: "CREATE INDEX CONCURRENTLY i ON users (id);\n", Down: "DROP INDEX CONCURRENTLY i;",
					UpLine: 4, DownLine: 6, HasDown: true, NoTx: true, DownNoTx: true,
				}),
				sealed(Migration{
					Version: 20240101120000, Name: "20240101120000_seed", UpFile: "20240101120000_seed.sql",
					Up: "INSERT INTO users VALUES (1);\n", UpLine: 2,
				}),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Load(mapFS(tt.files), tt.dir)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if set.Layout != tt.layout || set.Dir != tt.dir {
				t.Errorf("Layout, Dir = %q, %q, want %q, %q", set.Layout, set.Dir, tt.layout, tt.dir)
			}
			if len(set.Migrations) != len(tt.want) {
				t.Fatalf("got %d migrations, want %d", len(set.Migrations), len(tt.want))
			}
			for i, m := range set.Migrations {
				if !reflect.DeepEqual(m, tt.want[i]) {
					t.Errorf("migration %d =\n%#v\nwant\n%#v", i, *m, *tt.want[i])
				}
			}
		})
	}
}

func TestLoadStatementLines(t *testing.T) {
	set, err := Load(mapFS(map[string]string{"002_touch.sql": gooseTrigger}), ".")
	if err != nil {
		t.Fatal(err)
	}
	m := set.Migrations[0]
	tests := []struct {
		name      string
		stmts     func() ([]Statement, error)
		wantLines []int
		wantFirst string
	}{
		{"up", m.UpStatements, []int{5, 12}, "CREATE FUNCTION touch()"},
		{"down", m.DownStatements, []int{15, 16}, "DROP TRIGGER users_touch ON users"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stmts, err := tt.stmts()
			if err != nil {
				t.Fatal(err)
			}
			var lines []int
			for _, s := range stmts {
				lines = append(lines, s.Line)
			}
			if !reflect.DeepEqual(lines, tt.wantLines) {
				t.Errorf("lines = %v, want %v", lines, tt.wantLines)
			}
			if !strings.HasPrefix(stmts[0].SQL, tt.wantFirst) {
				t.Errorf("first statement = %q, want prefix %q", stmts[0].SQL, tt.wantFirst)
			}
		})
	}
	t.Run("no down", func(t *testing.T) {
		m := &Migration{Up: "SELECT 1;", UpLine: 2}
		stmts, err := m.DownStatements()
		if stmts != nil || err != nil {
			t.Errorf("DownStatements = %v, %v, want nil, nil", stmts, err)
		}
	})
}

func TestSet(t *testing.T) {
	set, err := Load(mapFS(map[string]string{
		"001_a.sql": "-- +goose Up\nSELECT 1;\n",
		"005_b.sql": "-- +goose Up\nSELECT 5;\n",
		"003_c.sql": "-- +goose Up\nSELECT 3;\n",
	}), ".")
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Versions(); !reflect.DeepEqual(got, []int64{1, 3, 5}) {
		t.Errorf("Versions = %v, want [1 3 5]", got)
	}
	if got := set.Latest(); got != 5 {
		t.Errorf("Latest = %d, want 5", got)
	}
	for _, tt := range []struct {
		v        int64
		wantName string
	}{{1, "001_a"}, {3, "003_c"}, {5, "005_b"}, {0, ""}, {2, ""}, {6, ""}} {
		m, ok := set.Find(tt.v)
		if ok != (tt.wantName != "") || (ok && m.Name != tt.wantName) {
			t.Errorf("Find(%d) = %v, %v, want %q", tt.v, m, ok, tt.wantName)
		}
	}
	empty := &Set{}
	if empty.Latest() != 0 || len(empty.Versions()) != 0 {
		t.Errorf("empty set: Latest = %d, Versions = %v", empty.Latest(), empty.Versions())
	}
	if _, ok := empty.Find(1); ok {
		t.Error("empty set: Find(1) found something")
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{
			name: "one problem",
			err:  &Error{Dir: "migrations", Problems: []report.Diagnostic{problem("migrations/003_x.sql", 1, "duplicate version 3 (also in 003_y.sql)")}},
			want: "migrations/003_x.sql:1: duplicate version 3 (also in 003_y.sql)",
		},
		{
			name: "directory problem",
			err:  &Error{Dir: "migrations", Problems: []report.Diagnostic{problem("", 0, "no migrations found in this directory")}},
			want: "migrations: no migrations found in this directory",
		},
		{
			name: "several problems",
			err: &Error{Dir: "db", Problems: []report.Diagnostic{
				problem("db/001_a.sql", 0, "cannot read the file: permission denied"),
				problem("db/002_b.sql", 7, "unterminated string"),
			}},
			want: "migration set db: 2 problems\ndb/001_a.sql: cannot read the file: permission denied\ndb/002_b.sql:7: unterminated string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	t.Run("from Load", func(t *testing.T) {
		_, err := Load(mapFS(map[string]string{
			"migrations/003_x.sql": "-- +goose Up\nSELECT 1;\n",
			"migrations/003_y.sql": "-- +goose Up\nSELECT 1;\n",
			"migrations/004_z.sql": "SELECT 1;\n",
		}), "migrations")
		lines := strings.Split(err.Error(), "\n")
		want := []string{
			"migration set migrations: 2 problems",
			"migrations/003_y.sql:1: duplicate version 3 (also in 003_x.sql)",
			"migrations/004_z.sql:1: no -- +goose Up annotation",
		}
		if len(lines) != len(want) {
			t.Fatalf("Error() =\n%v\nwant %d lines", err, len(want))
		}
		for i := range want {
			if !strings.HasPrefix(lines[i], want[i]) {
				t.Errorf("line %d = %q, want prefix %q", i, lines[i], want[i])
			}
		}
	})
}

func TestLoadRepositoryMigrations(t *testing.T) {
	t.Run("migrations directory", func(t *testing.T) {
		fsys := os.DirFS("../../migrations")
		if files, _ := fs.Glob(fsys, "*.sql"); len(files) == 0 {
			t.Skip("../../migrations holds no .sql files yet")
		}
		set, err := Load(fsys, ".")
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if set.Layout != LayoutMigrate {
			t.Errorf("Layout = %q, want %q", set.Layout, LayoutMigrate)
		}
		want := []string{
			"001_create_users_table",
			"002_create_api_keys_table",
			"003_create_sessions_table",
			"004_create_usage_records_table",
		}
		if len(set.Migrations) != len(want) {
			t.Fatalf("got versions %v, want 4", set.Versions())
		}
		for i, m := range set.Migrations {
			if m.Version != int64(i+1) || m.Name != want[i] || !m.HasDown || m.NoTx {
				t.Errorf("migration %d = version %d %q HasDown=%v NoTx=%v, want version %d %q with a down, transactional",
					i, m.Version, m.Name, m.HasDown, m.NoTx, i+1, want[i])
			}
			if up, err := m.UpStatements(); err != nil || len(up) == 0 {
				t.Errorf("%s: UpStatements = %d statements, %v", m.Name, len(up), err)
			}
			if _, err := m.DownStatements(); err != nil {
				t.Errorf("%s: DownStatements: %v", m.Name, err)
			}
		}
	})
}
