package lint

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// lintFiles loads files (name -> text) as a migration set and lints it.
func lintFiles(t *testing.T, files map[string]string) []report.Diagnostic {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	set, err := source.Load(fsys, ".")
	if err != nil {
		t.Fatalf("the test's migration set does not load:\n%v", err)
	}
	return Check(set)
}

// brief renders findings as "file:line severity rule", the facts the tests
// pin down; messages are checked separately.
func brief(fs []report.Diagnostic) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s:%d %s %s", f.File, f.Line, f.Severity, f.Rule))
	}
	return out
}

// Shared first migrations: users (and a partitioned events) exist, with data,
// by the time the migration under test runs.
const (
	gooseUsers = "-- +goose Up\nCREATE TABLE users (id bigint PRIMARY KEY, email text, nickname text);\n" +
		"CREATE TABLE events (id bigint, at timestamptz) PARTITION BY RANGE (at);\n" +
		"-- +goose Down\nDROP TABLE events;\nDROP TABLE users;\n"
	migrateUsersUp   = "CREATE TABLE users (id bigint PRIMARY KEY, email text, nickname text);\n"
	migrateUsersDown = "DROP TABLE users;\n"
)

// goose returns a goose set: 001 creates users, 002 is up/down.
func goose(up, down string) map[string]string {
	return map[string]string{
		"001_users.sql":  gooseUsers,
		"002_change.sql": "-- +goose Up\n" + up + "-- +goose Down\n" + down,
	}
}

// gooseNoTx is goose for a NO TRANSACTION 002 (the marker on line 1, so
// the up SQL starts on line 3).
func gooseNoTx(up, down string) map[string]string {
	return map[string]string{
		"001_users.sql":  gooseUsers,
		"002_change.sql": "-- +goose NO TRANSACTION\n-- +goose Up\n" + up + "-- +goose Down\n" + down,
	}
}

// migrate returns a golang-migrate set: 001 creates users, 002 is up/down.
func migrate(up, down string) map[string]string {
	return map[string]string{
		"001_users.up.sql": migrateUsersUp, "001_users.down.sql": migrateUsersDown,
		"002_change.up.sql": up, "002_change.down.sql": down,
	}
}

type lintCase struct {
	name  string
	files map[string]string
	want  []string // brief of the findings, in order
}

// runCases lints each case's files and compares the findings of rules
// (all findings when rules is nil) with the case's.
func runCases(t *testing.T, rules []string, tests []lintCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lintFiles(t, tt.files)
			if rules != nil {
				got = slices.DeleteFunc(got, func(f report.Diagnostic) bool { return !slices.Contains(rules, f.Rule) })
			}
			if tt.want == nil {
				tt.want = []string{}
			}
			if b := brief(got); !slices.Equal(b, tt.want) {
				t.Errorf("findings:\n  %s\nwant:\n  %s\nmessages:\n%s", strings.Join(b, "\n  "), strings.Join(tt.want, "\n  "), messages(got))
			}
			for _, f := range got {
				if f.Message == "" {
					t.Errorf("%s: empty message", f)
				}
			}
		})
	}
}

func messages(fs []report.Diagnostic) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.String() + "\n")
	}
	return b.String()
}

