package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// validateEnv is an environment holding only kv.
func validateEnv(kv map[string]string) env {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

// validateOptions returns options writing to buffers, with an empty environment.
func validateOptions() (runOptions, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return runOptions{format: "table", stdout: &stdout, stderr: &stderr, lookup: validateEnv(nil)}, &stdout, &stderr
}

// writeValidateDir creates a directory holding files (name -> text).
func writeValidateDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// connCounter accepts TCP connections on loopback and counts them: a
// target DSN pointing at it proves whether a command opened a connection.
func connCounter(t *testing.T) (port int, accepted *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port, accepted
}

// validateExit is the exit code err leads to (stderr discarded).
func validateExit(err error) int { return exitCode(err, new(bytes.Buffer)) }

const validateUsers = "-- +goose Up\nCREATE TABLE users (id bigint PRIMARY KEY, email text, nickname text);\n-- +goose Down\nDROP TABLE users;\n"

// lintSet has one migration per lint rule, in goose layout.
var lintSet = map[string]string{
	"001_users.sql":        validateUsers,
	"002_index.sql":        "-- +goose Up\nCREATE INDEX idx_users_email ON users (email);\n-- +goose Down\nDROP INDEX idx_users_email;\n",
	"003_concurrently.sql": "-- +goose Up\nCREATE INDEX CONCURRENTLY idx_users_nickname ON users (nickname);\n-- +goose Down\nDROP INDEX IF EXISTS idx_users_nickname;\n",
	"004_notx.sql": "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY a ON users (id, email);\n" +
		"CREATE INDEX CONCURRENTLY b ON users (id, nickname);\n-- +goose Down\nDROP INDEX CONCURRENTLY IF EXISTS b;\n",
	"005_add_column.sql": "-- +goose Up\nALTER TABLE users ADD COLUMN age int NOT NULL;\n-- +goose Down\nALTER TABLE users DROP COLUMN age;\n",
	"006_type.sql":       "-- +goose Up\nALTER TABLE users ALTER COLUMN email TYPE citext;\n-- +goose Down\nALTER TABLE users ALTER COLUMN email TYPE text;\n",
	"007_drop.sql":       "-- +goose Up\nALTER TABLE users DROP COLUMN nickname;\nDROP TABLE legacy;\n-- +goose Down\nALTER TABLE users ADD COLUMN nickname text;\n",
	"008_no_down.sql":    "-- +goose Up\nUPDATE users SET email = lower(email) WHERE email <> lower(email);\n",
}

// lintSetWant is what validate reports on lintSet: file, line, severity,
// rule; lintSetNote is the one note, which briefs leaves out.
var lintSetWant = []string{
	"002_index.sql:2 warning index-not-concurrent",
	"003_concurrently.sql:2 error concurrently-in-transaction",
	"004_notx.sql:4 warning no-transaction-multiple-statements",
	"005_add_column.sql:2 warning add-column-not-null-no-default",
	"006_type.sql:2 warning column-type-change",
	"007_drop.sql:2 warning destructive-up",
	"007_drop.sql:3 warning destructive-up",
	"008_no_down.sql:1 warning missing-down",
}

const lintSetNote = "004_notx.sql:3 note no-transaction-splits-batch"

// validationJSON is the JSON validate writes.
type validationJSON struct {
	SchemaVersion int    `json:"schema_version"`
	Command       string `json:"command"`
	Fleet         *struct {
		Path     string `json:"path"`
		Targets  int    `json:"targets"`
		Discover int    `json:"discover"`
	} `json:"fleet"`
	Since   int64 `json:"since"`
	Servers []struct {
		Server  string `json:"server"`
		Origin  string `json:"origin"`
		Version int    `json:"version"`
		Error   string `json:"error"`
	} `json:"servers"`
	Migrations struct {
		Dir      string  `json:"dir"`
		Layout   string  `json:"layout"`
		Versions []int64 `json:"versions"`
	} `json:"migrations"`
	Summary struct {
		OK       bool `json:"ok"`
		Errors   int  `json:"errors"`
		Warnings int  `json:"warnings"`
		Notes    int  `json:"notes"`
		Strict   bool `json:"strict"`
	} `json:"summary"`
	Findings []struct {
		File     string `json:"file"`
		Line     int    `json:"line"`
		Rule     string `json:"rule"`
		Severity string `json:"severity"`
		Message  string `json:"message"`
	} `json:"findings"`
}

func decodeValidation(t *testing.T, b *bytes.Buffer) validationJSON {
	t.Helper()
	var d validationJSON
	dec := json.NewDecoder(bytes.NewReader(b.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("stdout is not the validate JSON: %v\n%s", err, b)
	}
	return d
}

// briefs renders findings other than notes as "file:line severity rule",
// file relative to dir.
func (d validationJSON) briefs(dir string) []string { return d.briefsOf(dir, false) }

func (d validationJSON) briefsOf(dir string, notes bool) []string {
	out := []string{}
	for _, f := range d.Findings {
		if (f.Severity == "note") != notes {
			continue
		}
		file := f.File
		if dir != "" {
			file = strings.TrimPrefix(file, dir+string(filepath.Separator))
		}
		out = append(out, fmt.Sprintf("%s:%d %s %s", file, f.Line, f.Severity, f.Rule))
	}
	return out
}

func TestValidateFlagsEachRule(t *testing.T) {
	dir := writeValidateDir(t, lintSet)

	t.Run("json", func(t *testing.T) {
		o, stdout, stderr := validateOptions()
		o.migrationsDir, o.format = dir, "json"
		err := runValidate(context.Background(), o, validateOpts{})
		if code := validateExit(err); code != exitUsage {
			t.Fatalf("exit %d (%v), want %d: there is an error-severity finding", code, err, exitUsage)
		}
		d := decodeValidation(t, stdout)
		if got := d.briefs(dir); !slices.Equal(got, lintSetWant) {
			t.Errorf("findings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(lintSetWant, "\n  "))
		}
		if d.SchemaVersion != 1 || d.Command != "validate" || d.Fleet != nil ||
			d.Migrations.Dir != dir || d.Migrations.Layout != "goose" || len(d.Migrations.Versions) != 8 {
			t.Errorf("header = %+v", d)
		}
		if got := d.briefsOf(dir, true); !slices.Equal(got, []string{lintSetNote}) {
			t.Errorf("notes %q, want %q", got, lintSetNote)
		}
		if d.Summary.OK || d.Summary.Errors != 1 || d.Summary.Warnings != 7 || d.Summary.Notes != 1 || d.Summary.Strict {
			t.Errorf("summary = %+v", d.Summary)
		}
		for _, f := range d.Findings {
			if !filepath.IsAbs(f.File) || f.Message == "" {
				t.Errorf("finding %+v: want the file's path under --migrations and a message", f)
			}
		}
		if !strings.Contains(stderr.String(), "1 error") {
			t.Errorf("stderr = %q, want the count of errors", stderr)
		}
	})

	t.Run("table", func(t *testing.T) {
		o, stdout, _ := validateOptions()
		o.migrationsDir = dir
		if code := validateExit(runValidate(context.Background(), o, validateOpts{})); code != exitUsage {
			t.Fatalf("exit %d, want %d", code, exitUsage)
		}
		lines := slices.DeleteFunc(strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n"),
			func(l string) bool { return len(strings.Fields(l)) > 1 && strings.Fields(l)[1] == "note" })
		if len(lines) < len(lintSetWant) {
			t.Fatalf("table:\n%s", stdout)
		}
		for i, want := range lintSetWant {
			f := strings.Fields(lines[i])
			loc, sevRule := strings.Fields(want)[0], strings.Fields(want)[1:]
			if len(f) < 4 || f[0] != filepath.Join(dir, loc) || !slices.Equal(f[1:3], sevRule) {
				t.Errorf("line %d = %q, want FILE:LINE SEVERITY RULE MESSAGE for %s", i+1, lines[i], want)
			}
		}
		for _, want := range []string{"fleet       none given", "goose layout, 8 migrations, latest 8", "result      failed: 1 error, 7 warnings"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("table lacks %q:\n%s", want, stdout)
			}
		}
	})
}

func TestValidateLayouts(t *testing.T) {
	dir := writeValidateDir(t, map[string]string{
		"001_users.up.sql":   "CREATE TABLE users (id bigint, email text);\n",
		"001_users.down.sql": "DROP TABLE users;\n",
		"002_idx.up.sql":     "-- +goose NO TRANSACTION\nCREATE INDEX CONCURRENTLY idx ON users (email);\n",
		"002_idx.down.sql":   "-- no marker here\n\nDROP INDEX CONCURRENTLY IF EXISTS idx;\n",
		"003_x.up.sql":       "ALTER TABLE users\n  ADD COLUMN ok int,\n  ADD COLUMN age int NOT NULL;\n",
		"003_x.down.sql":     "",
	})
	o, stdout, _ := validateOptions()
	o.migrationsDir, o.format = dir, "json"
	if code := validateExit(runValidate(context.Background(), o, validateOpts{})); code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	want := []string{
		"002_idx.down.sql:3 error concurrently-in-transaction",
		"003_x.down.sql:1 warning missing-down",
		"003_x.up.sql:3 warning add-column-not-null-no-default",
	}
	d := decodeValidation(t, stdout)
	if got := d.briefs(dir); !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
	if d.Migrations.Layout != "golang-migrate" {
		t.Errorf("layout %q", d.Migrations.Layout)
	}
}

func TestValidateWarningsAndStrict(t *testing.T) {
	dir := writeValidateDir(t, map[string]string{"001_users.sql": validateUsers, "002_index.sql": lintSet["002_index.sql"]})
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			o, stdout, stderr := validateOptions()
			o.migrationsDir = dir
			err := runValidate(context.Background(), o, validateOpts{strict: strict})
			want := exitOK
			if strict {
				want = exitUsage
			}
			if code := validateExit(err); code != want {
				t.Fatalf("exit %d (%v), want %d", code, err, want)
			}
			if !strings.Contains(stdout.String(), filepath.Join(dir, "002_index.sql")+":2") {
				t.Errorf("the warning is not listed with file and line:\n%s", stdout)
			}
			if strict != strings.Contains(stderr.String(), "--strict") {
				t.Errorf("stderr = %q", stderr)
			}
		})
	}
}

