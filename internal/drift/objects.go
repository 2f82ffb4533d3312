package drift

import "fmt"

// View is a view or materialized view of a snapshot.
type View struct {
	Name string `json:"name"`
	// Kind is "view" or "materialized view".
	Kind string `json:"kind"`
	// Definition is the query as pg_get_viewdef renders it.
	Definition string `json:"definition"`
	// Indexes holds a materialized view's indexes, by name.
	Indexes map[string]*Index `json:"indexes,omitempty"`
	// Grants lists the view's privileges, sorted (see Grants).
	Grants []string `json:"grants,omitempty"`
}

// Function is a function, procedure or aggregate of a snapshot.
type Function struct {
	// Signature is the name and argument types: "f(integer, text)".
	Signature string `json:"signature"`
	// Kind is "function", "procedure", "aggregate" or "window function".
	Kind string `json:"kind"`
	// Body is the source text between the dollar quotes (prosrc).
	Body string `json:"body"`
	// Definition is the whole CREATE statement pg_get_functiondef renders
	// (result type, language, volatility, settings and body), "" for an
	// aggregate.
	Definition string `json:"definition,omitempty"`
	// Grants lists the function's privileges, sorted (see Grants).
	Grants []string `json:"grants,omitempty"`
}

// Trigger is a trigger of a table or view. Triggers the server makes for
// foreign keys, and the clones of a partitioned table's triggers on its
// partitions, are not listed.
type Trigger struct {
	Table string `json:"table"`
	Name  string `json:"name"`
	// Definition is the CREATE TRIGGER statement pg_get_triggerdef renders.
	Definition string `json:"definition"`
	// Enabled is "enabled", "disabled", "replica" or "always".
	Enabled string `json:"enabled"`
}

// Type is an enum, composite type, domain or range type of a snapshot.
// A table's row type is part of the table, not a Type.
type Type struct {
	Name string `json:"name"`
	// Kind is "enum", "type" (composite), "domain" or "range".
	Kind string `json:"kind"`
	// Labels are an enum's labels in their sort order.
	Labels []string `json:"labels,omitempty"`
	// Attributes are a composite type's attributes in order: "x integer".
	Attributes []string `json:"attributes,omitempty"`
	// Base is a domain's base type, or a range's subtype.
	Base string `json:"base,omitempty"`
	// NotNull and Default are a domain's.
	NotNull bool   `json:"not_null,omitempty"`
	Default string `json:"default,omitempty"`
	// Constraints holds a domain's constraint definitions, by name.
	Constraints map[string]string `json:"constraints,omitempty"`
}

// Extension is an extension installed in the schema.
type Extension struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Policy is a row-level security policy of a table.
type Policy struct {
	Name string `json:"name"`
	// Command is "all", "select", "insert", "update" or "delete".
	Command    string `json:"command"`
	Permissive bool   `json:"permissive"`
	// Roles are the roles the policy applies to, sorted; "public" for all.
	Roles []string `json:"roles"`
	// Using and Check are the USING and WITH CHECK expressions, "" for none.
	Using string `json:"using,omitempty"`
	Check string `json:"check,omitempty"`
}

// Grants are written one privilege an entry, "<grantee> <privilege>", with
// " with grant option" where it applies: "reporting SELECT", "PUBLIC
// EXECUTE". The object's owner is written "owner", whoever it is, so that a
// target owned by the application's role and a reference built by another
// compare equal; an object never granted on lists its owner's default
// privileges, as one granted and revoked back to them does.

// fingerprintObjects writes the lines of s's views, functions, triggers,
// types and extensions into a fingerprint.
func (s *Snapshot) fingerprintObjects(line func(...any)) {
	for name, v := range sorted(s.Views) {
		line("view", name, v.Kind, v.Definition, quoteList(v.Grants))
		for name, i := range sorted(v.Indexes) {
			line("view index", name, i.Definition, i.Unique, i.Valid)
		}
	}
	for sig, f := range sorted(s.Functions) {
		line("function", sig, f.Kind, f.Body, f.Definition, quoteList(f.Grants))
	}
	for name, t := range sorted(s.Triggers) {
		line("trigger", name, t.Definition, t.Enabled)
	}
	for name, t := range sorted(s.Types) {
		line("type", name, t.Kind, quoteList(t.Labels), quoteList(t.Attributes), t.Base, t.NotNull, t.Default)
		for name, def := range sorted(t.Constraints) {
			line("domain constraint", name, def)
		}
	}
	for name, e := range sorted(s.Extensions) {
		line("extension", name, e.Version)
	}
}

// quoteList encodes a list unambiguously, whatever its entries hold.
func quoteList(l []string) string {
	return fmt.Sprintf("%q", l)
}