func TestIndexNotConcurrent(t *testing.T) {
	runCases(t, []string{RuleIndexNotConcurrent}, []lintCase{
		{"existing table, goose, line of CREATE after a comment",
			goose("-- Lookups by email.\nCREATE INDEX idx_users_email\n    ON users (email);\n", "DROP INDEX idx_users_email;\n"),
			[]string{"002_change.sql:3 warning index-not-concurrent"}},
		{"existing table, golang-migrate",
			migrate("\n\nCREATE UNIQUE INDEX IF NOT EXISTS idx ON public.users USING btree (lower(email));\n", "DROP INDEX idx;\n"),
			[]string{"002_change.up.sql:3 warning index-not-concurrent"}},
		{"unnamed index, lower-case keywords",
			goose("create index on users (email);\n", "select 1;\n"),
			[]string{"002_change.sql:2 warning index-not-concurrent"}},
		{"second statement of a line",
			goose("SELECT 1; CREATE INDEX a ON users (email);\n", "SELECT 1;\n"),
			[]string{"002_change.sql:2 warning index-not-concurrent"}},
		{"table created by the same migration",
			goose("CREATE TABLE things (id int, name text);\nCREATE INDEX idx_things_name ON things (name);\n", "DROP TABLE things;\n"),
			nil},
		{"table created by the same migration, schema-qualified once",
			migrate("CREATE TABLE IF NOT EXISTS app.things (id int);\nCREATE INDEX ON things (id);\nCREATE INDEX ON \"app\".\"things\" (id);\n", "DROP TABLE app.things;\n"),
			nil},
		{"a quoted name is another table",
			goose("CREATE TABLE \"Users\" (id int);\nCREATE INDEX ON users (id);\n", "DROP TABLE \"Users\";\n"),
			[]string{"002_change.sql:3 warning index-not-concurrent"}},
		{"table created then renamed",
			goose("CREATE TABLE users_new (id int);\nALTER TABLE users_new RENAME TO users_v2;\nCREATE INDEX ON users_v2 (id);\n", "DROP TABLE users_v2;\n"),
			nil},
		{"table created then dropped, then indexed",
			goose("CREATE TEMP TABLE scratch (id int);\nDROP TABLE scratch;\nCREATE INDEX ON scratch (id);\n", "SELECT 1;\n"),
			[]string{"002_change.sql:4 warning index-not-concurrent"}},
		{"materialized view created by the same migration",
			goose("CREATE MATERIALIZED VIEW user_emails AS SELECT id, email FROM users;\nCREATE UNIQUE INDEX ON user_emails (id);\n", "DROP MATERIALIZED VIEW user_emails;\n"),
			nil},
		{"CONCURRENTLY in a NO TRANSACTION file",
			gooseNoTx("CREATE INDEX CONCURRENTLY idx_users_email ON users (email);\n", "DROP INDEX CONCURRENTLY IF EXISTS idx_users_email;\n"),
			nil},
		{"ON ONLY a partitioned table builds nothing",
			goose("CREATE INDEX events_at ON ONLY events (at);\n", "DROP INDEX events_at;\n"),
			nil},
		{"in comments, strings and function bodies",
			goose("-- CREATE INDEX a ON users (email);\n/* CREATE INDEX b ON users (email); */\nSELECT 'CREATE INDEX c ON users (email)';\n"+
				"-- +goose StatementBegin\nDO $$ BEGIN EXECUTE 'CREATE INDEX d ON users (email)'; END $$;\n-- +goose StatementEnd\n", "SELECT 1;\n"),
			nil},
		{"down sections are not linted for locks",
			goose("DROP INDEX IF EXISTS idx_users_email;\n", "CREATE INDEX idx_users_email ON users (email);\n"),
			nil},
	})
}

func TestConcurrentlyInTransaction(t *testing.T) {
	runCases(t, []string{RuleConcurrentlyInTx}, []lintCase{
		{"goose file without NO TRANSACTION: up and down",
			goose("CREATE INDEX CONCURRENTLY idx ON users (email);\n", "DROP INDEX CONCURRENTLY idx;\n"),
			[]string{"002_change.sql:2 error concurrently-in-transaction", "002_change.sql:4 error concurrently-in-transaction"}},
		{"golang-migrate: marker in the .up.sql only",
			migrate("-- +goose NO TRANSACTION\nCREATE INDEX CONCURRENTLY idx ON users (email);\n", "\nDROP INDEX CONCURRENTLY IF EXISTS idx;\n"),
			[]string{"002_change.down.sql:2 error concurrently-in-transaction"}},
		{"golang-migrate: marker in both files",
			migrate("-- +goose NO TRANSACTION\nCREATE INDEX CONCURRENTLY idx ON users (email);\n", "-- +goose NO TRANSACTION\nDROP INDEX CONCURRENTLY IF EXISTS idx;\n"),
			nil},
		{"REINDEX and DETACH PARTITION",
			goose("REINDEX INDEX CONCURRENTLY users_pkey;\nALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY;\n", "SELECT 1;\n"),
			[]string{"002_change.sql:2 error concurrently-in-transaction", "002_change.sql:3 error concurrently-in-transaction"}},
		{"REFRESH MATERIALIZED VIEW CONCURRENTLY may run in a transaction",
			goose("REFRESH MATERIALIZED VIEW CONCURRENTLY user_emails;\n", "SELECT 1;\n"),
			nil},
		{"in a block with another statement, NO TRANSACTION or not",
			gooseNoTx("-- +goose StatementBegin\nSET lock_timeout = '1s';\nCREATE INDEX CONCURRENTLY idx ON users (email);\n-- +goose StatementEnd\n",
				"DROP INDEX CONCURRENTLY IF EXISTS idx;\n"),
			[]string{"002_change.sql:5 error concurrently-in-transaction"}},
		{"the word in a comment or a string",
			goose("-- use CONCURRENTLY next time\nCOMMENT ON TABLE users IS 'built concurrently';\n", "SELECT 1;\n"),
			nil},
	})
}

