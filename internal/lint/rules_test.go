package lint

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// ruleCase is one rule's pair: a migration that must be flagged at line,
// and a near miss (the safe form, or the same statement on a table created
// in the same migration) that must not be. Both are the up of 002, after
// 001 created users (id, email, nickname) and events.
type ruleCase struct {
	rule     string
	flagged  string
	line     int
	nearMiss string
	noTx     bool // both files are NO TRANSACTION
}

var ruleCases = []ruleCase{
	{rule: RuleForeignKeyNotValid,
		flagged:  "CREATE TABLE orgs (id bigint PRIMARY KEY);\nALTER TABLE users ADD CONSTRAINT users_org_fk FOREIGN KEY (id) REFERENCES orgs (id);\n",
		line:     3,
		nearMiss: "CREATE TABLE orgs (id bigint PRIMARY KEY);\nALTER TABLE users ADD CONSTRAINT users_org_fk FOREIGN KEY (id) REFERENCES orgs (id) NOT VALID;\n"},
	{rule: RuleCheckNotValid,
		flagged:  "ALTER TABLE users ADD CONSTRAINT email_len CHECK (length(email) < 300);\n",
		line:     2,
		nearMiss: "ALTER TABLE users ADD CONSTRAINT email_len CHECK (length(email) < 300) NOT VALID;\n"},
	{rule: RuleSetNotNull,
		flagged:  "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n",
		line:     2,
		nearMiss: "CREATE TABLE t (a text);\nALTER TABLE t ALTER COLUMN a SET NOT NULL;\n"},
	{rule: RuleVolatileDefault,
		flagged:  "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();\n",
		line:     2,
		nearMiss: "ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT now();\n"},
	{rule: RuleUniqueWithoutIndex,
		flagged:  "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);\n",
		line:     2,
		nearMiss: "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;\n"},
	{rule: RulePrimaryKeyWithoutIndex,
		flagged:  "ALTER TABLE events ADD PRIMARY KEY (id);\n",
		line:     2,
		nearMiss: "ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_id_idx;\n"},
	{rule: RuleRenameColumn,
		flagged:  "ALTER TABLE users RENAME COLUMN nickname TO handle;\n",
		line:     2,
		nearMiss: "CREATE TABLE t (a int);\nALTER TABLE t RENAME COLUMN a TO b;\n"},
	{rule: RuleRenameTable,
		flagged:  "ALTER TABLE users RENAME TO accounts;\n",
		line:     2,
		nearMiss: "CREATE TABLE t (a int);\nALTER TABLE t RENAME TO t2;\n"},
	{rule: RuleIntPrimaryKey,
		flagged:  "CREATE TABLE t (\n  id serial PRIMARY KEY,\n  name text\n);\n",
		line:     3,
		nearMiss: "CREATE TABLE t (\n  id bigserial PRIMARY KEY,\n  name text\n);\n"},
	{rule: RuleIntPrimaryKey,
		flagged:  "CREATE TABLE t (id integer NOT NULL, CONSTRAINT t_pkey PRIMARY KEY (id));\n",
		line:     2,
		nearMiss: "CREATE TABLE t (id bigint NOT NULL, n integer, CONSTRAINT t_pkey PRIMARY KEY (id));\n"},
	{rule: RuleTimestamp,
		flagged:  "CREATE TABLE t (id bigint,\n  at timestamp(3) NOT NULL);\n",
		line:     3,
		nearMiss: "CREATE TABLE t (id bigint,\n  at timestamp(3) with time zone NOT NULL, \"timestamp\" timestamptz);\n"},
	{rule: RuleReindexNotConcurrent,
		flagged:  "REINDEX INDEX users_pkey;\n",
		line:     3,
		nearMiss: "REINDEX INDEX CONCURRENTLY users_pkey;\n", noTx: true},
	{rule: RuleVacuumFull,
		flagged:  "VACUUM (FULL, ANALYZE) users;\n",
		line:     3,
		nearMiss: "VACUUM (ANALYZE) users;\n", noTx: true},
	{rule: RuleVacuumInTx,
		flagged:  "VACUUM ANALYZE users;\n",
		line:     2,
		nearMiss: "ANALYZE users;\n"},
	{rule: RuleTruncateCascade,
		flagged:  "TRUNCATE TABLE users CASCADE;\n",
		line:     2,
		nearMiss: "TRUNCATE TABLE users;\n"},
	{rule: RuleLongName,
		flagged:  "CREATE INDEX CONCURRENTLY idx_users_email_lower_where_not_deleted_and_verified_for_login_x ON users (email);\n",
		line:     3,
		nearMiss: "CREATE INDEX CONCURRENTLY idx_users_email_lower_where_not_deleted_and_verified_for_login ON users (email);\n", noTx: true},
	{rule: RuleSchemaQualified,
		flagged:  "CREATE TABLE t (id bigint);\nINSERT INTO public.t VALUES (1);\n",
		line:     3,
		nearMiss: "CREATE TABLE t (id bigint, at timestamptz);\nINSERT INTO t SELECT 1, pg_catalog.now();\nCREATE INDEX ON t (extract(year from t.at));\n"},
	{rule: RuleDropNotNull,
		flagged:  "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;\n",
		line:     2,
		nearMiss: "CREATE TABLE t (a text NOT NULL);\nALTER TABLE t ALTER COLUMN a DROP NOT NULL;\n"},
	{rule: RuleCharType,
		flagged:  "ALTER TABLE users ADD COLUMN country char(2);\n",
		line:     2,
		nearMiss: "ALTER TABLE users ADD COLUMN country varchar(2), ADD COLUMN note character varying;\n"},
	{rule: RuleJSONType,
		flagged:  "CREATE TABLE t (id bigint, data json);\n",
		line:     2,
		nearMiss: "CREATE TABLE t (id bigint, data jsonb, json text);\n"},
	{rule: RuleVarcharShrink,
		flagged:  "CREATE TABLE t (code varchar(20));\n-- +goose Down\nDROP TABLE t;\n",
		line:     0, // in 003, below
		nearMiss: "CREATE TABLE t (code varchar(20));\n-- +goose Down\nDROP TABLE t;\n"},
	{rule: RuleCluster,
		flagged:  "CLUSTER users USING users_pkey;\n",
		line:     2,
		nearMiss: "CREATE TABLE t (id bigint PRIMARY KEY);\nCLUSTER t USING t_pkey;\n"},
	{rule: RuleLockTable,
		flagged:  "LOCK TABLE users IN SHARE MODE;\n",
		line:     2,
		nearMiss: "CREATE TABLE t (id bigint);\nLOCK TABLE t;\n"},
	{rule: RuleDetachNotConcurrent,
		flagged:  "ALTER TABLE events DETACH PARTITION events_2020;\n",
		line:     3,
		nearMiss: "ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY;\n", noTx: true},
	{rule: RuleTrigger,
		flagged:  "CREATE TRIGGER audit AFTER UPDATE ON users FOR EACH ROW EXECUTE FUNCTION audit();\n",
		line:     2,
		nearMiss: "CREATE TABLE t (id bigint);\nCREATE TRIGGER audit AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION audit();\n"},
	{rule: RuleTrigger,
		flagged:  "ALTER TABLE users DISABLE TRIGGER ALL;\n",
		line:     2,
		nearMiss: "CREATE TABLE t (id bigint);\nALTER TABLE t DISABLE TRIGGER ALL;\n"},
	{rule: RuleDeleteWithoutWhere,
		flagged:  "DELETE FROM users;\n",
		line:     2,
		nearMiss: "DELETE FROM users WHERE email IS NULL;\n"},
	{rule: RuleUpdateWithoutWhere,
		flagged:  "UPDATE users SET email = lower(email);\n",
		line:     2,
		nearMiss: "UPDATE users SET email = lower(email) WHERE email <> lower(email);\n"},
	{rule: RuleRenameEnumValue,
		flagged:  "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';\n",
		line:     2,
		nearMiss: "CREATE TYPE mood2 AS ENUM ('sad');\nALTER TYPE mood2 RENAME VALUE 'sad' TO 'blue';\n"},
	{rule: RuleIndexNotConcurrent,
		flagged:  "CREATE INDEX users_email ON users (email);\n",
		line:     2,
		nearMiss: "CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);\n"},
	{rule: RuleAddColumnNotNull,
		flagged:  "ALTER TABLE users ADD COLUMN age int NOT NULL;\n",
		line:     2,
		nearMiss: "ALTER TABLE users ADD COLUMN age int NOT NULL DEFAULT 0;\n"},
	{rule: RuleColumnTypeChange,
		flagged:  "ALTER TABLE users ALTER COLUMN id TYPE numeric;\n",
		line:     2,
		nearMiss: "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a TYPE bigint;\n"},
	{rule: RuleDestructiveUp,
		flagged:  "ALTER TABLE users DROP COLUMN nickname;\n",
		line:     2,
		nearMiss: "CREATE TABLE t (a int, b int);\nALTER TABLE t DROP COLUMN b;\n"},
	{rule: RuleConcurrentlyInTx,
		flagged:  "CREATE INDEX CONCURRENTLY a ON users (email);\n",
		line:     2,
		nearMiss: "CREATE INDEX CONCURRENTLY a ON users (email);\n"},
	{rule: RuleNoTxMultipleStatements,
		flagged:  "CREATE INDEX CONCURRENTLY a ON users (email);\nCREATE INDEX CONCURRENTLY b ON users (nickname);\n",
		line:     4,
		nearMiss: "CREATE INDEX CONCURRENTLY a ON users (email);\n", noTx: true},
}

