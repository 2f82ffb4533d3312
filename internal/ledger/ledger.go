// Package ledger owns every bookkeeping table the tool reads or writes on a
// target: goose's version table (goose_db_version), the tool's checksum
// record (orchestrator_migrations) and golang-migrate's schema_migrations
// (version, dirty). Their names, their DDL, the checks for whether they
// exist, the reads (one target, or many schemas of one database in a bounded
// number of queries), the writes, and the recognition of who manages a
// target (this tool or goose, golang-migrate, a person with psql, nobody)
// all live here; the runner, plan, status, drift and adoption call it, and
// no other package names these tables.
//
// Everything here works on the schema a session resolves unqualified names
// in (its current_schema()), or on schemas named explicitly; identifiers are
// always quoted.
package ledger

import (
	"fmt"

	"github.com/pressly/goose/v3/database"
)

// VersionTable is goose's version table: sharing it means `goose status`
// on a target agrees with the tool, and a fleet already migrated by goose
// needs no baseline step.
const VersionTable = "goose_db_version"

// ChecksumTable is the companion record of what each applied migration's
// text was, so drift can tell a file edited after it was applied. goose's
// table has no room for it, and adding columns to goose's table would break
// goose's own expectations of it.
const ChecksumTable = "orchestrator_migrations"

// MigrateTable is golang-migrate's table: one row (version, dirty) saying
// which version its CLI last reached and whether that migration failed
// halfway.
const MigrateTable = "schema_migrations"

// Tables lists every bookkeeping table. None is part of the schema a
// migration set describes: drift leaves them out of a target's catalog.
func Tables() []string { return []string{VersionTable, ChecksumTable, MigrateTable} }

// quotedList is Tables as a SQL list of literals.
func quotedList() string {
	s := ""
	for i, t := range Tables() {
		if i > 0 {
			s += ", "
		}
		s += "'" + t + "'"
	}
	return s
}

// TablesSQLList is Tables as a parenthesised list of SQL string literals,
// for `relname NOT IN TablesSQLList()`.
func TablesSQLList() string { return "(" + quotedList() + ")" }

// The column types are bounded so that rows can never need TOAST: the
// server then creates no TOAST table and index beside it, which is most of
// the cost of creating the table on every new tenant.
const createChecksumTable = `CREATE TABLE IF NOT EXISTS ` + ChecksumTable + ` (
	version_id  bigint PRIMARY KEY,
	name        varchar(255) NOT NULL,
	up_sha256   char(64) NOT NULL,
	down_sha256 varchar(64) NOT NULL,
	applied_at  timestamptz NOT NULL DEFAULT now(),
	applied_by  varchar(63) NOT NULL DEFAULT current_setting('application_name')
)`

// NewStore returns goose's PostgreSQL store for the version table.
func NewStore() (database.StoreExtender, error) {
	st, err := database.NewStore(database.DialectPostgres, VersionTable)
	if err != nil {
		return nil, err
	}
	ext, ok := st.(database.StoreExtender)
	if !ok {
		return nil, fmt.Errorf("goose store %T cannot check whether its table exists", st)
	}
	return ext, nil
}
