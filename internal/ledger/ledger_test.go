package ledger

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
)

func TestMigrateShapeProblem(t *testing.T) {
	tests := []struct {
		name, columns string
		ok            bool
	}{
		{"golang-migrate's", "version bigint, dirty boolean", true},
		{"integer version", "version integer, dirty boolean", true},
		{"columns reordered", "dirty boolean, version bigint", true},
		{"rails", "version character varying", false},
		{"text version", "version text, dirty boolean", false},
		{"extra column", "version bigint, dirty boolean, applied_at timestamp with time zone", false},
		{"no columns", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := migrateShapeProblem(tt.columns)
			if (p == "") != tt.ok {
				t.Fatalf("migrateShapeProblem(%q) = %q, want ok=%v", tt.columns, p, tt.ok)
			}
			if !tt.ok && !strings.Contains(p, "unexpected shape") {
				t.Errorf("problem %q does not say what is wrong", p)
			}
		})
	}
}

func TestManager(t *testing.T) {
	tests := []struct {
		name string
		st   State
		want Manager
	}{
		{"goose table", State{Presence: Presence{Version: true, Migrate: true, Objects: true}}, ManagedByTool},
		{"golang-migrate", State{Presence: Presence{Migrate: true, Objects: true}, MigrateRow: &MigrateVersion{Version: 2}}, ManagedByGolangMigrate},
		{"golang-migrate, empty table", State{Presence: Presence{Migrate: true}}, ManagedByGolangMigrate},
		{"tables only", State{Presence: Presence{Objects: true}}, ManagedByHand},
		{"empty", State{}, Unmanaged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.st.Manager(); got != tt.want {
				t.Errorf("Manager() = %q, want %q", got, tt.want)
			}
		})
	}
}

// testDB creates a uniquely named database and returns a database/sql
// handle on it; the database is dropped when the test ends. A missing
// server fails under CI=true and skips elsewhere.
func testDB(t *testing.T) *sql.DB {
	t.Helper()
	s := pgtest.Shared(t)
	cfg, err := pgx.ParseConfig(s.DSNFor(s.NewDatabase(t, "ledger_test")))
	if err != nil {
		t.Fatal(err)
	}
	// As the runner's sessions: one round trip per statement, several
	// statements per query.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestReadSchemas: one database, one schema per way of being managed; the
// batched read and the single read agree on each, and recognise who
// manages it.
func TestReadSchemas(t *testing.T) {
	db := testDB(t)
	store, err := NewStore()
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, `CREATE SCHEMA tool; CREATE SCHEMA gm; CREATE SCHEMA dirty; CREATE SCHEMA rails; CREATE SCHEMA hand; CREATE SCHEMA empty;
CREATE TABLE gm.users (id int); CREATE TABLE gm.`+MigrateTable+` (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
INSERT INTO gm.`+MigrateTable+` VALUES (2, false);
CREATE TABLE dirty.`+MigrateTable+` (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
INSERT INTO dirty.`+MigrateTable+` VALUES (3, true);
CREATE TABLE rails.users (id int); CREATE TABLE rails.`+MigrateTable+` (version varchar PRIMARY KEY);
CREATE TABLE hand.users (id int)`)
	// The tool's schema: goose's table through goose's store, then a write
	// of versions 1 and 2 with the checksum record, kept in step with a
	// schema_migrations of its own.
	mustExec(t, db, `SET search_path TO tool; CREATE TABLE tool.`+MigrateTable+` (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)`)
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	created, err := EnsureVersionTable(t.Context(), store, tx, Have{})
	if err != nil || !created {
		t.Fatalf("EnsureVersionTable: %v, %v", created, err)
	}
	w := Write{ZeroRow: true, Have: Have{Version: true, SyncMigrate: true},
		Entries: []Entry{{Version: 1, Name: "001_a", UpSHA256: strings.Repeat("a", 64)}, {Version: 2, Name: "002_b", UpSHA256: strings.Repeat("b", 64)}}}
	if err := Record(t.Context(), tx, w); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	all := []string{"tool", "gm", "dirty", "rails", "hand", "empty", "missing"}
	states, err := ReadSchemas(t.Context(), db, all)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := states["missing"]; ok {
		t.Errorf("a schema that does not exist was read")
	}
	want := map[string]Manager{"tool": ManagedByTool, "gm": ManagedByGolangMigrate, "dirty": ManagedByGolangMigrate,
		"rails": ManagedByGolangMigrate, "hand": ManagedByHand, "empty": Unmanaged}
	for schema, m := range want {
		st := states[schema]
		if st.Manager() != m {
			t.Errorf("%s: Manager() = %q, want %q", schema, st.Manager(), m)
		}
		mustExec(t, db, "SET search_path TO "+schema)
		single, err := Read(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		if single.Manager() != m || single.Current != st.Current || single.MigrateClaim() != st.MigrateClaim() || single.MigrateProblem() != st.MigrateProblem() {
			t.Errorf("%s: Read %+v, ReadSchemas %+v", schema, single, st)
		}
	}
	if st := states["tool"]; st.Current != 2 || len(st.Applied) != 2 || !st.Applied[1].HasChecksum || st.MigrateClaim() != 2 || st.MigrateRow.Dirty {
		t.Errorf("tool: %+v (migrate %+v)", st, st.MigrateRow)
	}
	if st := states["gm"]; st.MigrateClaim() != 2 || st.MigrateProblem() != "" {
		t.Errorf("gm: %+v", st)
	}
	if st := states["dirty"]; st.MigrateRow == nil || !st.MigrateRow.Dirty || st.MigrateClaim() != 3 {
		t.Errorf("dirty: %+v", st)
	}
	if p := states["rails"].MigrateProblem(); !strings.Contains(p, "version character varying") {
		t.Errorf("rails: problem %q", p)
	}

	// A down to 1 keeps schema_migrations in step; a down to 0 empties it,
	// golang-migrate's "no migration".
	mustExec(t, db, "SET search_path TO tool")
	for _, tc := range []struct {
		version int64
		want    string
	}{{2, "1/false"}, {1, ""}} {
		if err := Record(t.Context(), db, Write{Down: true, Entries: []Entry{{Version: tc.version}}, Have: Have{Version: true, Checksums: true, SyncMigrate: true}}); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := db.QueryRowContext(t.Context(), "SELECT coalesce(string_agg(version::text || '/' || dirty::text, ','), '') FROM "+MigrateTable).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("after removing %d: %s holds %q, want %q", tc.version, MigrateTable, got, tc.want)
		}
	}
}
