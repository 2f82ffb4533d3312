package drift

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/orchestrator-dev/orchestrator/internal/ledger"
)

// ErrNoSchema reports that the schema to read does not exist.
var ErrNoSchema = errors.New("schema does not exist")

// catalogSQL reads the whole catalog of schema $1 as one JSON document, so
// that a snapshot costs one round trip however many tables there are. The
// tool's own tables (and their indexes, constraints and sequences) are left
// out. Texts come back as the server renders them; decode normalises them.
var catalogSQL = `WITH
ns AS (
	SELECT oid, quote_ident(nspname) AS qname
	FROM pg_catalog.pg_namespace WHERE nspname = $1
),
tbl AS (
	SELECT c.oid, c.relname, c.relkind, ns.qname || '.' || quote_ident(c.relname) AS qualified
	FROM pg_catalog.pg_class c JOIN ns ON c.relnamespace = ns.oid
	WHERE c.relkind IN ('r', 'p') AND c.relname NOT IN ` + ledger.TablesSQLList() + `
)
SELECT json_build_object(
	'schema', (SELECT qname FROM ns),
	'tables', (SELECT json_agg(json_build_object('name', t.relname, 'kind', t.relkind, 'qualified', t.qualified)) FROM tbl t),
	'columns', (SELECT json_agg(json_build_object(
			'table', t.relname,
			'name', a.attname,
			'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
			'not_null', a.attnotnull,
			'default', pg_catalog.pg_get_expr(d.adbin, d.adrelid),
			'identity', a.attidentity,
			'generated', a.attgenerated))
		FROM tbl t
		JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
		LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum),
	'indexes', (SELECT json_agg(json_build_object(
			'table', t.relname,
			'name', ic.relname,
			'quoted', quote_ident(ic.relname),
			'definition', pg_catalog.pg_get_indexdef(i.indexrelid),
			'unique', i.indisunique,
			'valid', i.indisvalid,
			'constraint', con.conname))
		FROM tbl t
		JOIN pg_catalog.pg_index i ON i.indrelid = t.oid
		JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
		LEFT JOIN pg_catalog.pg_constraint con ON con.conrelid = t.oid AND con.conindid = i.indexrelid
			AND con.contype IN ('p', 'u', 'x')),
	'constraints', (SELECT json_agg(json_build_object(
			'table', t.relname,
			'name', con.conname,
			'type', con.contype,
			'definition', pg_catalog.pg_get_constraintdef(con.oid),
			'on_update', con.confupdtype,
			'on_delete', con.confdeltype,
			'validated', con.convalidated))
		FROM tbl t
		JOIN pg_catalog.pg_constraint con ON con.conrelid = t.oid AND con.contype IN ('p', 'u', 'c', 'f', 'x')),
	'sequences', (SELECT json_agg(json_build_object(
			'name', s.relname,
			'type', pg_catalog.format_type(q.seqtypid, NULL),
			'start', q.seqstart,
			'increment', q.seqincrement,
			'min', q.seqmin,
			'max', q.seqmax,
			'cache', q.seqcache,
			'cycle', q.seqcycle,
			'owner_table', oc.relname,
			'owner_column', oa.attname))
		FROM pg_catalog.pg_class s
		JOIN ns ON s.relnamespace = ns.oid
		JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
		LEFT JOIN pg_catalog.pg_depend dep ON dep.classid = 'pg_catalog.pg_class'::regclass
			AND dep.objid = s.oid AND dep.objsubid = 0
			AND dep.refclassid = 'pg_catalog.pg_class'::regclass AND dep.refobjsubid > 0
			AND dep.deptype IN ('a', 'i')
		LEFT JOIN pg_catalog.pg_class oc ON oc.oid = dep.refobjid
		LEFT JOIN pg_catalog.pg_attribute oa ON oa.attrelid = dep.refobjid AND oa.attnum = dep.refobjsubid
		WHERE s.relkind = 'S' AND (oc.relname IS NULL OR oc.relname NOT IN ` + ledger.TablesSQLList() + `))
)::text`

// ReadSnapshot reads the catalog of schema in one query and returns it as
// a snapshot. It only reads. The schema name is a query parameter; it
// returns an error wrapping ErrNoSchema when the schema does not exist.
//
// The server renders names outside the session's search_path qualified, and
// the snapshot strips only the inspected schema's own qualification, so
// read every target with the same search_path (the default one will do).
func ReadSnapshot(ctx context.Context, q Querier, schema string) (*Snapshot, error) {
	var raw []byte
	if err := q.QueryRow(ctx, catalogSQL, schema).Scan(&raw); err != nil {
		return nil, fmt.Errorf("read catalog of schema %q: %w", schema, err)
	}
	snap, err := decodeCatalog(raw)
	if err != nil {
		return nil, fmt.Errorf("read catalog of schema %q: %w", schema, err)
	}
	return snap, nil
}

