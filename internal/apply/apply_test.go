package apply

import (
	"errors"
	"testing"

	"github.com/orchestrator-dev/orchestrator/internal/source"
)

func TestLineOf(t *testing.T) {
	text := "-- comment\nCREATE TABLE é (\n  id int,\n  bad syntax\n);"
	cases := []struct {
		pos, first, want int
	}{
		{1, 1, 1},
		{12, 1, 2},   // "CREATE"
		{41, 1, 4},   // "bad syntax": positions count characters, and é is one
		{12, 10, 11}, // the section starts at line 10 of its file
	}
	for _, tc := range cases {
		if got := lineOf(text, tc.pos, tc.first); got != tc.want {
			t.Errorf("lineOf(pos %d, first %d) = %d, want %d", tc.pos, tc.first, got, tc.want)
		}
	}
}

// TestFileLine: a position in a statement that ran on its own is counted
// from that statement's line, not from the section's first line; without
// a statement it is in the whole section.
func TestFileLine(t *testing.T) {
	m := &source.Migration{Name: "001_two",
		Up:     "CREATE TABLE a (id int);\n\nCREATE INDEX CONCURRENTLY i\n    ON missing (id);",
		UpLine: 3, Down: "DROP TABLE a;\nDROP TABLE b;", DownLine: 9}
	second := "CREATE INDEX CONCURRENTLY i\n    ON missing (id);"
	cases := []struct {
		name string
		err  MigrationError
		pos  int
		want int
	}{
		{"second statement, its first line", MigrationError{Migration: m, Line: 5, Stmt: second, Index: 2, Total: 2}, 1, 5},
		{"second statement, its second line", MigrationError{Migration: m, Line: 5, Stmt: second, Index: 2, Total: 2}, 33, 6},
		{"transactional statement", MigrationError{Migration: m, Line: 5, Stmt: second}, 33, 6},
		{"whole up section", MigrationError{Migration: m}, 33, 5},
		{"whole down section", MigrationError{Migration: m, Down: true}, 15, 10},
	}
	for _, tc := range cases {
		if got := tc.err.FileLine(tc.pos); got != tc.want {
			t.Errorf("%s: FileLine(%d) = %d, want %d", tc.name, tc.pos, got, tc.want)
		}
	}
}

// TestMigrationErrorWhere: a NO TRANSACTION failure names its statement in
// the message; others do not.
func TestMigrationErrorWhere(t *testing.T) {
	m := &source.Migration{Name: "001_two"}
	noTx := &MigrationError{Migration: m, Line: 5, Index: 2, Total: 2, Err: errors.New("boom")}
	if got, want := noTx.Error(), "migration 001_two (up): statement 2 of 2 (line 5): boom"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	inTx := &MigrationError{Migration: m, Down: true, Line: 5, Err: errors.New("boom")}
	if got, want := inTx.Error(), "migration 001_two (down): boom"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestBatchesShared: without sharing every item stands alone; with it,
// only NO TRANSACTION items break a run of transactional ones.
func TestBatchesShared(t *testing.T) {
	noTx := func(v int) bool { return v < 0 }
	if got := Batches([]int{1, 2, -3, 4, 5}, noTx, true); len(got) != 3 || len(got[0]) != 2 || len(got[2]) != 2 {
		t.Errorf("shared: %v", got)
	}
	if got := Batches([]int{1, 2, -3}, noTx, false); len(got) != 3 {
		t.Errorf("not shared: %v", got)
	}
}