func TestNoTransactionMultipleStatements(t *testing.T) {
	runCases(t, []string{RuleNoTxMultipleStatements}, []lintCase{
		{"goose: up and down, at the second statement",
			gooseNoTx("CREATE INDEX CONCURRENTLY a ON users (email);\n-- and the other one\nCREATE INDEX CONCURRENTLY b ON users (nickname);\n",
				"DROP INDEX CONCURRENTLY IF EXISTS b;\nDROP INDEX CONCURRENTLY IF EXISTS a;\n"),
			[]string{"002_change.sql:5 warning no-transaction-multiple-statements", "002_change.sql:8 warning no-transaction-multiple-statements"}},
		{"golang-migrate",
			migrate("-- +goose NO TRANSACTION\nCREATE INDEX CONCURRENTLY a ON users (email);\nCREATE INDEX CONCURRENTLY b ON users (nickname);\n",
				"DROP INDEX IF EXISTS b;\nDROP INDEX IF EXISTS a;\n"),
			[]string{"002_change.up.sql:3 warning no-transaction-multiple-statements"}},
		{"one statement each way",
			gooseNoTx("CREATE INDEX CONCURRENTLY a ON users (email);\n", "DROP INDEX CONCURRENTLY IF EXISTS a;\n"),
			nil},
		{"several statements in a transaction",
			goose("CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n", "DROP TABLE b;\nDROP TABLE a;\n"),
			nil},
	})
}

func TestAddColumnNotNullNoDefault(t *testing.T) {
	runCases(t, []string{RuleAddColumnNotNull, RuleDestructiveUp}, []lintCase{
		{"goose",
			goose("ALTER TABLE users ADD COLUMN age int NOT NULL;\n", "ALTER TABLE users DROP COLUMN age;\n"),
			[]string{"002_change.sql:2 warning add-column-not-null-no-default"}},
		{"golang-migrate, the line of the clause",
			migrate("ALTER TABLE users\n    ADD COLUMN a int,\n    ADD COLUMN b int NOT NULL,\n    ADD c text NOT NULL DEFAULT '';\n",
				"ALTER TABLE users DROP COLUMN a, DROP COLUMN b, DROP COLUMN c;\n"),
			[]string{"002_change.up.sql:3 warning add-column-not-null-no-default"}},
		{"quoted, schema-qualified, IF NOT EXISTS, ONLY",
			goose("ALTER TABLE IF EXISTS ONLY \"public\".\"users\" ADD COLUMN IF NOT EXISTS \"Age\" numeric(10,2) NOT NULL CHECK (\"Age\" > 0);\n", "SELECT 1;\n"),
			[]string{"002_change.sql:2 warning add-column-not-null-no-default"}},
		{"DEFAULT NULL is no default",
			goose("ALTER TABLE users ADD COLUMN age int DEFAULT NULL NOT NULL;\n", "SELECT 1;\n"),
			[]string{"002_change.sql:2 warning add-column-not-null-no-default"}},
		{"PRIMARY KEY implies NOT NULL",
			goose("ALTER TABLE users ADD COLUMN uid uuid PRIMARY KEY;\n", "SELECT 1;\n"),
			[]string{"002_change.sql:2 warning add-column-not-null-no-default"}},
		{"with a default, nullable, serial, identity, generated, constraints",
			goose("ALTER TABLE users ADD COLUMN a int NOT NULL DEFAULT 0;\n"+
				"ALTER TABLE users ADD COLUMN b int DEFAULT 0 NOT NULL, ADD COLUMN c int;\n"+
				"ALTER TABLE users ADD COLUMN d int NULL CHECK (d IS NOT NULL OR true);\n"+
				"ALTER TABLE users ADD COLUMN e bigserial NOT NULL;\n"+
				"ALTER TABLE users ADD COLUMN f bigint NOT NULL GENERATED ALWAYS AS IDENTITY;\n"+
				"ALTER TABLE users ADD COLUMN g text NOT NULL GENERATED ALWAYS AS (lower(email)) STORED;\n"+
				"ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\n"+
				"ALTER TABLE users ADD PRIMARY KEY (id);\n", "SELECT 1;\n"),
			nil},
		{"table created by the same migration",
			goose("CREATE TABLE things (id int);\nALTER TABLE things ADD COLUMN name text NOT NULL;\n", "DROP TABLE things;\n"),
			nil},
		{"not linted in a down section",
			goose("ALTER TABLE users DROP COLUMN nickname;\n", "ALTER TABLE users ADD COLUMN nickname text NOT NULL;\n"),
			[]string{"002_change.sql:2 warning destructive-up"}},
	})
}

