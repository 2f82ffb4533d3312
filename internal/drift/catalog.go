package drift

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/ledger"
)

// ErrNoSchema reports that the schema to read does not exist.
var ErrNoSchema = errors.New("schema does not exist")

// catalogSQL reads the whole catalog of the schemas the SQL expression
// schemas (a text[]) names as one JSON document, with each schema's version
// history, so that a snapshot costs one round trip however many tables, and
// however many schemas, there are. Every list is flat, each row naming its
// schema (and table), which plans far cheaper than nested per-table
// subqueries (planning was most of the query's cost on a fresh session).
// The tool's own tables (and their indexes, constraints and sequences) are
// left out, and so are the objects an extension installed.
//
// A schema's relations, functions and types are found through pg_depend's
// index on the referenced object (each depends on its schema), not by
// their namespace column, which no catalog index leads with: so one
// query's cost follows the size of the schemas it reads, not of the whole
// database, and reading 10,000 tenants in batches stays linear. Indexes,
// constraints, triggers, columns and policies are reached from their
// table through their own indexes. Texts come back
// as the server renders them; decode normalises them.
//
// The version history is read by the same statement: query_to_xml runs the
// history query of each schema that has a version table (a table name
// cannot be a parameter), inside the statement's snapshot, so the history
// and the catalog are always of one moment.
//
// Without withHistory the history is not read (history is null): a
// snapshot alone needs no version table, nor one of the shape the runner
// writes.
func catalogSQL(schemas string, withHistory bool) string {
	var b strings.Builder
	b.WriteString(catalogCTEs(schemas))
	b.WriteString("SELECT json_build_object(\n\t'schemas', (SELECT json_agg(" + schemaObject(withHistory) + ") FROM ns)")
	for _, sec := range catalogSections() {
		fmt.Fprintf(&b, ",\n\t'%s', (SELECT json_agg(json_build_object(%s))\n\t\tFROM %s)", sec.key, sec.object, sec.from)
	}
	b.WriteString("\n)::text")
	return b.String()
}

// catalogRowsSQL is catalogSQL with history, as one row per schema that
// exists, (name, document), each document catalogSQL's for that schema
// alone: a batch's reply then arrives, and is decoded, a schema at a
// time, never as one message the size of the whole batch. Each list is
// aggregated per schema and joined to its schema by hash.
func catalogRowsSQL(schemas string) string {
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(catalogCTEs(schemas), "\n"))
	sections := catalogSections()
	for _, sec := range sections {
		fmt.Fprintf(&b, ",\nsec_%s AS (\n\tSELECT %s AS s, json_agg(json_build_object(%s)) AS j\n\tFROM %s\n\tGROUP BY 1\n)", sec.key, sec.schema, sec.object, sec.from)
	}
	b.WriteString("\nSELECT ns.name::text, json_build_object(\n\t'schemas', json_build_array(" + schemaObject(true) + ")")
	for _, sec := range sections {
		fmt.Fprintf(&b, ",\n\t'%s', sec_%s.j", sec.key, sec.key)
	}
	b.WriteString("\n)::text\nFROM ns")
	for _, sec := range sections {
		fmt.Fprintf(&b, "\nLEFT JOIN sec_%s ON sec_%s.s = ns.name", sec.key, sec.key)
	}
	return b.String()
}

// schemaObject is the JSON object of one schema of ns: its names, whether
// it has a version table and, with withHistory, its version history.
func schemaObject(withHistory bool) string {
	history := "NULL::text"
	if withHistory {
		history = `CASE WHEN ` + ledger.HasTableSQL("ns.name", ledger.VersionTable) + ` THEN (
				SELECT x.j FROM XMLTABLE('/table/row' PASSING pg_catalog.query_to_xml(pg_catalog.format(
					CASE WHEN ` + ledger.HasTableSQL("ns.name", ledger.ChecksumTable) + ` THEN ` + quoteLiteral(ledger.HistoryTemplate(true)) + ` ELSE ` + quoteLiteral(ledger.HistoryTemplate(false)) + ` END,
					ns.name), false, false, '') COLUMNS j text PATH 'j') x) END`
	}
	return `json_build_object(
			'name', ns.name,
			'qname', ns.qname,
			'initialized', ` + ledger.HasTableSQL("ns.name", ledger.VersionTable) + `,
			'history', ` + history + `)`
}

