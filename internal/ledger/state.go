package ledger

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3/database"
)

// Applied is one version applied on a target, as goose_db_version and
// orchestrator_migrations record it.
type Applied struct {
	Version int64 `json:"version"`
	// UpSHA256 and DownSHA256 are the hex SHA-256 checksums of the up and
	// down sections when the version was applied; meaningful only when
	// HasChecksum is true.
	UpSHA256   string `json:"up_sha256,omitempty"`
	DownSHA256 string `json:"down_sha256,omitempty"`
	// HasChecksum reports that orchestrator_migrations has a row for the
	// version. Versions applied by goose itself, or before the tool
	// recorded checksums, have none and cannot be checked.
	HasChecksum bool `json:"has_checksum"`
}

// MigrateVersion is golang-migrate's row in schema_migrations.
type MigrateVersion struct {
	Version int64
	Dirty   bool // the migration to Version failed halfway
}

// State is everything a target's bookkeeping tables say.
type State struct {
	Presence
	// Applied lists the versions goose_db_version says are applied, by
	// version, goose's marker row 0 left out. As in goose, the newest row of
	// a version says whether it is applied.
	Applied []Applied
	Current int64 // highest applied version, 0 when none
	// MigrateRow is golang-migrate's row; nil when the table is absent, empty
	// (golang-migrate's "no migration") or not golang-migrate's.
	MigrateRow  *MigrateVersion
	MigrateRows int // rows in schema_migrations
}

// Manager names who manages a target's versions.
type Manager string

// Who manages a target.
const (
	// ManagedByTool: goose_db_version exists; this tool or goose keeps it.
	ManagedByTool Manager = "orchestrator"
	// ManagedByGolangMigrate: only golang-migrate's schema_migrations.
	ManagedByGolangMigrate Manager = "golang-migrate"
	// ManagedByHand: no version table, but tables: applied with psql -f, or
	// by a tool that keeps no record.
	ManagedByHand Manager = "manual"
	// Unmanaged: an empty schema, never migrated.
	Unmanaged Manager = ""
)

// Manager says who manages the target.
func (s State) Manager() Manager {
	switch {
	case s.Version:
		return ManagedByTool
	case s.Migrate:
		return ManagedByGolangMigrate
	case s.Objects:
		return ManagedByHand
	}
	return Unmanaged
}

// MigrateProblem says why schema_migrations cannot be trusted ("" when it
// can, or is absent): a shape that is not golang-migrate's, or more than
// the one row golang-migrate keeps.
func (s State) MigrateProblem() string {
	if !s.Migrate {
		return ""
	}
	if p := migrateShapeProblem(s.MigrateColumns); p != "" {
		return p
	}
	if s.MigrateRows > 1 {
		return fmt.Sprintf("%s holds %d rows; golang-migrate keeps exactly one", MigrateTable, s.MigrateRows)
	}
	return ""
}

// MigrateClaim is the version golang-migrate's table claims: 0 for an empty
// table (golang-migrate's "no migration").
func (s State) MigrateClaim() int64 {
	if s.MigrateRow == nil {
		return 0
	}
	return s.MigrateRow.Version
}

// Read reads the bookkeeping state of the session's current schema: one
// query for what exists, one for the rows (none when no table exists).
func Read(ctx context.Context, db database.DBTxConn) (State, error) {
	dest, done := PresenceDest()
	if err := db.QueryRowContext(ctx, "SELECT "+PresenceExprs).Scan(dest...); err != nil {
		return State{}, fmt.Errorf("read version table: %w", err)
	}
	return ReadRows(ctx, db, done())
}

// ReadRows reads the rows of the tables p says exist, in one query.
func ReadRows(ctx context.Context, db database.DBTxConn, p Presence) (State, error) {
	states := map[string]*State{p.Schema: {Presence: p}}
	q, args := rowsQuery([]Presence{p})
	if q == "" {
		return *states[p.Schema], nil
	}
	if err := foldRows(ctx, db, q, args, states); err != nil {
		return State{Presence: p}, fmt.Errorf("read version table: %w", err)
	}
	return *states[p.Schema], nil
}

