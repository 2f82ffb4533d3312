package source

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func TestFindTxControl(t *testing.T) {
	cases := []struct {
		name    string
		sql     string
		found   []string // keyword@line
		wrapped bool
	}{
		{"none", "CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n", nil, false},
		{"wrapper", "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n", []string{"BEGIN@1", "COMMIT@3"}, true},
		{"wrapper words", "-- c\nbegin transaction;\nCREATE TABLE a (id int);\nend work;\n", []string{"BEGIN@2", "END@4"}, true},
		{"start transaction", "START TRANSACTION;\nSELECT 1;\nCOMMIT;", []string{"START@1", "COMMIT@3"}, true},
		{"stray commit", "CREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);\n", []string{"COMMIT@2"}, false},
		{"isolation level is not a plain wrapper", "BEGIN ISOLATION LEVEL SERIALIZABLE;\nSELECT 1;\nCOMMIT;", []string{"BEGIN@1", "COMMIT@3"}, false},
		{"savepoint", "BEGIN;\nSAVEPOINT s;\nSELECT 1;\nRELEASE s;\nCOMMIT;", []string{"BEGIN@1", "SAVEPOINT@2", "RELEASE@4", "COMMIT@5"}, false},
		{"in a block", "-- +goose StatementBegin\nSELECT 1; COMMIT;\n-- +goose StatementEnd\n", []string{"COMMIT@2"}, false},
		{"function bodies are not seen", "CREATE FUNCTION f() RETURNS void AS $$ BEGIN COMMIT; END $$ LANGUAGE plpgsql;\nDO $$BEGIN ROLLBACK; END$$;", nil, false},
		{"strings and comments", "SELECT 'COMMIT';\n/* COMMIT; */ SELECT \"commit\";\n-- COMMIT;\n", nil, false},
		{"only a wrapper", "BEGIN;\nCOMMIT;\n", []string{"BEGIN@1", "COMMIT@2"}, false},
		{"prepare transaction", "SELECT 1;\nPREPARE TRANSACTION 'x';", []string{"PREPARE@2"}, false},
		{"rollback", "SELECT 1;\nROLLBACK;\n", []string{"ROLLBACK@2"}, false},
		{"start is not always a transaction", "SELECT 1;\n", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			scan, err := FindTxControl(c.sql, 1)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range scan.Found {
				got = append(got, f.Keyword+"@"+strconv.Itoa(f.Line))
			}
			if strings.Join(got, ",") != strings.Join(c.found, ",") {
				t.Errorf("found %v, want %v", got, c.found)
			}
			if scan.Wrapped != c.wrapped {
				t.Errorf("wrapped = %v, want %v", scan.Wrapped, c.wrapped)
			}
		})
	}
}

func TestLoadDropsWrapperKeepsChecksum(t *testing.T) {
	up := "BEGIN;\nALTER TABLE users ADD COLUMN x int;\nUPDATE users SET x = 1;\nCOMMIT;\n"
	fsys := fstest.MapFS{
		"005_x.up.sql":   {Data: []byte(up)},
		"005_x.down.sql": {Data: []byte("BEGIN;\nALTER TABLE users DROP COLUMN x;\nCOMMIT;\n")},
	}
	set, err := Load(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	m := set.Migrations[0]
	if !m.UpWrapped || !m.DownWrapped {
		t.Fatalf("wrapped = %v/%v, want both", m.UpWrapped, m.DownWrapped)
	}
	if m.Up != up || m.UpSHA256 != sha256Hex(up) {
		t.Error("the up text and checksum must be the file as written")
	}
	stmts, _ := m.UpStatements()
	if len(stmts) != 2 || stmts[0].Line != 2 || !strings.HasPrefix(stmts[1].SQL, "UPDATE") {
		t.Errorf("statements = %+v, want the two body statements from line 2", stmts)
	}
	down, _ := m.DownStatements()
	if len(down) != 1 {
		t.Errorf("down statements = %+v", down)
	}
}

func TestLoadRefusesStrayTransactionControl(t *testing.T) {
	fsys := fstest.MapFS{
		"001_a.sql": {Data: []byte("-- +goose Up\nCREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);\n-- +goose Down\nDROP TABLE b;\nDROP TABLE a;\n")},
		"002_b.sql": {Data: []byte("-- +goose NO TRANSACTION\n-- +goose Up\nBEGIN;\nCREATE INDEX CONCURRENTLY i ON a (id);\nCOMMIT;\n-- +goose Down\nDROP INDEX CONCURRENTLY i;\n")},
		"003_c.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\nROLLBACK;\n")},
	}
	_, err := Load(fsys, ".")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *Error", err)
	}
	want := []string{"001_a.sql:3: transaction control (COMMIT) in the up section", "002_b.sql:3: the up section is marked NO TRANSACTION but wrapped",
		"003_c.sql:5: transaction control (ROLLBACK) in the down section"}
	if len(e.Problems) != len(want) {
		t.Fatalf("problems = %v", e.Problems)
	}
	for i, w := range want {
		if got := (&Error{Problems: e.Problems[i : i+1]}).Error(); !strings.HasPrefix(got, w) {
			t.Errorf("problem %d = %q, want prefix %q", i, got, w)
		}
	}
}
