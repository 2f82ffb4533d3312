package drift

import "strings"

// normalizer removes what legitimately differs between two databases with
// the same schema from the texts the server renders for one of them.
type normalizer struct {
	// schema is the inspected schema's name quoted as an identifier, the
	// way the server writes it in qualified names ("public", "Tenant A"
	// as "\"Tenant A\"").
	schema string
}

// unqualify removes the inspected schema's qualification from s: with the
// schema off the search_path (schema-per-tenant), the server writes
// "nextval('tenant_a.users_id_seq'::regclass)" and "REFERENCES
// tenant_a.users(id)" where the reference database says
// "nextval('users_id_seq'::regclass)" and "REFERENCES users(id)".
// Only a qualification that starts a name is removed: "xpublic.t" stays.
// A string literal holding "<schema>." is changed too; the same literal in
// the other snapshot is, when both schemas have the same name.
func (n normalizer) unqualify(s string) string {
	prefix := n.schema + "."
	if n.schema == "" || !strings.Contains(s, prefix) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, prefix)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		if i > 0 && continuesName(s[i-1]) {
			b.WriteString(s[:i+len(prefix)])
		} else {
			b.WriteString(s[:i])
		}
		s = s[i+len(prefix):]
	}
}

// continuesName reports whether c can be part of an identifier (or closes
// a quoted one), so that a schema name after it is not a name of its own.
func continuesName(c byte) bool {
	return c == '_' || c == '$' || c == '"' || c == '.' || c >= 0x80 ||
		('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// indexDefinition returns what follows the table name in def, an index
// definition from pg_get_indexdef: "CREATE UNIQUE INDEX idx_users_email ON
// public.users USING btree (email) WHERE (deleted_at IS NULL)" becomes
// "USING btree (email) WHERE (deleted_at IS NULL)". The name, the table
// and uniqueness are compared on their own. A definition of another shape
// is kept whole (unqualified), which still compares correctly.
func (n normalizer) indexDefinition(def, quotedName, qualifiedTable string) string {
	rest, ok := strings.CutPrefix(def, "CREATE ")
	if ok {
		rest = strings.TrimPrefix(rest, "UNIQUE ")
		rest, ok = strings.CutPrefix(rest, "INDEX "+quotedName+" ON ")
	}
	if ok {
		rest = strings.TrimPrefix(rest, "ONLY ")
		rest, ok = strings.CutPrefix(rest, qualifiedTable+" ")
	}
	if !ok {
		return n.unqualify(def)
	}
	return n.unqualify(rest)
}

// stripFKActions removes the ON UPDATE and ON DELETE clauses from def, a
// foreign key's definition, as pg_get_constraintdef writes them; the
// actions are compared on their own. "no action" is never written.
func stripFKActions(def, onUpdate, onDelete string) string {
	for _, clause := range [...]struct{ verb, action string }{{"UPDATE", onUpdate}, {"DELETE", onDelete}} {
		if clause.action == "" || clause.action == "no action" {
			continue
		}
		def = strings.Replace(def, " ON "+clause.verb+" "+strings.ToUpper(clause.action), "", 1)
	}
	return def
}

// stripNotValid removes the NOT VALID pg_get_constraintdef appends to a
// constraint not validated; validation is compared on its own.
func stripNotValid(def string, validated bool) string {
	if validated {
		return def
	}
	return strings.TrimSuffix(def, " NOT VALID")
}