func TestValidateSeedSet(t *testing.T) {
	o, stdout, stderr := validateOptions()
	o.format = "json"
	if err := runValidate(context.Background(), o, validateOpts{strict: true}); err != nil {
		t.Fatalf("the built-in set does not pass validate --strict: %v\n%s%s", err, stdout, stderr)
	}
	d := decodeValidation(t, stdout)
	if len(d.Findings) != 0 || !d.Summary.OK || d.Migrations.Dir != builtinDir || d.Migrations.Layout != "golang-migrate" ||
		!slices.Equal(d.Migrations.Versions, []int64{1, 2, 3, 4}) {
		t.Errorf("validate of the built-in set = %+v", d)
	}
}

// TestValidateOpensNoConnection: targets pointing at a listener that counts
// connections, given every way validate reads them, see none.
func TestValidateOpensNoConnection(t *testing.T) {
	port, accepted := connCounter(t)
	dsn := fmt.Sprintf("postgres://app:pw@127.0.0.1:%d/acme?sslmode=disable&connect_timeout=1", port)
	fleetDir := writeValidateDir(t, map[string]string{
		"fleet.yaml": fmt.Sprintf("targets:\n  - name: acme\n    dsn: %s\n  - name: globex\n    dsn: %s\n", dsn, dsn),
	})
	fleetPath := filepath.Join(fleetDir, "fleet.yaml")
	migDir := writeValidateDir(t, lintSet)

	tests := []struct {
		name    string
		set     func(*runOptions)
		targets int
	}{
		{"--fleet", func(o *runOptions) { o.fleetPath = fleetPath }, 2},
		{"--dsn", func(o *runOptions) { o.dsn = dsn }, 1},
		{"ORCH_FLEET", func(o *runOptions) { o.lookup = validateEnv(map[string]string{"ORCH_FLEET": fleetPath}) }, 2},
		{"DATABASE_URL", func(o *runOptions) { o.lookup = validateEnv(map[string]string{"DATABASE_URL": dsn}) }, 1},
	}
	for _, tt := range tests {
		for _, dir := range []string{"", migDir} {
			t.Run(tt.name+" "+filepath.Base(dir), func(t *testing.T) {
				o, stdout, _ := validateOptions()
				o.format, o.migrationsDir = "json", dir
				tt.set(&o)
				_ = runValidate(context.Background(), o, validateOpts{})
				if d := decodeValidation(t, stdout); d.Fleet == nil || d.Fleet.Targets != tt.targets {
					t.Errorf("fleet = %+v, want %d targets", d.Fleet, tt.targets)
				}
			})
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("validate opened %d connection(s)", n)
	}

	// The listener does count: a real dial shows up.
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	for deadline := time.Now().Add(5 * time.Second); accepted.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the counting listener never counted a connection")
		}
	}
}

