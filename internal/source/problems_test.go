package source

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// failFS is a MapFS whose file bad cannot be read.
type failFS struct {
	fstest.MapFS
	bad string
}

func (f failFS) Open(name string) (fs.File, error) {
	if name == f.bad {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return f.MapFS.Open(name)
}

func (f failFS) ReadFile(name string) ([]byte, error) {
	if name == f.bad {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return f.MapFS.ReadFile(name)
}

// wantProblem is a problem Load should report.
type wantProblem struct {
	File string
	Line int
	Msg  string
}

func TestLoadProblems(t *testing.T) {
	const okGoose = "-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 2;\n"
	tests := []struct {
		name  string
		fsys  fs.FS
		dir   string
		files map[string]string // used when fsys is nil, under dir "m"
		want  []wantProblem     // Msg: a substring of the message
	}{
		{
			name: "duplicate version in golang-migrate layout",
			files: map[string]string{
				"003_a.up.sql": "SELECT 1;", "003_a.down.sql": "",
				"003_b.up.sql": "SELECT 1;", "003_b.down.sql": "",
			},
			want: []wantProblem{{"m/003_b.up.sql", 1, "duplicate version 3 (also in 003_a.up.sql)"}},
		},
		{
			name:  "duplicate version in goose layout",
			files: map[string]string{"003_a.sql": okGoose, "003_b.sql": okGoose, "3_c.sql": okGoose},
			want: []wantProblem{
				{"m/003_b.sql", 1, "duplicate version 3 (also in 003_a.sql)"},
				{"m/3_c.sql", 1, "duplicate version 3 (also in 003_a.sql)"},
			},
		},
		{
			name:  "missing down file",
			files: map[string]string{"001_a.up.sql": "SELECT 1;"},
			want:  []wantProblem{{"m/001_a.up.sql", 1, "no down file (expected 001_a.down.sql)"}},
		},
		{
			name:  "down file without up file",
			files: map[string]string{"001_a.up.sql": "SELECT 1;", "001_a.down.sql": "", "002_b.down.sql": "SELECT 2;"},
			want:  []wantProblem{{"m/002_b.down.sql", 1, "down file without an up file (expected 002_b.up.sql)"}},
		},
		{
			name:  "down file named differently from its up file",
			files: map[string]string{"001_a.up.sql": "SELECT 1;", "001_b.down.sql": ""},
			want:  []wantProblem{{"m/001_b.down.sql", 1, "does not match its up file 001_a.up.sql: rename it to 001_a.down.sql"}},
		},
		{
			name: "mixed layouts",
			files: map[string]string{
				"001_a.up.sql": "SELECT 1;", "001_a.down.sql": "",
				"002_b.sql": okGoose, "003_c.sql": okGoose,
			},
			want: []wantProblem{{"m/002_b.sql", 1, "mixed layouts: this goose file sits beside golang-migrate files such as 001_a.down.sql (and 1 more goose file(s))"}},
		},
		{
			name:  "empty directory",
			files: map[string]string{"README.md": "# migrations", "sub/001_a.sql": okGoose},
			want:  []wantProblem{{"", 0, "no migrations found in this directory"}},
		},
		{
			name: "empty root",
			fsys: fstest.MapFS{},
			dir:  ".",
			want: []wantProblem{{"", 0, "no migrations found"}},
		},
		{
			name: "directory does not exist",
			fsys: fstest.MapFS{"001_a.sql": {Data: []byte(okGoose)}},
			dir:  "nope",
			want: []wantProblem{{"", 0, "cannot read the migration directory: open nope: file does not exist"}},
		},
		{
			name: "unreadable file",
			fsys: failFS{MapFS: fstest.MapFS{"m/001_a.sql": {Data: []byte(okGoose)}}, bad: "m/001_a.sql"},
			dir:  "m",
			want: []wantProblem{{"m/001_a.sql", 0, "cannot read the file: open m/001_a.sql: permission denied"}},
		},
		{
			name: "bad file names",
			files: map[string]string{
				"create_users.sql":             okGoose,
				"001.sql":                      okGoose,
				"002_.up.sql":                  "SELECT 1;",
				"0_zero.sql":                   okGoose,
				"99999999999999999999_big.sql": okGoose,
				"004_fine.sql":                 okGoose,
			},
			want: []wantProblem{
				{"m/001.sql", 1, "no name after the version number"},
				{"m/002_.up.sql", 1, "no name after the version number"},
				{"m/0_zero.sql", 1, "version 0 is not allowed"},
				{"m/99999999999999999999_big.sql", 1, "does not fit in a 64-bit integer"},
				{"m/create_users.sql", 1, "no version number: migration files are named NNN_name.sql (goose) or NNN_name.up.sql + NNN_name.down.sql (golang-migrate); rename it to NNN_create_users.sql"},
			},
		},
		{
			name:  "unsupported annotation",
			files: map[string]string{"001_a.sql": "-- +goose Up\n-- +goose ENVSUB ON\nSELECT '${X}';\n-- +goose Upp\n-- +goose\n"},
			want: []wantProblem{
				{"m/001_a.sql", 2, "unsupported annotation +goose ENVSUB ON: environment substitution is not supported"},
				{"m/001_a.sql", 4, "unsupported annotation +goose Upp: orchestrator understands Up, Down, StatementBegin, StatementEnd and NO TRANSACTION"},
				{"m/001_a.sql", 5, "empty annotation '-- +goose'"},
			},
		},
		{
			name:  "annotation marker not in lower case",
			files: map[string]string{"001_a.sql": "-- +goose Up\nSELECT 1;\n-- +GOOSE Down\nSELECT 2;\n"},
			want:  []wantProblem{{"m/001_a.sql", 3, "annotation +GOOSE Down is not recognised: goose only sees '+goose' in lower case"}},
		},
		{
			name:  "missing Up annotation",
			files: map[string]string{"001_a.sql": "CREATE TABLE a (id int);\n"},
			want:  []wantProblem{{"m/001_a.sql", 1, "no -- +goose Up annotation"}},
		},
		{
			name:  "SQL above the Up annotation",
			files: map[string]string{"001_a.sql": "-- header\n/* block\ncomment */\nSELECT 0;\n-- +goose Up\nSELECT 1;\n"},
			want:  []wantProblem{{"m/001_a.sql", 4, "SQL above -- +goose Up (line 5) is never run"}},
		},
		{
			name:  "Up after Down, second Down",
			files: map[string]string{"001_a.sql": "-- +goose Down\nSELECT 2;\n-- +goose Up\nSELECT 1;\n-- +goose Down\n"},
			want: []wantProblem{
				{"m/001_a.sql", 3, "-- +goose Up comes after -- +goose Down (line 1)"},
				{"m/001_a.sql", 5, "second -- +goose Down (the first is at line 1)"},
			},
		},
		{
			name:  "second Up",
			files: map[string]string{"001_a.sql": "-- +goose Up\nSELECT 1;\n-- +goose Up\nSELECT 2;\n"},
			want:  []wantProblem{{"m/001_a.sql", 3, "second -- +goose Up (the first is at line 1)"}},
		},
		{
			name:  "StatementBegin above Up",
			files: map[string]string{"001_a.sql": "-- +goose StatementBegin\n-- +goose Up\nSELECT 1;\n"},
			want:  []wantProblem{{"m/001_a.sql", 1, "-- +goose StatementBegin before -- +goose Up"}},
		},
		{
			name:  "NO TRANSACTION without down in goose layout",
			files: map[string]string{"001_a.sql": "-- +goose Up\n-- +goose NO TRANSACTION\nCREATE INDEX CONCURRENTLY i ON t (c);\n"},
			want: []wantProblem{{"m/001_a.sql", 2, "NO TRANSACTION migrations need a down section: the tool undoes them with it " +
				"when a later migration fails; add '-- +goose Down'"}},
		},
		{
			name:  "NO TRANSACTION without down in golang-migrate layout",
			files: map[string]string{"001_a.up.sql": "-- +goose NO TRANSACTION\nCREATE INDEX CONCURRENTLY i ON t (c);\n"},
			want:  []wantProblem{{"m/001_a.up.sql", 1, "no down file (expected 001_a.down.sql): add it with the SQL that reverses this migration (empty if there is nothing to undo); this migration is marked NO TRANSACTION"}},
		},
		{
			name:  "unterminated StatementBegin",
			files: map[string]string{"001_a.sql": "-- +goose Up\n-- +goose StatementBegin\nDO $$ BEGIN END $$;\n-- +goose Down\nSELECT 1;\n"},
			want:  []wantProblem{{"m/001_a.sql", 2, "-- +goose StatementBegin has no matching -- +goose StatementEnd"}},
		},
		{
			name:  "empty up section",
			files: map[string]string{"001_a.sql": "-- +goose Up\n-- to do\n\n-- +goose Down\nSELECT 1;\n"},
			want:  []wantProblem{{"m/001_a.sql", 1, "empty up section"}},
		},
		{
			name:  "empty up file",
			files: map[string]string{"001_a.up.sql": "-- to do\n", "001_a.down.sql": ""},
			want:  []wantProblem{{"m/001_a.up.sql", 1, "empty up file"}},
		},
		{
			name:  "unterminated string in a down file",
			files: map[string]string{"001_a.up.sql": "SELECT 1;", "001_a.down.sql": "SELECT 1;\nSELECT 'oops;\n"},
			want:  []wantProblem{{"m/001_a.down.sql", 2, "unterminated string"}},
		},
		{
			name:  "goose statement without semicolon",
			files: map[string]string{"001_a.sql": "-- +goose Up\nSELECT 1;\nSELECT 2\n-- +goose Down\nSELECT 3\n"},
			want: []wantProblem{
				{"m/001_a.sql", 3, "statement has no terminating ';'"},
				{"m/001_a.sql", 5, "statement has no terminating ';'"},
			},
		},
		{
			name: "goose annotations in golang-migrate files",
			files: map[string]string{
				"001_a.up.sql":   "-- +goose Up\nCREATE TABLE a (id int);\n-- +goose Down\nDROP TABLE a;\n",
				"001_a.down.sql": "-- +goose Down\nDROP TABLE a;\n-- +goose ENVSUB ON\n",
			},
			want: []wantProblem{
				{"m/001_a.down.sql", 1, "-- +goose Down has no meaning in a golang-migrate file"},
				{"m/001_a.down.sql", 3, "unsupported annotation +goose ENVSUB ON"},
				{"m/001_a.up.sql", 1, "-- +goose Up has no meaning in a golang-migrate file"},
				{"m/001_a.up.sql", 3, "runs when migrating up; move the down SQL into 001_a.down.sql"},
			},
		},
		{
			name: "every problem at once, sorted by file and line",
			files: map[string]string{
				"001_a.sql":     "-- +goose Up\nSELECT 'x;\n",
				"002_b.sql":     "SELECT 1;\n",
				"002_c.sql":     "-- +goose Up\n-- +goose NO TRANSACTION\nSELECT 1;\n-- +goose Wat\n",
				"readme.sql":    "",
				"003_d.sql":     okGoose,
				"004_e.sql":     "-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n",
				"not_a_mig.txt": "ignored",
			},
			want: []wantProblem{
				{"m/001_a.sql", 2, "unterminated string"},
				{"m/002_b.sql", 1, "no -- +goose Up annotation"},
				{"m/002_c.sql", 1, "duplicate version 2 (also in 002_b.sql)"},
				{"m/002_c.sql", 2, "NO TRANSACTION migrations need a down section"},
				{"m/002_c.sql", 4, "unsupported annotation +goose Wat"},
				{"m/004_e.sql", 2, "-- +goose StatementBegin has no matching -- +goose StatementEnd"},
				{"m/readme.sql", 1, "no version number"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys, dir := tt.fsys, tt.dir
			if fsys == nil {
				files := map[string]string{}
				for name, text := range tt.files {
					files["m/"+name] = text
				}
				fsys, dir = mapFS(files), "m"
			}
			set, err := Load(fsys, dir)
			if set != nil {
				t.Errorf("Load returned a set with %d migrations, want nil", len(set.Migrations))
			}
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("Load error = %T %v, want *Error", err, err)
			}
			if le.Dir != dir {
				t.Errorf("Error.Dir = %q, want %q", le.Dir, dir)
			}
			if len(le.Problems) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(le.Problems), len(tt.want), err)
			}
			for i, p := range le.Problems {
				w := tt.want[i]
				if p.File != w.File || p.Line != w.Line || !strings.Contains(p.Message, w.Msg) {
					t.Errorf("problem %d = %s\nwant %s:%d: ...%s...", i, p, w.File, w.Line, w.Msg)
				}
			}
		})
	}
}
