package lint

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

func lintWith(t *testing.T, files map[string]string, o Options) []report.Diagnostic {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	set, err := source.Load(fsys, ".")
	if err != nil {
		t.Fatalf("the test's migration set does not load:\n%v", err)
	}
	return CheckWith(set, o)
}

func up(sql string) string { return "-- +goose Up\n" + sql + "-- +goose Down\nSELECT 1;\n" }
func upNoTx(sql string) string {
	return "-- +goose NO TRANSACTION\n-- +goose Up\n" + sql + "-- +goose Down\nSELECT 1;\n"
}

func TestEnumValueUsedInBatch(t *testing.T) {
	base := map[string]string{
		"001_users.sql": gooseUsers,
		"002_mood.sql":  up("CREATE TYPE mood AS ENUM ('ok');\nALTER TABLE users ADD COLUMN mood mood;\n"),
	}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name  string
		files map[string]string
		since int64
		want  []string
	}{
		{"used by a later migration of the same batch", with(map[string]string{
			"003_add.sql": up("ALTER TYPE mood ADD VALUE 'happy';\n"),
			"004_use.sql": up("UPDATE users SET mood = 'happy' WHERE id = 1;\n"),
		}), 0, []string{"004_use.sql:2 error enum-value-used-in-batch"}},
		{"used in the same migration", with(map[string]string{
			"003_add.sql": up("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'happy';\nUPDATE users SET mood = 'happy' WHERE id = 1;\n"),
		}), 2, []string{"003_add.sql:3 error enum-value-used-in-batch"}},
		{"near miss: the ADD VALUE commits on its own", with(map[string]string{
			"003_add.sql": upNoTx("ALTER TYPE mood ADD VALUE 'happy';\n"),
			"004_use.sql": up("UPDATE users SET mood = 'happy' WHERE id = 1;\n"),
		}), 0, nil},
		{"near miss: another value", with(map[string]string{
			"003_add.sql": up("ALTER TYPE mood ADD VALUE 'happy';\n"),
			"004_use.sql": up("UPDATE users SET mood = 'ok' WHERE id = 1;\n"),
		}), 0, nil},
		{"near miss: --since past the ADD VALUE", with(map[string]string{
			"003_add.sql": up("ALTER TYPE mood ADD VALUE 'happy';\n"),
			"004_use.sql": up("UPDATE users SET mood = 'happy' WHERE id = 1;\n"),
		}), 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := only(lintWith(t, tt.files, Options{Since: tt.since}), RuleEnumValueInBatch)
			if b := brief(got); !slices.Equal(b, append([]string{}, tt.want...)) {
				t.Errorf("findings %q, want %q\n%s", b, tt.want, messages(got))
			}
		})
	}
}

func TestBatchAccessExclusive(t *testing.T) {
	files := map[string]string{
		"001_users.sql":    gooseUsers,
		"002_sessions.sql": up("CREATE TABLE sessions (id bigint);\n"),
		"010_a.sql":        up("ALTER TABLE users ADD COLUMN a int;\n"),
		"030_b.sql":        up("-- also\nALTER TABLE sessions ADD COLUMN b int;\n"),
	}
	// From version 0 every table is created in the batch: nothing to hold.
	if got := only(lintWith(t, files, Options{}), RuleBatchLocks); len(got) != 0 {
		t.Errorf("from version 0:\n%s", messages(got))
	}
	got := only(lintWith(t, files, Options{Since: 2}), RuleBatchLocks)
	if b := brief(got); !slices.Equal(b, []string{"030_b.sql:3 warning batch-access-exclusive"}) {
		t.Fatalf("since 2: %q\n%s", b, messages(got))
	}
	for _, s := range []string{"users (010_a.sql:2)", "sessions (030_b.sql:3)", "10-30"} {
		if !strings.Contains(got[0].Message, s) {
			t.Errorf("message does not mention %q: %s", s, got[0].Message)
		}
	}
	// Near miss: a NO TRANSACTION migration between them commits the first lock.
	files["020_split.sql"] = upNoTx("CREATE INDEX CONCURRENTLY IF NOT EXISTS x ON users (email);\n")
	if got := only(lintWith(t, files, Options{Since: 2}), RuleBatchLocks); len(got) != 0 {
		t.Errorf("split by NO TRANSACTION:\n%s", messages(got))
	}
	// Near miss: the same table twice, and weaker locks on another.
	near := map[string]string{
		"001_users.sql": gooseUsers,
		"002_a.sql":     up("ALTER TABLE users ADD COLUMN a int;\nALTER TABLE users ADD COLUMN b int;\nALTER TABLE events VALIDATE CONSTRAINT c;\n"),
	}
	if got := only(lintWith(t, near, Options{Since: 1}), RuleBatchLocks); len(got) != 0 {
		t.Errorf("one table:\n%s", messages(got))
	}
}