func TestValidateBadInputs(t *testing.T) {
	const secret = "Sup3r-S3cret-pw"
	dsn := "postgres://app:" + secret + "@db.invalid:5432/acme"
	fleetDir := writeValidateDir(t, map[string]string{
		"bad.yaml":  "defaults:\n  paralellism: 4\ntargets:\n  - name: acme\n    dsn: " + dsn + "\n  - name: acme\n    dsn: " + dsn + "\n",
		"good.yaml": "targets:\n  - name: acme\n    dsn: " + dsn + "\n",
	})
	dupDir := writeValidateDir(t, map[string]string{
		"001_a.sql": "-- +goose Up\nCREATE TABLE a (id int);\n-- +goose Down\nDROP TABLE a;\n",
		"001_b.sql": "-- +goose Up\nCREATE TABLE b (id int);\n-- +goose Down\nDROP TABLE b;\n",
	})

	t.Run("fleet and set problems are findings", func(t *testing.T) {
		o, stdout, stderr := validateOptions()
		o.format, o.fleetPath, o.migrationsDir = "json", filepath.Join(fleetDir, "bad.yaml"), dupDir
		if code := validateExit(runValidate(context.Background(), o, validateOpts{})); code != exitUsage {
			t.Fatalf("exit %d, want %d", code, exitUsage)
		}
		d := decodeValidation(t, stdout)
		want := []string{
			filepath.Join(fleetDir, "bad.yaml") + ":2 error fleet",
			filepath.Join(fleetDir, "bad.yaml") + ":6 error fleet",
			"001_b.sql:1 error migration-set",
		}
		if got := d.briefs(dupDir); !slices.Equal(got, want) {
			t.Errorf("findings %q, want %q", got, want)
		}
		if d.Fleet == nil || d.Fleet.Targets != 0 || d.Migrations.Layout != "" || len(d.Migrations.Versions) != 0 {
			t.Errorf("fleet %+v, migrations %+v: want both marked not valid", d.Fleet, d.Migrations)
		}
		for _, out := range []string{stdout.String(), stderr.String()} {
			if strings.Contains(out, secret) {
				t.Errorf("output shows the password:\n%s", out)
			}
		}
	})

	t.Run("the table never shows a DSN either", func(t *testing.T) {
		for _, set := range []func(*runOptions){
			func(o *runOptions) { o.fleetPath = filepath.Join(fleetDir, "good.yaml") },
			func(o *runOptions) { o.fleetPath = filepath.Join(fleetDir, "bad.yaml") },
			func(o *runOptions) { o.dsn = dsn },
			func(o *runOptions) { o.dsn = "postgres://app:" + secret + "@db.invalid:notaport/acme" },
		} {
			o, stdout, stderr := validateOptions()
			set(&o)
			err := runValidate(context.Background(), o, validateOpts{})
			var msg bytes.Buffer
			exitCode(err, &msg)
			for _, out := range []string{stdout.String(), stderr.String(), msg.String()} {
				if strings.Contains(out, secret) {
					t.Errorf("output shows the password:\n%s", out)
				}
			}
		}
	})

	tests := []struct {
		name string
		set  func(*runOptions)
		vo   validateOpts
	}{
		{"unknown format", func(o *runOptions) { o.format = "yaml" }, validateOpts{}},
		{"a negative --since", func(o *runOptions) {}, validateOpts{since: -1}},
		{"--probe-versions without a fleet", func(o *runOptions) {}, validateOpts{probe: true}},
		{"no such migration directory", func(o *runOptions) { o.migrationsDir = filepath.Join(dupDir, "nope") }, validateOpts{}},
		{"--fleet and --dsn", func(o *runOptions) { o.fleetPath, o.dsn = filepath.Join(fleetDir, "good.yaml"), dsn }, validateOpts{}},
		{"a selector matching nothing", func(o *runOptions) {
			o.fleetPath, o.globs = filepath.Join(fleetDir, "good.yaml"), []string{"nobody*"}
		}, validateOpts{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, stdout, _ := validateOptions()
			tt.set(&o)
			err := runValidate(context.Background(), o, tt.vo)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

func TestNewCommand(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string // nil: a directory that does not exist yet
		want   []string
		layout source.Layout
	}{
		{"goose layout", map[string]string{"001_users.sql": validateUsers}, []string{"002_add_email.sql"}, source.LayoutGoose},
		{"golang-migrate layout",
			map[string]string{"0007_users.up.sql": "CREATE TABLE users (id int);\n", "0007_users.down.sql": "DROP TABLE users;\n"},
			[]string{"0008_add_email.up.sql", "0008_add_email.down.sql"}, source.LayoutMigrate},
		{"empty directory: goose", map[string]string{"README.md": "# migrations\n"}, []string{"001_add_email.sql"}, source.LayoutGoose},
		{"new directory: goose", nil, []string{"001_add_email.sql"}, source.LayoutGoose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "migrations")
			if tt.files != nil {
				dir = writeValidateDir(t, tt.files)
			}
			o, stdout, _ := validateOptions()
			o.migrationsDir = dir
			if err := runNew(context.Background(), o, "Add email"); err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, f := range tt.want {
				want = append(want, filepath.Join(dir, f))
			}
			if got := strings.Fields(stdout.String()); !slices.Equal(got, want) {
				t.Errorf("printed %q, want %q", got, want)
			}
			set, err := loadSet(dir)
			if err != nil {
				t.Fatalf("the source reader refuses the new migration:\n%v", err)
			}
			if set.Layout != tt.layout {
				t.Errorf("layout %s, want %s", set.Layout, tt.layout)
			}

			// Left as scaffolded, the migration fails validate at its
			// placeholders, in every file new wrote.
			o, stdout, _ = validateOptions()
			o.migrationsDir, o.format = dir, "json"
			if code := validateExit(runValidate(context.Background(), o, validateOpts{})); code != exitUsage {
				t.Fatalf("validate of a scaffolded migration: exit %d, want %d", code, exitUsage)
			}
			files := map[string]bool{}
			for _, f := range decodeValidation(t, stdout).Findings {
				if f.Rule != "scaffold-placeholder" || f.Severity != "error" {
					t.Errorf("unexpected finding %+v", f)
				}
				files[f.File] = true
			}
			if len(files) != len(want) {
				t.Errorf("placeholder findings in %v, want one in each of %q", files, want)
			}
		})
	}
}

func TestNewCommandRefuses(t *testing.T) {
	broken := writeValidateDir(t, map[string]string{"001_a.sql": "-- +goose Up\n"})
	file := filepath.Join(writeValidateDir(t, map[string]string{"x": ""}), "x")
	tests := []struct {
		name, dir, migName string
		usage              bool // a usage error; else the set's *source.Error
	}{
		{"no --migrations", "", "x", true},
		{"no name", t.TempDir(), " ", true},
		{"a name without a letter", t.TempDir(), "---", false},
		{"--migrations is a file", file, "x", true},
		{"a broken set", broken, "x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, stdout, _ := validateOptions()
			o.migrationsDir = tt.dir
			err := runNew(context.Background(), o, tt.migName)
			var ue usageError
			if err == nil || errors.As(err, &ue) != tt.usage || validateExit(err) != exitUsage {
				t.Fatalf("err = %v (exit %d), want a refusal (usage error: %v)", err, validateExit(err), tt.usage)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q", stdout)
			}
		})
	}
	if entries, _ := os.ReadDir(broken); len(entries) != 1 {
		t.Errorf("new wrote into a broken set: %v", entries)
	}
}

