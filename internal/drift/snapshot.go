package drift

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"maps"
	"slices"
)

// Snapshot is the catalog of one schema: its tables (with their columns,
// indexes and constraints) and its sequences. The bookkeeping tables of
// goose, golang-migrate and the tool (ledger.Tables) are left out, with
// their indexes, constraints and sequences.
//
// Every text is normalised when the snapshot is read: the schema's own
// name is removed from qualified names, so snapshots of the same schema
// taken in different databases, or in different schemas of one database,
// are equal. Nothing in a snapshot depends on OIDs or on the order objects
// were created in; column order is not recorded either.
//
// A Snapshot is not modified after ReadSnapshot returns it, and is safe
// for concurrent reads; one returned by Reference.At is shared by all its
// callers.
type Snapshot struct {
	Tables    map[string]*Table    `json:"tables"`    // by name
	Sequences map[string]*Sequence `json:"sequences"` // by name
	// Views holds views and materialized views, by name.
	Views map[string]*View `json:"views,omitempty"`
	// Functions holds functions, procedures and aggregates, by signature:
	// "touch_updated_at()", "f(integer, text)".
	Functions map[string]*Function `json:"functions,omitempty"`
	// Triggers holds the triggers of the schema's tables and views, by
	// "table.trigger".
	Triggers map[string]*Trigger `json:"triggers,omitempty"`
	// Types holds enums, composite types, domains and range types, by name.
	Types map[string]*Type `json:"types,omitempty"`
	// Extensions holds the extensions installed in the schema, by name.
	// Their member objects (functions, types) are not listed elsewhere.
	Extensions map[string]*Extension `json:"extensions,omitempty"`
}

// Table is a table of a snapshot.
type Table struct {
	Name        string                 `json:"name"`
	Kind        string                 `json:"kind"`        // "table" or "partitioned table"
	Columns     map[string]*Column     `json:"columns"`     // by name
	Indexes     map[string]*Index      `json:"indexes"`     // by name
	Constraints map[string]*Constraint `json:"constraints"` // by name
	// PartitionOf and PartitionBound are the parent and the bound
	// ("FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')") of a partition,
	// "" for a table that is not one.
	PartitionOf    string `json:"partition_of,omitempty"`
	PartitionBound string `json:"partition_bound,omitempty"`
	// RowSecurity and ForceRowSecurity say whether row-level security is
	// enabled, and forced on the table's owner too.
	RowSecurity      bool `json:"row_security,omitempty"`
	ForceRowSecurity bool `json:"force_row_security,omitempty"`
	// Policies holds the table's row-level security policies, by name.
	Policies map[string]*Policy `json:"policies,omitempty"`
	// Grants lists the table's privileges, sorted (see Grants).
	Grants []string `json:"grants,omitempty"`
}

// Column is a column of a table.
type Column struct {
	Name string `json:"name"`
	// Type as format_type renders it: "character varying(512)", "text[]".
	Type    string `json:"type"`
	NotNull bool   `json:"not_null"`
	// Default is the default expression, "" for none:
	// "nextval('users_id_seq'::regclass)", "now()".
	Default string `json:"default,omitempty"`
	// Identity is "always" or "by default" for an identity column, else "".
	Identity string `json:"identity,omitempty"`
	// Generated is the expression of a stored generated column, else "".
	Generated string `json:"generated,omitempty"`
	// Collation is the column's collation where it is not its type's
	// default, else "".
	Collation string `json:"collation,omitempty"`
}

// Index is an index of a table, including those that enforce a primary
// key, unique or exclusion constraint.
type Index struct {
	Name string `json:"name"`
	// Definition is the index definition after the table name:
	// "USING btree (email) WHERE (deleted_at IS NULL)".
	Definition string `json:"definition"`
	Unique     bool   `json:"unique"`
	// Valid is false for an index a failed CREATE INDEX CONCURRENTLY left
	// behind: it is maintained but never used.
	Valid bool `json:"valid"`
	// Constraint names the constraint the index enforces, "" for none.
	Constraint string `json:"constraint,omitempty"`
}

// Constraint is a primary key, unique, check, foreign key or exclusion
// constraint of a table. NOT NULL is a property of the column.
type Constraint struct {
	Name string `json:"name"`
	// Type is "primary key", "unique", "check", "foreign key" or
	// "exclusion".
	Type string `json:"type"`
	// Definition as pg_get_constraintdef renders it, without the foreign
	// key actions and NOT VALID, which are fields of their own:
	// "FOREIGN KEY (user_id) REFERENCES users(id)".
	Definition string `json:"definition"`
	// OnUpdate and OnDelete are a foreign key's actions: "no action",
	// "restrict", "cascade", "set null" or "set default"; "" for other
	// constraints.
	OnUpdate string `json:"on_update,omitempty"`
	OnDelete string `json:"on_delete,omitempty"`
	// Validated is false for a constraint added NOT VALID and not
	// validated since.
	Validated bool `json:"validated"`
}

// Sequence is a sequence of the schema. Its current value is data, not
// schema, and is not recorded.
type Sequence struct {
	Name string `json:"name"`
	// OwnedBy is the column the sequence belongs to (serial or identity),
	// "table.column"; "" for a free-standing sequence.
	OwnedBy   string `json:"owned_by,omitempty"`
	Type      string `json:"type"`
	Start     int64  `json:"start"`
	Increment int64  `json:"increment"`
	Min       int64  `json:"min"`
	Max       int64  `json:"max"`
	Cache     int64  `json:"cache"`
	Cycle     bool   `json:"cycle"`
	// Grants lists the sequence's privileges, sorted (see Grants).
	Grants []string `json:"grants,omitempty"`
}

// Fingerprint returns the hex SHA-256 of a canonical encoding of s: equal
// for snapshots Compare finds no difference between, different otherwise.
// Targets with the same fingerprint need to be compared only once.
func (s *Snapshot) Fingerprint() string {
	h := sha256.New()
	line := func(vs ...any) {
		for _, v := range vs {
			// Quoting keeps the encoding unambiguous whatever names hold.
			fmt.Fprintf(h, "%q ", fmt.Sprint(v))
		}
		h.Write([]byte{'\n'})
	}
	if s != nil {
		for name, t := range sorted(s.Tables) {
			line("table", name, t.Kind)
			for name, c := range sorted(t.Columns) {
				line("column", name, c.Type, c.NotNull, c.Default, c.Identity, c.Generated, c.Collation)
			}
			for name, i := range sorted(t.Indexes) {
				line("index", name, i.Definition, i.Unique, i.Valid, i.Constraint)
			}
			for name, c := range sorted(t.Constraints) {
				line("constraint", name, c.Type, c.Definition, c.OnUpdate, c.OnDelete, c.Validated)
			}
			line("table extras", t.PartitionOf, t.PartitionBound, t.RowSecurity, t.ForceRowSecurity, quoteList(t.Grants))
			for name, p := range sorted(t.Policies) {
				line("policy", name, p.Command, p.Permissive, quoteList(p.Roles), p.Using, p.Check)
			}
		}
		for name, q := range sorted(s.Sequences) {
			line("sequence", name, q.OwnedBy, q.Type, q.Start, q.Increment, q.Min, q.Max, q.Cache, q.Cycle, quoteList(q.Grants))
		}
		s.fingerprintObjects(line)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sorted yields the entries of m ordered by key.
func sorted[V any](m map[string]V) iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !yield(k, m[k]) {
				return
			}
		}
	}
}

// union returns the keys of a and b, sorted, each once.
func union[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
