package lint

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/orchestrator-dev/orchestrator/internal/source"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want []string // kind:text@line
	}{
		{"keywords fold, quoted names do not",
			`CREATE Index "My""Idx" ON Public."T"`,
			[]string{"w:create@1", "w:index@1", `i:My"Idx@1`, "w:on@1", "w:public@1", "p:.@1", "i:T@1"}},
		{"comments are skipped, lines counted through them",
			"/* a /* nested */\n comment */ -- line\nDROP\n\tTABLE x",
			[]string{"w:drop@3", "w:table@4", "w:x@4"}},
		{"strings and dollar quotes are one token",
			"SELECT 'it''s;', E'a\\'b', $fn$ DROP TABLE x; $fn$, $$\n$$, $1, 1.5e3",
			[]string{"w:select@1", "s:'it''s;'@1", "p:,@1", `s:E'a\'b'@1`, "p:,@1", "s:$fn$ DROP TABLE x; $fn$@1", "p:,@1",
				"s:$$\n$$@1", "p:,@2", "p:$@2", "n:1@2", "p:,@2", "n:1.5e3@2"}},
		{"identifiers with $ and digits",
			"a$b x1 _y é",
			[]string{"w:a$b@1", "w:x1@1", "w:_y@1", "w:é@1"}},
		{"unterminated constructs run to the end",
			"SELECT 'open",
			[]string{"w:select@1", "s:'open@1"}},
	}
	kinds := map[tokKind]string{tokWord: "w", tokIdent: "i", tokString: "s", tokNumber: "n", tokPunct: "p"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, tok := range tokenize(tt.sql, 1) {
				got = append(got, fmt.Sprintf("%s:%s@%d", kinds[tok.kind], tok.text, tok.line))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("tokenize(%q)\n got %q\nwant %q", tt.sql, got, tt.want)
			}
		})
	}
}

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
		r, _, ok := qualifiedName(tokenize(tt.sql, 1), 0)
		if !ok || r.schema != tt.schema || r.name != tt.name || r.display != tt.display {
			t.Errorf("qualifiedName(%q) = %+v, %v", tt.sql, r, ok)
		}
	}
	if _, _, ok := qualifiedName(tokenize("(x)", 1), 0); ok {
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