// catalogCTEs are the common table expressions every list reads from:
// ns, the schemas named by the SQL expression schemas that exist; member,
// the objects that depend on them; rel and tbl, their relations and
// tables.
func catalogCTEs(schemas string) string {
	return `WITH
ns AS MATERIALIZED (
	SELECT n.oid, n.nspname AS name, quote_ident(n.nspname) AS qname
	FROM unnest(` + schemas + `) AS s(name) JOIN pg_catalog.pg_namespace n ON n.nspname = s.name
),
member AS MATERIALIZED (
	SELECT d.classid, d.objid, ns.oid AS nsoid, ns.name, ns.qname
	FROM ns JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_namespace'::regclass
		AND d.refobjid = ns.oid AND d.refobjsubid = 0 AND d.deptype = 'n'
),
rel AS MATERIALIZED (
	SELECT c.oid, c.relname, c.relkind, c.relowner, c.relacl, c.relrowsecurity, c.relforcerowsecurity,
		c.relispartition, c.relpartbound, m.nsoid, m.name AS s, m.qname || '.' || quote_ident(c.relname) AS qualified
	FROM member m JOIN pg_catalog.pg_class c ON c.oid = m.objid AND c.relnamespace = m.nsoid
	WHERE m.classid = 'pg_catalog.pg_class'::regclass AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
		AND (c.relkind = 'S' OR c.relname NOT IN ` + ledger.TablesSQLList() + `)
),
tbl AS (
	SELECT * FROM rel WHERE relkind IN ('r', 'p')
)
`
}

// catalogSection is one list of the catalog document: its key, the
// expression naming each row's schema, the JSON object of a row, and the
// FROM clause (and WHERE) of the rows.
type catalogSection struct{ key, schema, object, from string }