func TestColumnTypeChange(t *testing.T) {
	runCases(t, []string{RuleColumnTypeChange}, []lintCase{
		{"goose: TYPE and SET DATA TYPE",
			goose("ALTER TABLE users ALTER COLUMN email TYPE varchar(500);\nALTER TABLE users\n  ALTER nickname SET DATA TYPE text USING nickname::text;\n", "SELECT 1;\n"),
			[]string{"002_change.sql:2 warning column-type-change", "002_change.sql:4 warning column-type-change"}},
		{"golang-migrate, second action",
			migrate("ALTER TABLE users ALTER COLUMN email SET NOT NULL,\n  ALTER COLUMN id TYPE bigint;\n", "SELECT 1;\n"),
			[]string{"002_change.up.sql:2 warning column-type-change"}},
		{"other ALTER COLUMN forms",
			goose("ALTER TABLE users ALTER COLUMN email SET DEFAULT '', ALTER email DROP NOT NULL, ALTER COLUMN nickname SET STATISTICS 100;\n", "SELECT 1;\n"),
			nil},
		{"table created by the same migration",
			goose("CREATE TABLE things (id int);\nALTER TABLE things ALTER COLUMN id TYPE bigint;\n", "DROP TABLE things;\n"),
			nil},
		{"not linted in a down section",
			goose("SELECT 1;\n", "ALTER TABLE users ALTER COLUMN id TYPE int;\n"),
			nil},
	})
}

func TestDestructiveUp(t *testing.T) {
	runCases(t, []string{RuleDestructiveUp}, []lintCase{
		{"DROP TABLE, goose",
			goose("DROP TABLE users;\n", "CREATE TABLE users (id int);\n"),
			[]string{"002_change.sql:2 warning destructive-up"}},
		{"DROP TABLE of several, golang-migrate",
			migrate("\nDROP TABLE IF EXISTS users, public.sessions CASCADE;\n", "SELECT 1;\n"),
			[]string{"002_change.up.sql:2 warning destructive-up"}},
		{"DROP COLUMN, with and without COLUMN",
			goose("ALTER TABLE users DROP COLUMN IF EXISTS nickname CASCADE;\nALTER TABLE users\n  ADD COLUMN x int,\n  DROP email;\n", "SELECT 1;\n"),
			[]string{"002_change.sql:2 warning destructive-up", "002_change.sql:5 warning destructive-up"}},
		{"what is not destructive",
			goose("ALTER TABLE users DROP CONSTRAINT IF EXISTS users_email_key;\nDROP INDEX IF EXISTS idx;\n"+
				"CREATE TABLE tmp (id int);\nALTER TABLE tmp DROP COLUMN id;\nDROP TABLE tmp;\nDROP VIEW IF EXISTS v;\n", "SELECT 1;\n"),
			nil},
		{"downs drop what their up created",
			goose("CREATE TABLE things (id int);\n", "DROP TABLE things;\n"),
			nil},
		{"golang-migrate down",
			migrate("ALTER TABLE users ADD COLUMN x int;\n", "ALTER TABLE users DROP COLUMN x;\n"),
			nil},
	})
}

func TestTransactionWrapper(t *testing.T) {
	runCases(t, []string{RuleTxWrapper}, []lintCase{
		{"golang-migrate file wrapped whole: a note at its BEGIN, up and down",
			migrate("-- adds things\nBEGIN;\nCREATE TABLE things (id bigint);\nCOMMIT;\n", "BEGIN;\nDROP TABLE things;\nCOMMIT;\n"),
			[]string{"002_change.down.sql:1 note transaction-wrapper", "002_change.up.sql:2 note transaction-wrapper"}},
		{"near miss: the same file without its own transaction control",
			migrate("CREATE TABLE things (id bigint);\n", "DROP TABLE things;\n"),
			nil},
	})
}

func TestMissingDown(t *testing.T) {
	runCases(t, []string{RuleMissingDown}, []lintCase{
		{"goose without a Down: at the Up annotation",
			map[string]string{"001_users.sql": "-- users\n\n-- +goose Up\nCREATE TABLE users (id int);\n"},
			[]string{"001_users.sql:3 warning missing-down"}},
		{"goose with an empty Down: at the Down annotation",
			goose("CREATE TABLE things (id int);\n", "\n"),
			[]string{"002_change.sql:3 warning missing-down"}},
		{"empty golang-migrate down file",
			migrate("CREATE TABLE things (id int);\n", ""),
			[]string{"002_change.down.sql:1 warning missing-down"}},
		{"an empty down that says why is deliberate",
			goose("UPDATE users SET email = lower(email);\n", "-- nothing to undo: lower-casing cannot be reverted\n"),
			nil},
		{"golang-migrate down with a comment only",
			migrate("UPDATE users SET email = lower(email);\n", "/* irreversible data fix */\n"),
			nil},
	})
}