func TestNoTransactionSplitsBatch(t *testing.T) {
	files := map[string]string{
		"001_users.sql": gooseUsers,
		"002_idx.sql":   upNoTx("CREATE INDEX CONCURRENTLY IF NOT EXISTS x ON users (email);\n"),
		"003_col.sql":   up("ALTER TABLE users ADD COLUMN a int;\n"),
	}
	got := only(lintWith(t, files, Options{}), RuleNoTxSplitsBatch)
	if b := brief(got); !slices.Equal(b, []string{"002_idx.sql:3 note no-transaction-splits-batch"}) {
		t.Fatalf("findings %q\n%s", b, messages(got))
	}
	for _, s := range []string{"runs 1 in one transaction, then 2 on its own, outside a transaction, then 3 in one transaction", "down sections", "before (1-2)"} {
		if !strings.Contains(got[0].Message, s) {
			t.Errorf("message does not say %q: %s", s, got[0].Message)
		}
	}
	// Near miss: the NO TRANSACTION migration is the last of the batch.
	delete(files, "003_col.sql")
	if got := only(lintWith(t, files, Options{}), RuleNoTxSplitsBatch); len(got) != 0 {
		t.Errorf("NO TRANSACTION at the end:\n%s", messages(got))
	}
}

func TestSchemaQualifiedByFleet(t *testing.T) {
	files := goose("CREATE TABLE public.t (id bigint);\n", "DROP TABLE t;\n")
	for _, tt := range []struct {
		fleet FleetKind
		want  string
	}{
		{FleetUnknown, "002_change.sql:2 warning schema-qualified-name"},
		{FleetSchemas, "002_change.sql:2 warning schema-qualified-name"},
		{FleetDatabases, "002_change.sql:2 note schema-qualified-name"},
	} {
		got := only(lintWith(t, files, Options{Fleet: tt.fleet}), RuleSchemaQualified)
		if b := brief(got); !slices.Equal(b, []string{tt.want}) {
			t.Errorf("fleet %d: %q, want %q", tt.fleet, b, tt.want)
		}
	}
	if got := only(lintWith(t, files, Options{Fleet: FleetSchemas, SharedSchemas: []string{"public"}}), RuleSchemaQualified); len(got) != 0 {
		t.Errorf("a shared schema is flagged:\n%s", messages(got))
	}
}

func TestServerVersions(t *testing.T) {
	files := map[string]string{
		"001_users.sql": gooseUsers,
		"002_idx.sql":   upNoTx("REINDEX INDEX CONCURRENTLY users_pkey;\n"),
		"003_col.sql":   up("ALTER TABLE users ADD COLUMN flag boolean NOT NULL DEFAULT false;\nCREATE UNIQUE INDEX u ON users (email) NULLS NOT DISTINCT;\n"),
		"004_expr.sql":  up("ALTER TABLE users ALTER COLUMN g SET EXPRESSION AS (lower(email));\n"),
		"005_uuid.sql":  up("INSERT INTO users (id, email) SELECT 1, gen_random_uuid()::text;\n"),
	}
	tests := []struct {
		name     string
		versions []int
		want     []string
	}{
		{"not probed: silent", nil, nil},
		{"all on 17", []int{170002, 170004}, nil},
		{"15 and 17", []int{150020, 170004}, []string{"004_expr.sql:2 error needs-newer-server"}},
		{"10, 11 and 17", []int{100023, 110022, 110022, 170004}, []string{
			"002_idx.sql:3 error needs-newer-server",
			"003_col.sql:2 warning behaves-differently-across-versions",
			"003_col.sql:3 error needs-newer-server",
			"004_expr.sql:2 error needs-newer-server",
			"005_uuid.sql:2 warning behaves-differently-across-versions",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lintWith(t, files, Options{Fleet: FleetDatabases, ServerVersions: tt.versions})
			got = slices.DeleteFunc(got, func(f report.Diagnostic) bool {
				return f.Rule != RuleNeedsNewerServer && f.Rule != RuleVersionBehaviour
			})
			if b := brief(got); !slices.Equal(b, append([]string{}, tt.want...)) {
				t.Errorf("findings %q, want %q\n%s", b, tt.want, messages(got))
			}
			if tt.name == "10, 11 and 17" && !strings.Contains(got[0].Message, "10.23 (1 server), 11.22 (2 servers)") {
				t.Errorf("message does not name the old servers: %s", got[0].Message)
			}
		})
	}
}

func TestLintIgnore(t *testing.T) {
	files := goose("-- why: the table is tiny on every tenant\n-- orchestrator:lint-ignore index-not-concurrent,set-not-null small table, checked\n"+
		"CREATE INDEX a ON users (email);\n"+
		"CREATE INDEX b ON users (nickname);\n"+
		"-- orchestrator:lint-ignore destructive-up nothing to drop below\nSELECT 1;\n"+
		"-- orchestrator:lint-ignore no-such-rule oops\n-- orchestrator:lint-ignore cluster\nCLUSTER users;\n",
		"SELECT 1;\n")
	got := lintFiles(t, files)
	// Line 3's ignore silences index-not-concurrent at line 4 (it is used,
	// though set-not-null never fires there), not the one at line 5; the
	// one without a reason still silences CLUSTER.
	want := []string{
		"002_change.sql:5 warning index-not-concurrent",
		"002_change.sql:6 warning unused-lint-ignore",
		"002_change.sql:8 warning malformed-lint-ignore",
		"002_change.sql:9 warning malformed-lint-ignore",
	}
	if b := brief(got); !slices.Equal(b, want) {
		t.Errorf("findings %q, want %q\n%s", b, want, messages(got))
	}
}