// catalogSections are the lists of the catalog document but the schemas'.
func catalogSections() []catalogSection {
	return []catalogSection{
		{"tables", "t.s", `
			's', t.s,
			'name', t.relname,
			'kind', t.relkind,
			'qualified', t.qualified,
			'rls', t.relrowsecurity,
			'force_rls', t.relforcerowsecurity,
			'partition_of', CASE WHEN t.relispartition THEN (
				SELECT i.inhparent::pg_catalog.regclass::text FROM pg_catalog.pg_inherits i WHERE i.inhrelid = t.oid) END,
			'bound', CASE WHEN t.relispartition THEN pg_catalog.pg_get_expr(t.relpartbound, t.oid) END,
			'grants', ` + grantsSQL("t.relacl", "r", "t.relowner") + ``,
			`tbl t`},
		{"columns", "t.s", `
			's', t.s,
			'table', t.relname,
			'name', a.attname,
			'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
			'not_null', a.attnotnull,
			'default', pg_catalog.pg_get_expr(d.adbin, d.adrelid),
			'identity', a.attidentity,
			'generated', a.attgenerated,
			'collation', CASE WHEN a.attcollation <> ty.typcollation THEN a.attcollation::pg_catalog.regcollation::text END`,
			`tbl t
		JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
		JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
		LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum`},
		{"indexes", "t.s", `
			's', t.s,
			'table', t.relname,
			'name', ic.relname,
			'quoted', quote_ident(ic.relname),
			'definition', pg_catalog.pg_get_indexdef(i.indexrelid),
			'unique', i.indisunique,
			'valid', i.indisvalid,
			'constraint', con.conname`,
			`rel t
		JOIN pg_catalog.pg_index i ON i.indrelid = t.oid
		JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
		LEFT JOIN pg_catalog.pg_constraint con ON con.conrelid = t.oid AND con.conindid = i.indexrelid
			AND con.contype IN ('p', 'u', 'x')
		WHERE t.relkind IN ('r', 'p', 'm')`},
		{"constraints", "t.s", `
			's', t.s,
			'table', t.relname,
			'name', con.conname,
			'type', con.contype,
			'definition', pg_catalog.pg_get_constraintdef(con.oid),
			'on_update', con.confupdtype,
			'on_delete', con.confdeltype,
			'validated', con.convalidated`,
			`tbl t
		JOIN pg_catalog.pg_constraint con ON con.conrelid = t.oid AND con.contype IN ('p', 'u', 'c', 'f', 'x')`},
		{"sequences", "s.s", `
			's', s.s,
			'name', s.relname,
			'type', pg_catalog.format_type(q.seqtypid, NULL),
			'start', q.seqstart,
			'increment', q.seqincrement,
			'min', q.seqmin,
			'max', q.seqmax,
			'cache', q.seqcache,
			'cycle', q.seqcycle,
			'owner_table', oc.relname,
			'owner_column', oa.attname,
			'grants', ` + grantsSQL("s.relacl", "s", "s.relowner") + ``,
			`rel s
		JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
		LEFT JOIN pg_catalog.pg_depend dep ON dep.classid = 'pg_catalog.pg_class'::regclass
			AND dep.objid = s.oid AND dep.objsubid = 0
			AND dep.refclassid = 'pg_catalog.pg_class'::regclass AND dep.refobjsubid > 0
			AND dep.deptype IN ('a', 'i')
		LEFT JOIN pg_catalog.pg_class oc ON oc.oid = dep.refobjid
		LEFT JOIN pg_catalog.pg_attribute oa ON oa.attrelid = dep.refobjid AND oa.attnum = dep.refobjsubid
		WHERE s.relkind = 'S' AND (oc.relname IS NULL OR oc.relname NOT IN ` + ledger.TablesSQLList() + `)
			AND NOT ` + dependent("pg_class", "s.oid", "'e'") + ``},
		{"views", "v.s", `
			's', v.s,
			'name', v.relname,
			'kind', v.relkind,
			'definition', pg_catalog.pg_get_viewdef(v.oid),
			'grants', ` + grantsSQL("v.relacl", "r", "v.relowner") + ``,
			`rel v WHERE v.relkind IN ('v', 'm') AND NOT ` + dependent("pg_class", "v.oid", "'e'") + ``},
		{"functions", "m.name", `
			's', m.name,
			'name', p.proname,
			'args', pg_catalog.oidvectortypes(p.proargtypes),
			'kind', p.prokind,
			'body', p.prosrc,
			'definition', CASE WHEN p.prokind <> 'a' THEN pg_catalog.pg_get_functiondef(p.oid) END,
			'grants', ` + grantsSQL("p.proacl", "f", "p.proowner") + ``,
			`member m JOIN pg_catalog.pg_proc p ON p.oid = m.objid AND p.pronamespace = m.nsoid
		WHERE m.classid = 'pg_catalog.pg_proc'::regclass AND NOT ` + dependent("pg_proc", "p.oid", "'e', 'i'") + ``},
		{"triggers", "t.s", `
			's', t.s,
			'table', t.relname,
			'name', g.tgname,
			'definition', pg_catalog.pg_get_triggerdef(g.oid),
			'enabled', g.tgenabled`,
			`rel t JOIN pg_catalog.pg_trigger g ON g.tgrelid = t.oid
		WHERE NOT g.tgisinternal AND g.tgparentid = 0`},
		{"types", "m.name", `
			's', m.name,
			'name', ty.typname,
			'kind', ty.typtype,
			'labels', CASE WHEN ty.typtype = 'e' THEN (
				SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = ty.oid) END,
			'attributes', CASE WHEN ty.typtype = 'c' THEN (
				SELECT json_agg(quote_ident(a.attname) || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
				FROM pg_catalog.pg_attribute a WHERE a.attrelid = ty.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END,
			'base', CASE WHEN ty.typtype = 'd' THEN pg_catalog.format_type(ty.typbasetype, ty.typtypmod)
				WHEN ty.typtype = 'r' THEN (SELECT pg_catalog.format_type(r.rngsubtype, NULL) FROM pg_catalog.pg_range r WHERE r.rngtypid = ty.oid) END,
			'not_null', ty.typnotnull,
			'default', ty.typdefault,
			'constraints', CASE WHEN ty.typtype = 'd' THEN (
				SELECT json_object_agg(con.conname, pg_catalog.pg_get_constraintdef(con.oid))
				FROM pg_catalog.pg_constraint con WHERE con.contypid = ty.oid) END`,
			`member m JOIN pg_catalog.pg_type ty ON ty.oid = m.objid AND ty.typnamespace = m.nsoid
		WHERE m.classid = 'pg_catalog.pg_type'::regclass AND ty.typtype IN ('c', 'd', 'e', 'r')
			AND (ty.typtype <> 'c' OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = ty.typrelid) = 'c')
			AND NOT ` + dependent("pg_type", "ty.oid", "'e', 'i'") + ``},
		{"extensions", "ns.name", `'s', ns.name, 'name', x.extname, 'version', x.extversion`,
			`pg_catalog.pg_extension x JOIN ns ON x.extnamespace = ns.oid`},
		{"policies", "t.s", `
			's', t.s,
			'table', t.relname,
			'name', p.polname,
			'command', p.polcmd,
			'permissive', p.polpermissive,
			'roles', (SELECT json_agg(CASE WHEN r = 0 THEN 'public' ELSE quote_ident(pg_catalog.pg_get_userbyid(r)) END)
				FROM unnest(p.polroles) AS r),
			'using', pg_catalog.pg_get_expr(p.polqual, p.polrelid),
			'check', pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)`,
			`tbl t JOIN pg_catalog.pg_policy p ON p.polrelid = t.oid`},
	}
}

