package drift

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// rawCatalog is catalogSQL's document as the server wrote it: flat lists,
// each row naming its schema (s) and, where it has one, its table.
type rawCatalog struct {
	Schemas []struct {
		Name        string  `json:"name"`
		Quoted      string  `json:"qname"`
		Initialized bool    `json:"initialized"`
		History     *string `json:"history"` // a JSON array of Applied; null without a version table
	} `json:"schemas"`
	Tables []struct {
		S           string   `json:"s"`
		Name        string   `json:"name"`
		Kind        string   `json:"kind"`
		Qualified   string   `json:"qualified"`
		RLS         bool     `json:"rls"`
		ForceRLS    bool     `json:"force_rls"`
		PartitionOf *string  `json:"partition_of"`
		Bound       *string  `json:"bound"`
		Grants      []string `json:"grants"`
	} `json:"tables"`
	Columns     []rawColumn     `json:"columns"`
	Indexes     []rawIndex      `json:"indexes"`
	Constraints []rawConstraint `json:"constraints"`
	Sequences   []struct {
		S string `json:"s"`
		Sequence
		OwnerTable  *string `json:"owner_table"`
		OwnerColumn *string `json:"owner_column"`
	} `json:"sequences"`
	Views []struct {
		S          string   `json:"s"`
		Name       string   `json:"name"`
		Kind       string   `json:"kind"`
		Definition string   `json:"definition"`
		Grants     []string `json:"grants"`
	} `json:"views"`
	Functions []struct {
		S          string   `json:"s"`
		Name       string   `json:"name"`
		Args       string   `json:"args"`
		Kind       string   `json:"kind"`
		Body       string   `json:"body"`
		Definition *string  `json:"definition"`
		Grants     []string `json:"grants"`
	} `json:"functions"`
	Triggers []struct {
		S          string `json:"s"`
		Table      string `json:"table"`
		Name       string `json:"name"`
		Definition string `json:"definition"`
		Enabled    string `json:"enabled"`
	} `json:"triggers"`
	Types []struct {
		S           string            `json:"s"`
		Name        string            `json:"name"`
		Kind        string            `json:"kind"`
		Labels      []string          `json:"labels"`
		Attributes  []string          `json:"attributes"`
		Base        *string           `json:"base"`
		NotNull     bool              `json:"not_null"`
		Default     *string           `json:"default"`
		Constraints map[string]string `json:"constraints"`
	} `json:"types"`
	Extensions []struct {
		S       string `json:"s"`
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"extensions"`
	Policies []struct {
		S          string   `json:"s"`
		Table      string   `json:"table"`
		Name       string   `json:"name"`
		Command    string   `json:"command"`
		Permissive bool     `json:"permissive"`
		Roles      []string `json:"roles"`
		Using      *string  `json:"using"`
		Check      *string  `json:"check"`
	} `json:"policies"`
}

type rawColumn struct {
	S         string  `json:"s"`
	Table     string  `json:"table"`
	Name      string  `json:"name"`
	Type      string  `json:"type"`
	NotNull   bool    `json:"not_null"`
	Default   *string `json:"default"`
	Identity  string  `json:"identity"`
	Generated string  `json:"generated"`
	Collation *string `json:"collation"`
}

type rawIndex struct {
	S          string  `json:"s"`
	Table      string  `json:"table"`
	Name       string  `json:"name"`
	Quoted     string  `json:"quoted"`
	Definition string  `json:"definition"`
	Unique     bool    `json:"unique"`
	Valid      bool    `json:"valid"`
	Constraint *string `json:"constraint"`
}

type rawConstraint struct {
	S          string `json:"s"`
	Table      string `json:"table"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Definition string `json:"definition"`
	OnUpdate   string `json:"on_update"`
	OnDelete   string `json:"on_delete"`
	Validated  bool   `json:"validated"`
}

// decoded is one schema being decoded.
type decoded struct {
	st        *State
	n         normalizer
	qualified map[string]string // table name -> qualified name, as the server quotes it
}

// decodeCatalog turns catalogSQL's document into a normalised state per
// schema, by schema name. A schema that does not exist has no entry.
func decodeCatalog(raw []byte) (map[string]*State, error) {
	var rc rawCatalog
	if err := json.Unmarshal(raw, &rc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	out := make(map[string]*State, len(rc.Schemas))
	ds := make(map[string]*decoded, len(rc.Schemas))
	for _, rs := range rc.Schemas {
		st := &State{Initialized: rs.Initialized, Snapshot: &Snapshot{
			Tables:    map[string]*Table{},
			Sequences: map[string]*Sequence{},
		}}
		if rs.History != nil {
			if err := json.Unmarshal([]byte(*rs.History), &st.Applied); err != nil {
				return nil, fmt.Errorf("decode version history of schema %q: %w", rs.Name, err)
			}
		}
		for _, a := range st.Applied {
			st.Version = max(st.Version, a.Version)
		}
		out[rs.Name] = st
		ds[rs.Name] = &decoded{st: st, n: normalizer{schema: rs.Quoted}, qualified: map[string]string{}}
	}
	for _, rt := range rc.Tables {
		d, ok := ds[rt.S]
		if !ok {
			continue
		}
		t := &Table{
			Name:             rt.Name,
			Kind:             tableKind(rt.Kind),
			Columns:          map[string]*Column{},
			Indexes:          map[string]*Index{},
			Constraints:      map[string]*Constraint{},
			RowSecurity:      rt.RLS,
			ForceRowSecurity: rt.ForceRLS,
			Grants:           sortedList(rt.Grants),
		}
		if rt.PartitionOf != nil {
			t.PartitionOf = d.n.unqualify(*rt.PartitionOf)
		}
		if rt.Bound != nil {
			t.PartitionBound = d.n.unqualify(*rt.Bound)
		}
		d.st.Snapshot.Tables[rt.Name] = t
		d.qualified[rt.Name] = rt.Qualified
	}
	for _, rc := range rc.Columns {
		d, ok := ds[rc.S]
		if !ok {
			continue
		}
		t, ok := d.st.Snapshot.Tables[rc.Table]
		if !ok {
			continue
		}
		n := d.n
		c := &Column{Name: rc.Name, Type: n.unqualify(rc.Type), NotNull: rc.NotNull, Identity: identity(rc.Identity)}
		if rc.Default != nil {
			if rc.Generated == "s" {
				c.Generated = n.unqualify(*rc.Default)
			} else {
				c.Default = n.unqualify(*rc.Default)
			}
		}
		if rc.Collation != nil {
			c.Collation = n.unqualify(*rc.Collation)
		}
		t.Columns[c.Name] = c
	}
	decodeViews(&rc, ds)
	for _, ri := range rc.Indexes {
		d, ok := ds[ri.S]
		if !ok {
			continue
		}
		var into map[string]*Index
		qualified := d.qualified[ri.Table]
		if t, ok := d.st.Snapshot.Tables[ri.Table]; ok {
			into = t.Indexes
		} else if v, ok := d.st.Snapshot.Views[ri.Table]; ok {
			if v.Indexes == nil {
				v.Indexes = map[string]*Index{}
			}
			into = v.Indexes
			qualified = d.n.schema + "." + quoteIdent(ri.Table)
		} else {
			continue
		}
		i := &Index{
			Name:       ri.Name,
			Definition: d.n.indexDefinition(ri.Definition, ri.Quoted, qualified),
			Unique:     ri.Unique,
			Valid:      ri.Valid,
		}
		if ri.Constraint != nil {
			i.Constraint = *ri.Constraint
		}
		into[i.Name] = i
	}
	for _, rc := range rc.Constraints {
		d, ok := ds[rc.S]
		if !ok {
			continue
		}
		t, ok := d.st.Snapshot.Tables[rc.Table]
		if !ok {
			continue
		}
		c := &Constraint{Name: rc.Name, Type: constraintType(rc.Type), Validated: rc.Validated}
		def := rc.Definition
		if rc.Type == "f" {
			c.OnUpdate, c.OnDelete = fkAction(rc.OnUpdate), fkAction(rc.OnDelete)
			def = stripFKActions(def, c.OnUpdate, c.OnDelete)
		}
		c.Definition = d.n.unqualify(stripNotValid(def, rc.Validated))
		t.Constraints[c.Name] = c
	}
	for _, rs := range rc.Sequences {
		d, ok := ds[rs.S]
		if !ok {
			continue
		}
		s := rs.Sequence
		s.Type = d.n.unqualify(s.Type)
		s.Grants = sortedList(s.Grants)
		if rs.OwnerTable != nil && rs.OwnerColumn != nil {
			s.OwnedBy = *rs.OwnerTable + "." + *rs.OwnerColumn
		}
		d.st.Snapshot.Sequences[s.Name] = &s
	}
	decodeObjects(&rc, ds)
	return out, nil
}

// decodeViews adds the views of rc to their schemas.
func decodeViews(rc *rawCatalog, ds map[string]*decoded) {
	for _, rv := range rc.Views {
		d, ok := ds[rv.S]
		if !ok {
			continue
		}
		snap := d.st.Snapshot
		if snap.Views == nil {
			snap.Views = map[string]*View{}
		}
		kind := "view"
		if rv.Kind == "m" {
			kind = "materialized view"
		}
		snap.Views[rv.Name] = &View{Name: rv.Name, Kind: kind, Definition: d.n.unqualify(rv.Definition), Grants: sortedList(rv.Grants)}
	}
}

// decodeObjects adds the functions, triggers, types, extensions and
// policies of rc to their schemas.
func decodeObjects(rc *rawCatalog, ds map[string]*decoded) {
	for _, rf := range rc.Functions {
		d, ok := ds[rf.S]
		if !ok {
			continue
		}
		snap := d.st.Snapshot
		if snap.Functions == nil {
			snap.Functions = map[string]*Function{}
		}
		f := &Function{
			Signature: rf.Name + "(" + d.n.unqualify(rf.Args) + ")",
			Kind:      functionKind(rf.Kind),
			Body:      rf.Body,
			Grants:    sortedList(rf.Grants),
		}
		if rf.Definition != nil {
			f.Definition = d.n.unqualify(*rf.Definition)
		}
		snap.Functions[f.Signature] = f
	}
	for _, rt := range rc.Triggers {
		d, ok := ds[rt.S]
		if !ok {
			continue
		}
		snap := d.st.Snapshot
		if snap.Triggers == nil {
			snap.Triggers = map[string]*Trigger{}
		}
		snap.Triggers[rt.Table+"."+rt.Name] = &Trigger{
			Table: rt.Table, Name: rt.Name, Definition: d.n.unqualify(rt.Definition), Enabled: triggerEnabled(rt.Enabled),
		}
	}
	for _, rt := range rc.Types {
		d, ok := ds[rt.S]
		if !ok {
			continue
		}
		snap := d.st.Snapshot
		if snap.Types == nil {
			snap.Types = map[string]*Type{}
		}
		t := &Type{Name: rt.Name, Kind: typeKind(rt.Kind), Labels: rt.Labels, NotNull: rt.NotNull}
		for _, a := range rt.Attributes {
			t.Attributes = append(t.Attributes, d.n.unqualify(a))
		}
		if rt.Base != nil {
			t.Base = d.n.unqualify(*rt.Base)
		}
		if rt.Default != nil {
			t.Default = d.n.unqualify(*rt.Default)
		}
		for name, def := range rt.Constraints {
			if t.Constraints == nil {
				t.Constraints = map[string]string{}
			}
			t.Constraints[name] = d.n.unqualify(def)
		}
		snap.Types[t.Name] = t
	}
	for _, re := range rc.Extensions {
		d, ok := ds[re.S]
		if !ok {
			continue
		}
		snap := d.st.Snapshot
		if snap.Extensions == nil {
			snap.Extensions = map[string]*Extension{}
		}
		snap.Extensions[re.Name] = &Extension{Name: re.Name, Version: re.Version}
	}
	for _, rp := range rc.Policies {
		d, ok := ds[rp.S]
		if !ok {
			continue
		}
		t, ok := d.st.Snapshot.Tables[rp.Table]
		if !ok {
			continue
		}
		if t.Policies == nil {
			t.Policies = map[string]*Policy{}
		}
		p := &Policy{Name: rp.Name, Command: policyCommand(rp.Command), Permissive: rp.Permissive, Roles: sortedList(rp.Roles)}
		if rp.Using != nil {
			p.Using = d.n.unqualify(*rp.Using)
		}
		if rp.Check != nil {
			p.Check = d.n.unqualify(*rp.Check)
		}
		t.Policies[p.Name] = p
	}
}

// sortedList returns l sorted, nil when empty.
func sortedList(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	slices.Sort(l)
	return l
}

// quoteIdent quotes name as the server's quote_ident does for names that
// need it.
func quoteIdent(name string) string {
	plain := name != ""
	for i, c := range name {
		if !(c == '_' || ('a' <= c && c <= 'z') || (i > 0 && '0' <= c && c <= '9')) {
			plain = false
			break
		}
	}
	if plain {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// functionKind names a pg_proc.prokind.
func functionKind(prokind string) string {
	switch prokind {
	case "p":
		return "procedure"
	case "a":
		return "aggregate"
	case "w":
		return "window function"
	}
	return "function"
}

// triggerEnabled names a pg_trigger.tgenabled.
func triggerEnabled(code string) string {
	switch code {
	case "D":
		return "disabled"
	case "R":
		return "enabled on replica only"
	case "A":
		return "enabled always"
	}
	return "enabled"
}

// typeKind names a pg_type.typtype.
func typeKind(typtype string) string {
	switch typtype {
	case "e":
		return "enum"
	case "d":
		return "domain"
	case "r":
		return "range"
	}
	return "type"
}

// policyCommand names a pg_policy.polcmd.
func policyCommand(code string) string {
	switch code {
	case "r":
		return "select"
	case "a":
		return "insert"
	case "w":
		return "update"
	case "d":
		return "delete"
	}
	return "all"
}
