package source

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeFiles creates dir/name for each entry.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// loadDir loads the set in an OS directory, failing the test on any problem.
func loadDir(t *testing.T, dir string) *Set {
	t.Helper()
	set, err := Load(os.DirFS(dir), ".")
	if err != nil {
		t.Fatalf("Load refuses the scaffolded set:\n%v", err)
	}
	return set
}

var scaffoldNow = time.Date(2026, 11, 27, 10, 30, 45, 0, time.FixedZone("CET", 3600))

func TestScaffold(t *testing.T) {
	const gooseFile = "-- +goose Up\nCREATE TABLE t (id int);\n-- +goose Down\nDROP TABLE t;\n"
	tests := []struct {
		name      string
		files     map[string]string // existing migrations; none: an empty directory
		layout    Layout            // the default for an empty directory
		wantFiles []string
		wantLay   Layout
		wantVer   int64
	}{
		{
			name:      "goose layout",
			files:     map[string]string{"001_a.sql": gooseFile, "002_b.sql": gooseFile},
			layout:    LayoutMigrate, // the directory's own layout wins
			wantFiles: []string{"003_add_email.sql"},
			wantLay:   LayoutGoose,
			wantVer:   3,
		},
		{
			name: "golang-migrate layout",
			files: map[string]string{
				"001_a.up.sql": "CREATE TABLE a (id int);\n", "001_a.down.sql": "DROP TABLE a;\n",
				"009_b.up.sql": "CREATE TABLE b (id int);\n", "009_b.down.sql": "DROP TABLE b;\n",
			},
			layout:    LayoutGoose,
			wantFiles: []string{"010_add_email.up.sql", "010_add_email.down.sql"},
			wantLay:   LayoutMigrate,
			wantVer:   10,
		},
		{
			name:      "four digits kept",
			files:     map[string]string{"0041_a.sql": gooseFile},
			layout:    LayoutGoose,
			wantFiles: []string{"0042_add_email.sql"},
			wantLay:   LayoutGoose,
			wantVer:   42,
		},
		{
			name:      "unpadded versions get three digits",
			files:     map[string]string{"7_a.sql": gooseFile},
			layout:    LayoutGoose,
			wantFiles: []string{"008_add_email.sql"},
			wantLay:   LayoutGoose,
			wantVer:   8,
		},
		{
			name:      "timestamps: now in UTC",
			files:     map[string]string{"20240101120000_a.sql": gooseFile},
			layout:    LayoutGoose,
			wantFiles: []string{"20261127093045_add_email.sql"},
			wantLay:   LayoutGoose,
			wantVer:   20261127093045,
		},
		{
			name:      "timestamps ahead of the clock: next number",
			files:     map[string]string{"20301231235959_a.sql": gooseFile},
			layout:    LayoutGoose,
			wantFiles: []string{"20301231235960_add_email.sql"},
			wantLay:   LayoutGoose,
			wantVer:   20301231235960,
		},
		{
			name:      "empty directory, goose by default",
			layout:    LayoutGoose,
			wantFiles: []string{"001_add_email.sql"},
			wantLay:   LayoutGoose,
			wantVer:   1,
		},
		{
			name:      "empty directory, golang-migrate asked for",
			layout:    LayoutMigrate,
			wantFiles: []string{"001_add_email.up.sql", "001_add_email.down.sql"},
			wantLay:   LayoutMigrate,
			wantVer:   1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			var existing *Set
			if len(tt.files) > 0 {
				existing = loadDir(t, dir)
			}
			paths, err := Scaffold(dir, tt.layout, existing, "Add email", scaffoldNow)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, f := range tt.wantFiles {
				want = append(want, filepath.Join(dir, f))
			}
			if !slices.Equal(paths, want) {
				t.Fatalf("paths = %q, want %q", paths, want)
			}
			set := loadDir(t, dir)
			if set.Layout != tt.wantLay {
				t.Errorf("layout = %s, want %s", set.Layout, tt.wantLay)
			}
			if got := set.Latest(); got != tt.wantVer {
				t.Errorf("latest version = %d, want %d", got, tt.wantVer)
			}
			m, _ := set.Find(tt.wantVer)
			if !m.HasDown || m.NoTx {
				t.Errorf("scaffolded migration: HasDown %v NoTx %v, want a down and a transaction", m.HasDown, m.NoTx)
			}
			for _, section := range []func() ([]Statement, error){m.UpStatements, m.DownStatements} {
				stmts, err := section()
				if err != nil || len(stmts) != 1 || !strings.Contains(stmts[0].SQL, PlaceholderMarker) {
					t.Errorf("section statements = %+v, %v; want the placeholder alone", stmts, err)
				}
			}
		})
	}
}