// TestValidateTransactionControl: a file wrapped in BEGIN ... COMMIT passes
// with a note naming it; a stray COMMIT is an error with file and line, exit
// 2, and --strict does not count the note.
func TestValidateTransactionControl(t *testing.T) {
	dir := t.TempDir()
	writeSQL := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeSQL("001_a.up.sql", "BEGIN;\nCREATE TABLE a (id bigint PRIMARY KEY);\nCOMMIT;\n")
	writeSQL("001_a.down.sql", "DROP TABLE a;\n")
	o, stdout, stderr := validateOptions()
	o.format, o.migrationsDir = "json", dir
	if err := runValidate(context.Background(), o, validateOpts{strict: true}); err != nil {
		t.Fatalf("a wrapped file fails validate --strict: %v\n%s%s", err, stdout, stderr)
	}
	d := decodeValidation(t, stdout)
	var notes []string
	for _, f := range d.Findings {
		if f.Rule == "transaction-wrapper" && f.Severity == "note" && f.File == filepath.Join(dir, "001_a.up.sql") && f.Line == 1 &&
			strings.Contains(f.Message, "wrapper is dropped") {
			notes = append(notes, f.File)
		}
	}
	if len(notes) != 1 {
		t.Errorf("findings = %+v, want one transaction-wrapper note for 001_a.up.sql:1", d.Findings)
	}

	writeSQL("002_b.up.sql", "CREATE TABLE b (id int);\nCOMMIT;\nCREATE TABLE c (id int);\n")
	writeSQL("002_b.down.sql", "DROP TABLE c;\nDROP TABLE b;\n")
	o, stdout, stderr = validateOptions()
	o.migrationsDir = dir
	err := runValidate(context.Background(), o, validateOpts{})
	if code := validateExit(err); code != exitUsage {
		t.Fatalf("exit %d (%v), want %d", code, err, exitUsage)
	}
	if !strings.Contains(stdout.String(), filepath.Join(dir, "002_b.up.sql")+":2") || !strings.Contains(stdout.String(), "transaction control (COMMIT)") {
		t.Errorf("the stray COMMIT is not named with file and line:\n%s%s", stdout, stderr)
	}
}

