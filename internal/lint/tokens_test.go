package lint

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/orchestrator-dev/orchestrator/internal/source"
	"github.com/orchestrator-dev/orchestrator/internal/sqlscan"
)

func TestQualifiedName(t *testing.T) {
	tests := []struct {
		sql                   string
		schema, name, display string
	}{
		{"users (id)", "", "users", "users"},
		{"public.users", "public", "users", "public.users"},
		{`"App"."Users" x`, "App", "Users", `"App"."Users"`},
		{"db.app.users", "app", "users", "db.app.users"},
	}
	for _, tt := range tests {
		r, _, ok := qualifiedName(sqlscan.Tokens(tt.sql, 1), 0)
		if !ok || r.schema != tt.schema || r.name != tt.name || r.display != tt.display {
			t.Errorf("qualifiedName(%q) = %+v, %v", tt.sql, r, ok)
		}
	}
	if _, _, ok := qualifiedName(sqlscan.Tokens("(x)", 1), 0); ok {
		t.Error("a parenthesis is no name")
	}
}

// FuzzCheck: whatever a loadable migration holds, Check does not panic and
// points inside the file.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"CREATE INDEX ON users (id);",
		"ALTER TABLE users ADD COLUMN a int NOT NULL, ALTER COLUMN b TYPE int, DROP c;",
		"ALTER TABLE",
		"CREATE UNIQUE INDEX CONCURRENTLY",
		"DROP TABLE IF EXISTS",
		"ALTER TABLE x ADD",
		"ALTER TABLE x RENAME TO",
		"DO $$ BEGIN RAISE EXCEPTION '" + source.PlaceholderMarker + "'; END $$;",
		"CREATE TABLE t (a timestamp(3), b char(2), c json, id int PRIMARY KEY, PRIMARY KEY (",
		"ALTER TABLE x ALTER COLUMN y TYPE varchar(10), ALTER y SET NOT NULL, ADD CONSTRAINT c UNIQUE",
		"ALTER TYPE mood ADD VALUE IF NOT EXISTS 'x'; UPDATE t SET m = 'x'",
		"VACUUM (FULL", "REINDEX (VERBOSE", "LOCK TABLE", "TRUNCATE ONLY a, b CASCADE", "DELETE FROM", "UPDATE ONLY",
		"CREATE OR REPLACE TRIGGER x AFTER UPDATE ON", "CLUSTER VERBOSE", "ALTER TABLE public.x DETACH PARTITION",
		"-- orchestrator:lint-ignore\nSELECT 1", "-- orchestrator:lint-ignore a,,b\nSELECT 1",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, sql string, noTx bool) {
		text := "-- +goose Up\n" + sql + "\n;SELECT 1;\n-- +goose Down\n" + sql + "\n;SELECT 1;\n"
		if noTx {
			text = "-- +goose NO TRANSACTION\n" + text
		}
		set, err := source.Load(fstest.MapFS{"001_x.sql": {Data: []byte(text)}}, ".")
		if err != nil {
			return
		}
		lines := len(slices.Collect(strings.Lines(text)))
		for _, fd := range Check(set) {
			if fd.File != "001_x.sql" || fd.Line < 1 || fd.Line > lines || fd.Message == "" {
				t.Errorf("finding out of place: %+v", fd)
			}
		}
	})
}