// TestScaffoldPlaceholder: a migration left as `orchestrator new` wrote it
// is an error, at the placeholder, in both layouts.
func TestScaffoldPlaceholder(t *testing.T) {
	for _, layout := range []source.Layout{source.LayoutGoose, source.LayoutMigrate} {
		t.Run(string(layout), func(t *testing.T) {
			dir := t.TempDir()
			paths, err := source.Scaffold(dir, layout, nil, "add email", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			set, err := source.Load(os.DirFS(dir), ".")
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, p := range paths {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				base := p[len(dir)+1:]
				for i, l := range strings.Split(string(b), "\n") {
					if strings.Contains(l, source.PlaceholderMarker) {
						want = append(want, fmt.Sprintf("%s:%d error scaffold-placeholder", base, i+1))
					}
				}
			}
			got := brief(Check(set))
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) || len(want) != 2 {
				t.Errorf("findings %q, want %q", got, want)
			}
		})
	}
	runCases(t, []string{RuleScaffoldPlaceholder}, []lintCase{
		{"the marker elsewhere than in a DO block",
			goose("-- "+source.PlaceholderMarker+"\nSELECT '"+source.PlaceholderMarker+"';\n", "SELECT 1;\n"),
			nil},
	})
}

// TestMessages: messages name the objects and say what to do.
func TestMessages(t *testing.T) {
	got := lintFiles(t, goose(
		"CREATE INDEX idx ON public.users (email);\nALTER TABLE \"public\".\"users\" ADD COLUMN \"Age\" int NOT NULL, ALTER COLUMN email TYPE text, DROP COLUMN nickname;\nDROP TABLE users;\n",
		"DROP INDEX CONCURRENTLY idx;\n"))
	want := map[string][]string{
		RuleIndexNotConcurrent: {"public.users", "CREATE INDEX CONCURRENTLY", "NO TRANSACTION"},
		RuleAddColumnNotNull:   {`"Age"`, `"public"."users"`, "DEFAULT", "backfill"},
		RuleColumnTypeChange:   {"email", "ACCESS EXCLUSIVE"},
		RuleDestructiveUp:      {"users", "no down section can bring it back"},
		RuleConcurrentlyInTx:   {"DROP INDEX CONCURRENTLY", "down", "-- +goose NO TRANSACTION", "002_change.sql"},
	}
	seen := map[string]bool{}
	for _, f := range got {
		seen[f.Rule] = true
		for _, s := range want[f.Rule] {
			if !strings.Contains(f.Message, s) {
				t.Errorf("%s: message does not mention %q", f, s)
			}
		}
	}
	for rule := range want {
		if !seen[rule] {
			t.Errorf("no %s finding in %s", rule, messages(got))
		}
	}
}

func TestCheckSortedAcrossFiles(t *testing.T) {
	got := lintFiles(t, map[string]string{
		"001_users.sql": gooseUsers,
		"003_b.sql":     "-- +goose Up\nDROP TABLE users;\n",
		"002_a.sql":     "-- +goose Up\nSELECT 1;\nCREATE INDEX ON users (id);\n-- +goose Down\nDROP INDEX CONCURRENTLY x;\n",
	})
	want := []string{
		"002_a.sql:3 warning index-not-concurrent",
		"002_a.sql:5 error concurrently-in-transaction",
		"003_b.sql:1 warning missing-down",
		"003_b.sql:2 warning destructive-up",
	}
	if b := brief(got); !slices.Equal(b, want) {
		t.Errorf("findings %q, want %q", b, want)
	}
	if Check(nil) != nil {
		t.Error("Check(nil) has findings")
	}
}

// TestSeedMigrations: the built-in migrations create each table and its
// indexes in one migration, drop them only in downs: nothing to flag.
func TestSeedMigrations(t *testing.T) {
	set, err := source.Load(os.DirFS("../../migrations"), ".")
	if err != nil {
		t.Fatal(err)
	}
	got := Check(set)
	for _, f := range got {
		if f.Severity == report.SeverityError {
			t.Errorf("seed migration: %s", f)
		} else {
			t.Logf("seed migration: %s", f)
		}
	}
	if len(got) != 0 {
		t.Errorf("seed migrations have %d findings, want none", len(got))
	}
}