// grantsSQL renders the privileges of an object as a JSON array of
// "<grantee> <privilege>" (see Grants): acl is its ACL column, kind the
// acldefault letter of its class, owner its owner column. The owner is
// written "owner", so that objects owned by different roles compare equal.
func grantsSQL(acl, kind, owner string) string {
	return `(SELECT json_agg(CASE WHEN x.grantee = ` + owner + ` THEN 'owner' WHEN x.grantee = 0 THEN 'PUBLIC'
			ELSE quote_ident(pg_catalog.pg_get_userbyid(x.grantee)) END
		|| ' ' || x.privilege_type || CASE WHEN x.is_grantable THEN ' with grant option' ELSE '' END)
		FROM pg_catalog.aclexplode(coalesce(` + acl + `, pg_catalog.acldefault('` + kind + `', ` + owner + `))) AS x)`
}

// dependent is a condition true for an object of catalog class that
// belongs to another with one of deptypes: to an extension ('e', pg_dump
// emits the CREATE EXTENSION, not its members), or internally to another
// object ('i': a range type's constructor functions), which brings it.
func dependent(class, oid, deptypes string) string {
	return `EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = 'pg_catalog.` + class +
		`'::regclass AND e.objid = ` + oid + ` AND e.deptype IN (` + deptypes + `))`
}

// quoteLiteral quotes s as an SQL string literal (standard_conforming_strings
// is on in every supported server version unless turned off; the texts
// quoted here hold no backslash).
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// ReadSnapshot reads the catalog of schema in one query and returns it as
// a snapshot. It only reads. The schema name is a query parameter; it
// returns an error wrapping ErrNoSchema when the schema does not exist.
//
// The server renders names outside the session's search_path qualified, and
// the snapshot strips only the inspected schema's own qualification, so
// read every target with the same search_path (the default one will do).
func ReadSnapshot(ctx context.Context, q Querier, schema string) (*Snapshot, error) {
	st, err := readOne(ctx, q, schema, false)
	if err != nil {
		return nil, err
	}
	return st.Snapshot, nil
}

// readOne reads the state of one schema in one query: its catalog, and
// with withHistory its version history.
func readOne(ctx context.Context, q Querier, schema string, withHistory bool) (*State, error) {
	var raw []byte
	if err := q.QueryRow(ctx, catalogSQL("ARRAY[$1::text]", withHistory), schema).Scan(&raw); err != nil {
		return nil, fmt.Errorf("read catalog of schema %q: %w", schema, err)
	}
	states, err := decodeCatalog(raw)
	if err != nil {
		return nil, fmt.Errorf("read catalog of schema %q: %w", schema, err)
	}
	st, ok := states[schema]
	if !ok {
		return nil, fmt.Errorf("read catalog of schema %q: %w", schema, ErrNoSchema)
	}
	return st, nil
}

// tableKind names a pg_class.relkind.
func tableKind(relkind string) string {
	if relkind == "p" {
		return "partitioned table"
	}
	return "table"
}

// identity names a pg_attribute.attidentity.
func identity(attidentity string) string {
	switch attidentity {
	case "a":
		return "always"
	case "d":
		return "by default"
	}
	return ""
}

// constraintType names a pg_constraint.contype.
func constraintType(contype string) string {
	switch contype {
	case "p":
		return "primary key"
	case "u":
		return "unique"
	case "c":
		return "check"
	case "f":
		return "foreign key"
	case "x":
		return "exclusion"
	}
	return contype
}

// fkAction names a pg_constraint.confupdtype or confdeltype.
func fkAction(code string) string {
	switch code {
	case "a":
		return "no action"
	case "r":
		return "restrict"
	case "c":
		return "cascade"
	case "n":
		return "set null"
	case "d":
		return "set default"
	}
	return code
}