// BatchSize bounds how many schemas one query of ReadSchemas reads.
const BatchSize = 250

// ReadSchemas reads the bookkeeping state of many schemas of one database:
// one query says what each has, then one query per BatchSize schemas with
// tables reads their rows. Schemas that do not exist are absent from the
// result.
func ReadSchemas(ctx context.Context, db database.DBTxConn, schemas []string) (map[string]State, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+presenceExprs("s.name")+`
FROM unnest($1::text[]) AS s(name)
WHERE to_regnamespace(quote_ident(s.name)) IS NOT NULL`, schemas)
	if err != nil {
		return nil, err
	}
	states := map[string]*State{}
	var withTables []Presence
	for rows.Next() {
		dest, done := PresenceDest()
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, err
		}
		p := done()
		states[p.Schema] = &State{Presence: p}
		if p.Version || p.Migrate {
			withTables = append(withTables, p)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for start := 0; start < len(withTables); start += BatchSize {
		q, args := rowsQuery(withTables[start:min(start+BatchSize, len(withTables))])
		if err := foldRows(ctx, db, q, args, states); err != nil {
			return nil, err
		}
	}
	out := make(map[string]State, len(states))
	for k, v := range states {
		out[k] = *v
	}
	return out, nil
}

// rowsQuery reads the goose rows (with their checksums) and golang-migrate's
// row of each schema, tagged with the schema's name, newest goose row first
// per version. "" when no schema has a table.
func rowsQuery(ps []Presence) (string, []any) {
	var parts []string
	var args []any
	for _, p := range ps {
		qual := func(table string) string { return pgx.Identifier{p.Schema, table}.Sanitize() }
		if !p.Version && (!p.Migrate || migrateShapeProblem(p.MigrateColumns) != "") {
			continue
		}
		args = append(args, p.Schema)
		tag := fmt.Sprintf("$%d::text", len(args))
		if p.Version {
			sums, join := `'', '', false`, ""
			if p.Checksums {
				sums = `coalesce(m.up_sha256, ''), coalesce(m.down_sha256, ''), m.version_id IS NOT NULL`
				join = " LEFT JOIN " + qual(ChecksumTable) + " m ON m.version_id = v.version_id"
			}
			parts = append(parts, "SELECT "+tag+", 'g', v.id, v.version_id, v.is_applied, "+sums+
				" FROM "+qual(VersionTable)+" v"+join)
		}
		if p.Migrate && migrateShapeProblem(p.MigrateColumns) == "" {
			parts = append(parts, "SELECT "+tag+", 'm', 0, version::bigint, dirty, '', '', false FROM "+qual(MigrateTable))
		}
	}
	if len(parts) == 0 {
		return "", nil
	}
	return strings.Join(parts, "\nUNION ALL ") + "\nORDER BY 1, 2, 3 DESC", args
}

// foldRows runs a rowsQuery and folds its rows into states.
func foldRows(ctx context.Context, db database.DBTxConn, q string, args []any, states map[string]*State) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	seen := map[string]map[int64]bool{}
	for rows.Next() {
		var schema, kind string
		var id, version int64
		var flag bool
		var a Applied
		if err := rows.Scan(&schema, &kind, &id, &version, &flag, &a.UpSHA256, &a.DownSHA256, &a.HasChecksum); err != nil {
			return err
		}
		st := states[schema]
		if kind == "m" {
			st.MigrateRows++
			if st.MigrateRow == nil {
				st.MigrateRow = &MigrateVersion{Version: version, Dirty: flag}
			}
			continue
		}
		if seen[schema] == nil {
			seen[schema] = map[int64]bool{}
		}
		if seen[schema][version] {
			continue
		}
		seen[schema][version] = true
		if flag && version != 0 {
			a.Version = version
			st.Applied = append(st.Applied, a)
			st.Current = max(st.Current, version)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, st := range states {
		slices.SortFunc(st.Applied, func(a, b Applied) int { return int(a.Version - b.Version) })
		if st.MigrateRows > 1 {
			st.MigrateRow = nil // which row golang-migrate would read is unknown
		}
	}
	return nil
}
