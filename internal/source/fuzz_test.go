package source

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func FuzzSplit(f *testing.F) {
	for _, seed := range []string{
		"",
		"SELECT 1;\nSELECT 2",
		"CREATE TABLE a (id int);;\n\n  INSERT INTO a VALUES (1)  ;",
		"SELECT 'a;b', E'c\\'d;', \"e;f\" FROM t;",
		"DO $$ BEGIN PERFORM 1; END $$; SELECT $1, a$b$c;",
		"CREATE FUNCTION f() RETURNS text AS $fn$ SELECT $$;$$ $fn$ LANGUAGE sql;",
		"/* a /* b; */ c; */ SELECT 1; -- tail;\nSELECT 2;",
		plpgsqlBlock,
		"-- +goose StatementBegin\nSELECT 1;\n",
		"-- +goose StatementEnd\n",
		"SELECT 'unterminated",
		"SELECT $x$ unterminated",
		"/* /* */",
		"a\r\nb;\r\n\t;\f\vc",
		"x-;-y/;*z",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := Split(src, 1)
		if err != nil {
			var se *SplitError
			if !errors.As(err, &se) || se.Line < 1 || se.Msg == "" {
				t.Fatalf("Split error = %#v, want a *SplitError with a line and a message", err)
			}
			return
		}
		maxLine := 1 + strings.Count(src, "\n")
		prev := 1
		for _, s := range stmts {
			if s.SQL == "" || trimSpace(s.SQL) != s.SQL {
				t.Fatalf("statement %q is empty or untrimmed", s.SQL)
			}
			if s.Line < prev || s.Line > maxLine {
				t.Fatalf("statement %q at line %d, want between %d and %d", s.SQL, s.Line, prev, maxLine)
			}
			prev = s.Line
		}

		// Without quotes, comments or dollar signs, statements joined with
		// ";\n" split back into the same statements.
		if strings.ContainsAny(src, `'"$`) || strings.Contains(src, "--") || strings.Contains(src, "/*") {
			return
		}
		sqls := make([]string, len(stmts))
		for i, s := range stmts {
			sqls[i] = s.SQL
		}
		again, err := Split(strings.Join(sqls, ";\n"), 1)
		if err != nil {
			t.Fatalf("re-split: %v", err)
		}
		resqls := make([]string, len(again))
		for i, s := range again {
			resqls[i] = s.SQL
		}
		if !slices.Equal(sqls, resqls) {
			t.Fatalf("re-split =\n%q\nwant\n%q", resqls, sqls)
		}
	})
}

func FuzzLoadGoose(f *testing.F) {
	for _, seed := range []string{
		"",
		"-- +goose Up\nSELECT 1;\n",
		"-- +goose Up\nCREATE TABLE a (id int);\n-- +goose Down\nDROP TABLE a;\n",
		"-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY i ON a (id);\n-- +goose Down\nDROP INDEX i;",
		"-- +goose NO TRANSACTION\n-- +goose Up\nSELECT 1;\n",
		gooseTrigger,
		"-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n",
		"-- +goose Up\n-- +goose ENVSUB ON\nSELECT 1;\n",
		"-- +goose Down\nSELECT 1;\n-- +goose Up\n",
		"SELECT 1;\n-- +goose Up\nSELECT 'x",
		"-- +goose Up\n-- +goose Up\n-- +goose Down\n-- +goose Down\n",
		"-- +goose Up",
		"\r\n-- +goose Up\r\nSELECT 1;\r\n-- +goose Down\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, content string) {
		const file = "001_fuzz.sql"
		set, err := Load(fstest.MapFS{file: {Data: []byte(content)}}, ".")
		if err != nil {
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("Load error = %T %v, want *Error", err, err)
			}
			if set != nil || len(le.Problems) == 0 {
				t.Fatalf("Load = %v, %d problems; want nil and at least one problem", set, len(le.Problems))
			}
			maxLine := 2 + strings.Count(content, "\n")
			for _, p := range le.Problems {
				if p.Message == "" || p.File != file || p.Line < 0 || p.Line > maxLine {
					t.Fatalf("bad problem %#v", p)
				}
			}
			_ = err.Error()
			return
		}
		if set.Layout != LayoutGoose || len(set.Migrations) != 1 {
			t.Fatalf("Load = %s layout with %d migrations, want one goose migration", set.Layout, len(set.Migrations))
		}
		m := set.Migrations[0]
		if m.UpSHA256 != sum(m.Up) || (m.HasDown && m.DownSHA256 != sum(m.Down)) {
			t.Fatal("checksums do not match the texts")
		}
		if !strings.Contains(content, m.Up) || !strings.Contains(content, m.Down) {
			t.Fatal("sections are not text of the file")
		}
		if up, err := m.UpStatements(); err != nil || len(up) == 0 {
			t.Fatalf("UpStatements = %v, %v after a successful Load", up, err)
		}
		if _, err := m.DownStatements(); err != nil {
			t.Fatalf("DownStatements: %v after a successful Load", err)
		}
		if m.NoTx && !m.HasDown {
			t.Fatal("a NO TRANSACTION migration without a down was accepted")
		}
	})
}