// TestScaffoldGooseCompatible: goose takes every comment line containing
// "+goose" for an annotation and refuses the file when it is not one it
// knows, so the template may only hold real annotations.
func TestScaffoldGooseCompatible(t *testing.T) {
	dir := t.TempDir()
	paths, err := Scaffold(dir, LayoutGoose, nil, "x", scaffoldNow)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.Lines(string(text)) {
		if strings.Contains(l, "+goose") {
			if a, _ := parseAnnotation(l); a != annUp && a != annDown {
				t.Errorf("line %q mentions +goose but is not an Up or Down annotation", l)
			}
		}
		// goose ends a statement at a line ending in ';', so the
		// placeholder's inner ';' must not end a line.
		if strings.Contains(l, "RAISE") && strings.Count(l, ";") != 2 {
			t.Errorf("placeholder is not on one line: %q", l)
		}
	}
}

func TestScaffoldNames(t *testing.T) {
	tests := []struct{ in, want string }{
		{"add_users_email", "add_users_email"},
		{"Add users.email index", "add_users_email_index"},
		{"AddUserEmail", "add_user_email"},
		{"add-2FA-secrets", "add_2fa_secrets"},
		{"  --weird__name!! ", "weird_name"},
		{"größe", "gr_e"},
		{strings.Repeat("ab_", 60), strings.Repeat("ab_", 33) + "a"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := snakeName(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("snakeName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "   ", "!!!", "日本"} {
		t.Run("bad "+bad, func(t *testing.T) {
			dir := t.TempDir()
			if paths, err := Scaffold(dir, LayoutGoose, nil, bad, scaffoldNow); err == nil {
				t.Errorf("Scaffold(%q) = %q, want an error", bad, paths)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a refused name left files: %v", entries)
			}
		})
	}
}

func TestScaffoldNeverOverwrites(t *testing.T) {
	t.Run("goose", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"001_x.sql": "keep me"})
		if _, err := Scaffold(dir, LayoutGoose, nil, "x", scaffoldNow); err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("err = %v, want already exists", err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "001_x.sql")); string(b) != "keep me" {
			t.Errorf("existing file overwritten: %q", b)
		}
	})
	t.Run("golang-migrate pair", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"001_x.down.sql": "keep me"})
		if _, err := Scaffold(dir, LayoutMigrate, nil, "x", scaffoldNow); err == nil {
			t.Fatal("Scaffold overwrote a down file")
		}
		if _, err := os.Stat(filepath.Join(dir, "001_x.up.sql")); !os.IsNotExist(err) {
			t.Errorf("the up file of a failed pair was left behind (stat: %v)", err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "001_x.down.sql")); string(b) != "keep me" {
			t.Errorf("existing file overwritten: %q", b)
		}
	})
}

func TestScaffoldCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db", "migrations")
	paths, err := Scaffold(dir, LayoutGoose, nil, "init", scaffoldNow)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "001_init.sql"); len(paths) != 1 || paths[0] != want {
		t.Fatalf("paths = %q, want %q", paths, want)
	}
	loadDir(t, dir)
}

func TestScaffoldUnknownLayout(t *testing.T) {
	if _, err := Scaffold(t.TempDir(), Layout("flyway"), nil, "x", scaffoldNow); err == nil {
		t.Fatal("want an error for an unknown layout")
	}
}
