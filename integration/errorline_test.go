package integration

import (
	"strings"
	"testing"
)

// TestUpErrorLineSecondStatement: a migration failing in its second
// statement is reported at that statement's line in the file (a missing
// table: the server gives no position), or at the line of the error
// inside it (a syntax error: the server's position counts from the
// statement's start), for a NO TRANSACTION file, whose message also says
// which statement of how many failed, and for a transactional one.
func TestUpErrorLineSecondStatement(t *testing.T) {
	cases := []struct {
		name string
		m    gooseMigration
		// line: the file line reported. The file starts with the NO
		// TRANSACTION annotation when noTx, then "-- +goose Up".
		line    int
		message string // the report's error.message must contain it
	}{
		{
			name: "NO TRANSACTION, missing table",
			m: gooseMigration{file: "001_two.sql", noTx: true,
				up:   "CREATE TABLE nt_a (id int);\n\nCREATE INDEX CONCURRENTLY nt_idx\n    ON nt_missing (id);",
				down: "DROP TABLE IF EXISTS nt_a;"},
			line:    5,
			message: "statement 2 of 2 (line 5): relation \"nt_missing\" does not exist",
		},
		{
			name: "NO TRANSACTION, syntax error",
			m: gooseMigration{file: "001_two.sql", noTx: true,
				up:   "CREATE TABLE nt_a (id int);\nCREATE TABLE nt_b (\n    id int,\n    v textt tt\n);",
				down: "DROP TABLE IF EXISTS nt_b;\nDROP TABLE IF EXISTS nt_a;"},
			line:    6,
			message: "statement 2 of 2 (line 4): syntax error",
		},
		{
			name: "transactional, missing table",
			m: gooseMigration{file: "001_two.sql",
				up:   "CREATE TABLE tx_a (id int);\n\nCREATE INDEX tx_idx\n    ON tx_missing (id);",
				down: "DROP TABLE IF EXISTS tx_a;"},
			line:    4,
			message: "tx_missing",
		},
		{
			name: "transactional, syntax error",
			m: gooseMigration{file: "001_two.sql",
				up:   "CREATE TABLE tx_a (id int);\nCREATE TABLE tx_b (\n    id int,\n    v textt tt\n);",
				down: "DROP TABLE IF EXISTS tx_b;\nDROP TABLE IF EXISTS tx_a;"},
			line:    5,
			message: "syntax error",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dbs := newDatabases(t, 1)
			dir := migrationDir(t, tc.m)
			res := runCLI(t, nil, "up", "--dsn", dsnFor(t, dbs[0], ""), "--migrations", dir, "--format", "json")
			if res.code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
			}
			tr := parseReport(t, res.stdout).Targets[0]
			if tr.Error == nil {
				t.Fatalf("target has no error: %+v", tr)
			}
			if tr.Error.Line != tc.line {
				t.Errorf("error.line %d, want %d: %+v", tr.Error.Line, tc.line, tr.Error)
			}
			if !strings.Contains(tr.Error.Message, tc.message) {
				t.Errorf("error.message %q does not contain %q", tr.Error.Message, tc.message)
			}
		})
	}
}
