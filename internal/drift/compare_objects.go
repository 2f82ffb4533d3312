package drift

import (
	"slices"
	"strings"
)

// tableExtras compares what a table has beyond its columns, indexes and
// constraints: partitioning, row-level security, policies and grants.
func (d *differ) tableExtras(a, e *Table) {
	object := "table " + e.Name
	if a.PartitionOf != e.PartitionOf || a.PartitionBound != e.PartitionBound {
		d.describe(object, partitionText(a), partitionText(e))
	}
	if a.RowSecurity != e.RowSecurity {
		d.describe(object, "row level security "+either(a.RowSecurity, "enabled", "disabled"), either(e.RowSecurity, "enabled", "disabled"))
	}
	if a.ForceRowSecurity != e.ForceRowSecurity {
		d.describe(object, "row level security "+either(a.ForceRowSecurity, "forced", "not forced"), either(e.ForceRowSecurity, "forced", "not forced"))
	}
	eachPair(d, a.Policies, e.Policies, func(name string, _ *Policy) string { return "policy " + e.Name + "." + name },
		func(object string, ap, ep *Policy) {
			d.field(object, "command", ap.Command, ep.Command)
			if ap.Permissive != ep.Permissive {
				d.describe(object, either(ap.Permissive, "permissive", "restrictive"), either(ep.Permissive, "permissive", "restrictive"))
			}
			d.field(object, "roles", strings.Join(ap.Roles, ", "), strings.Join(ep.Roles, ", "))
			d.field(object, "using", orNone(ap.Using), orNone(ep.Using))
			d.field(object, "with check", orNone(ap.Check), orNone(ep.Check))
		})
	d.grants(object, a.Grants, e.Grants)
}

// objects compares the schema's views, functions, triggers, types and
// extensions.
func (d *differ) objects(actual, expected *Snapshot) {
	eachPair(d, actual.Views, expected.Views, func(name string, v *View) string { return v.Kind + " " + name },
		func(object string, a, e *View) {
			if a.Kind != e.Kind {
				d.add(object, "is a "+a.Kind+", expected a "+e.Kind)
			}
			if a.Definition != e.Definition {
				d.add(object, "definition differs")
			}
			eachPair(d, a.Indexes, e.Indexes, func(iname string, _ *Index) string { return "index " + e.Name + "." + iname }, d.index)
			d.grants(object, a.Grants, e.Grants)
		})
	eachPair(d, actual.Functions, expected.Functions, func(sig string, f *Function) string { return f.Kind + " " + sig },
		func(object string, a, e *Function) {
			switch {
			case a.Kind != e.Kind:
				d.add(object, "is a "+a.Kind+", expected a "+e.Kind)
			case a.Body != e.Body:
				d.add(object, "body differs")
			case a.Definition != e.Definition:
				d.add(object, "definition differs")
			}
			d.grants(object, a.Grants, e.Grants)
		})
	for _, name := range union(actual.Triggers, expected.Triggers) {
		a, e := actual.Triggers[name], expected.Triggers[name]
		object := "trigger " + name
		switch {
		case a == nil:
			if hasRelation(actual, e.Table) {
				d.add(object, "missing")
			}
		case e == nil:
			if hasRelation(expected, a.Table) {
				d.add(object, "unexpected")
			}
		default:
			d.field(object, "definition", a.Definition, e.Definition)
			d.describe(object, a.Enabled, e.Enabled)
		}
	}
	eachPair(d, actual.Types, expected.Types, func(name string, t *Type) string { return t.Kind + " " + name },
		func(_ string, a, e *Type) { d.typ(a, e) })
	eachPair(d, actual.Extensions, expected.Extensions, func(name string, _ *Extension) string { return "extension " + name },
		func(object string, a, e *Extension) { d.field(object, "version", a.Version, e.Version) })
}

// hasRelation reports whether s has a table or view of that name: a
// trigger of a missing table goes with the table's finding.
func hasRelation(s *Snapshot, name string) bool {
	return s.Tables[name] != nil || s.Views[name] != nil
}

// typ compares two types of one name.
func (d *differ) typ(a, e *Type) {
	object := e.Kind + " " + e.Name
	if a.Kind != e.Kind {
		d.add(object, "is a "+a.Kind+", expected a "+e.Kind)
		return
	}
	switch e.Kind {
	case "enum":
		for _, l := range e.Labels {
			if !slices.Contains(a.Labels, l) {
				d.add(object, "label "+quoteLabel(l)+" missing")
			}
		}
		for _, l := range a.Labels {
			if !slices.Contains(e.Labels, l) {
				d.add(object, "label "+quoteLabel(l)+" unexpected")
			}
		}
		if !slices.Equal(a.Labels, e.Labels) && sameSet(a.Labels, e.Labels) {
			d.field(object, "labels in order", labelList(a.Labels), labelList(e.Labels))
		}
	case "type":
		d.field(object, "attributes", "("+strings.Join(a.Attributes, ", ")+")", "("+strings.Join(e.Attributes, ", ")+")")
	case "domain":
		d.field(object, "base type", a.Base, e.Base)
		d.describe(object, nullability(a.NotNull), nullability(e.NotNull))
		d.field(object, "default", orNone(a.Default), orNone(e.Default))
		for _, name := range union(a.Constraints, e.Constraints) {
			ac, aok := a.Constraints[name]
			ec, eok := e.Constraints[name]
			switch {
			case !aok:
				d.add(object, "constraint "+name+" missing")
			case !eok:
				d.add(object, "constraint "+name+" unexpected")
			default:
				d.field(object, "constraint "+name+" definition", ac, ec)
			}
		}
	case "range":
		d.field(object, "subtype", a.Base, e.Base)
	}
}

// grants adds one finding per privilege granted on only one side.
func (d *differ) grants(object string, a, e []string) {
	for _, g := range e {
		if !slices.Contains(a, g) {
			d.add(object, "grant "+g+" missing")
		}
	}
	for _, g := range a {
		if !slices.Contains(e, g) {
			d.add(object, "grant "+g+" unexpected")
		}
	}
}

func partitionText(t *Table) string {
	if t.PartitionOf == "" {
		return "not a partition"
	}
	return "partition of " + t.PartitionOf + " " + t.PartitionBound
}

func collationText(collation string) string {
	if collation == "" {
		return "default collation"
	}
	return "collation " + collation
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// quoteLabel writes an enum label as an SQL literal: 'c'.
func quoteLabel(l string) string {
	return "'" + strings.ReplaceAll(l, "'", "''") + "'"
}

func labelList(ls []string) string {
	q := make([]string, len(ls))
	for i, l := range ls {
		q[i] = quoteLabel(l)
	}
	return strings.Join(q, ", ")
}

// sameSet reports whether a and b hold the same entries, in any order.
func sameSet(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(s string) bool { return !slices.Contains(b, s) })
}