// TestEveryRule: each rule flags its file at its line and leaves its near
// miss alone; every rule Rules lists has a case here or in the batch,
// fleet and suppression tests.
func TestEveryRule(t *testing.T) {
	for _, tc := range ruleCases {
		t.Run(tc.rule+"/flagged", func(t *testing.T) {
			files := ruleFiles(tc, tc.flagged)
			want := []string{"002_change.sql:" + itoa(tc.line) + " " + severityOf(tc.rule) + " " + tc.rule}
			if tc.rule == RuleVarcharShrink {
				files["003_shrink.sql"] = "-- +goose Up\nALTER TABLE t ALTER COLUMN code TYPE varchar(10);\n-- +goose Down\nSELECT 1;\n"
				want = []string{"003_shrink.sql:2 warning " + tc.rule}
			}
			if tc.rule == RuleConcurrentlyInTx {
				want[0] = "002_change.sql:2 error " + tc.rule
			}
			if got := only(lintFiles(t, files), tc.rule); !slices.Equal(brief(got), want) {
				t.Errorf("findings %q, want %q\n%s", brief(got), want, messages(got))
			}
			for _, f := range lintFiles(t, files) {
				if f.Rule == tc.rule && !strings.Contains(f.Message, "instead") && tc.rule != RuleConcurrentlyInTx &&
					tc.rule != RuleIndexNotConcurrent && tc.rule != RuleAddColumnNotNull && tc.rule != RuleColumnTypeChange &&
					tc.rule != RuleDestructiveUp && tc.rule != RuleNoTxMultipleStatements {
					t.Errorf("message gives no alternative: %s", f)
				}
			}
		})
		t.Run(tc.rule+"/near-miss", func(t *testing.T) {
			files := ruleFiles(tc, tc.nearMiss)
			if tc.rule == RuleVarcharShrink {
				files["003_shrink.sql"] = "-- +goose Up\nALTER TABLE t ALTER COLUMN code TYPE varchar(40);\n-- +goose Down\nSELECT 1;\n"
			}
			if tc.rule == RuleConcurrentlyInTx {
				files = gooseNoTx(tc.nearMiss, "SELECT 1;\n")
			}
			if got := only(lintFiles(t, files), tc.rule); len(got) != 0 {
				t.Errorf("near miss flagged:\n%s", messages(got))
			}
		})
	}
	covered := map[string]bool{}
	for _, tc := range ruleCases {
		covered[tc.rule] = true
	}
	for _, r := range []string{RuleMissingDown, RuleScaffoldPlaceholder, RuleUnreadableSQL, RuleEnumValueInBatch, RuleBatchLocks,
		RuleNoTxSplitsBatch, RuleNeedsNewerServer, RuleVersionBehaviour, RuleUnusedIgnore, RuleMalformedIgnore, RuleTxWrapper} {
		covered[r] = true // TestMissingDown, TestScaffoldPlaceholder, TestTransactionWrapper, FuzzCheck and the tests below
	}
	for _, r := range Rules() {
		if !covered[r.Name] {
			t.Errorf("rule %s has no test case", r.Name)
		}
	}
}

func ruleFiles(tc ruleCase, up string) map[string]string {
	down := "SELECT 1;\n"
	if strings.Contains(up, "-- +goose Down") {
		down = ""
	}
	if tc.noTx {
		return gooseNoTx(up, down)
	}
	files := goose(up, down)
	if down == "" {
		files["002_change.sql"] = "-- +goose Up\n" + up
	}
	return files
}

func only(fs []report.Diagnostic, rule string) []report.Diagnostic {
	return slices.DeleteFunc(fs, func(f report.Diagnostic) bool { return f.Rule != rule })
}

func severityOf(rule string) string {
	r, _ := ruleInfo(rule)
	return string(r.Severity)
}

func itoa(n int) string { return strconv.Itoa(n) }
