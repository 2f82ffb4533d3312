package source

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const plpgsqlBlock = `-- +goose StatementBegin
CREATE FUNCTION touch_updated_at() RETURNS trigger AS $$
BEGIN
    NEW.updated_at = now(); -- ; in a comment too
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
`

func TestSplit(t *testing.T) {
	tests := []struct {
		name      string
		sql       string
		firstLine int
		want      []Statement
	}{
		{
			name: "plain statements",
			sql:  "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n",
			want: []Statement{{"CREATE TABLE a (id int)", 1}, {"CREATE TABLE b (id int)", 2}},
		},
		{
			name: "empty input",
			sql:  "",
			want: nil,
		},
		{
			name: "whitespace and comments only",
			sql:  "\n  -- nothing here;\n/* nor ; here */ ;\n;;\n",
			want: nil,
		},
		{
			name: "last statement without semicolon",
			sql:  "SELECT 1;\nSELECT 2\n",
			want: []Statement{{"SELECT 1", 1}, {"SELECT 2", 2}},
		},
		{
			name: "semicolons in strings",
			sql:  "INSERT INTO t VALUES ('a;b', 'it''s; fine', '');\nSELECT ';';",
			want: []Statement{{"INSERT INTO t VALUES ('a;b', 'it''s; fine', '')", 1}, {"SELECT ';'", 2}},
		},
		{
			name: "string spanning lines",
			sql:  "SELECT 'one;\ntwo';\nSELECT 3;",
			want: []Statement{{"SELECT 'one;\ntwo'", 1}, {"SELECT 3", 3}},
		},
		{
			name: "E-strings with backslash escapes",
			sql:  `SELECT E'it\'s; ok', e'back\\';` + "\nSELECT 2;",
			want: []Statement{{`SELECT E'it\'s; ok', e'back\\'`, 1}, {"SELECT 2", 2}},
		},
		{
			name: "backslash is literal in standard strings",
			sql:  `SELECT 'C:\';SELECT date'2024-01-01\';SELECT 3`,
			want: []Statement{{`SELECT 'C:\'`, 1}, {`SELECT date'2024-01-01\'`, 1}, {"SELECT 3", 1}},
		},
		{
			name: "quoted identifiers",
			sql:  `CREATE TABLE "odd;name" ("a""b;" int);` + "\nSELECT 1;",
			want: []Statement{{`CREATE TABLE "odd;name" ("a""b;" int)`, 1}, {"SELECT 1", 2}},
		},
		{
			name: "dollar quotes",
			sql:  "DO $$ BEGIN PERFORM 1; END $$;\nSELECT $1, a$b$c;\n",
			want: []Statement{{"DO $$ BEGIN PERFORM 1; END $$", 1}, {"SELECT $1, a$b$c", 2}},
		},
		{
			name: "tagged dollar quote holding $$",
			sql:  "CREATE FUNCTION f() RETURNS text AS $fn$\nSELECT $$;$$;\n$fn$ LANGUAGE sql;\nSELECT 2;",
			want: []Statement{
				{"CREATE FUNCTION f() RETURNS text AS $fn$\nSELECT $$;$$;\n$fn$ LANGUAGE sql", 1},
				{"SELECT 2", 4},
			},
		},
		{
			name: "nested block comments",
			sql:  "/* outer /* inner; */ still comment; */ SELECT 1;\nSELECT /* x; */ 2;",
			want: []Statement{{"/* outer /* inner; */ still comment; */ SELECT 1", 1}, {"SELECT /* x; */ 2", 2}},
		},
		{
			name: "line comments",
			sql:  "SELECT 1 -- not; a split\n;\nSELECT 2;",
			want: []Statement{{"SELECT 1 -- not; a split", 1}, {"SELECT 2", 3}},
		},
		{
			name: "leading comments belong to the statement",
			sql:  "-- users\n\n-- more\nCREATE TABLE users (id int);\n",
			want: []Statement{{"-- users\n\n-- more\nCREATE TABLE users (id int)", 1}},
		},
		{
			name: "comment after a semicolon stays with the line",
			sql:  "SELECT 1; -- first\nSELECT 2; /* second */\n\nSELECT 3;",
			want: []Statement{{"SELECT 1", 1}, {"SELECT 2", 2}, {"SELECT 3", 4}},
		},
		{
			name: "two statements on a line",
			sql:  "SELECT 1; SELECT 2;",
			want: []Statement{{"SELECT 1", 1}, {"SELECT 2", 1}},
		},
		{
			name:      "first line offset",
			sql:       "\n\nSELECT 1;\nSELECT\n  2;",
			firstLine: 10,
			want:      []Statement{{"SELECT 1", 12}, {"SELECT\n  2", 13}},
		},
		{
			name: "CRLF line endings",
			sql:  "SELECT 1;\r\nSELECT 2;\r\n",
			want: []Statement{{"SELECT 1", 1}, {"SELECT 2", 2}},
		},
		{
			name: "StatementBegin block with a PL/pgSQL body",
			sql:  plpgsqlBlock,
			want: []Statement{
				{"CREATE FUNCTION touch_updated_at() RETURNS trigger AS $$\nBEGIN\n    NEW.updated_at = now(); -- ; in a comment too\n" +
					"    RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql", 2},
				{"CREATE TRIGGER users_touch BEFORE UPDATE ON users\n    FOR EACH ROW EXECUTE FUNCTION touch_updated_at()", 10},
			},
		},
		{
			name: "StatementBegin block keeps bare semicolons",
			sql:  "-- +goose StatementBegin\nSELECT 1;\nSELECT 2; -- done\n-- +goose StatementEnd\n",
			want: []Statement{{"SELECT 1;\nSELECT 2 -- done", 2}},
		},
		{
			name: "annotations match case-insensitively and indented",
			sql:  "  --   +goose statementbegin\nSELECT 1;\nSELECT 2;\n\t-- +goose STATEMENTEND\nSELECT 3;",
			want: []Statement{{"SELECT 1;\nSELECT 2", 2}, {"SELECT 3", 5}},
		},
		{
			name: "comments before a block are dropped, comments inside kept",
			sql:  "-- the function\n-- +goose StatementBegin\n-- body\nSELECT 1;\n-- +goose StatementEnd\n",
			want: []Statement{{"-- body\nSELECT 1", 3}},
		},
		{
			name: "comment-only block is dropped",
			sql:  "-- +goose StatementBegin\n-- nothing\n-- +goose StatementEnd\nSELECT 1;",
			want: []Statement{{"SELECT 1", 4}},
		},
		{
			name: "annotation after SQL on the same line is a comment",
			sql:  "SELECT 1; -- +goose StatementBegin\nSELECT 2;",
			want: []Statement{{"SELECT 1", 1}, {"SELECT 2", 2}},
		},
		{
			name: "other goose annotations are comments",
			sql:  "-- +goose NO TRANSACTION\nCREATE INDEX CONCURRENTLY i ON t (c);",
			want: []Statement{{"-- +goose NO TRANSACTION\nCREATE INDEX CONCURRENTLY i ON t (c)", 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := tt.firstLine
			if first == 0 {
				first = 1
			}
			got, err := Split(tt.sql, first)
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Split =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestSplitErrors(t *testing.T) {
	tests := []struct {
		name      string
		sql       string
		firstLine int
		wantLine  int
		wantMsg   string
	}{
		{"unterminated string", "SELECT 1;\nSELECT 'abc;\nSELECT 3;", 1, 2, "unterminated string"},
		{"unterminated E-string ending in an escaped quote", "SELECT E'abc\\';", 1, 1, "unterminated E'...' string"},
		{"unterminated quoted identifier", "SELECT 1;\n\nSELECT \"col;", 1, 3, "unterminated quoted identifier"},
		{"unterminated dollar quote", "SELECT 1;\n\nDO $body$ BEGIN END $$;", 1, 3, "the $body$ opened here has no closing $body$"},
		{"unterminated nested block comment", "SELECT 1;\n/* a /* b */ still open\nSELECT 1;", 1, 2, "unterminated block comment"},
		{"line offset applies", "\nSELECT 'x", 20, 21, "unterminated string"},
		{"StatementBegin without StatementEnd", "SELECT 1;\n-- +goose StatementBegin\nDO $$ BEGIN END $$;\n", 1, 2, "has no matching -- +goose StatementEnd"},
		{"StatementEnd without StatementBegin", "SELECT 1;\n-- +goose StatementEnd\n", 1, 2, "without a preceding -- +goose StatementBegin"},
		{"nested StatementBegin", "-- +goose StatementBegin\nSELECT 1;\n-- +goose StatementBegin\n", 1, 3, "inside the block opened at line 1"},
		{"unterminated statement before StatementBegin", "SELECT 1\n-- +goose StatementBegin\nSELECT 2;\n-- +goose StatementEnd", 1, 1, "no terminating ';' before the -- +goose StatementBegin at line 2"},
		{"quote swallowing StatementEnd", "-- +goose StatementBegin\nSELECT 'x;\n-- +goose StatementEnd\n", 1, 2, "unterminated string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Split(tt.sql, tt.firstLine)
			if err == nil {
				t.Fatalf("Split = %#v, want an error", got)
			}
			var se *SplitError
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not a *SplitError", err, err)
			}
			if se.Line != tt.wantLine || !strings.Contains(se.Msg, tt.wantMsg) {
				t.Errorf("error = line %d %q, want line %d containing %q", se.Line, se.Msg, tt.wantLine, tt.wantMsg)
			}
			if want := "line " + strconv.Itoa(tt.wantLine) + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), want)
			}
		})
	}
}