// TestValidateSharedSchemasFromFleet: the fleet's shared_schemas reach the
// lint, so a name in a schema every tenant shares on purpose is not flagged
// while one in another schema still is.
func TestValidateSharedSchemasFromFleet(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"001_a.up.sql":   "CREATE TABLE a (id bigint PRIMARY KEY, v extensions.citext);\nCREATE INDEX a_v ON a (v);\n",
		"001_a.down.sql": "DROP TABLE a;\n",
		"002_b.up.sql":   "CREATE TABLE reporting.b (id bigint PRIMARY KEY);\n",
		"002_b.down.sql": "DROP TABLE reporting.b;\n",
		"003_c.up.sql":   "CREATE TABLE extensions.c (id bigint PRIMARY KEY);\n",
		"003_c.down.sql": "DROP TABLE extensions.c;\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fleetPath := filepath.Join(t.TempDir(), "fleet.yaml")
	fleetText := "defaults:\n  shared_schemas: [extensions]\ndiscover:\n  - server: postgres://u@127.0.0.1:1/app\n    schemas: tenant_%\n"
	if err := os.WriteFile(fleetPath, []byte(fleetText), 0o644); err != nil {
		t.Fatal(err)
	}
	o, stdout, _ := validateOptions()
	o.format, o.migrationsDir, o.fleetPath = "json", dir, fleetPath
	_ = runValidate(context.Background(), o, validateOpts{})
	d := decodeValidation(t, stdout)
	var qualified []string
	for _, f := range d.Findings {
		if f.Rule == "schema-qualified-name" {
			qualified = append(qualified, filepath.Base(f.File))
		}
	}
	slices.Sort(qualified)
	if !slices.Equal(slices.Compact(qualified), []string{"002_b.up.sql"}) {
		t.Errorf("schema-qualified findings in %v, want 002_b only (extensions is shared):\n%s", qualified, stdout)
	}
}