// rawCatalog is catalogSQL's document as the server wrote it: flat lists,
// each row naming its table, which plan far cheaper than nested per-table
// subqueries (planning was most of the query's cost on a fresh session).
type rawCatalog struct {
	Schema *string `json:"schema"` // quoted as an identifier; null when the schema does not exist
	Tables []struct {
		Name      string `json:"name"`
		Kind      string `json:"kind"`
		Qualified string `json:"qualified"`
	} `json:"tables"`
	Columns     []rawColumn     `json:"columns"`
	Indexes     []rawIndex      `json:"indexes"`
	Constraints []rawConstraint `json:"constraints"`
	Sequences   []struct {
		Sequence
		OwnerTable  *string `json:"owner_table"`
		OwnerColumn *string `json:"owner_column"`
	} `json:"sequences"`
}

type rawColumn struct {
	Table     string  `json:"table"`
	Name      string  `json:"name"`
	Type      string  `json:"type"`
	NotNull   bool    `json:"not_null"`
	Default   *string `json:"default"`
	Identity  string  `json:"identity"`
	Generated string  `json:"generated"`
}

type rawIndex struct {
	Table      string  `json:"table"`
	Name       string  `json:"name"`
	Quoted     string  `json:"quoted"`
	Definition string  `json:"definition"`
	Unique     bool    `json:"unique"`
	Valid      bool    `json:"valid"`
	Constraint *string `json:"constraint"`
}

type rawConstraint struct {
	Table      string `json:"table"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Definition string `json:"definition"`
	OnUpdate   string `json:"on_update"`
	OnDelete   string `json:"on_delete"`
	Validated  bool   `json:"validated"`
}

// decodeCatalog turns catalogSQL's document into a normalised snapshot.
func decodeCatalog(raw []byte) (*Snapshot, error) {
	var rc rawCatalog
	if err := json.Unmarshal(raw, &rc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if rc.Schema == nil {
		return nil, ErrNoSchema
	}
	n := normalizer{schema: *rc.Schema}
	snap := &Snapshot{
		Tables:    make(map[string]*Table, len(rc.Tables)),
		Sequences: make(map[string]*Sequence, len(rc.Sequences)),
	}
	qualified := make(map[string]string, len(rc.Tables))
	for _, rt := range rc.Tables {
		snap.Tables[rt.Name] = &Table{
			Name:        rt.Name,
			Kind:        tableKind(rt.Kind),
			Columns:     map[string]*Column{},
			Indexes:     map[string]*Index{},
			Constraints: map[string]*Constraint{},
		}
		qualified[rt.Name] = rt.Qualified
	}
	for _, rc := range rc.Columns {
		t, ok := snap.Tables[rc.Table]
		if !ok {
			continue
		}
		c := &Column{Name: rc.Name, Type: n.unqualify(rc.Type), NotNull: rc.NotNull, Identity: identity(rc.Identity)}
		if rc.Default != nil {
			if rc.Generated == "s" {
				c.Generated = n.unqualify(*rc.Default)
			} else {
				c.Default = n.unqualify(*rc.Default)
			}
		}
		t.Columns[c.Name] = c
	}
	for _, ri := range rc.Indexes {
		t, ok := snap.Tables[ri.Table]
		if !ok {
			continue
		}
		i := &Index{
			Name:       ri.Name,
			Definition: n.indexDefinition(ri.Definition, ri.Quoted, qualified[ri.Table]),
			Unique:     ri.Unique,
			Valid:      ri.Valid,
		}
		if ri.Constraint != nil {
			i.Constraint = *ri.Constraint
		}
		t.Indexes[i.Name] = i
	}
	for _, rc := range rc.Constraints {
		t, ok := snap.Tables[rc.Table]
		if !ok {
			continue
		}
		c := &Constraint{Name: rc.Name, Type: constraintType(rc.Type), Validated: rc.Validated}
		def := rc.Definition
		if rc.Type == "f" {
			c.OnUpdate, c.OnDelete = fkAction(rc.OnUpdate), fkAction(rc.OnDelete)
			def = stripFKActions(def, c.OnUpdate, c.OnDelete)
		}
		c.Definition = n.unqualify(stripNotValid(def, rc.Validated))
		t.Constraints[c.Name] = c
	}
	for _, rs := range rc.Sequences {
		s := rs.Sequence
		s.Type = n.unqualify(s.Type)
		if rs.OwnerTable != nil && rs.OwnerColumn != nil {
			s.OwnedBy = *rs.OwnerTable + "." + *rs.OwnerColumn
		}
		snap.Sequences[s.Name] = &s
	}
	return snap, nil
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
