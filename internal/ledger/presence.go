package ledger

import (
	"database/sql"
	"fmt"
	"strings"
)

// Presence says which bookkeeping tables a schema has, and whether it holds
// other tables.
type Presence struct {
	Schema    string // the schema inspected
	Version   bool   // goose_db_version exists
	Checksums bool   // orchestrator_migrations exists
	Migrate   bool   // schema_migrations exists
	// MigrateColumns lists schema_migrations' columns ("version bigint,
	// dirty boolean"), when it exists.
	MigrateColumns string
	// Objects: tables other than the bookkeeping ones exist (someone, or
	// some tool, created the schema's objects).
	Objects bool
}

// presenceExprs are the SQL expressions, in PresenceDest's order, that say
// what Presence says about the schema whose name the SQL expression sch
// yields.
func presenceExprs(sch string) string {
	// The catalog is read directly rather than through to_regclass, whose
	// relation cache may not yet have seen a table that another session
	// committed a moment ago (the lock's previous holder, say). Whether the
	// schema holds other tables is asked of pg_depend (every relation
	// depends on its schema), through its index on the referenced object:
	// no index of pg_class leads with the namespace, so asking pg_class
	// would scan it whole once per schema, and a status over 10,000 tenant
	// schemas would grow with their square.
	return sch + ",\n\t" + HasTableSQL(sch, VersionTable) + ",\n\t" + HasTableSQL(sch, ChecksumTable) + ",\n\t" +
		`(SELECT string_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
		FROM pg_catalog.pg_attribute a WHERE a.attrelid = ` + tableOID(sch, MigrateTable) + ` AND a.attnum > 0 AND NOT a.attisdropped),
	EXISTS (SELECT 1 FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid
		WHERE d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND d.refobjid = ` + namespaceOID(sch) + `
		AND d.refobjsubid = 0 AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype = 'n'
		AND c.relkind IN ('r', 'p') AND c.relname NOT IN ` + TablesSQLList() + `)`
}

// namespaceOID is the SQL expression of the oid of the schema named by the
// SQL expression sch.
func namespaceOID(sch string) string {
	return "(SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = " + sch + ")"
}

// tableOID is the SQL expression of the oid of the bookkeeping table table
// in the schema named by the SQL expression sch; NULL when it is absent.
func tableOID(sch, table string) string {
	return "(SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relnamespace = " + namespaceOID(sch) + " AND c.relname = '" + table + "')"
}

// HasTableSQL is the SQL boolean expression, as Presence reads it, that the
// schema named by the SQL expression sch has the bookkeeping table table
// (VersionTable, ChecksumTable or MigrateTable): for a query that reads
// them beside other things.
func HasTableSQL(sch, table string) string { return tableOID(sch, table) + " IS NOT NULL" }

// PresenceExprs are the select-list expressions that read the Presence of
// the session's current schema; scan them into PresenceDest. A caller can
// put them beside other expressions of a query it must send anyway (the
// runner's lock query), which saves a round trip per target.
var PresenceExprs = presenceExprs("current_schema()")

// presenceScan collects the scanned values of PresenceExprs.
type presenceScan struct {
	p       Presence
	schema  sql.NullString
	columns sql.NullString
}

// PresenceDest returns the scan destinations for PresenceExprs and a
// function that returns the Presence once the row is scanned.
func PresenceDest() ([]any, func() Presence) {
	s := &presenceScan{}
	return []any{&s.schema, &s.p.Version, &s.p.Checksums, &s.columns, &s.p.Objects}, s.done
}

func (s *presenceScan) done() Presence {
	p := s.p
	p.Schema = s.schema.String
	p.MigrateColumns = s.columns.String
	p.Migrate = s.columns.Valid
	return p
}

// migrateShapeProblem says what is wrong with schema_migrations' columns,
// "" when they are golang-migrate's (version bigint, dirty boolean).
func migrateShapeProblem(columns string) string {
	have := map[string]string{}
	for _, c := range strings.Split(columns, ", ") {
		name, typ, _ := strings.Cut(c, " ")
		have[name] = typ
	}
	okVersion := have["version"] == "bigint" || have["version"] == "integer"
	if len(have) != 2 || !okVersion || have["dirty"] != "boolean" {
		return fmt.Sprintf("%s has an unexpected shape (columns: %s; golang-migrate's has version bigint, dirty boolean): "+
			"it is not golang-migrate's table, or was changed by hand", MigrateTable, orNone(columns))
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
